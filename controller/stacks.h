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

#include <stdio.h>

struct sg_symbolizer;

/* a + b for sample counts and times, UINT64_MAX rather than wrapping. */
static inline uint64_t sg_count_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* Writes set to out in the folded format: one line per distinct stack,
 * "FRAME;FRAME;...;FRAME COUNT\n", root first: the thread's comm, the user
 * frames outermost to innermost, then the kernel frames outermost to
 * innermost with the suffix "_[k]"; an off-CPU sample still blocked at the
 * snapshot ends with the frame "[blocked at capture]". COUNT is the summed
 * value of the samples with that line: microseconds off-CPU, samples on-CPU.
 * Lines are sorted by their frames; samples of value 0 are left out. A trace
 * index that is out of the set is the frame "[invalid stack]".
 *
 * Frames never hold ';', a newline or another control byte (';' becomes '_',
 * control bytes '?'), nor a space at either end ('_'); an empty name is
 * "[empty]". Before writing, the processes with user stacks are added to sym
 * in order of their summed value, so when there are more than
 * SG_SYMBOLIZER_MAX_PROCS the ones read are those that weigh most (processes
 * added earlier, such as a kill's targets, keep their place). Names are from
 * sym (looked up per frame: every frame but the
 * innermost is a return address, so addr - 1 is looked up, which is inside the
 * calling function); unknown frames are "[unknown]" or "FILE+0xOFFSET", see
 * symbolize.h; with sym NULL (none could be made) every frame is
 * "[unknown]", so the stacks' shape and comms still show. A set without samples writes nothing: an empty file, which
 * sg_flamegraph_write draws as a graph saying there were no samples.
 *
 * Returns the number of lines written, -ENOMEM, or -EIO when out reports a
 * write error. */
int sg_stacks_write_folded(FILE *out, const struct sg_stack_set *set, struct sg_symbolizer *sym);
