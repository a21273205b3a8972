/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stack sets: what the BPF flight recorder (bpf/recorder.h) hands to a
 * capture, and what symbolization (symbolize.h), the folded writer and the
 * flame graph (flamegraph.h) read. Plain data, filled by
 * sg_recorder_snapshot(), so the writers are tested with sets built by hand.
 *
 * A sample is one (thread, kernel stack, user stack) with a value: for an
 * off-CPU set the microseconds that thread spent blocked with that stack in
 * the window (in_progress: still blocked when the snapshot was taken, value
 * counted up to then); for an on-CPU set the number of samples taken.
 * Stacks are stored once in traces[]; a trace is ips[offset .. offset+depth),
 * innermost frame first, as the kernel reports them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_STACK_MAX_DEPTH 127 /* PERF_MAX_STACK_DEPTH */
#define SG_STACK_NONE (-1)     /* no trace: a kernel thread's user stack, or a lost stack id */

enum sg_stack_kind {
	SG_STACKS_OFFCPU, /* value: microseconds blocked */
	SG_STACKS_ONCPU,  /* value: samples */
};

struct sg_trace {
	uint32_t offset; /* into sg_stack_set.ips */
	uint16_t depth;  /* frames, innermost first */
};

struct sg_stack_sample {
	uint32_t tgid;       /* process id */
	uint32_t tid;        /* thread id */
	char comm[16];       /* thread name, NUL-terminated, any bytes otherwise */
	int32_t kernel_trace; /* index into traces, or SG_STACK_NONE */
	int32_t user_trace;   /* index into traces, or SG_STACK_NONE */
	uint64_t value;
	bool in_progress;    /* off-CPU only: blocked at snapshot time */
};

struct sg_stack_set {
	enum sg_stack_kind kind;
	uint64_t window_usec;            /* how far back the set reaches */
	struct sg_stack_sample *samples; /* nsamples used of samples_cap */
	size_t nsamples, samples_cap;
	struct sg_trace *traces;         /* ntraces used of traces_cap */
	size_t ntraces, traces_cap;
	uint64_t *ips;                   /* nips used of ips_cap */
	size_t nips, ips_cap;
	uint64_t lost;                   /* samples the recorder could not keep (full maps, lost stacks) */
};
