/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "stacks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize.h"

#define BLOCKED_FRAME "[blocked at capture]"

struct folded_line {
	char *frames;
	uint64_t count;
};

/* A growing NUL-terminated string. */
struct text {
	char *s;
	size_t len, cap;
};

static int text_reserve(struct text *t, size_t more)
{
	if (t->len + more + 1 <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : 1024;
	while (cap < t->len + more + 1)
		cap *= 2;
	char *grown = realloc(t->s, cap);
	if (!grown)
		return -ENOMEM;
	t->s = grown;
	t->cap = cap;
	return 0;
}

/* Appends ';' (unless first), the name of len bytes made safe for a folded line, then suffix. */
static int text_add_frame(struct text *t, const char *name, size_t len, const char *suffix)
{
	size_t suffix_len = strlen(suffix);
	int err = text_reserve(t, 1 + (len ? len : strlen("[empty]")) + suffix_len);
	if (err)
		return err;
	if (t->len)
		t->s[t->len++] = ';';
	if (!len) {
		name = "[empty]";
		len = strlen(name);
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == ';')
			c = '_';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		else if (c == ' ' && (i == 0 || i == len - 1))
			c = '_';
		t->s[t->len++] = (char)c;
	}
	memcpy(t->s + t->len, suffix, suffix_len);
	t->len += suffix_len;
	t->s[t->len] = '\0';
	return 0;
}

/* The trace at index, or NULL (with *invalid set when the index is not SG_STACK_NONE). */
static const struct sg_trace *trace_at(const struct sg_stack_set *set, int32_t index, bool *invalid)
{
	if (index == SG_STACK_NONE)
		return NULL;
	const struct sg_trace *trace = index >= 0 && (size_t)index < set->ntraces ? &set->traces[index] : NULL;
	if (!trace || trace->depth > SG_STACK_MAX_DEPTH || (size_t)trace->offset + trace->depth > set->nips) {
		*invalid = true;
		return NULL;
	}
	return trace;
}

/* Adds the frames of a trace outermost first; kernel ones with "_[k]". tgid: for user frames. */
static int text_add_trace(struct text *t, const struct sg_stack_set *set, const struct sg_trace *trace, bool kernel,
			  uint32_t tgid, struct sg_symbolizer *sym)
{
	char name[SG_SYMBOL_MAX];

	for (size_t i = trace->depth; i-- > 0;) {
		uint64_t ip = set->ips[trace->offset + i];
		uint64_t addr = i > 0 && ip > 0 ? ip - 1 : ip; /* a caller's frame: its return address */
		if (!sym)
			snprintf(name, sizeof(name), "[unknown]");
		else if (kernel)
			sg_symbolize_kernel(sym, addr, name, sizeof(name));
		else
			sg_symbolize_user(sym, tgid, addr, name, sizeof(name));
		int err = text_add_frame(t, name, strlen(name), kernel ? "_[k]" : "");
		if (err)
			return err;
	}
	return 0;
}

/* The line of one sample (without its count) into t. */
static int sample_line(struct text *t, const struct sg_stack_set *set, const struct sg_stack_sample *sample,
		       struct sg_symbolizer *sym)
{
	bool invalid = false;
	const struct sg_trace *user = trace_at(set, sample->user_trace, &invalid);
	const struct sg_trace *kernel = trace_at(set, sample->kernel_trace, &invalid);

	t->len = 0;
	int err = text_add_frame(t, sample->comm, strnlen(sample->comm, sizeof(sample->comm)), "");
	if (!err && user)
		err = text_add_trace(t, set, user, false, sample->tgid, sym);
	if (!err && kernel)
		err = text_add_trace(t, set, kernel, true, sample->tgid, sym);
	if (!err && invalid)
		err = text_add_frame(t, "[invalid stack]", strlen("[invalid stack]"), "");
	if (!err && set->kind == SG_STACKS_OFFCPU && sample->in_progress)
		err = text_add_frame(t, BLOCKED_FRAME, strlen(BLOCKED_FRAME), "");
	return err;
}

struct proc_total {
	uint32_t tgid;
	uint64_t total;
};

static int by_tgid(const void *a, const void *b)
{
	uint32_t x = ((const struct proc_total *)a)->tgid, y = ((const struct proc_total *)b)->tgid;
	return (x > y) - (x < y);
}

static int by_total_desc(const void *a, const void *b)
{
	uint64_t x = ((const struct proc_total *)a)->total, y = ((const struct proc_total *)b)->total;
	return (x < y) - (x > y);
}

/* Adds the processes with user stacks to sym, the most time (or samples) first, so the
 * SG_SYMBOLIZER_MAX_PROCS it reads are those that weigh most in the graph. */
static int add_procs_by_weight(const struct sg_stack_set *set, struct sg_symbolizer *sym)
{
	struct proc_total *procs = calloc(set->nsamples ? set->nsamples : 1, sizeof(*procs));
	size_t n = 0, merged = 0;

	if (!procs)
		return -ENOMEM;
	for (size_t i = 0; i < set->nsamples; i++)
		if (set->samples[i].user_trace != SG_STACK_NONE && set->samples[i].value)
			procs[n++] = (struct proc_total){ set->samples[i].tgid, set->samples[i].value };
	qsort(procs, n, sizeof(*procs), by_tgid);
	for (size_t i = 0; i < n; i++) {
		if (merged && procs[merged - 1].tgid == procs[i].tgid)
			procs[merged - 1].total = sg_count_add(procs[merged - 1].total, procs[i].total);
		else
			procs[merged++] = procs[i];
	}
	qsort(procs, merged, sizeof(*procs), by_total_desc);
	for (size_t i = 0; i < merged; i++)
		sg_symbolizer_add_pid(sym, procs[i].tgid); /* one that fails has [unknown] user frames */
	free(procs);
	return 0;
}

static int line_order(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->frames, ((const struct folded_line *)b)->frames);
}

int sg_stacks_write_folded(FILE *out, const struct sg_stack_set *set, struct sg_symbolizer *sym)
{
	struct folded_line *lines = calloc(set->nsamples ? set->nsamples : 1, sizeof(*lines));
	struct text t = { 0 };
	size_t nlines = 0;
	int err = !lines ? -ENOMEM : sym ? add_procs_by_weight(set, sym) : 0;

	for (size_t i = 0; !err && i < set->nsamples; i++) {
		const struct sg_stack_sample *sample = &set->samples[i];
		if (sample->value == 0)
			continue;
		err = sample_line(&t, set, sample, sym);
		if (!err && !(lines[nlines].frames = strdup(t.s)))
			err = -ENOMEM;
		if (!err)
			lines[nlines++].count = sample->value;
	}
	size_t written = 0;
	if (!err) {
		qsort(lines, nlines, sizeof(*lines), line_order);
		for (size_t i = 0; i < nlines; i++) {
			uint64_t count = lines[i].count;
			while (i + 1 < nlines && strcmp(lines[i].frames, lines[i + 1].frames) == 0)
				count = sg_count_add(count, lines[++i].count);
			fprintf(out, "%s %" PRIu64 "\n", lines[i].frames, count);
			written++;
		}
		if (fflush(out) != 0 || ferror(out))
			err = -EIO;
	}
	for (size_t i = 0; lines && i < nlines; i++)
		free(lines[i].frames);
	free(lines);
	free(t.s);
	return err ? err : (int)written;
}
