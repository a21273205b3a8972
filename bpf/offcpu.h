/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Types the off-CPU recorder (offcpu.bpf.c) shares with its loader
 * (recorder.c): the table of tasks blocked right now. Aggregated blocked
 * time is in stackagg.h. */
#pragma once

#include "stackagg.h"

#define SG_BLOCKED_ENTRIES 4096 /* threads in D state at once; more are counted lost */

/* A thread that switched out in uninterruptible sleep and has not run since;
 * keyed by tid. */
struct sg_blocked {
	__u64 start_ns; /* bpf_ktime_get_ns at switch-out */
	__u32 tgid;
	__s32 kernel_stack;
	__s32 user_stack;
	char comm[SG_COMM_LEN];
};
