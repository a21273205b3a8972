/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The BPF flight recorder: loads offcpu.bpf.c and oncpu.bpf.c (skeletons
 * generated at build time), runs them in the kernel while attached, and
 * copies what they hold into stack sets (stacks.h) when a capture asks.
 * User space does nothing between captures: no polling, no tick work.
 *
 * What it holds (see offcpu.bpf.c, oncpu.bpf.c, stackagg.h):
 *   - off-CPU: threads blocked in uninterruptible sleep right now, with how
 *     long they have been blocked (in_progress samples), and the time each
 *     (tgid, tid, comm, kernel stack, user stack) spent blocked in the last
 *     window (blocks that ended in it);
 *   - on-CPU: samples of a cpu-clock perf event on every online CPU,
 *     counted per (tgid, tid, comm, kernel stack, user stack) over the
 *     last window; the idle task is left out.
 * The window is at least window_usec and at most a third more.
 *
 * Use:
 *   sg_recorder_open()      once, at start: loads and verifies, attaches
 *                           nothing; on failure a one-line reason;
 *   sg_recorder_attach()    start recording (at start for recorder = on,
 *                           at the trigger for on-trigger);
 *   sg_stack_set_init()     (stackfill.h) for an off-CPU and an on-CPU
 *                           set, at start or before a capture;
 *   sg_recorder_snapshot()  in the pre-action part of a capture: one
 *                           batch read per map and one read per distinct
 *                           stack; on the 2-core VM this was built on,
 *                           about 0.1 ms with a few hundred samples and
 *                           about 6 ms with every map full (20,000 entries);
 *                           it allocates about 2 MB and gives it back to
 *                           the system before it returns;
 *   sg_recorder_detach()    stop recording; what was recorded stays
 *                           readable (and ages out of the window);
 *   sg_recorder_close()     at exit (detaches first).
 * Kernel memory while open (bpftool's memlock): 11.6 MB in all; the stack
 * map (8192 stacks of up to 127 frames) 8.5 MB, each aggregate map (8192
 * keys) 1.3 MB, the blocked table (4096 threads) 0.5 MB. User-space
 * memory stays small: libbpf's parse of the kernel's BTF (about 11 MB at
 * its peak) is freed and trimmed after the load, and a snapshot frees
 * what it allocates.
 *
 * Off-CPU kernel stacks begin with the recorder's own frames (its BPF
 * program, then bpf_trace_run4) above __schedule; a writer may drop the
 * frames above __schedule.
 *
 * Needs: kernel BTF (/sys/kernel/btf/vmlinux), CAP_BPF and CAP_PERFMON (or
 * root), BPF batch map lookups (Linux 5.6), and tp_btf (5.5) or raw_tp. */
#pragma once

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "offcpu.h"
#include "stackfill.h" /* sg_stack_set_init, sg_stack_set_free */
#include "stacks.h"

/* Sets this large never lose a sample for want of room (the ips of a set
 * this large take 8 MiB; smaller sets keep the largest values). */
#define SG_RECORDER_OFFCPU_SAMPLES (SG_BLOCKED_ENTRIES + SG_AGG_ENTRIES)
#define SG_RECORDER_ONCPU_SAMPLES SG_AGG_ENTRIES
#define SG_RECORDER_TRACES SG_STACKS_ENTRIES
#define SG_RECORDER_IPS (SG_STACKS_ENTRIES * SG_STACK_DEPTH)

#define SG_RECORDER_WINDOW_USEC_DEFAULT (10ULL * 1000 * 1000)
#define SG_RECORDER_WINDOW_USEC_MIN (300ULL * 1000)
#define SG_RECORDER_WINDOW_USEC_MAX (3600ULL * 1000 * 1000)

struct sg_recorder_opts {
	unsigned oncpu_hz;    /* 49..99 samples a second per CPU; 0 = 49 */
	uint64_t window_usec; /* how far back a snapshot reaches; 0 = 10 s */
	bool raw_tp;          /* sched_switch through raw_tp even where tp_btf loads */
};

struct sg_recorder;

/* Loads the programs (tp_btf for sched_switch, raw_tp when tp_btf does not
 * load) and checks that a cpu-clock perf event can be opened; attaches
 * nothing. Returns 0, or -EINVAL for bad options, or the negative errno of
 * what failed, with a one-line human reason in why (no BTF, not permitted,
 * ...). libbpf's own messages go to log.h: warnings as warnings, the rest
 * at debug. */
int sg_recorder_open(const struct sg_recorder_opts *opts, struct sg_recorder **out, char *why, size_t why_len);

/* Starts recording; 0 when already recording. On failure nothing stays
 * attached and the negative errno is returned. */
int sg_recorder_attach(struct sg_recorder *rec);

/* Stops recording and forgets the threads blocked at that moment (their
 * blocks would never end); the aggregates stay until they age out. */
void sg_recorder_detach(struct sg_recorder *rec);

/* Detaches, unloads and frees; NULL is fine. */
void sg_recorder_close(struct sg_recorder *rec);

/* Which program sched_switch runs through: "tp_btf" or "raw_tp". */
const char *sg_recorder_switch_kind(const struct sg_recorder *rec);

/* Empties each set given (either may be NULL, not both) and fills it with
 * what the recorder holds now: off-CPU blocks in progress first (value:
 * microseconds so far), then the window's aggregates (off-CPU:
 * microseconds blocked; on-CPU: samples). A stack read twice is stored
 * once. When a set is too small, the largest values are kept and every
 * sample left out is counted in lost, as are the samples the BPF side
 * could not keep since the previous snapshot. window_usec says how far
 * back the set reaches (no further than the first attach). Works attached
 * or detached. Returns 0, -EINVAL (a set of the wrong kind), or the
 * negative errno of a failed map read (the set is then empty). */
int sg_recorder_snapshot(struct sg_recorder *rec, struct sg_stack_set *offcpu, struct sg_stack_set *oncpu);
