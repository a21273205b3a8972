/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "recorder.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <malloc.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "offcpu.h"
#include "offcpu.skel.h"
#include "oncpu.h"
#include "oncpu.skel.h"
#include "units.h"

#define BTF_PATH "/sys/kernel/btf/vmlinux"
#define NSEC_PER_USEC 1000ULL

struct sg_recorder {
	struct offcpu_bpf *off;
	struct oncpu_bpf *on;
	bool raw_tp; /* sched_switch through raw_tp: asked for, or tp_btf did not load */
	unsigned oncpu_hz;
	uint64_t slot_ns;
	struct bpf_link *switch_link;
	struct bpf_link **cpu_links; /* one per possible CPU, NULL when offline */
	int ncpus;
	bool attached;
	uint64_t first_attach_ns; /* 0 until the first attach */
	uint64_t lost_seen_off, lost_seen_on; /* BPF counters at the previous snapshot */
	int32_t trace_index[SG_STACKS_ENTRIES]; /* a snapshot's stack id -> trace (stackfill.h) */
};

/* ---- libbpf's messages ---- */

/* Warnings while trying tp_btf are expected where it cannot load. */
static bool libbpf_quiet;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	int priority = level == LIBBPF_WARN && !libbpf_quiet ? LOG_WARNING : LOG_DEBUG;
	size_t len;

	if (priority > sg_log_get_level())
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	while (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	sg_log(priority, "libbpf: %s", line);
	return 0;
}

/* ---- open, load ---- */

static int perf_clock_open(unsigned hz, int cpu)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = hz,
		.freq = 1,
		.disabled = 1,
	};
	int fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int load_offcpu(struct sg_recorder *rec, bool raw_tp)
{
	int err;

	rec->off = offcpu_bpf__open();
	if (!rec->off)
		return -errno;
	rec->off->rodata->slot_ns = rec->slot_ns;
	bpf_program__set_autoload(rec->off->progs.sched_switch_btf, !raw_tp);
	bpf_program__set_autoload(rec->off->progs.sched_switch_raw, raw_tp);
	err = offcpu_bpf__load(rec->off);
	if (err < 0) {
		offcpu_bpf__destroy(rec->off);
		rec->off = NULL;
		return err;
	}
	rec->raw_tp = raw_tp;
	return 0;
}

/* The on-CPU object records into the off-CPU object's stack map. */
static int load_oncpu(struct sg_recorder *rec)
{
	int err;

	rec->on = oncpu_bpf__open();
	if (!rec->on)
		return -errno;
	rec->on->rodata->slot_ns = rec->slot_ns;
	err = bpf_map__reuse_fd(rec->on->maps.stacks, bpf_map__fd(rec->off->maps.stacks));
	if (err < 0)
		return err;
	return oncpu_bpf__load(rec->on);
}

static int fail(int err, char *why, size_t why_len, const char *what)
{
	if (err == -EPERM || err == -EACCES)
		snprintf(why, why_len, "%s: not permitted (needs root, or CAP_BPF and CAP_PERFMON)", what);
	else
		snprintf(why, why_len, "%s: %s (log_level = debug shows libbpf's messages)", what, strerror(-err));
	return err;
}

int sg_recorder_open(const struct sg_recorder_opts *opts, struct sg_recorder **out, char *why, size_t why_len)
{
	unsigned hz = opts->oncpu_hz ? opts->oncpu_hz : SG_ONCPU_HZ_DEFAULT;
	uint64_t window_usec = opts->window_usec ? opts->window_usec : SG_RECORDER_WINDOW_USEC_DEFAULT;
	struct sg_recorder *rec;
	int err, fd, cpu;

	*out = NULL;
	if (hz < SG_ONCPU_HZ_MIN || hz > SG_ONCPU_HZ_MAX) {
		snprintf(why, why_len, "on-CPU frequency %u Hz is outside %d..%d", hz, SG_ONCPU_HZ_MIN,
			 SG_ONCPU_HZ_MAX);
		return -EINVAL;
	}
	if (window_usec < SG_RECORDER_WINDOW_USEC_MIN || window_usec > SG_RECORDER_WINDOW_USEC_MAX) {
		snprintf(why, why_len, "recorder window %llu us is outside %llu..%llu", (unsigned long long)window_usec,
			 SG_RECORDER_WINDOW_USEC_MIN, SG_RECORDER_WINDOW_USEC_MAX);
		return -EINVAL;
	}
	if (access(BTF_PATH, R_OK) != 0) {
		err = -errno;
		snprintf(why, why_len, "the kernel has no BTF (%s: %s): its BPF programs cannot be relocated",
			 BTF_PATH, strerror(errno));
		return err;
	}
	libbpf_set_print(print_libbpf);

	rec = calloc(1, sizeof(*rec));
	if (!rec) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	rec->oncpu_hz = hz;
	rec->slot_ns = window_usec * NSEC_PER_USEC / (SG_AGG_SLOTS - 1);

	if (opts->raw_tp) {
		err = load_offcpu(rec, true);
	} else {
		libbpf_quiet = true;
		err = load_offcpu(rec, false);
		libbpf_quiet = false;
		if (err < 0) {
			sg_log(LOG_DEBUG, "recorder: tp_btf/sched_switch does not load (%s), trying raw_tp",
			       strerror(-err));
			err = load_offcpu(rec, true);
		}
	}
	if (err < 0) {
		fail(err, why, why_len, "cannot load the off-CPU recorder");
		goto out;
	}
	err = load_oncpu(rec);
	if (err < 0) {
		fail(err, why, why_len, "cannot load the on-CPU sampler");
		goto out;
	}
	rec->ncpus = libbpf_num_possible_cpus();
	if (rec->ncpus <= 0) {
		err = rec->ncpus < 0 ? rec->ncpus : -ENODEV;
		fail(err, why, why_len, "cannot count the possible CPUs");
		goto out;
	}
	rec->cpu_links = calloc((size_t)rec->ncpus, sizeof(*rec->cpu_links));
	if (!rec->cpu_links) {
		err = -ENOMEM;
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	/* The perf events are opened at attach; fail now if they cannot be. */
	cpu = sched_getcpu();
	fd = perf_clock_open(hz, cpu < 0 ? 0 : cpu);
	if (fd < 0) {
		err = fd;
		fail(err, why, why_len, "cannot open a cpu-clock perf event");
		goto out;
	}
	close(fd);
	*out = rec;
	rec = NULL;
	err = 0;
out:
	sg_recorder_close(rec);
	/* libbpf parsed the kernel's BTF (megabytes) to relocate: give it back. */
	malloc_trim(0);
	return err;
}

const char *sg_recorder_switch_kind(const struct sg_recorder *rec)
{
	return rec->raw_tp ? "raw_tp" : "tp_btf";
}

/* ---- attach, detach ---- */

/* Threads still in the table when recording stops would never be seen
 * waking; a thread blocked before attach was never put in. */
static void forget_blocked(struct sg_recorder *rec)
{
	int fd = bpf_map__fd(rec->off->maps.blocked);
	__u32 tids[256], in_token = 0, out_token = 0, n;
	struct sg_blocked entries[256];
	bool first = true;

	do {
		n = 256;
		if (bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in_token, &out_token, tids, entries, &n,
						    NULL) < 0)
			break; /* ENOENT: the table is empty now */
		in_token = out_token;
		first = false;
	} while (n > 0);
}

void sg_recorder_detach(struct sg_recorder *rec)
{
	for (int cpu = 0; cpu < rec->ncpus; cpu++) {
		bpf_link__destroy(rec->cpu_links[cpu]);
		rec->cpu_links[cpu] = NULL;
	}
	bpf_link__destroy(rec->switch_link);
	rec->switch_link = NULL;
	if (rec->attached)
		forget_blocked(rec);
	rec->attached = false;
}

int sg_recorder_attach(struct sg_recorder *rec)
{
	struct bpf_program *sample = rec->on->progs.sample;
	int err, fd;

	if (rec->attached)
		return 0;
	forget_blocked(rec);
	rec->switch_link = bpf_program__attach(rec->raw_tp ? rec->off->progs.sched_switch_raw :
							     rec->off->progs.sched_switch_btf);
	if (!rec->switch_link) {
		err = -errno;
		goto fail;
	}
	for (int cpu = 0; cpu < rec->ncpus; cpu++) {
		fd = perf_clock_open(rec->oncpu_hz, cpu);
		if (fd == -ENODEV)
			continue; /* offline */
		if (fd < 0) {
			err = fd;
			goto fail;
		}
		rec->cpu_links[cpu] = bpf_program__attach_perf_event(sample, fd);
		if (!rec->cpu_links[cpu]) {
			err = -errno;
			close(fd);
			goto fail;
		}
	}
	rec->attached = true;
	if (!rec->first_attach_ns)
		rec->first_attach_ns = sg_now_usec() * NSEC_PER_USEC;
	return 0;
fail:
	sg_recorder_detach(rec);
	return err;
}

void sg_recorder_close(struct sg_recorder *rec)
{
	if (!rec)
		return;
	if (rec->off && rec->cpu_links)
		sg_recorder_detach(rec);
	oncpu_bpf__destroy(rec->on);
	offcpu_bpf__destroy(rec->off);
	free(rec->cpu_links);
	free(rec);
}

/* How far back the window reaches now: its whole slots and the current
 * partial one, no further than the first attach. */
static uint64_t window_reach_usec(const struct sg_recorder *rec)
{
	uint64_t now = sg_now_usec() * NSEC_PER_USEC;
	uint64_t reach = (SG_AGG_SLOTS - 1) * rec->slot_ns + now % rec->slot_ns;

	if (!rec->first_attach_ns)
		return 0;
	if (now - rec->first_attach_ns < reach)
		reach = now - rec->first_attach_ns;
	return reach / NSEC_PER_USEC;
}

static int fill_set(struct sg_recorder *rec, struct sg_stack_set *set)
{
	bool off = set->kind == SG_STACKS_OFFCPU;
	uint64_t lost_now = off ? rec->off->bss->lost : rec->on->bss->lost;
	uint64_t *lost_seen = off ? &rec->lost_seen_off : &rec->lost_seen_on;
	struct sg_stack_fill fill;
	int err = 0;

	sg_stack_fill_begin(&fill, set, bpf_map__fd(rec->off->maps.stacks), rec->trace_index);
	if (off)
		err = sg_stack_fill_blocked(&fill, bpf_map__fd(rec->off->maps.blocked));
	if (err == 0)
		err = off ? sg_stack_fill_aggregates(&fill, bpf_map__fd(rec->off->maps.offcpu_agg), rec->slot_ns,
						     NSEC_PER_USEC) :
			    sg_stack_fill_aggregates(&fill, bpf_map__fd(rec->on->maps.oncpu_agg), rec->slot_ns, 1);
	if (err < 0) {
		sg_stack_fill_begin(&fill, set, fill.stack_fd, rec->trace_index);
		return err;
	}
	set->lost += lost_now - *lost_seen;
	*lost_seen = lost_now;
	set->window_usec = window_reach_usec(rec);
	return 0;
}

int sg_recorder_snapshot(struct sg_recorder *rec, struct sg_stack_set *offcpu, struct sg_stack_set *oncpu)
{
	int err = 0;

	if ((!offcpu && !oncpu) || (offcpu && offcpu->kind != SG_STACKS_OFFCPU) ||
	    (oncpu && oncpu->kind != SG_STACKS_ONCPU))
		return -EINVAL;
	if (offcpu)
		err = fill_set(rec, offcpu);
	if (oncpu && err == 0)
		err = fill_set(rec, oncpu);
	return err;
}
