/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one interface every step kind implements: apply, revert, describe.
 *
 * Actions are the only code that changes the system. An action records what
 * it needs to undo itself in an sg_undo and hands it to the journal callback
 * BEFORE it changes anything; if the journal cannot be written, it does not
 * act. revert works from the sg_undo alone, so a guardian started after a
 * crash can undo what its predecessor did from the state journal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

#define SG_TARGET_PIDS_MAX 1024
#define SG_UNDO_DATA_MAX (64 * 1024)

/* Whom a step acts on, resolved when the step applies. */
struct sg_target {
	char job[SG_NAME_MAX];          /* job name, "top-io", or "" for the host */
	char cgroup2[SG_PATH_MAX * 2];  /* its cgroup in the unified hierarchy, absolute; "" when none */
	char blkio[SG_PATH_MAX * 2];    /* its v1 blkio cgroup (hybrid, legacy), absolute; "" when none */
	char freezer[SG_PATH_MAX * 2];  /* its v1 freezer cgroup (legacy only), absolute; "" when none */
	/* The systemd unit that owns cgroup2 (a `unit =` job, or the transient
	 * scope a match job was put in): io.max, freeze and kill go through
	 * systemd (sdbus.h), never its cgroup's files. "" when none. */
	char unit[SG_PATH_MAX];
	pid_t pids[SG_TARGET_PIDS_MAX]; /* its processes, for a target without any cgroup */
	size_t npids;
	unsigned dev_major, dev_minor;  /* the whole disk io.max applies to */
};

/* What undoing an applied step needs. Written to the state journal. */
struct sg_undo {
	enum sg_step_kind kind;
	char rule[SG_NAME_MAX];
	char job[SG_NAME_MAX];
	char step[64];                 /* the step as written */
	unsigned level;                /* ladder level it was applied at */
	char path[SG_PATH_MAX * 2];    /* the file or directory acted on (cgroup dir, hook) */
	/* Kind-specific, printable text with no newline, e.g. ionice:
	 * "TID:IOPRIO TID:IOPRIO ...", io.max: the previous limits line,
	 * freeze: "cgroup2", "freezer" or "sigstop PID PID ...". Steps taken
	 * through systemd have data starting with "systemd" and the unit's
	 * name as path. */
	char data[SG_UNDO_DATA_MAX];
};

/* What an action gets from the guardian besides its target. */
struct sg_action_env {
	const struct sg_config *cfg;
	const struct sg_rule *rule;  /* NULL when reverting a step of a rule no longer configured */
	const struct sg_step *step;  /* likewise */
	unsigned level;
	const char *reason;   /* the signals that held, one line */
	const char *capture;  /* capture bundle path, "" when none */
	/* Where a failing action says more than its errno (the bus error's name
	 * and message), for the log line; NULL: nowhere. */
	char *detail;
	size_t detail_len;
};

/* Records undo in the journal; returns 0 or -errno (then the action must not act). */
typedef int (*sg_journal_fn)(const struct sg_undo *undo, void *userdata);

/* Copies text into env->detail, when there is one. */
void sg_action_detail(const struct sg_action_env *env, const char *text);

/* Calls journal(undo, userdata): 0, or -errno when the action must not act
 * (a positive answer is not a success: -EIO). */
int sg_action_journal(sg_journal_fn journal, void *userdata, const struct sg_undo *undo);

struct sg_action {
	enum sg_step_kind kind;
	/* Fills undo (kind, rule, job, step and level are set by the caller),
	 * calls journal(undo), then acts. Returns 0 or -errno. */
	int (*apply)(const struct sg_action_env *env, const struct sg_target *target, struct sg_undo *undo,
		     sg_journal_fn journal, void *userdata);
	/* Undoes an applied step from undo alone (env gives the configuration
	 * and, when the rule still exists, the rule and the reason; after a
	 * crash env->rule may be NULL and env->reason ""). Returns 0 or -errno;
	 * a target that is gone (the job exited) is 0: nothing is left to undo. */
	int (*revert)(const struct sg_action_env *env, const struct sg_undo *undo);
	/* One line for logs: what apply did or would do. */
	void (*describe)(const struct sg_undo *undo, char *buf, size_t len);
};

/* The action for a step kind; NULL for capture (the capture module writes it). */
const struct sg_action *sg_action_for(enum sg_step_kind kind);
