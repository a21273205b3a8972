/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "actuator.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "cgroupfs.h"
#include "decision_log.h"
#include "log.h"
#include "sdbus.h"
#include "units.h"

int sg_actuator_open(struct sg_actuator *act, const struct sg_config *cfg)
{
	memset(act, 0, sizeof(*act));
	act->lock_fd = -1;
	act->target = calloc(1, sizeof(*act->target));
	act->undo = calloc(1, sizeof(*act->undo));
	if (!act->target || !act->undo) {
		sg_actuator_close(act);
		return -ENOMEM;
	}
	act->paths.proc = "/proc";
	act->paths.cgroup_root = "/sys/fs/cgroup";
	act->paths.sys = "/sys";
	act->paths.unified = act->unified;
	act->paths.systemd = sd_booted() > 0;
	sg_cgroup_detect("/sys/fs/cgroup", &act->paths.layout, act->unified, sizeof(act->unified));
	int r = sg_state_open(&act->state, cfg->state_dir);
	if (r == 0)
		r = act->lock_fd = sg_state_lock(cfg->state_dir, &act->lock_holder);
	if (r < 0) {
		sg_actuator_close(act);
		return r;
	}
	return 0;
}

void sg_actuator_close(struct sg_actuator *act)
{
	if (act->lock_fd >= 0)
		close(act->lock_fd);
	act->lock_fd = -1;
	sg_state_free(&act->state);
	free(act->target);
	free(act->undo);
	act->target = NULL;
	act->undo = NULL;
}

static int journal_pending(const struct sg_undo *undo, void *userdata)
{
	struct sg_actuator *act = userdata;

	return sg_state_record(&act->state, undo, false);
}

static const char *target_name(const struct sg_rule *rule, const struct sg_config *cfg)
{
	return rule->target == SG_TARGET_JOB ? cfg->jobs[rule->job].name
	       : rule->target == SG_TARGET_TOP_IO ? "top-io" : "";
}

static int revert_entry(const struct sg_config *cfg, const struct sg_undo *undo, const char *reason)
{
	const struct sg_action *action = sg_action_for(undo->kind);
	int index = sg_config_find_rule(cfg, undo->rule);
	const struct sg_rule *rule = index < 0 ? NULL : &cfg->rules[index];
	const struct sg_outcome about = { undo->rule, undo->job, undo->step, undo->level, false, NULL };
	char what[512], detail[SG_SDBUS_ERROR_MAX] = "";

	const struct sg_step *step = rule && undo->level >= 1 && undo->level <= rule->nsteps ?
					     &rule->steps[undo->level - 1] : NULL;
	if (step && strcmp(step->text, undo->step) != 0)
		step = NULL; /* the rule changed since: revert from the journal alone */
	struct sg_action_env env = {
		.cfg = cfg, .rule = step ? rule : NULL, .step = step, .level = undo->level, .reason = reason,
		.capture = "", .detail = detail, .detail_len = sizeof(detail),
	};
	if (!action)
		return 0;
	action->describe(undo, what, sizeof(what));
	int r = action->revert(&env, undo);
	if (r < 0) {
		sg_log_outcome(&about, true, "%s: reverting %s failed: %s%s%s%s", undo->rule, what, strerror(-r),
			       detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
		return r;
	}
	sg_log_outcome(&about, false, "%s: reverted: %s", undo->rule, what);
	return 0;
}

/* ioprio means nothing to the none and kyber schedulers, and only its class
 * to mq-deadline: say so where it was just relied on. */
static void warn_if_ionice_is_ignored(struct sg_actuator *act, const struct sg_config *cfg,
				      const struct sg_rule *rule)
{
	const char *device = rule->target == SG_TARGET_JOB ? cfg->jobs[rule->job].device : "";
	char path[128], scheduler[256], why[128];
	unsigned major, minor;

	if (sg_target_disk(&act->paths, device, &major, &minor, why, sizeof(why)) < 0)
		return;
	snprintf(path, sizeof(path), "%s/dev/block/%u:%u/queue/scheduler", act->paths.sys, major, minor);
	if (sg_read_small(path, scheduler, sizeof(scheduler)) <= 0)
		return;
	if (strstr(scheduler, "[none]") || strstr(scheduler, "[kyber]"))
		sg_log(LOG_WARNING, "%s: disk %u:%u's scheduler (%s) ignores I/O priorities: ionice changes "
				    "nothing there; io.max does",
		       rule->name, major, minor, strstr(scheduler, "[none]") ? "none" : "kyber");
	else if (strstr(scheduler, "[mq-deadline]"))
		sg_log(LOG_INFO, "%s: disk %u:%u uses mq-deadline, which honours I/O priority classes only; "
				 "buffered writeback is done by flusher threads and barely slowed by ionice",
		       rule->name, major, minor);
}

static void apply(struct sg_actuator *act, const struct sg_config *cfg, const struct sg_decision *d)
{
	const struct sg_rule *rule = &cfg->rules[d->rule];
	const struct sg_step *step = &rule->steps[d->step];
	const struct sg_action *action = sg_action_for(step->kind);
	struct sg_undo *undo = act->undo;
	char why[SG_SDBUS_ERROR_MAX + 256], what[512], detail[SG_SDBUS_ERROR_MAX] = "";
	const struct sg_outcome about = {
		rule->name, target_name(rule, cfg), step->text, (unsigned)d->step + 1, d->dry_run,
		act->capture[d->rule][0] ? act->capture[d->rule] : NULL,
	};
	int r;

	if (!action)
		return; /* capture steps are written by capture() */
	/* The same step still journaled (an earlier revert failed): its record
	 * holds what the system was like before, so undo it first; never
	 * overwrite it with a record of the already-changed state. */
	const struct sg_state_entry *stale = sg_state_find(&act->state, rule->name, (unsigned)d->step + 1);
	if (stale) {
		memcpy(undo, &stale->undo, sizeof(*undo));
		if (revert_entry(cfg, undo, "before applying it again") < 0) {
			sg_log_outcome(&about, true,
				       "%s: \"%s\" is still applied from before and cannot be undone: "
				       "not applying it again", rule->name, step->text);
			return;
		}
		sg_state_remove(&act->state, undo->rule, undo->level);
	}
	r = sg_target_resolve(&act->paths, cfg, rule, step->kind, act->target, why, sizeof(why));
	if (r < 0) {
		sg_log_outcome(&about, true, "%s: cannot apply \"%s\": %s (%s)", rule->name, step->text, why,
			       strerror(-r));
		return;
	}
	memset(undo, 0, offsetof(struct sg_undo, data));
	undo->data[0] = '\0';
	undo->kind = step->kind;
	sg_strlcpy(undo->rule, rule->name, sizeof(undo->rule));
	sg_strlcpy(undo->job, target_name(rule, cfg), sizeof(undo->job));
	sg_strlcpy(undo->step, step->text, sizeof(undo->step));
	undo->level = (unsigned)d->step + 1;
	struct sg_action_env env = {
		.cfg = cfg, .rule = rule, .step = step, .level = undo->level, .reason = d->reason,
		.capture = act->capture[d->rule], .detail = detail, .detail_len = sizeof(detail),
	};
	r = action->apply(&env, act->target, undo, journal_pending, act);
	action->describe(undo, what, sizeof(what));
	if (r < 0) {
		sg_log_outcome(&about, true, "%s: %s failed: %s%s%s%s", rule->name, what, strerror(-r),
			       detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
		/* A step that cannot be undone leaves no entry; one that may have
		 * half happened keeps its entry so that it is reverted later. */
		if (!sg_step_reversible(step->kind))
			sg_state_remove(&act->state, undo->rule, undo->level);
		return;
	}
	if (sg_step_reversible(step->kind))
		r = sg_state_record(&act->state, undo, true);
	else
		r = sg_state_remove(&act->state, undo->rule, undo->level);
	if (r < 0 && r != -ENOENT)
		sg_log_errno(LOG_ERR, r, "%s: cannot update the state journal after %s", rule->name, what);
	sg_log_outcome(&about, false, "%s: done: %s", rule->name, what);
	if (step->kind == SG_STEP_IONICE)
		warn_if_ionice_is_ignored(act, cfg, rule);
}


/* Takes the incident's bundle, hands it to the writer, and remembers its
 * path for the rule's hooks. */
static void capture(struct sg_actuator *act, const struct sg_config *cfg, const struct sg_decision *d)
{
	const struct sg_rule *rule = &cfg->rules[d->rule];
	char line[SG_REASON_MAX + 256];
	struct sg_bundle *bundle;
	double elapsed_ms = 0;

	sg_format_decision(cfg, d, line, sizeof(line));
	struct sg_capture_input in = {
		.cfg = cfg,
		.rule = rule->name,
		.job = rule->target == SG_TARGET_NONE ? NULL : target_name(rule, cfg),
		.step = rule->steps[d->step].text,
		.reason = d->reason,
		.decision = line,
		.dry_run = d->dry_run,
		.history = act->sources.history,
		.tab = act->sources.tab,
		.kmsg = act->sources.kmsg,
		.proc_root = act->paths.proc,
		.recorder = act->recorder,
		.recorder_note = act->recorder_note,
	};
	struct sg_outcome about = { rule->name, in.job ? in.job : "", in.step, d->level, d->dry_run, NULL };
	int r = sg_capture_take(&in, &bundle, &elapsed_ms);
	if (!bundle) {
		sg_log_outcome(&about, true, "%s: cannot take a capture bundle: %s", rule->name, strerror(-r));
		return;
	}
	sg_strlcpy(act->capture[d->rule], sg_bundle_path(bundle), sizeof(act->capture[d->rule]));
	act->captured[d->rule] = true;
	about.capture = act->capture[d->rule];
	sg_log_outcome(&about, r < 0, "%s: capture %s taken in %.0f ms (budget %.0f ms)%s", rule->name,
		       act->capture[d->rule], elapsed_ms, (double)cfg->capture_budget_usec / 1000.0,
		       r < 0 ? ", some files could not be made" : "");
	if (!act->writer) {
		r = sg_bundle_store(bundle, act->capture[d->rule], sizeof(act->capture[d->rule]));
		if (r < 0)
			sg_log_errno(LOG_ERR, r, "%s: capture %s: cannot store it", rule->name, act->capture[d->rule]);
	} else if (sg_capture_writer_submit(act->writer, bundle) < 0) {
		sg_log(LOG_ERR, "%s: capture %s dropped: %u bundles are still waiting to be stored (a slow or "
				"full disk under %s?)", rule->name, act->capture[d->rule], SG_CAPTURE_QUEUE,
		       cfg->capture_dir);
	}
}

void sg_actuator_decide(struct sg_actuator *act, const struct sg_config *cfg, const struct sg_decision *d)
{
	const struct sg_rule *rule = &cfg->rules[d->rule];

	if (d->kind == SG_DECISION_BLOCKED)
		return;
	if (d->kind == SG_DECISION_APPLY) {
		bool is_capture = rule->steps[d->step].kind == SG_STEP_CAPTURE;
		if (d->step == 0) { /* a new incident */
			act->captured[d->rule] = false;
			act->capture[d->rule][0] = '\0';
		}
		if (is_capture || !act->captured[d->rule])
			capture(act, cfg, d);
		if (!d->dry_run && !is_capture)
			apply(act, cfg, d);
		return;
	}
	if (d->dry_run)
		return;
	const struct sg_state_entry *entry = sg_state_find(&act->state, rule->name, (unsigned)d->step + 1);
	if (!entry) {
		sg_log(LOG_INFO, "%s: nothing journaled to revert for \"%s\"", rule->name, rule->steps[d->step].text);
		return;
	}
	/* The journal entry is kept when the revert fails: a later revert
	 * (at exit, by `stallguard revert`, at the next start) tries again. */
	memcpy(act->undo, &entry->undo, sizeof(*act->undo));
	if (revert_entry(cfg, act->undo, d->reason) == 0)
		sg_state_remove(&act->state, act->undo->rule, act->undo->level);
}

unsigned sg_actuator_revert_all(struct sg_actuator *act, const struct sg_config *cfg, const char *why)
{
	unsigned failed = 0;

	for (size_t i = act->state.count; i-- > 0;) {
		memcpy(act->undo, &act->state.entries[i].undo, sizeof(*act->undo));
		if (revert_entry(cfg, act->undo, why) == 0)
			sg_state_remove(&act->state, act->undo->rule, act->undo->level);
		else
			failed++;
	}
	return failed;
}

unsigned sg_actuator_settle(struct sg_actuator *act, const struct sg_config *cfg,
			    const struct sg_policy *policy)
{
	unsigned failed = 0;

	for (size_t i = act->state.count; i-- > 0;) {
		const struct sg_undo *entry = &act->state.entries[i].undo;
		int rule = sg_config_find_rule(cfg, entry->rule);
		unsigned level = rule < 0 ? 0 : sg_policy_level(policy, (size_t)rule);
		if (entry->level <= level)
			continue;
		memcpy(act->undo, entry, sizeof(*act->undo));
		if (revert_entry(cfg, act->undo, "its rule was changed or removed") == 0)
			sg_state_remove(&act->state, act->undo->rule, act->undo->level);
		else
			failed++;
	}
	return failed;
}
