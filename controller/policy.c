/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The policy engine: (config, state, one sample, time) -> decisions. No I/O,
 * no logging; the only allocation is in sg_policy_new.
 *
 * Conditions. A threshold line (SIGNAL OP NUMBER [for D]) holds when its
 * comparison has been true at every tick since some time t0 and now - t0 >= D
 * (D = 0: at once). A NaN value, or a slot the sample does not have, makes
 * the comparison false and restarts t0. An event line (kmsg.EVENT within W)
 * holds when the event was last seen at t with now - t <= W; an event counts
 * as seen at a tick whose sample reports it (events[ev] > 0), and the time
 * an event kind was last seen is kept once for all rules, updated before any
 * rule is evaluated. A rule holds when any (match = any) or all (match = all)
 * of its lines hold; a rule without lines never holds.
 *
 * Climbing, while the rule holds. Nothing is applied while now < the rule's
 * cooldown end, nor when the whole ladder is applied. At level 0 the first
 * step is applied at once; at level L > 0, step L is applied once
 * now - (time of the last ladder change) >= step_after. A kill step first asks
 * the kill limit, shared by all rules: at most kill_limit_count kills whose
 * time t satisfies now - t < kill_limit_window (a ring of at most
 * SG_KILL_LIMIT_MAX times; a larger count acts as SG_KILL_LIMIT_MAX). When
 * the limit is reached the decision is BLOCKED, the level does not move, and
 * the kill is asked again no sooner than step_after later, and never sooner
 * than 10 s (so step_after = 0 does not log a refusal every tick). An applied
 * kill starts the cooldown: now + cooldown.
 *
 * Descending, while the rule does not hold. clear_since is the first tick at
 * which it stopped holding. Once level > 0 and
 * now - max(clear_since, last change) >= recover_after, steps are popped from
 * the top: capture and kill (not reversible) silently; the first reversible
 * step popped is a REVERT decision and ends the pop. When only irreversible
 * steps remain they are all popped with no decision. Either way the time of
 * the last ladder change becomes now. The cooldown does not stop descending.
 * A rule that holds again while partly down climbs from where it is.
 *
 * Hysteresis comes from the timers alone: a value that bounces around its
 * threshold never holds unless it stays over for `for`, and the ladder steps
 * down only after the rule has not held for recover_after (a stay over the
 * threshold shorter than `for` is not holding and does not restart that).
 *
 * Dry run (global or per-rule) changes only decision.dry_run: the ladder,
 * cooldowns and the kill limit behave exactly as for real.
 *
 * Reload (sg_policy_carry) keeps the ladder of a rule whose name and steps
 * are the same as before; a rule whose ladder changed starts at rest.
 *
 * At most one decision per rule per tick; decision.level is the level after
 * it. If out fills up (cap < nrules) the remaining rules still track their
 * conditions but their ladders wait for a later tick. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "units.h"

#define BLOCKED_RETRY_MIN_USEC (10 * USEC_PER_SEC)

struct cond_state {
	int slot;           /* threshold: slot in a sample; event: -1 */
	bool met;           /* threshold: the comparison was true at the last tick */
	uint64_t met_since; /* ... continuously since */
	double value;       /* threshold: the value at the last tick */
	bool holds;         /* at the last tick */
};

struct rule_state {
	struct cond_state conds[SG_COND_MAX];
	unsigned level;
	uint64_t last_change;    /* time of the last climb or pop */
	uint64_t clear_since;    /* time the rule last stopped holding */
	uint64_t cooldown_until; /* after a kill */
	bool holding;
	bool blocked;            /* the kill at `level` was refused by the kill limit */
	uint64_t retry_at;       /* ... and is not asked again before this */
};

struct sg_policy {
	size_t nrules;
	bool seen[SG_EV_COUNT];
	uint64_t seen_at[SG_EV_COUNT];
	uint64_t kills[SG_KILL_LIMIT_MAX]; /* ring of kill times, oldest at kill_head */
	size_t kill_head;
	size_t nkills;
	struct rule_state rules[];
};

static uint64_t elapsed(uint64_t now, uint64_t since)
{
	return now > since ? now - since : 0;
}

static double seconds(uint64_t usec)
{
	return (double)usec / (double)USEC_PER_SEC;
}

int sg_policy_new(struct sg_policy **out, const struct sg_config *cfg,
		  const struct sg_signal_table *tab)
{
	struct sg_policy *p;

	*out = NULL;
	p = calloc(1, sizeof(*p) + cfg->nrules * sizeof(p->rules[0]));
	if (!p)
		return -ENOMEM;
	p->nrules = cfg->nrules;
	for (size_t r = 0; r < cfg->nrules; r++) {
		const struct sg_rule *rule = &cfg->rules[r];

		if (rule->nconds > SG_COND_MAX || rule->nsteps > SG_STEP_MAX) {
			free(p);
			return -EINVAL;
		}
		for (size_t c = 0; c < rule->nconds; c++) {
			const struct sg_cond *cond = &rule->conds[c];
			int slot = -1;

			if (cond->kind == SG_COND_THRESHOLD) {
				slot = sg_signal_slot(tab, cfg, cond->signal);
				if (slot < 0) {
					free(p);
					return slot;
				}
			} else if ((unsigned)cond->event >= SG_EV_COUNT) {
				free(p);
				return -EINVAL;
			}
			p->rules[r].conds[c].slot = slot;
		}
	}
	*out = p;
	return 0;
}

void sg_policy_free(struct sg_policy *policy)
{
	free(policy);
}

/* A NaN value compares false with every op. */
static bool compare(enum sg_op op, double value, double threshold)
{
	switch (op) {
	case SG_OP_GE:
		return value >= threshold;
	case SG_OP_GT:
		return value > threshold;
	case SG_OP_LE:
		return value <= threshold;
	case SG_OP_LT:
		return value < threshold;
	}
	return false;
}

static bool cond_eval(const struct sg_policy *p, const struct sg_cond *cond, struct cond_state *cs,
		      const struct sg_sample *sample)
{
	uint64_t now = sample->now_usec;

	if (cond->kind == SG_COND_EVENT) {
		cs->holds = p->seen[cond->event] &&
			    elapsed(now, p->seen_at[cond->event]) <= cond->within_usec;
		return cs->holds;
	}
	cs->value = cs->slot >= 0 && (size_t)cs->slot < sample->nvalues ?
			    sample->values[cs->slot] : NAN;
	if (compare(cond->op, cs->value, cond->threshold)) {
		if (!cs->met)
			cs->met_since = now;
		cs->met = true;
	} else {
		cs->met = false;
	}
	cs->holds = cs->met && elapsed(now, cs->met_since) >= cond->for_usec;
	return cs->holds;
}

static bool rule_eval(const struct sg_policy *p, const struct sg_rule *rule, struct rule_state *st,
		      const struct sg_sample *sample)
{
	size_t held = 0;

	/* Every line is evaluated: their timers run whatever the others do. */
	for (size_t c = 0; c < rule->nconds; c++)
		held += cond_eval(p, &rule->conds[c], &st->conds[c], sample);
	if (rule->match_all)
		return rule->nconds > 0 && held == rule->nconds;
	return held > 0;
}

/* Appends to a fixed buffer; output that does not fit is cut, always NUL-terminated. */
struct text {
	char *buf;
	size_t len;
	size_t cap;
};

__attribute__((format(printf, 2, 3)))
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len + 1 >= t->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

static void reason_conds(struct text *t, const struct sg_policy *p, const struct sg_rule *rule,
			 const struct rule_state *st, uint64_t now)
{
	const char *sep = "";

	for (size_t c = 0; c < rule->nconds; c++) {
		const struct sg_cond *cond = &rule->conds[c];
		const struct cond_state *cs = &st->conds[c];
		char window[32];

		if (!cs->holds)
			continue;
		if (cond->kind == SG_COND_EVENT) {
			text_add(t, "%s%s %.1fs ago (within %s)", sep, cond->signal,
				 seconds(elapsed(now, p->seen_at[cond->event])),
				 sg_format_duration(cond->within_usec, window, sizeof(window)));
		} else {
			text_add(t, "%s%s=%.1f%s%g", sep, cond->signal, cs->value,
				 sg_op_text(cond->op), cond->threshold);
			if (cond->for_usec)
				text_add(t, " for %.1fs", seconds(elapsed(now, cs->met_since)));
		}
		sep = ", ";
	}
}

static unsigned kill_limit(const struct sg_config *cfg)
{
	if (cfg->kill_limit_count > SG_KILL_LIMIT_MAX)
		return SG_KILL_LIMIT_MAX;
	return cfg->kill_limit_count;
}

/* Forgets kills that have left the window; returns how many remain in it. */
static size_t kills_in_window(struct sg_policy *p, const struct sg_config *cfg, uint64_t now)
{
	while (p->nkills > 0 &&
	       elapsed(now, p->kills[p->kill_head]) >= cfg->kill_limit_window_usec) {
		p->kill_head = (p->kill_head + 1) % SG_KILL_LIMIT_MAX;
		p->nkills--;
	}
	return p->nkills;
}

/* Only called below the limit, so the ring has room. */
static void kill_record(struct sg_policy *p, uint64_t now)
{
	p->kills[(p->kill_head + p->nkills) % SG_KILL_LIMIT_MAX] = now;
	p->nkills++;
}

static bool climb(struct sg_policy *p, const struct sg_config *cfg, size_t r, uint64_t now,
		  struct sg_decision *d)
{
	const struct sg_rule *rule = &cfg->rules[r];
	struct rule_state *st = &p->rules[r];
	struct text t = { d->reason, 0, sizeof(d->reason) };
	size_t step = st->level;

	if (now < st->cooldown_until || step >= rule->nsteps)
		return false;
	if (step > 0 && elapsed(now, st->last_change) < rule->step_after_usec)
		return false;
	if (st->blocked && now < st->retry_at)
		return false;

	d->rule = r;
	d->step = step;
	d->dry_run = cfg->dry_run || rule->dry_run;
	d->reason[0] = '\0';
	if (rule->steps[step].kind == SG_STEP_KILL) {
		if (kills_in_window(p, cfg, now) >= kill_limit(cfg)) {
			char window[32];

			st->blocked = true;
			/* Asked again after step_after, and never more often than every
			 * 10 s, so a ladder with step_after = 0 does not log each tick. */
			st->retry_at = now + (rule->step_after_usec > BLOCKED_RETRY_MIN_USEC ? rule->step_after_usec
											      : BLOCKED_RETRY_MIN_USEC);
			d->kind = SG_DECISION_BLOCKED;
			d->level = st->level;
			sg_format_duration(cfg->kill_limit_window_usec, window, sizeof(window));
			text_add(&t, "kill_limit %u/%s reached; ", cfg->kill_limit_count, window);
			reason_conds(&t, p, rule, st, now);
			return true;
		}
		kill_record(p, now);
		st->cooldown_until = now + rule->cooldown_usec;
	}
	st->level++;
	st->last_change = now;
	st->blocked = false;
	d->kind = SG_DECISION_APPLY;
	d->level = st->level;
	reason_conds(&t, p, rule, st, now);
	return true;
}

static bool descend(struct sg_policy *p, const struct sg_config *cfg, size_t r, uint64_t now,
		    struct sg_decision *d)
{
	const struct sg_rule *rule = &cfg->rules[r];
	struct rule_state *st = &p->rules[r];
	uint64_t base = st->clear_since > st->last_change ? st->clear_since : st->last_change;

	if (st->level == 0 || elapsed(now, base) < rule->recover_after_usec)
		return false;
	st->last_change = now;
	st->blocked = false;
	while (st->level > 0) {
		size_t step = --st->level;

		if (!sg_step_reversible(rule->steps[step].kind))
			continue;
		d->rule = r;
		d->step = step;
		d->kind = SG_DECISION_REVERT;
		d->dry_run = cfg->dry_run || rule->dry_run;
		d->level = st->level;
		snprintf(d->reason, sizeof(d->reason), "clear for %.1fs",
			 seconds(elapsed(now, st->clear_since)));
		return true;
	}
	return false;
}

size_t sg_policy_tick(struct sg_policy *policy, const struct sg_config *cfg,
		      const struct sg_sample *sample, struct sg_decision *out, size_t cap)
{
	uint64_t now = sample->now_usec;
	size_t nrules = policy->nrules < cfg->nrules ? policy->nrules : cfg->nrules;
	size_t n = 0;

	for (size_t ev = 0; ev < SG_EV_COUNT; ev++) {
		if (sample->events[ev] > 0) {
			policy->seen[ev] = true;
			policy->seen_at[ev] = now;
		}
	}
	for (size_t r = 0; r < nrules; r++) {
		struct rule_state *st = &policy->rules[r];
		bool holding = rule_eval(policy, &cfg->rules[r], st, sample);

		if (!holding && st->holding)
			st->clear_since = now;
		st->holding = holding;
		if (n >= cap)
			continue;
		if (holding ? climb(policy, cfg, r, now, &out[n]) :
			      descend(policy, cfg, r, now, &out[n]))
			n++;
	}
	return n;
}

unsigned sg_policy_level(const struct sg_policy *policy, size_t rule)
{
	return rule < policy->nrules ? policy->rules[rule].level : 0;
}

bool sg_policy_holding(const struct sg_policy *policy, size_t rule)
{
	return rule < policy->nrules && policy->rules[rule].holding;
}

static bool conds_same(const struct sg_rule *a, const struct sg_rule *b)
{
	if (a->nconds != b->nconds)
		return false;
	for (size_t c = 0; c < a->nconds; c++) {
		const struct sg_cond *x = &a->conds[c], *y = &b->conds[c];

		if (x->kind != y->kind || strcmp(x->signal, y->signal) != 0)
			return false;
		if (x->kind == SG_COND_EVENT &&
		    (x->event != y->event || x->within_usec != y->within_usec))
			return false;
		if (x->kind == SG_COND_THRESHOLD &&
		    (x->op != y->op || x->threshold != y->threshold || x->for_usec != y->for_usec))
			return false;
	}
	return true;
}

static bool steps_same(const struct sg_rule *a, const struct sg_rule *b)
{
	if (a->nsteps != b->nsteps)
		return false;
	for (size_t i = 0; i < a->nsteps; i++)
		if (a->steps[i].kind != b->steps[i].kind || strcmp(a->steps[i].text, b->steps[i].text) != 0)
			return false;
	return true;
}

void sg_policy_carry(struct sg_policy *new_policy, const struct sg_config *new_cfg,
		     const struct sg_policy *old_policy, const struct sg_config *old_cfg)
{
	size_t new_n = new_policy->nrules < new_cfg->nrules ? new_policy->nrules : new_cfg->nrules;
	size_t old_n = old_policy->nrules < old_cfg->nrules ? old_policy->nrules : old_cfg->nrules;

	memcpy(new_policy->seen, old_policy->seen, sizeof(new_policy->seen));
	memcpy(new_policy->seen_at, old_policy->seen_at, sizeof(new_policy->seen_at));
	memcpy(new_policy->kills, old_policy->kills, sizeof(new_policy->kills));
	new_policy->kill_head = old_policy->kill_head;
	new_policy->nkills = old_policy->nkills;

	for (size_t i = 0; i < new_n; i++) {
		const struct sg_rule *nr = &new_cfg->rules[i];
		struct rule_state *ns = &new_policy->rules[i];

		for (size_t j = 0; j < old_n; j++) {
			const struct sg_rule *orule = &old_cfg->rules[j];
			const struct rule_state *os = &old_policy->rules[j];

			/* Same name and the same ladder, step for step: anything else
			 * starts at rest. */
			if (strcmp(orule->name, nr->name) != 0 || !steps_same(orule, nr))
				continue;
			ns->level = os->level < nr->nsteps ? os->level : (unsigned)nr->nsteps;
			ns->last_change = os->last_change;
			ns->clear_since = os->clear_since;
			ns->cooldown_until = os->cooldown_until;
			ns->holding = os->holding;
			ns->blocked = os->blocked;
			ns->retry_at = os->retry_at;
			if (conds_same(orule, nr)) {
				for (size_t c = 0; c < nr->nconds; c++) {
					ns->conds[c].met = os->conds[c].met;
					ns->conds[c].met_since = os->conds[c].met_since;
					ns->conds[c].value = os->conds[c].value;
					ns->conds[c].holds = os->conds[c].holds;
				}
			}
			break;
		}
	}
}
