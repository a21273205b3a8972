/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "stackfill.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <bpf/bpf.h>

#include "offcpu.h"
#include "units.h"

#define NSEC_PER_USEC 1000ULL

int sg_stack_set_init(struct sg_stack_set *set, enum sg_stack_kind kind, size_t samples_cap, size_t traces_cap,
		      size_t ips_cap)
{
	memset(set, 0, sizeof(*set));
	if (!samples_cap || !traces_cap || !ips_cap || traces_cap > INT32_MAX || ips_cap > UINT32_MAX)
		return -EINVAL;
	set->kind = kind;
	set->samples = calloc(samples_cap, sizeof(*set->samples));
	set->traces = calloc(traces_cap, sizeof(*set->traces));
	set->ips = calloc(ips_cap, sizeof(*set->ips));
	if (!set->samples || !set->traces || !set->ips) {
		sg_stack_set_free(set);
		return -ENOMEM;
	}
	set->samples_cap = samples_cap;
	set->traces_cap = traces_cap;
	set->ips_cap = ips_cap;
	return 0;
}

void sg_stack_set_free(struct sg_stack_set *set)
{
	free(set->samples);
	free(set->traces);
	free(set->ips);
	memset(set, 0, sizeof(*set));
}

/* A map entry that makes a sample: where it came from and its value. */
struct candidate {
	uint64_t value;
	uint32_t tgid, tid;
	int32_t kernel_stack, user_stack;
	const char *comm;
	bool in_progress;
};

/* Reads every entry of a hash map (at most room) with batch lookups.
 * Returns how many, or a negative errno. A map is read while the programs
 * write it, so a read can meet more entries than the map holds at once
 * (keys evicted after they were read, new ones after): when the next
 * bucket does not fit in what is left (ENOSPC), the read stops there. */
static int read_map(int fd, void *keys, size_t key_size, void *vals, size_t val_size, uint32_t room)
{
	uint64_t in_token = 0, out_token = 0; /* a hash map's batch token is its bucket index */
	uint32_t total = 0, n;
	bool first = true;
	int err;

	while (total < room) {
		n = room - total;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in_token, &out_token, (char *)keys + total * key_size,
					   (char *)vals + total * val_size, &n, NULL);
		if (err < 0 && errno == ENOSPC)
			break;
		if (err < 0 && errno != ENOENT)
			return -errno;
		total += n;
		if (err < 0)
			break; /* ENOENT: no more entries */
		in_token = out_token;
		first = false;
	}
	return (int)total;
}

/* The trace index of stack id, reading it from the stack map the first
 * time: SG_STACK_NONE when there is no stack or it cannot be read (counted
 * in lost), -ENOSPC when the set has no room for it. */
static int32_t trace_of(struct sg_stack_fill *f, int32_t id)
{
	struct sg_stack_set *set = f->set;
	uint64_t frames[SG_STACK_DEPTH];
	uint16_t depth = 0;

	if (id < 0)
		return SG_STACK_NONE;
	if (id >= SG_STACKS_ENTRIES) {
		set->lost++;
		return SG_STACK_NONE;
	}
	if (f->trace_of[id])
		return f->trace_of[id] - 1;
	if (bpf_map_lookup_elem(f->stack_fd, &id, frames) < 0) {
		set->lost++;
		return SG_STACK_NONE;
	}
	while (depth < SG_STACK_DEPTH && frames[depth])
		depth++;
	if (set->ntraces == set->traces_cap || set->ips_cap - set->nips < depth)
		return -ENOSPC;
	memcpy(set->ips + set->nips, frames, depth * sizeof(frames[0]));
	set->traces[set->ntraces] = (struct sg_trace){ .offset = (uint32_t)set->nips, .depth = depth };
	set->nips += depth;
	f->trace_of[id] = (int32_t)++set->ntraces;
	return f->trace_of[id] - 1;
}

/* Adds a sample with its traces, or counts it lost when the set has no
 * room for it and them (nothing of it stays then). */
static void add_sample(struct sg_stack_fill *f, const struct candidate *c)
{
	struct sg_stack_set *set = f->set;
	size_t ntraces = set->ntraces, nips = set->nips;
	int32_t kernel_trace, user_trace = SG_STACK_NONE;

	if (set->nsamples == set->samples_cap) {
		set->lost++;
		return;
	}
	kernel_trace = trace_of(f, c->kernel_stack);
	if (kernel_trace != -ENOSPC)
		user_trace = trace_of(f, c->user_stack);
	if (kernel_trace == -ENOSPC || user_trace == -ENOSPC) {
		/* Forget the trace this sample added before running out. */
		if (kernel_trace >= 0 && (size_t)kernel_trace >= ntraces)
			f->trace_of[c->kernel_stack] = 0;
		set->ntraces = ntraces;
		set->nips = nips;
		set->lost++;
		return;
	}
	struct sg_stack_sample *s = &set->samples[set->nsamples++];
	*s = (struct sg_stack_sample){ .tgid = c->tgid, .tid = c->tid, .kernel_trace = kernel_trace,
				       .user_trace = user_trace, .value = c->value, .in_progress = c->in_progress };
	memcpy(s->comm, c->comm, sizeof(s->comm));
	s->comm[sizeof(s->comm) - 1] = '\0';
}

static int by_value_desc(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return x->value < y->value ? 1 : x->value > y->value ? -1 : 0;
}

/* Adds candidates, the largest first when they do not all fit. */
static void add_samples(struct sg_stack_fill *f, struct candidate *c, size_t n)
{
	if (n > f->set->samples_cap - f->set->nsamples)
		qsort(c, n, sizeof(*c), by_value_desc);
	for (size_t i = 0; i < n; i++)
		add_sample(f, &c[i]);
}

/* A whole map read into memory, with room for a candidate per entry. */
struct entries {
	void *keys, *vals;
	struct candidate *cands;
	void *mem; /* all three, mapped for this read only */
	size_t len;
	int n;
};

static void entries_free(struct entries *e)
{
	if (e->mem)
		munmap(e->mem, e->len);
}

/* Reads a whole map into memory straight from the kernel (mmap): only the
 * pages the entries fill cost anything, and all of it goes back at once,
 * where the heap would keep it in the daemon's RSS. */
static int entries_read(struct entries *e, int fd, size_t key_size, size_t val_size, uint32_t room)
{
	size_t keys_len = room * key_size, vals_len = room * val_size;
	void *mem;

	e->len = keys_len + vals_len + room * sizeof(*e->cands);
	mem = mmap(NULL, e->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	e->mem = mem;
	e->keys = mem;
	e->vals = (char *)mem + keys_len;
	e->cands = (struct candidate *)((char *)mem + keys_len + vals_len);
	e->n = read_map(fd, e->keys, key_size, e->vals, val_size, room);
	return e->n < 0 ? e->n : 0;
}

int sg_stack_fill_aggregates(struct sg_stack_fill *f, int agg_fd, uint64_t slot_ns, uint64_t scale)
{
	struct entries e = { 0 };
	size_t ncands = 0;
	int err = entries_read(&e, agg_fd, sizeof(struct sg_agg_key), sizeof(struct sg_agg_val), SG_AGG_ENTRIES);
	const struct sg_agg_key *keys = e.keys;
	const struct sg_agg_val *vals = e.vals;
	uint64_t epoch_now = sg_now_usec() * NSEC_PER_USEC / slot_ns;

	for (int i = 0; err == 0 && i < e.n; i++) {
		uint64_t sum = 0;

		for (int s = 0; s < SG_AGG_SLOTS; s++)
			if (vals[i].epoch[s] + SG_AGG_SLOTS > epoch_now)
				sum += vals[i].value[s];
		if (sum / scale == 0)
			continue;
		e.cands[ncands++] = (struct candidate){ .value = sum / scale, .tgid = keys[i].tgid,
							.tid = keys[i].tid, .kernel_stack = keys[i].kernel_stack,
							.user_stack = keys[i].user_stack, .comm = keys[i].comm };
	}
	if (err == 0)
		add_samples(f, e.cands, ncands);
	entries_free(&e);
	return err;
}

int sg_stack_fill_blocked(struct sg_stack_fill *f, int blocked_fd)
{
	struct entries e = { 0 };
	int err = entries_read(&e, blocked_fd, sizeof(__u32), sizeof(struct sg_blocked), SG_BLOCKED_ENTRIES);
	const __u32 *tids = e.keys;
	const struct sg_blocked *blocked = e.vals;
	uint64_t now = sg_now_usec() * NSEC_PER_USEC; /* after the read: no block starts later */

	for (int i = 0; err == 0 && i < e.n; i++)
		e.cands[i] = (struct candidate){ .value = now > blocked[i].start_ns ?
								  (now - blocked[i].start_ns) / NSEC_PER_USEC : 0,
						 .tgid = blocked[i].tgid, .tid = tids[i],
						 .kernel_stack = blocked[i].kernel_stack,
						 .user_stack = blocked[i].user_stack, .comm = blocked[i].comm,
						 .in_progress = true };
	if (err == 0)
		add_samples(f, e.cands, (size_t)e.n);
	entries_free(&e);
	return err;
}

void sg_stack_fill_begin(struct sg_stack_fill *f, struct sg_stack_set *set, int stack_fd, int32_t *trace_of)
{
	*f = (struct sg_stack_fill){ .set = set, .stack_fd = stack_fd, .trace_of = trace_of };
	memset(trace_of, 0, SG_STACKS_ENTRIES * sizeof(*trace_of));
	set->nsamples = set->ntraces = set->nips = 0;
	set->lost = 0;
	set->window_usec = 0;
}
