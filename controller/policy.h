/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The policy engine: a pure function of (config, its state, one sample,
 * time) -> decisions. It does no I/O and allocates only in sg_policy_new.
 *
 * Per rule: a `when` line holds when its threshold has been met continuously
 * for its `for` time, or when its kernel event was seen within its window.
 * The rule holds when any (or all) of its lines hold. While it holds the
 * ladder climbs: the first step at once, then one step per `step_after`.
 * While it is clear the ladder steps back: one reversible step per
 * `recover_after` of continuous clearness (steps that cannot be undone,
 * capture and kill, are passed over on the way down). After a kill the rule
 * applies nothing for `cooldown`. Kill steps across all rules are limited to
 * kill_limit per window; a kill refused by the limit is a BLOCKED decision
 * and the ladder stays where it is. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "signals.h"

#define SG_REASON_MAX 256

enum sg_decision_kind {
	SG_DECISION_APPLY,
	SG_DECISION_REVERT,
	SG_DECISION_BLOCKED, /* a kill refused by kill_limit */
};

struct sg_decision {
	size_t rule;               /* index in cfg->rules */
	size_t step;               /* index in the rule's steps */
	enum sg_decision_kind kind;
	bool dry_run;              /* global or per-rule dry run */
	unsigned level;            /* ladder level after the decision (steps applied) */
	char reason[SG_REASON_MAX];/* "psi.io.full.avg10=34.2>=20 for 5.0s" */
};

struct sg_policy;

/* Resolves every condition's signal against tab. Returns 0, -ENOMEM, or
 * -ENOENT when a condition names a signal tab has no slot for. */
int sg_policy_new(struct sg_policy **out, const struct sg_config *cfg, const struct sg_signal_table *tab);
void sg_policy_free(struct sg_policy *policy);

/* Evaluates one sample. Writes at most one decision per rule into out
 * (capacity cap >= cfg->nrules) and returns how many. */
size_t sg_policy_tick(struct sg_policy *policy, const struct sg_config *cfg, const struct sg_sample *sample,
		      struct sg_decision *out, size_t cap);

/* Steps of rule currently applied (0 = at rest). */
unsigned sg_policy_level(const struct sg_policy *policy, size_t rule);
/* Whether the rule's condition held at the last tick. */
bool sg_policy_holding(const struct sg_policy *policy, size_t rule);
/* Carries ladder state from old to new (reload) for rules whose name and
 * steps are unchanged; any other rule starts at rest. */
void sg_policy_carry(struct sg_policy *new_policy, const struct sg_config *new_cfg,
		     const struct sg_policy *old_policy, const struct sg_config *old_cfg);
