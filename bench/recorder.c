/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The BPF flight recorder for `make bench` (bench/run drives it).
 *
 *   recorder hold
 *       opens and attaches the recorder, prints "ready SWITCH_KIND" and
 *       keeps recording until killed: bench/run runs `perf bench sched pipe`
 *       beside it and without it.
 *   recorder snapshot N
 *       opens and attaches the recorder, lets it record 2 s of whatever
 *       the machine does, then times N snapshots (into sets that never
 *       lose a sample) one after the other, and again N with the maps
 *       full: the aggregate maps and the blocked table topped up with
 *       made-up threads whose stacks are the ones already recorded. One
 *       line per run:
 *         snapshot=busy|full n=N p50_ms=X p99_ms=Y max_ms=Z samples=S traces=T
 *
 * Snapshots are timed on CLOCK_MONOTONIC (the time a capture waits). The
 * maps are found by name among the BPF maps made after this process
 * started, so the recorder's API needs nothing for the bench. Exit 0, or 1
 * with the reason on stderr. */
#include <errno.h>
#include <linux/types.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "offcpu.h"
#include "recorder.h"
#include "units.h"

#define FAR_EPOCH (UINT64_MAX / 4) /* a slot epoch every reader takes as current */
#define SYNTHETIC_TID 0x40000000u  /* above any pid_max: no real thread ever has it */

static uint32_t last_map_id(void)
{
	uint32_t id = 0, next;

	while (bpf_map_get_next_id(id, &next) == 0)
		id = next;
	return id;
}

/* The fd of the newest map called name with an id above after, or -1. */
static int map_by_name(const char *name, uint32_t after)
{
	uint32_t id = after;
	int found = -1;

	while (bpf_map_get_next_id(id, &id) == 0) {
		struct bpf_map_info info = { 0 };
		uint32_t len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && strcmp(info.name, name) == 0) {
			if (found >= 0)
				close(found);
			found = fd;
		} else {
			close(fd);
		}
	}
	return found;
}

/* The stack ids an aggregate map refers to now; how many (at most cap). */
static size_t stack_ids(int agg_fd, int32_t *ids, size_t cap)
{
	struct sg_agg_key key, next;
	size_t n = 0;
	void *prev = NULL;

	while (n < cap && bpf_map_get_next_key(agg_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (key.kernel_stack >= 0)
			ids[n++] = key.kernel_stack;
	}
	return n;
}

/* Tops every map up to full with made-up threads. Returns 0 or -errno. */
static int fill_maps(uint32_t after)
{
	int off = map_by_name("offcpu_agg", after), on = map_by_name("oncpu_agg", after);
	int blocked = map_by_name("blocked", after);
	int32_t ids[1024];
	size_t nids;
	int err = 0;

	if (off < 0 || on < 0 || blocked < 0) {
		err = -ENOENT;
		goto out;
	}
	nids = stack_ids(on, ids, 1024);
	nids += stack_ids(off, ids + nids, 1024 - nids);
	if (nids == 0) {
		err = -ENODATA;
		goto out;
	}
	for (uint32_t i = 0; i < SG_AGG_ENTRIES && err == 0; i++) {
		struct sg_agg_key key = { .tgid = SYNTHETIC_TID + i, .tid = SYNTHETIC_TID + i,
					  .kernel_stack = ids[i % nids], .user_stack = -1, .comm = "bench" };
		struct sg_agg_val val = { .epoch = { FAR_EPOCH }, .value = { 1000 + i } };

		if (bpf_map_update_elem(off, &key, &val, BPF_ANY) < 0 || bpf_map_update_elem(on, &key, &val, BPF_ANY) < 0)
			err = -errno;
	}
	for (uint32_t i = 0; i < SG_BLOCKED_ENTRIES && err == 0; i++) {
		__u32 tid = SYNTHETIC_TID + i;
		struct sg_blocked b = { .start_ns = sg_now_usec() * 1000, .tgid = tid,
					.kernel_stack = ids[i % nids], .user_stack = -1, .comm = "bench" };

		/* The table may be full already with real threads: keep what fits. */
		if (bpf_map_update_elem(blocked, &tid, &b, BPF_NOEXIST) < 0 && errno != E2BIG && errno != EEXIST)
			err = -errno;
	}
out:
	if (off >= 0)
		close(off);
	if (on >= 0)
		close(on);
	if (blocked >= 0)
		close(blocked);
	return err;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int n, double p)
{
	int i = (int)ceil(p / 100.0 * n) - 1;

	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int time_snapshots(struct sg_recorder *rec, const char *label, int n, struct sg_stack_set *off,
			  struct sg_stack_set *on)
{
	double *ms = calloc((size_t)n, sizeof(*ms));

	if (!ms)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		uint64_t start = sg_now_usec();
		int err = sg_recorder_snapshot(rec, off, on);

		if (err < 0) {
			free(ms);
			return err;
		}
		ms[i] = (double)(sg_now_usec() - start) / 1000.0;
	}
	qsort(ms, (size_t)n, sizeof(*ms), by_double);
	printf("snapshot=%s n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f samples=%zu traces=%zu\n", label, n,
	       percentile(ms, n, 50), percentile(ms, n, 99), ms[n - 1], off->nsamples + on->nsamples,
	       off->ntraces + on->ntraces);
	free(ms);
	return 0;
}

int main(int argc, char **argv)
{
	struct sg_recorder_opts opts = { 0 };
	struct sg_recorder *rec;
	struct sg_stack_set off = { 0 }, on = { 0 };
	char why[256];
	uint32_t before = last_map_id();
	int err, n = 0;

	if (argc == 3 && strcmp(argv[1], "snapshot") == 0)
		n = atoi(argv[2]);
	if (!(argc == 2 && strcmp(argv[1], "hold") == 0) && n <= 0) {
		fprintf(stderr, "usage: recorder hold | recorder snapshot N\n");
		return 1;
	}
	err = sg_recorder_open(&opts, &rec, why, sizeof(why));
	if (err < 0) {
		fprintf(stderr, "recorder: %s\n", why);
		return 1;
	}
	err = sg_recorder_attach(rec);
	if (err < 0) {
		fprintf(stderr, "recorder: cannot attach: %s\n", strerror(-err));
		goto out;
	}
	if (n == 0) {
		printf("ready %s\n", sg_recorder_switch_kind(rec));
		fflush(stdout);
		for (;;)
			pause();
	}
	err = sg_stack_set_init(&off, SG_STACKS_OFFCPU, SG_RECORDER_OFFCPU_SAMPLES, SG_RECORDER_TRACES,
				SG_RECORDER_IPS);
	if (err == 0)
		err = sg_stack_set_init(&on, SG_STACKS_ONCPU, SG_RECORDER_ONCPU_SAMPLES, SG_RECORDER_TRACES,
					SG_RECORDER_IPS);
	if (err < 0) {
		fprintf(stderr, "recorder: cannot allocate the stack sets: %s\n", strerror(-err));
		goto out;
	}
	sleep(2);
	err = time_snapshots(rec, "busy", n, &off, &on);
	if (err == 0)
		err = fill_maps(before);
	if (err == 0)
		err = time_snapshots(rec, "full", n, &off, &on);
	if (err < 0)
		fprintf(stderr, "recorder: %s\n", strerror(-err));
out:
	sg_stack_set_free(&off);
	sg_stack_set_free(&on);
	sg_recorder_close(rec);
	return err < 0;
}
