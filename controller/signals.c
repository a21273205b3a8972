/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Signal names and slots.
 *
 * Slot layout of a sample:
 *   [0, 24)               system PSI: res * 8 + kind * 4 + metric
 *   [24, 30)              tasks.dstate, tasks.blocked, load.1/5/15, loop.lag
 *   [30, 30 + 8*(D+1))    disks, 8 metrics each; disk index D is "any"
 *   then 14 per job:      12 PSI (res * 4 + kind * 2 + {avg10, stall}), rbps, wbps */
#include "signals.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

#define PSI_SLOTS (SG_PSI_NRES * SG_PSI_NKIND * SG_PSI_NMETRIC)
#define MISC_BASE PSI_SLOTS
#define DISK_BASE (MISC_BASE + SG_MISC_COUNT)
#define JOB_PSI_SLOTS (SG_PSI_NRES * SG_PSI_NKIND * 2)
#define JOB_SLOTS (JOB_PSI_SLOTS + SG_IO_NDIR)

static const char *const psi_resources[SG_PSI_NRES] = { "cpu", "io", "memory" };
static const char *const psi_kinds[SG_PSI_NKIND] = { "some", "full" };
static const char *const psi_metrics[SG_PSI_NMETRIC] = { "avg10", "avg60", "avg300", "stall" };
static const char *const disk_metrics[SG_DISK_NMETRIC] = {
	"util", "await", "r_await", "w_await", "aqu", "iops", "rmbps", "wmbps",
};
static const char *const misc_names[SG_MISC_COUNT] = {
	"tasks.dstate", "tasks.blocked", "load.1", "load.5", "load.15", "loop.lag",
};
static const char *const io_dirs[SG_IO_NDIR] = { "rbps", "wbps" };

const char *sg_psi_resource_name(enum sg_psi_resource res) { return psi_resources[res]; }
const char *sg_psi_kind_name(enum sg_psi_kind kind) { return psi_kinds[kind]; }
const char *sg_psi_metric_name(enum sg_psi_metric metric) { return psi_metrics[metric]; }
const char *sg_disk_metric_name(enum sg_disk_metric metric) { return disk_metrics[metric]; }

static int find(const char *const *names, size_t n, const char *word)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], word) == 0)
			return (int)i;
	return -1;
}

static bool is_name(const char *word)
{
	if (!*word)
		return false;
	for (const char *p = word; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-'))
			return false;
	return true;
}

#define WORDS_MAX 8

/* Splits a copy of name at dots. Returns the word count, or -1 when too many. */
static int split(const char *name, char *copy, size_t copy_len, char **words)
{
	int n = 0;

	if (sg_strlcpy(copy, name, copy_len) >= copy_len)
		return -1;
	for (char *p = copy;;) {
		if (n == WORDS_MAX)
			return -1;
		words[n++] = p;
		p = strchr(p, '.');
		if (!p)
			return n;
		*p++ = '\0';
	}
}

static int fail(char *why, size_t why_len, const char *fmt, const char *arg)
{
	snprintf(why, why_len, fmt, arg);
	return -EINVAL;
}

static int parse_psi(char **w, bool job, struct sg_signal_ref *ref, char *why, size_t why_len)
{
	int res = find(psi_resources, SG_PSI_NRES, w[0]);
	int kind = find(psi_kinds, SG_PSI_NKIND, w[1]);
	int metric = find(psi_metrics, SG_PSI_NMETRIC, w[2]);

	if (res < 0)
		return fail(why, why_len, "unknown PSI resource \"%s\" (cpu, io or memory)", w[0]);
	if (kind < 0)
		return fail(why, why_len, "unknown PSI kind \"%s\" (some or full)", w[1]);
	if (metric < 0 || (job && metric != SG_PSI_AVG10 && metric != SG_PSI_STALL))
		return fail(why, why_len,
			    job ? "unknown job PSI metric \"%s\" (avg10 or stall)"
				: "unknown PSI metric \"%s\" (avg10, avg60, avg300 or stall)",
			    w[2]);
	ref->res = (enum sg_psi_resource)res;
	ref->kind = (enum sg_psi_kind)kind;
	ref->metric = (enum sg_psi_metric)metric;
	return 0;
}

int sg_signal_parse(const char *name, struct sg_signal_ref *ref, char *why, size_t why_len)
{
	char copy[SG_SIGNAL_NAME_MAX], *w[WORDS_MAX];
	int n = split(name, copy, sizeof(copy), w);

	memset(ref, 0, sizeof(*ref));
	if (n < 0)
		return fail(why, why_len, "signal name \"%s\" is too long", name);

	for (int i = 0; i < SG_MISC_COUNT; i++) {
		if (strcmp(name, misc_names[i]) == 0) {
			ref->family = SG_SIG_MISC;
			ref->misc = (enum sg_misc_signal)i;
			return 0;
		}
	}
	if (strcmp(w[0], "psi") == 0 && n == 4) {
		ref->family = SG_SIG_PSI;
		return parse_psi(w + 1, false, ref, why, why_len);
	}
	if (strcmp(w[0], "kmsg") == 0 && n == 2) {
		int ev = sg_kmsg_event_from_name(w[1]);
		if (ev < 0)
			return fail(why, why_len, "unknown kernel event \"%s\"", w[1]);
		ref->family = SG_SIG_KMSG;
		ref->event = (enum sg_kmsg_event)ev;
		return 0;
	}
	if (strcmp(w[0], "disk") == 0 && n == 3) {
		int metric = find(disk_metrics, SG_DISK_NMETRIC, w[2]);
		if (!is_name(w[1]) || strlen(w[1]) >= SG_DISK_NAME_MAX)
			return fail(why, why_len, "bad disk name \"%s\"", w[1]);
		if (metric < 0)
			return fail(why, why_len,
				    "unknown disk metric \"%s\" "
				    "(util, await, r_await, w_await, aqu, iops, rmbps, wmbps)",
				    w[2]);
		ref->family = SG_SIG_DISK;
		ref->disk_metric = (enum sg_disk_metric)metric;
		sg_strlcpy(ref->disk, w[1], sizeof(ref->disk));
		return 0;
	}
	if (strcmp(w[0], "job") == 0 && n >= 4) {
		if (!is_name(w[1]) || strlen(w[1]) >= SG_NAME_MAX)
			return fail(why, why_len, "bad job name \"%s\"", w[1]);
		sg_strlcpy(ref->job, w[1], sizeof(ref->job));
		if (strcmp(w[2], "psi") == 0 && n == 6) {
			ref->family = SG_SIG_JOB_PSI;
			return parse_psi(w + 3, true, ref, why, why_len);
		}
		if (strcmp(w[2], "io") == 0 && n == 4) {
			int dir = find(io_dirs, SG_IO_NDIR, w[3]);
			if (dir < 0)
				return fail(why, why_len, "unknown job I/O metric \"%s\" (rbps or wbps)", w[3]);
			ref->family = SG_SIG_JOB_IO;
			ref->dir = (enum sg_io_dir)dir;
			return 0;
		}
	}
	return fail(why, why_len, "unknown signal \"%s\"", name);
}

int sg_signal_table_init(struct sg_signal_table *tab, const struct sg_config *cfg,
			 const char (*disks)[SG_DISK_NAME_MAX], size_t ndisks)
{
	memset(tab, 0, sizeof(*tab));
	tab->njobs = cfg->njobs;
	for (size_t i = 0; i < ndisks; i++) {
		if (tab->ndisks == SG_DISK_MAX)
			return -E2BIG;
		sg_strlcpy(tab->disks[tab->ndisks++], disks[i], SG_DISK_NAME_MAX);
	}
	tab->nwhole = tab->ndisks;
	/* Disks a rule names but the host lacks get slots too: NaN until they appear. */
	for (size_t r = 0; r < cfg->nrules; r++) {
		for (size_t c = 0; c < cfg->rules[r].nconds; c++) {
			struct sg_signal_ref ref;
			char why[128];
			bool known = false;

			if (sg_signal_parse(cfg->rules[r].conds[c].signal, &ref, why, sizeof(why)) < 0 ||
			    ref.family != SG_SIG_DISK || strcmp(ref.disk, "any") == 0)
				continue;
			for (size_t d = 0; d < tab->ndisks && !known; d++)
				known = strcmp(tab->disks[d], ref.disk) == 0;
			if (known)
				continue;
			if (tab->ndisks == SG_DISK_MAX)
				return -E2BIG;
			sg_strlcpy(tab->disks[tab->ndisks++], ref.disk, SG_DISK_NAME_MAX);
		}
	}
	tab->nslots = DISK_BASE + (tab->ndisks + 1) * SG_DISK_NMETRIC + tab->njobs * JOB_SLOTS;
	return 0;
}

size_t sg_slot_psi(enum sg_psi_resource res, enum sg_psi_kind kind, enum sg_psi_metric metric)
{
	return (size_t)res * SG_PSI_NKIND * SG_PSI_NMETRIC + (size_t)kind * SG_PSI_NMETRIC + metric;
}

size_t sg_slot_misc(enum sg_misc_signal misc)
{
	return MISC_BASE + misc;
}

size_t sg_slot_disk(const struct sg_signal_table *tab, size_t disk, enum sg_disk_metric metric)
{
	(void)tab;
	return DISK_BASE + disk * SG_DISK_NMETRIC + metric;
}

static size_t job_base(const struct sg_signal_table *tab, size_t job)
{
	return DISK_BASE + (tab->ndisks + 1) * SG_DISK_NMETRIC + job * JOB_SLOTS;
}

size_t sg_slot_job_psi(const struct sg_signal_table *tab, size_t job, enum sg_psi_resource res,
		       enum sg_psi_kind kind, enum sg_psi_metric metric)
{
	return job_base(tab, job) + (size_t)res * SG_PSI_NKIND * 2 + (size_t)kind * 2 + (metric == SG_PSI_STALL);
}

size_t sg_slot_job_io(const struct sg_signal_table *tab, size_t job, enum sg_io_dir dir)
{
	return job_base(tab, job) + JOB_PSI_SLOTS + dir;
}

int sg_signal_slot(const struct sg_signal_table *tab, const struct sg_config *cfg, const char *name)
{
	struct sg_signal_ref ref;
	char why[128];
	int job;

	if (sg_signal_parse(name, &ref, why, sizeof(why)) < 0)
		return -EINVAL;
	switch (ref.family) {
	case SG_SIG_PSI:
		return (int)sg_slot_psi(ref.res, ref.kind, ref.metric);
	case SG_SIG_MISC:
		return (int)sg_slot_misc(ref.misc);
	case SG_SIG_DISK:
		if (strcmp(ref.disk, "any") == 0)
			return (int)sg_slot_disk(tab, tab->ndisks, ref.disk_metric);
		for (size_t d = 0; d < tab->ndisks; d++)
			if (strcmp(tab->disks[d], ref.disk) == 0)
				return (int)sg_slot_disk(tab, d, ref.disk_metric);
		return -ENOENT;
	case SG_SIG_JOB_PSI:
		job = sg_config_find_job(cfg, ref.job);
		return job < 0 ? -ENOENT : (int)sg_slot_job_psi(tab, (size_t)job, ref.res, ref.kind, ref.metric);
	case SG_SIG_JOB_IO:
		job = sg_config_find_job(cfg, ref.job);
		return job < 0 ? -ENOENT : (int)sg_slot_job_io(tab, (size_t)job, ref.dir);
	case SG_SIG_KMSG:
		break;
	}
	return -EINVAL;
}

void sg_signal_slot_name(const struct sg_signal_table *tab, const struct sg_config *cfg, size_t slot, char *buf,
			 size_t len)
{
	size_t disks_end = DISK_BASE + (tab->ndisks + 1) * SG_DISK_NMETRIC;

	if (slot < MISC_BASE) {
		size_t res = slot / (SG_PSI_NKIND * SG_PSI_NMETRIC), rest = slot % (SG_PSI_NKIND * SG_PSI_NMETRIC);
		snprintf(buf, len, "psi.%s.%s.%s", psi_resources[res], psi_kinds[rest / SG_PSI_NMETRIC],
			 psi_metrics[rest % SG_PSI_NMETRIC]);
	} else if (slot < DISK_BASE) {
		snprintf(buf, len, "%s", misc_names[slot - MISC_BASE]);
	} else if (slot < disks_end) {
		size_t disk = (slot - DISK_BASE) / SG_DISK_NMETRIC;
		snprintf(buf, len, "disk.%s.%s", disk == tab->ndisks ? "any" : tab->disks[disk],
			 disk_metrics[(slot - DISK_BASE) % SG_DISK_NMETRIC]);
	} else if (slot < tab->nslots) {
		size_t job = (slot - disks_end) / JOB_SLOTS, rest = (slot - disks_end) % JOB_SLOTS;
		const char *job_name = job < cfg->njobs ? cfg->jobs[job].name : "?";
		if (rest < JOB_PSI_SLOTS)
			snprintf(buf, len, "job.%s.psi.%s.%s.%s", job_name, psi_resources[rest / 4],
				 psi_kinds[(rest % 4) / 2], rest % 2 ? "stall" : "avg10");
		else
			snprintf(buf, len, "job.%s.io.%s", job_name, io_dirs[rest - JOB_PSI_SLOTS]);
	} else {
		snprintf(buf, len, "slot%zu", slot);
	}
}
