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
#define TASK_FROZEN 0x8000 /* 6.1 on; unused before */

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

/* Each helper below takes `direct`, a constant once inlined: tp_btf reads
 * task fields with plain loads (BTF-typed pointers), raw_tp through
 * bpf_probe_read_kernel. */

static __always_inline unsigned int task_state(struct task_struct *task, bool direct)
{
	struct task_struct___pre514 *old = (void *)task;

	if (bpf_core_field_exists(old->state))
		return (unsigned int)(direct ? old->state : BPF_CORE_READ(old, state));
	return direct ? task->__state : BPF_CORE_READ(task, __state);
}

/* Did the thread's last sleep count in the load average? The kernel sets
 * this when a thread blocks, from the same state bits this recorder tests
 * (uninterruptible, not TASK_NOLOAD, not frozen), so a thread switching in
 * with it clear cannot be in `blocked`: most switch-ins stop here, with no
 * map lookup at all. */
static __always_inline bool slept_uninterruptibly(struct task_struct *task, bool direct)
{
	if (!bpf_core_field_exists(task->sched_contributes_to_load))
		return true;
	return direct ? BPF_CORE_READ_BITFIELD(task, sched_contributes_to_load) :
			BPF_CORE_READ_BITFIELD_PROBED(task, sched_contributes_to_load);
}

static __always_inline void switch_out(void *ctx, struct task_struct *prev, bool direct)
{
	unsigned int state = task_state(prev, direct);
	struct sg_blocked entry;
	__u32 tid;

	if (!(state & TASK_UNINTERRUPTIBLE) || (state & (TASK_NOLOAD | TASK_FROZEN)))
		return;
	tid = direct ? prev->pid : BPF_CORE_READ(prev, pid);
	if (tid == 0)
		return;
	entry.start_ns = bpf_ktime_get_ns();
	entry.tgid = direct ? prev->tgid : BPF_CORE_READ(prev, tgid);
	entry.kernel_stack = stack_id(ctx, 0);
	entry.user_stack = (direct ? prev->mm : BPF_CORE_READ(prev, mm)) ? stack_id(ctx, BPF_F_USER_STACK) : -1;
	if (entry.kernel_stack < 0)
		__sync_fetch_and_add(&lost, 1);
	bpf_get_current_comm(entry.comm, sizeof(entry.comm));
	if (bpf_map_update_elem(&blocked, &tid, &entry, BPF_ANY) != 0)
		__sync_fetch_and_add(&lost, 1);
}

static __always_inline void switch_in(struct task_struct *next, bool direct)
{
	struct sg_blocked *entry;
	struct sg_agg_key key;
	__u32 tid;
	__u64 now;

	if (!slept_uninterruptibly(next, direct))
		return;
	tid = direct ? next->pid : BPF_CORE_READ(next, pid);
	entry = bpf_map_lookup_elem(&blocked, &tid);
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

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (!preempt)
		switch_out(ctx, prev, true);
	switch_in(next, true);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (!preempt)
		switch_out(ctx, prev, false);
	switch_in(next, false);
	return 0;
}
