/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small /proc files: stat, loadavg, per-task stat, and the D-state scan. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* procs_blocked from /proc/stat. Returns 0 or -EINVAL. */
int sg_procstat_parse_blocked(const char *buf, size_t len, unsigned *blocked);

/* The three load averages from /proc/loadavg. Returns 0 or -EINVAL. */
int sg_loadavg_parse(const char *buf, size_t len, double load[3]);

struct sg_task_stat {
	int pid;
	char comm[64]; /* may hold spaces, parentheses, colons */
	char state;    /* 'R', 'S', 'D', ... */
};

/* Parses /proc/PID/task/TID/stat; the comm ends at the last ')'. Returns 0
 * or -EINVAL. */
int sg_task_stat_parse(const char *buf, size_t len, struct sg_task_stat *out);

/* Counts tasks in D state under proc_root ("/proc") with getdents64 and a
 * caller-owned buffer (no allocation). Tasks that exit mid-scan are
 * skipped. Returns the count or -errno. */
int sg_tasks_count_dstate(const char *proc_root, char *scratch, size_t scratch_len);
