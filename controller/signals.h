/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Signal names, their slots in a sample, and the sample itself.
 *
 * A sample is a flat array of doubles, one slot per numeric signal, plus the
 * count of each kernel event seen since the previous sample. NaN means the
 * value is not available (no PSI, a job without a cgroup, a disk that is
 * gone); a condition on a NaN value does not hold. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "kmsg_event.h"

#define SG_DISK_MAX 64
#define SG_DISK_NAME_MAX 32

enum sg_psi_resource { SG_PSI_CPU, SG_PSI_IO, SG_PSI_MEMORY, SG_PSI_NRES };
enum sg_psi_kind { SG_PSI_SOME, SG_PSI_FULL, SG_PSI_NKIND };
/* System PSI has all four; a job's PSI has avg10 and stall only. */
enum sg_psi_metric { SG_PSI_AVG10, SG_PSI_AVG60, SG_PSI_AVG300, SG_PSI_STALL, SG_PSI_NMETRIC };
enum sg_disk_metric {
	SG_DISK_UTIL, SG_DISK_AWAIT, SG_DISK_R_AWAIT, SG_DISK_W_AWAIT,
	SG_DISK_AQU, SG_DISK_IOPS, SG_DISK_RMBPS, SG_DISK_WMBPS, SG_DISK_NMETRIC
};
enum sg_io_dir { SG_IO_READ, SG_IO_WRITE, SG_IO_NDIR };
enum sg_misc_signal {
	SG_MISC_TASKS_DSTATE, SG_MISC_TASKS_BLOCKED,
	SG_MISC_LOAD1, SG_MISC_LOAD5, SG_MISC_LOAD15,
	SG_MISC_LOOP_LAG, SG_MISC_COUNT
};

enum sg_signal_family {
	SG_SIG_PSI,      /* psi.RES.KIND.METRIC */
	SG_SIG_JOB_PSI,  /* job.NAME.psi.RES.KIND.{avg10,stall} */
	SG_SIG_JOB_IO,   /* job.NAME.io.{rbps,wbps} */
	SG_SIG_DISK,     /* disk.DEV.METRIC, DEV may be "any" */
	SG_SIG_MISC,     /* tasks.*, load.*, loop.lag */
	SG_SIG_KMSG,     /* kmsg.EVENT (only with `within`) */
};

/* A signal name taken apart. */
struct sg_signal_ref {
	enum sg_signal_family family;
	enum sg_psi_resource res;
	enum sg_psi_kind kind;
	enum sg_psi_metric metric;   /* PSI families */
	enum sg_disk_metric disk_metric;
	enum sg_io_dir dir;
	enum sg_misc_signal misc;
	enum sg_kmsg_event event;
	char job[SG_NAME_MAX];       /* JOB_* families */
	char disk[SG_DISK_NAME_MAX]; /* DISK family; "any" for the highest */
};

/* Parses a signal name by grammar alone (it does not check that a job or
 * disk exists). Returns 0 or -EINVAL with a short reason in why. */
int sg_signal_parse(const char *name, struct sg_signal_ref *ref, char *why, size_t why_len);

/* Names of things a sample has slots for. Disk index ndisks is "any". */
struct sg_signal_table {
	size_t njobs;
	char disks[SG_DISK_MAX][SG_DISK_NAME_MAX];
	size_t ndisks;
	size_t nwhole;  /* disks[0, nwhole) are the host's whole disks, the ones "any" covers */
	size_t nslots;
};

/* Builds the table for cfg's jobs and for disks (whole disks found on the
 * host) plus every disk a rule names. Returns 0 or -E2BIG. */
int sg_signal_table_init(struct sg_signal_table *tab, const struct sg_config *cfg,
			 const char (*disks)[SG_DISK_NAME_MAX], size_t ndisks);

size_t sg_slot_psi(enum sg_psi_resource res, enum sg_psi_kind kind, enum sg_psi_metric metric);
size_t sg_slot_misc(enum sg_misc_signal misc);
size_t sg_slot_disk(const struct sg_signal_table *tab, size_t disk, enum sg_disk_metric metric);
/* metric is SG_PSI_AVG10 or SG_PSI_STALL */
size_t sg_slot_job_psi(const struct sg_signal_table *tab, size_t job, enum sg_psi_resource res,
		       enum sg_psi_kind kind, enum sg_psi_metric metric);
size_t sg_slot_job_io(const struct sg_signal_table *tab, size_t job, enum sg_io_dir dir);

/* Resolves a numeric signal name to its slot. Returns the slot, or -ENOENT
 * (unknown job or disk) or -EINVAL (bad grammar, or a kmsg event). */
int sg_signal_slot(const struct sg_signal_table *tab, const struct sg_config *cfg, const char *name);

/* Writes the name of slot into buf ("disk.vda.util"). */
void sg_signal_slot_name(const struct sg_signal_table *tab, const struct sg_config *cfg,
			 size_t slot, char *buf, size_t len);

struct sg_sample {
	uint64_t now_usec;                /* CLOCK_MONOTONIC */
	double *values;                   /* tab.nslots of them */
	size_t nvalues;
	uint32_t events[SG_EV_COUNT];     /* kernel events since the previous sample */
};

const char *sg_psi_resource_name(enum sg_psi_resource res);
const char *sg_psi_kind_name(enum sg_psi_kind kind);
const char *sg_psi_metric_name(enum sg_psi_metric metric);
const char *sg_disk_metric_name(enum sg_disk_metric metric);
