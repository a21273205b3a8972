// SPDX-License-Identifier: GPL-2.0-or-later
/* On-CPU sampler: runs on a software cpu-clock perf event on every online
 * CPU (SG_ONCPU_HZ_MIN..MAX times a second) and counts one sample for the
 * interrupted thread's (tgid, tid, comm, kernel stack, user stack) in
 * `oncpu_agg` (stackagg.h). The idle task (pid 0) is skipped. */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "oncpu.h"
#include "stackagg.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SG_AGG_ENTRIES);
	__type(key, struct sg_agg_key);
	__type(value, struct sg_agg_val);
} oncpu_agg SEC(".maps");

SEC("perf_event")
int sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_agg_key key;

	key.tid = (__u32)id;
	if (key.tid == 0)
		return 0;
	key.tgid = id >> 32;
	key.kernel_stack = stack_id(ctx, 0);
	key.user_stack = stack_id(ctx, BPF_F_USER_STACK);
	if (key.kernel_stack < 0 && key.user_stack < 0)
		__sync_fetch_and_add(&lost, 1);
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	agg_add(&oncpu_agg, &key, 1, bpf_ktime_get_ns());
	return 0;
}
