// SPDX-License-Identifier: GPL-2.0-or-later
/* Off-CPU recorder on sched_switch.
 *
 * Only uninterruptible sleeps are recorded: a thread that switches out
 * voluntarily (not preempted) with TASK_UNINTERRUPTIBLE in its state, and
 * without TASK_NOLOAD (TASK_IDLE kernel threads waiting for work, which the
 * kernel itself leaves out of the load average and the hung-task check).
 * Stalls show as D state: I/O waits, page faults on a busy mmap_lock, other
 * lock waits, freezes in the kernel. Pipe, socket, epoll and futex waits
 * sleep interruptibly and are skipped, so a context-switch-heavy workload
 * pays one state read at switch-out and one hash lookup (a miss) at
 * switch-in, and nothing else. The state is read with CO-RE: task_struct
 * has `__state` since 5.14 and `state` before.
 *
 * At switch-out the thread's kernel and user stacks are taken (it is still
 * current) and it is put into `blocked`; at switch-in it is taken out and
 * the time it was blocked is added to `offcpu_agg` (stackagg.h) in the
 * slot of the time it woke. A snapshot reads both: blocks in progress with
 * how long they have lasted so far, and the blocked time of the last
 * window.
 *
 * Two programs do the same: tp_btf (BTF-typed arguments, cheapest) and
 * raw_tp, which the loader picks when tp_btf does not load. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "offcpu.h"
#include "stackagg.bpf.h"

#define TASK_UNINTERRUPTIBLE 0x0002
#define TASK_NOLOAD 0x0400

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SG_BLOCKED_ENTRIES);
	__type(key, __u32);
	__type(value, struct sg_blocked);
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SG_AGG_ENTRIES);
	__type(key, struct sg_agg_key);
	__type(value, struct sg_agg_val);
} offcpu_agg SEC(".maps");

/* task_struct before 5.14 */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline unsigned int task_state(struct task_struct *task)
{
	struct task_struct___pre514 *old = (void *)task;

	if (bpf_core_field_exists(old->state))
		return (unsigned int)BPF_CORE_READ(old, state);
	return BPF_CORE_READ(task, __state);
}

static __always_inline void switch_out(void *ctx, struct task_struct *prev)
{
	unsigned int state = task_state(prev);
	struct sg_blocked entry;
	__u32 tid;

	if (!(state & TASK_UNINTERRUPTIBLE) || (state & TASK_NOLOAD))
		return;
	tid = BPF_CORE_READ(prev, pid);
	if (tid == 0)
		return;
	entry.start_ns = bpf_ktime_get_ns();
	entry.tgid = BPF_CORE_READ(prev, tgid);
	entry.kernel_stack = stack_id(ctx, 0);
	entry.user_stack = BPF_CORE_READ(prev, mm) ? stack_id(ctx, BPF_F_USER_STACK) : -1;
	if (entry.kernel_stack < 0)
		__sync_fetch_and_add(&lost, 1);
	bpf_get_current_comm(entry.comm, sizeof(entry.comm));
	if (bpf_map_update_elem(&blocked, &tid, &entry, BPF_ANY) != 0)
		__sync_fetch_and_add(&lost, 1);
}

static __always_inline void switch_in(struct task_struct *next)
{
	__u32 tid = BPF_CORE_READ(next, pid);
	struct sg_blocked *entry = bpf_map_lookup_elem(&blocked, &tid);
	struct sg_agg_key key;
	__u64 now;

	if (!entry)
		return;
	now = bpf_ktime_get_ns();
	key.tgid = entry->tgid;
	key.tid = tid;
	key.kernel_stack = entry->kernel_stack;
	key.user_stack = entry->user_stack;
	__builtin_memcpy(key.comm, entry->comm, sizeof(key.comm));
	if (now > entry->start_ns)
		agg_add(&offcpu_agg, &key, now - entry->start_ns, now);
	bpf_map_delete_elem(&blocked, &tid);
}

static __always_inline int on_switch(void *ctx, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (!preempt)
		switch_out(ctx, prev);
	switch_in(next);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, preempt, prev, next);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, preempt, prev, next);
}
