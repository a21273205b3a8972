/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BPF side of stackagg.h: the stack map both programs share (user space
 * hands the off-CPU object's map to the on-CPU object before it loads),
 * the slot arithmetic and the add. Included by *.bpf.c after vmlinux.h. */
#pragma once

#include <bpf/bpf_helpers.h>

#include "stackagg.h"

/* Set by user space before load: the window divided by SG_AGG_SLOTS - 1. */
const volatile __u64 slot_ns = 1000000000;

/* Samples the recorder could not keep: a stack it could not take, a full map. */
__u64 lost = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, SG_STACKS_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, SG_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* A stack id with the newest stack winning a hash collision (the map never
 * fills; an aggregate whose stack was replaced since is misattributed, which
 * takes two different stacks hashing alike within one window). */
static __always_inline __s32 stack_id(void *ctx, __u64 flags)
{
	return bpf_get_stackid(ctx, &stacks, flags | BPF_F_REUSE_STACKID);
}

static __always_inline void agg_add(void *map, struct sg_agg_key *key, __u64 amount, __u64 now)
{
	__u64 epoch = now / slot_ns;
	__u32 slot = epoch & (SG_AGG_SLOTS - 1);
	struct sg_agg_val *val = bpf_map_lookup_elem(map, key);

	if (!val) {
		struct sg_agg_val fresh = {};

		fresh.epoch[slot] = epoch;
		fresh.value[slot] = amount;
		if (bpf_map_update_elem(map, key, &fresh, BPF_NOEXIST) == 0)
			return;
		/* Another CPU added the key meanwhile: add to it. */
		val = bpf_map_lookup_elem(map, key);
		if (!val) {
			__sync_fetch_and_add(&lost, 1);
			return;
		}
	}
	if (val->epoch[slot] != epoch) {
		/* Two CPUs may both reset a stale slot: one of their adds can be lost,
		 * once per slot turn, which a window's sums do not feel. */
		val->epoch[slot] = epoch;
		val->value[slot] = 0;
	}
	__sync_fetch_and_add(&val->value[slot], amount);
}
