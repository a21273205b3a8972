/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the off-CPU and on-CPU programs aggregate, shared by BPF and user
 * space: a value per (tgid, tid, comm, kernel stack, user stack), kept in
 * SG_AGG_SLOTS time slots so that old windows age out in the kernel with no
 * user-space work.
 *
 * Time is cut into slots of slot_ns (set before load). A sample at time t
 * (bpf_ktime_get_ns, CLOCK_MONOTONIC) belongs to epoch t / slot_ns and goes
 * to slot epoch % SG_AGG_SLOTS; a slot whose stored epoch is not the current
 * one is reset first. A reader at time now sums the slots whose epoch lies
 * in (now / slot_ns - SG_AGG_SLOTS, now / slot_ns]: the last
 * SG_AGG_SLOTS - 1 whole slots plus the current partial one. slot_ns is the
 * window divided by SG_AGG_SLOTS - 1, so a reader sees at least the window
 * and at most one slot more. Keys live in an LRU hash: when it is full the
 * least recently updated key makes room, so the map never refuses a new
 * stack, and old stacks are what goes. */
#pragma once

#define SG_AGG_SLOTS 4 /* a power of two: the BPF side masks, the verifier sees the bound */
#define SG_AGG_ENTRIES 8192
#define SG_STACKS_ENTRIES 8192 /* the stack map, shared by both programs */
#define SG_STACK_DEPTH 127     /* frames per stack, as SG_STACK_MAX_DEPTH in stacks.h */
#define SG_COMM_LEN 16

struct sg_agg_key {
	__u32 tgid;
	__u32 tid;
	__s32 kernel_stack; /* stack map id, negative when there is none */
	__s32 user_stack;
	char comm[SG_COMM_LEN];
};

struct sg_agg_val {
	__u64 epoch[SG_AGG_SLOTS];
	__u64 value[SG_AGG_SLOTS]; /* off-CPU: ns blocked; on-CPU: samples */
};
