/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whom a step acts on: a rule's job resolved, when the step applies, into
 * cgroup paths and processes, with every protected process left out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "action.h"
#include "cgroup.h"
#include "config.h"

/* Where to look; tests point these at fixture trees. */
struct sg_target_paths {
	const char *proc;          /* "/proc" */
	const char *cgroup_root;   /* "/sys/fs/cgroup" (v1 controllers below it on hybrid and legacy) */
	const char *unified;       /* the cgroup2 mount, "" when none */
	const char *sys;           /* "/sys" (disks) */
	enum sg_cgroup_layout layout;
	bool systemd;              /* systemd runs the host: units and scopes through its D-Bus API */
};

/* pid 1, kernel threads, the guardian itself, and every `protect` entry. */
bool sg_target_protected(const struct sg_config *cfg, const char *proc, pid_t pid);

/* Whether a process matches a `match`/`protect` entry. */
bool sg_target_matches(const struct sg_match *match, const char *proc, pid_t pid);

/* The busiest unprotected process by bytes read and written over
 * sample_usec (two readings of every /proc/PID/io). Returns its pid, or
 * -ESRCH when no process did any I/O. */
pid_t sg_target_top_io(const struct sg_config *cfg, const char *proc, unsigned sample_usec);

/* The whole disk io.max applies to: the job's `device`, else the disk under
 * /. Returns 0 or -ENODEV (with why). */
int sg_target_disk(const struct sg_target_paths *paths, const char *device, unsigned *major, unsigned *minor,
		   char *why, size_t why_len);

/* Resolves the rule's target for a step of kind. Where systemd runs the host
 * (paths->systemd), a job with `unit =` is that unit (target->unit), its
 * cgroup asked of systemd over D-Bus (sdbus.h), whatever else the job says.
 * A job with `cgroup =` is its cgroup (and, on hybrid hosts, a v1 blkio
 * cgroup at the same path, kept holding the same processes, for io.max; on
 * legacy hosts a v1 freezer cgroup likewise). A job found only by `match`,
 * and top-io, are their processes; before a cgroup step (io.max, freeze,
 * kill) they are put in the transient scope stallguard-JOB.scope through
 * systemd where it runs the host, which is then the target; elsewhere they
 * are moved into a cgroup of stallguard's own, UNIFIED/stallguard.jobs/JOB.
 * A cgroup that holds a protected process is refused. Returns 0, or -ESRCH
 * (nothing to act on), -EPERM (protected), -ENODEV (no disk), -EOPNOTSUPP
 * (a unit-only job without systemd), a bus error, with why. */
int sg_target_resolve(const struct sg_target_paths *paths, const struct sg_config *cfg, const struct sg_rule *rule,
		      enum sg_step_kind kind, struct sg_target *target, char *why, size_t why_len);
