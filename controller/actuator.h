/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Carries out the policy's decisions: resolves the target, journals, acts,
 * and undoes on the way down, at exit, and after a crash. */
#pragma once

#include <stdbool.h>

#include "capture.h"
#include "capture_writer.h"
#include "config.h"
#include "policy.h"
#include "state.h"
#include "target.h"

/* What a capture bundle is made of besides /proc: set by the loop, and again
 * at each reload (the history belongs to a generation). */
struct sg_capture_sources {
	const struct sg_history *history;
	const struct sg_signal_table *tab;
	const struct sg_kmsg_ring *kmsg;
};

struct sg_actuator {
	struct sg_capture_sources sources;
	struct sg_capture_writer *writer;  /* stores bundles after acting; NULL: stored at once */
	struct sg_recorder *recorder;      /* stacks for bundles; NULL: none (recorder_note says why) */
	char recorder_note[256];
	bool captured[SG_RULE_MAX];        /* this incident of the rule has its bundle */
	char capture[SG_RULE_MAX][SG_PATH_MAX + 64]; /* that bundle, for hooks */
	struct sg_state state;
	int lock_fd;        /* holds state_dir/lock while open (sg_state_lock) */
	pid_t lock_holder;  /* after -EBUSY from open: who holds it */
	struct sg_target_paths paths;
	char unified[SG_PATH_MAX];
	struct sg_target *target; /* scratch, allocated at open */
	struct sg_undo *undo;     /* scratch, allocated at open */
};

/* Opens the journal in cfg->state_dir, takes its lock, and finds the cgroup
 * layout. Returns 0, -EBUSY when another process holds the lock (its pid in
 * lock_holder), or -errno. */
int sg_actuator_open(struct sg_actuator *act, const struct sg_config *cfg);
void sg_actuator_close(struct sg_actuator *act);

/* Carries out one decision. A capture bundle is taken at each capture step
 * and before the first other step of every incident, in a dry run too (in
 * memory, then handed to the writer to be stored while the step acts); the
 * other steps act only when the decision is not a dry run. Failures are
 * logged with their errno and the ladder goes on. */
void sg_actuator_decide(struct sg_actuator *act, const struct sg_config *cfg, const struct sg_decision *decision);

/* After a reload: reverts every journaled step above its rule's ladder level
 * in policy (a rule removed, or whose ladder changed and starts at rest).
 * Returns how many could not be reverted. */
unsigned sg_actuator_settle(struct sg_actuator *act, const struct sg_config *cfg, const struct sg_policy *policy);

/* Reverts every journaled step, newest first (what a crashed run left, at
 * start; everything, at exit with on_exit = revert; `stallguard revert`).
 * Returns how many could not be reverted. */
unsigned sg_actuator_revert_all(struct sg_actuator *act, const struct sg_config *cfg, const char *why);
