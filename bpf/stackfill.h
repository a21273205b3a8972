/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stack sets (stacks.h): their allocation, and their filling from the
 * recorder's maps (offcpu.h, stackagg.h) by map fd, so this part knows
 * nothing of skeletons. A fill reads a whole map with batch lookups, turns
 * its entries into samples (the largest first when they do not all fit),
 * and reads each stack id from the stack map once, storing it as one
 * trace. A sample that does not fit, with its traces, is counted in the
 * set's lost and leaves nothing behind. */
#pragma once

#include <stdint.h>

#include "stacks.h"

/* Allocates room for samples_cap samples, traces_cap distinct stacks and
 * ips_cap frames in all (each stack takes at most SG_STACK_MAX_DEPTH).
 * Returns 0 or -EINVAL (a zero capacity, traces_cap above INT32_MAX,
 * ips_cap above UINT32_MAX) or -ENOMEM (nothing stays allocated). */
int sg_stack_set_init(struct sg_stack_set *set, enum sg_stack_kind kind, size_t samples_cap, size_t traces_cap,
		      size_t ips_cap);
void sg_stack_set_free(struct sg_stack_set *set);

struct sg_stack_fill {
	struct sg_stack_set *set;
	int stack_fd;      /* the stack map both programs record into */
	int32_t *trace_of; /* SG_STACKS_ENTRIES: stack id -> trace index + 1, 0 = not read yet */
};

/* Empties set (counts, lost, window) and starts a fill of it; trace_of
 * (SG_STACKS_ENTRIES entries) is cleared. */
void sg_stack_fill_begin(struct sg_stack_fill *fill, struct sg_stack_set *set, int stack_fd, int32_t *trace_of);

/* Threads blocked now (the off-CPU `blocked` map): in_progress samples
 * valued in microseconds since they blocked. 0 or a negative errno. */
int sg_stack_fill_blocked(struct sg_stack_fill *fill, int blocked_fd);

/* An aggregate map (stackagg.h): each key's slots still in the window at
 * slot_ns, summed and divided by scale (1000 for ns to us, 1 for
 * samples); keys whose sum is 0 are skipped. 0 or a negative errno. */
int sg_stack_fill_aggregates(struct sg_stack_fill *fill, int agg_fd, uint64_t slot_ns, uint64_t scale);
