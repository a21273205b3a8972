/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "capture_stacks.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flamegraph.h"
#include "log.h"
#include "recorder.h"
#include "stacks.h"
#include "symbolize.h"
#include "units.h"

enum symbols_state { SYMBOLS_RUNNING, SYMBOLS_DONE, SYMBOLS_ABANDONED };

/* The symbol thread and what it reads; freed by whichever of it and the
 * writer is the last to let go. */
struct symbols {
	pthread_t thread;
	_Atomic int state;
	struct sg_symbolizer *sym;
	uint32_t tgids[SG_SYMBOLIZER_MAX_PROCS];
	size_t ntgids;
};

struct sg_capture_stacks {
	struct sg_stack_set offcpu, oncpu;
	struct symbols *symbols; /* NULL when the thread could not start */
	bool joined;             /* the thread ended and was joined */
};

static void symbols_free(struct symbols *s)
{
	sg_symbolizer_free(s->sym);
	free(s);
}

static void *symbols_main(void *arg)
{
	struct symbols *s = arg;

	for (size_t i = 0; i < s->ntgids && atomic_load(&s->state) == SYMBOLS_RUNNING; i++)
		sg_symbolizer_add_pid(s->sym, s->tgids[i]);
	/* Abandoned by the writer: nobody else will free it. */
	if (atomic_exchange(&s->state, SYMBOLS_DONE) == SYMBOLS_ABANDONED)
		symbols_free(s);
	return NULL;
}

struct weight {
	uint32_t tgid;
	double share; /* of its set's total, summed over both sets */
};

static int by_share(const void *a, const void *b)
{
	double x = ((const struct weight *)a)->share, y = ((const struct weight *)b)->share;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Adds each process of set with a user stack to w (n of cap), by share. */
static void weigh(const struct sg_stack_set *set, struct weight *w, size_t *n, size_t cap)
{
	uint64_t total = 0;
	pid_t self = getpid();

	for (size_t i = 0; i < set->nsamples; i++)
		total = sg_count_add(total, set->samples[i].value);
	for (size_t i = 0; i < set->nsamples && total; i++) {
		const struct sg_stack_sample *s = &set->samples[i];
		if (s->user_trace == SG_STACK_NONE || s->tgid == 0 || (pid_t)s->tgid == self)
			continue;
		size_t k = 0;
		while (k < *n && w[k].tgid != s->tgid)
			k++;
		if (k == *n) {
			if (*n == cap)
				continue;
			w[(*n)++] = (struct weight){ .tgid = s->tgid };
		}
		w[k].share += (double)s->value / (double)total;
	}
}

/* The processes to name before acting: the heaviest of both sets. */
static void pick_tgids(struct sg_capture_stacks *st, struct symbols *s)
{
	size_t cap = st->offcpu.nsamples + st->oncpu.nsamples, n = 0;
	struct weight *w = calloc(cap ? cap : 1, sizeof(*w));

	if (!w)
		return;
	weigh(&st->offcpu, w, &n, cap);
	weigh(&st->oncpu, w, &n, cap);
	qsort(w, n, sizeof(*w), by_share);
	for (size_t i = 0; i < n && s->ntgids < SG_SYMBOLIZER_MAX_PROCS; i++)
		s->tgids[s->ntgids++] = w[i].tgid;
	free(w);
}

static void deadline_timespec(uint64_t deadline_usec, struct timespec *ts)
{
	/* pthread_timedjoin_np waits against CLOCK_REALTIME. */
	uint64_t now = sg_now_usec(), left = deadline_usec > now ? deadline_usec - now : 0;

	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(left / USEC_PER_SEC);
	ts->tv_nsec += (long)(left % USEC_PER_SEC) * 1000;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits for the symbol thread until deadline_usec; true once it was joined. */
static bool join_symbols(struct sg_capture_stacks *st, uint64_t deadline_usec)
{
	struct timespec ts;

	if (!st->symbols || st->joined)
		return st->joined;
	deadline_timespec(deadline_usec, &ts);
	st->joined = pthread_timedjoin_np(st->symbols->thread, NULL, &ts) == 0;
	return st->joined;
}

static void stacks_free(struct sg_capture_stacks *st)
{
	if (st->symbols) {
		if (st->joined)
			symbols_free(st->symbols);
		else if (atomic_exchange(&st->symbols->state, SYMBOLS_ABANDONED) == SYMBOLS_DONE) {
			pthread_join(st->symbols->thread, NULL); /* it has just ended */
			symbols_free(st->symbols);
		} else {
			pthread_detach(st->symbols->thread); /* it frees itself */
		}
	}
	sg_stack_set_free(&st->offcpu);
	sg_stack_set_free(&st->oncpu);
	free(st);
}

int sg_capture_stacks_take(struct sg_recorder *rec, struct sg_capture_stacks **out)
{
	struct sg_capture_stacks *st = calloc(1, sizeof(*st));
	int r;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	r = sg_stack_set_init(&st->offcpu, SG_STACKS_OFFCPU, SG_RECORDER_OFFCPU_SAMPLES, SG_RECORDER_TRACES,
			      SG_RECORDER_IPS);
	if (r == 0)
		r = sg_stack_set_init(&st->oncpu, SG_STACKS_ONCPU, SG_RECORDER_ONCPU_SAMPLES, SG_RECORDER_TRACES,
				      SG_RECORDER_IPS);
	if (r == 0)
		r = sg_recorder_snapshot(rec, &st->offcpu, &st->oncpu);
	if (r < 0) {
		stacks_free(st);
		return r;
	}
	struct symbols *s = calloc(1, sizeof(*s));
	if (s && (s->sym = sg_symbolizer_new())) {
		pick_tgids(st, s);
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&s->thread, &attr, symbols_main, s) == 0) {
			pthread_setname_np(s->thread, "sg-symbols");
			st->symbols = s;
			s = NULL;
		}
		pthread_attr_destroy(&attr);
	}
	if (s) {
		sg_log(LOG_WARNING, "capture: cannot start reading symbols: user frames will be unnamed");
		if (s->sym)
			sg_symbolizer_free(s->sym);
		free(s);
	}
	*out = st;
	return 0;
}

void sg_capture_stacks_wait(struct sg_capture_stacks *st, uint64_t deadline_usec)
{
	join_symbols(st, deadline_usec);
}

/* Cuts from each off-CPU kernel trace the frames above __schedule: the
 * recorder's own program and the tracepoint glue it ran from. */
static void cut_recorder_frames(struct sg_stack_set *set, struct sg_symbolizer *sym)
{
	char name[SG_SYMBOL_MAX];

	for (size_t i = 0; i < set->nsamples; i++) {
		int32_t t = set->samples[i].kernel_trace;
		if (t == SG_STACK_NONE || (size_t)t >= set->ntraces)
			continue;
		struct sg_trace *trace = &set->traces[t];
		for (uint16_t f = 0; f < trace->depth && f < 8; f++) {
			if (sg_symbolize_kernel(sym, set->ips[trace->offset + f], name, sizeof(name)) == 0 &&
			    strcmp(name, "__schedule") == 0) {
				trace->offset += f;
				trace->depth -= f;
				break;
			}
		}
	}
}

static FILE *create(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	if (fd >= 0 && !f)
		close(fd);
	return f;
}

/* NAME.folded and NAME.svg for set. Returns 0 or -errno. */
static int write_set(int dirfd, const char *name, const struct sg_stack_set *set, struct sg_symbolizer *sym,
		     const char *title)
{
	char file[64], *folded = NULL;
	size_t len = 0;
	int r, err = 0;
	FILE *f = open_memstream(&folded, &len);

	if (!f)
		return -ENOMEM;
	r = sg_stacks_write_folded(f, set, sym);
	if (fclose(f) != 0 || r < 0) {
		free(folded);
		return r < 0 ? r : -ENOMEM;
	}
	snprintf(file, sizeof(file), "%s.folded", name);
	if (!(f = create(dirfd, file))) {
		err = -errno;
	} else {
		fwrite(folded, 1, len, f);
		if (ferror(f))
			err = -EIO;
		if (fclose(f) != 0 && !err)
			err = -errno;
	}
	snprintf(file, sizeof(file), "%s.svg", name);
	if (!(f = create(dirfd, file))) {
		err = err ? err : -errno;
	} else {
		r = sg_flamegraph_write(f, folded, len, title, set->kind);
		if (r > 0)
			sg_log(LOG_WARNING, "capture: %s: %d malformed folded lines left out of the graph", file, r);
		if (fclose(f) != 0 && r >= 0)
			r = -errno;
		err = err ? err : r < 0 ? r : 0;
	}
	free(folded);
	return err;
}

int sg_capture_stacks_finish(int dirfd, void *data)
{
	struct sg_capture_stacks *st = data;
	struct sg_symbolizer *sym = NULL, *own = NULL;
	char title[160], window[32];
	int err = 0, r;

	if (dirfd < 0) {
		stacks_free(st);
		return 0;
	}
	if (join_symbols(st, sg_now_usec() + SG_CAPTURE_SYMBOLS_GRACE_USEC))
		sym = st->symbols->sym;
	else if (st->symbols)
		sg_log(LOG_WARNING, "capture: reading symbols has taken over %llu s (a process frozen on its mmap "
				    "lock?): user frames stay unnamed",
		       (unsigned long long)(SG_CAPTURE_SYMBOLS_GRACE_USEC / USEC_PER_SEC));
	if (!sym)
		sym = own = sg_symbolizer_new();
	if (sym) {
		r = sg_symbolizer_load_kernel(sym);
		if (r < 0)
			sg_log_errno(LOG_WARNING, r, "capture: kernel symbols cannot be read: kernel frames unnamed");
		cut_recorder_frames(&st->offcpu, sym);
	}
	sg_format_duration(st->offcpu.window_usec, window, sizeof(window));
	snprintf(title, sizeof(title), "off-CPU: time blocked in uninterruptible sleep, last %s (us; %llu lost)",
		 window, (unsigned long long)st->offcpu.lost);
	r = write_set(dirfd, "offcpu", &st->offcpu, sym, title);
	err = err ? err : r;
	sg_format_duration(st->oncpu.window_usec, window, sizeof(window));
	snprintf(title, sizeof(title), "on-CPU: samples, last %s (%llu lost)", window,
		 (unsigned long long)st->oncpu.lost);
	r = write_set(dirfd, "oncpu", &st->oncpu, sym, title);
	err = err ? err : r;
	sg_symbolizer_free(own);
	stacks_free(st);
	return err;
}
