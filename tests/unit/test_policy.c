/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The policy engine over time: configs built as plain data, samples fed one
 * 250 ms tick at a time from t = 0, every decision logged with its time. */
#include "fixture.h"

#include <errno.h>
#include <math.h>

#include "policy.h"

#define MS(x) ((uint64_t)(x) * 1000ULL)
#define SEC(x) ((uint64_t)(x) * 1000000ULL)
#define TICK MS(250)
#define SIM_RULES 6
#define LOG_MAX 64

struct rec {
	uint64_t t;
	struct sg_decision d;
};

struct sim {
	struct sg_config cfg;
	struct sg_rule rules[SIM_RULES];
	struct sg_signal_table tab;
	struct sg_policy *pol;
	double *values;
	struct sg_sample sample;
	uint64_t now; /* time of the next tick */
	struct rec log[LOG_MAX];
	size_t nlog;
};

static struct sim *sim_new(void)
{
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->cfg.interval_usec = TICK;
	s->cfg.kill_limit_count = 3;
	s->cfg.kill_limit_window_usec = SEC(3600);
	s->cfg.rules = s->rules;
	return s;
}

static void sim_free(struct sim *s)
{
	sg_policy_free(s->pol);
	free(s->values);
	free(s);
}

static struct sg_rule *add_rule(struct sim *s, const char *name)
{
	struct sg_rule *r;

	assert_true(s->cfg.nrules < SIM_RULES);
	r = &s->rules[s->cfg.nrules++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->step_after_usec = SEC(15);
	r->recover_after_usec = SEC(60);
	r->cooldown_usec = SEC(600);
	return r;
}

static void add_when(struct sg_rule *r, const char *signal, enum sg_op op, double threshold,
		     uint64_t for_usec)
{
	struct sg_cond *c = &r->conds[r->nconds++];

	c->kind = SG_COND_THRESHOLD;
	snprintf(c->signal, sizeof(c->signal), "%s", signal);
	c->op = op;
	c->threshold = threshold;
	c->for_usec = for_usec;
}

static void add_event(struct sg_rule *r, const char *signal, enum sg_kmsg_event ev,
		      uint64_t within_usec)
{
	struct sg_cond *c = &r->conds[r->nconds++];

	c->kind = SG_COND_EVENT;
	snprintf(c->signal, sizeof(c->signal), "%s", signal);
	c->event = ev;
	c->within_usec = within_usec;
}

static void add_step(struct sg_rule *r, enum sg_step_kind kind)
{
	r->steps[r->nsteps++].kind = kind;
}

static void sim_start(struct sim *s)
{
	assert_int_equal(sg_signal_table_init(&s->tab, &s->cfg, NULL, 0), 0);
	s->values = calloc(s->tab.nslots, sizeof(double));
	assert_non_null(s->values);
	for (size_t i = 0; i < s->tab.nslots; i++)
		s->values[i] = NAN;
	s->sample.values = s->values;
	s->sample.nvalues = s->tab.nslots;
	assert_int_equal(sg_policy_new(&s->pol, &s->cfg, &s->tab), 0);
}

static void set(struct sim *s, const char *signal, double value)
{
	int slot = sg_signal_slot(&s->tab, &s->cfg, signal);

	assert_true(slot >= 0);
	s->values[slot] = value;
}

/* Reported in the sample of the next tick only. */
static void event(struct sim *s, enum sg_kmsg_event ev)
{
	s->sample.events[ev] = 1;
}

static void tick(struct sim *s)
{
	struct sg_decision out[SIM_RULES];
	size_t n;

	s->sample.now_usec = s->now;
	n = sg_policy_tick(s->pol, &s->cfg, &s->sample, out, s->cfg.nrules);
	assert_true(n <= s->cfg.nrules);
	for (size_t i = 0; i < n; i++) {
		assert_true(s->nlog < LOG_MAX);
		s->log[s->nlog].t = s->now;
		s->log[s->nlog++].d = out[i];
	}
	memset(s->sample.events, 0, sizeof(s->sample.events));
	s->now += TICK;
}

/* Ticks up to and including time `until`. */
static void run(struct sim *s, uint64_t until)
{
	while (s->now <= until)
		tick(s);
}

static void dump(const struct sim *s)
{
	static const char *kinds[] = { "APPLY", "REVERT", "BLOCKED" };

	for (size_t i = 0; i < s->nlog; i++)
		print_message("  #%zu t=%.2fs rule %zu step %zu %s level %u%s \"%s\"\n", i,
			      (double)s->log[i].t / 1e6, s->log[i].d.rule, s->log[i].d.step,
			      kinds[s->log[i].d.kind], s->log[i].d.level,
			      s->log[i].d.dry_run ? " dry" : "", s->log[i].d.reason);
}

#define expect_count(s, n) expect_count_at(__LINE__, s, n)
static void expect_count_at(int line, const struct sim *s, size_t n)
{
	if (s->nlog != n) {
		dump(s);
		fail_msg("line %d: %zu decisions, want %zu", line, s->nlog, n);
	}
}

#define expect(s, i, t, rule, step, kind, level) \
	expect_at(__LINE__, s, i, t, rule, step, kind, level)
static void expect_at(int line, const struct sim *s, size_t i, uint64_t t, size_t rule, size_t step,
		      enum sg_decision_kind kind, unsigned level)
{
	const struct sg_decision *d;

	if (i >= s->nlog) {
		dump(s);
		fail_msg("line %d: decision #%zu missing", line, i);
	}
	d = &s->log[i].d;
	if (s->log[i].t != t || d->rule != rule || d->step != step || d->kind != kind ||
	    d->level != level) {
		dump(s);
		fail_msg("line %d: decision #%zu: want t=%.2fs rule %zu step %zu kind %d level %u",
			 line, i, (double)t / 1e6, rule, step, (int)kind, level);
	}
}

static void test_for_delays_first_step(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "io-storm");

	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, SEC(5));
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_FREEZE);
	sim_start(s);
	set(s, "psi.io.full.avg10", 34.2);

	run(s, SEC(5) - TICK);
	expect_count(s, 0);
	assert_false(sg_policy_holding(s->pol, 0));
	assert_int_equal(sg_policy_level(s->pol, 0), 0);

	run(s, SEC(5));
	expect_count(s, 1);
	expect(s, 0, SEC(5), 0, 0, SG_DECISION_APPLY, 1);
	assert_string_equal(s->log[0].d.reason, "psi.io.full.avg10=34.2>=20 for 5.0s");
	assert_false(s->log[0].d.dry_run);
	assert_true(sg_policy_holding(s->pol, 0));
	assert_int_equal(sg_policy_level(s->pol, 0), 1);

	run(s, SEC(20) - TICK);
	expect_count(s, 1);
	run(s, SEC(20));
	expect(s, 1, SEC(20), 0, 1, SG_DECISION_APPLY, 2);
	assert_string_equal(s->log[1].d.reason, "psi.io.full.avg10=34.2>=20 for 20.0s");
	sim_free(s);
}

static void test_escalation_stops_at_top(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "io-storm");

	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_CAPTURE);
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_IOMAX);
	add_step(r, SG_STEP_FREEZE);
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);

	run(s, SEC(200));
	expect_count(s, 4);
	expect(s, 0, 0, 0, 0, SG_DECISION_APPLY, 1);
	expect(s, 1, SEC(15), 0, 1, SG_DECISION_APPLY, 2);
	expect(s, 2, SEC(30), 0, 2, SG_DECISION_APPLY, 3);
	expect(s, 3, SEC(45), 0, 3, SG_DECISION_APPLY, 4);
	assert_string_equal(s->log[0].d.reason, "psi.io.full.avg10=30.0>=20");
	assert_int_equal(sg_policy_level(s->pol, 0), 4);
	assert_true(sg_policy_holding(s->pol, 0));
	sim_free(s);
}

static void test_recovery_one_step_per_recover_after(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "io-storm");

	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_IOMAX);
	add_step(r, SG_STEP_FREEZE);
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(40) - TICK);
	set(s, "psi.io.full.avg10", 10);
	run(s, SEC(100) - TICK);
	expect_count(s, 3);
	assert_int_equal(sg_policy_level(s->pol, 0), 3);
	run(s, SEC(300));

	expect_count(s, 6);
	expect(s, 2, SEC(30), 0, 2, SG_DECISION_APPLY, 3);
	expect(s, 3, SEC(100), 0, 2, SG_DECISION_REVERT, 2);
	expect(s, 4, SEC(160), 0, 1, SG_DECISION_REVERT, 1);
	expect(s, 5, SEC(220), 0, 0, SG_DECISION_REVERT, 0);
	assert_string_equal(s->log[3].d.reason, "clear for 60.0s");
	assert_string_equal(s->log[4].d.reason, "clear for 120.0s");
	assert_int_equal(sg_policy_level(s->pol, 0), 0);
	sim_free(s);
}

static void test_irreversible_steps_popped_silently(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "io-storm");

	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_CAPTURE);
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_FREEZE);
	add_step(r, SG_STEP_KILL);
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(50) - TICK);
	set(s, "psi.io.full.avg10", 10);
	run(s, SEC(230) - TICK);
	assert_int_equal(sg_policy_level(s->pol, 0), 1);
	run(s, SEC(400));

	expect_count(s, 6);
	expect(s, 3, SEC(45), 0, 3, SG_DECISION_APPLY, 4);
	/* kill passed over: freeze is the first step reverted */
	expect(s, 4, SEC(110), 0, 2, SG_DECISION_REVERT, 2);
	expect(s, 5, SEC(170), 0, 1, SG_DECISION_REVERT, 1);
	/* capture at the bottom left silently at 230 s */
	assert_int_equal(sg_policy_level(s->pol, 0), 0);
	sim_free(s);
}

static void test_hysteresis_at_threshold(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "io-storm");

	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, SEC(2));
	add_step(r, SG_STEP_IONICE);
	sim_start(s);

	/* 19.9 / 20.0 every other tick for a minute */
	for (unsigned i = 0; i < 240; i++) {
		set(s, "psi.io.full.avg10", i % 2 ? 20.0 : 19.9);
		tick(s);
		assert_false(sg_policy_holding(s->pol, 0));
	}
	/* over for 1.75 s, one tick under, for another minute */
	for (unsigned i = 0; i < 240; i++) {
		set(s, "psi.io.full.avg10", i % 8 == 7 ? 19.9 : 25.0);
		tick(s);
		assert_false(sg_policy_holding(s->pol, 0));
	}
	expect_count(s, 0);

	/* exactly 20 from 120 s holds at 122 s */
	assert_int_equal(s->now, SEC(120));
	set(s, "psi.io.full.avg10", 20.0);
	run(s, SEC(130));
	expect_count(s, 1);
	expect(s, 0, SEC(122), 0, 0, SG_DECISION_APPLY, 1);
	assert_string_equal(s->log[0].d.reason, "psi.io.full.avg10=20.0>=20 for 2.0s");
	sim_free(s);
}

static void test_hysteresis_restarts_clear_timer(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "io-storm");

	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, SEC(2));
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_FREEZE);
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(20) - TICK);
	set(s, "psi.io.full.avg10", 10);
	/* a spike shorter than `for` is not holding: the clear timer runs on */
	run(s, SEC(50) - TICK);
	set(s, "psi.io.full.avg10", 30);
	tick(s);
	assert_false(sg_policy_holding(s->pol, 0));
	set(s, "psi.io.full.avg10", 10);
	/* 3 s over the threshold holds (from 72 s): clear again from 73 s */
	run(s, SEC(70) - TICK);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(73) - TICK);
	assert_true(sg_policy_holding(s->pol, 0));
	set(s, "psi.io.full.avg10", 10);
	run(s, SEC(133) - TICK);
	expect_count(s, 2);
	assert_int_equal(sg_policy_level(s->pol, 0), 2);
	run(s, SEC(200));

	expect_count(s, 4);
	expect(s, 0, SEC(2), 0, 0, SG_DECISION_APPLY, 1);
	expect(s, 1, SEC(17), 0, 1, SG_DECISION_APPLY, 2);
	expect(s, 2, SEC(133), 0, 1, SG_DECISION_REVERT, 1);
	expect(s, 3, SEC(193), 0, 0, SG_DECISION_REVERT, 0);
	assert_string_equal(s->log[2].d.reason, "clear for 60.0s");
	sim_free(s);
}

static void test_reclimb_after_partial_recovery(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "io-storm");

	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_IOMAX);
	add_step(r, SG_STEP_FREEZE);
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(40) - TICK);
	set(s, "psi.io.full.avg10", 10);
	run(s, SEC(105) - TICK);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(300));

	expect_count(s, 5);
	expect(s, 3, SEC(100), 0, 2, SG_DECISION_REVERT, 2);
	/* holding again at 105 s: the next step once step_after has passed since 100 s */
	expect(s, 4, SEC(115), 0, 2, SG_DECISION_APPLY, 3);
	assert_int_equal(sg_policy_level(s->pol, 0), 3);
	sim_free(s);
}

static void test_cooldown_after_kill(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "mem");

	add_when(r, "psi.memory.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_CAPTURE);
	add_step(r, SG_STEP_KILL);
	sim_start(s);
	set(s, "psi.memory.full.avg10", 30);
	run(s, SEC(30) - TICK);
	set(s, "psi.memory.full.avg10", 10);
	run(s, SEC(90) - TICK);
	assert_int_equal(sg_policy_level(s->pol, 0), 2);
	tick(s);
	/* capture and kill both irreversible: down to 0 with no decision */
	assert_int_equal(sg_policy_level(s->pol, 0), 0);
	run(s, SEC(100) - TICK);
	set(s, "psi.memory.full.avg10", 30);
	run(s, SEC(615) - TICK);
	expect_count(s, 2);
	assert_true(sg_policy_holding(s->pol, 0));
	assert_int_equal(sg_policy_level(s->pol, 0), 0);
	run(s, SEC(700));

	expect_count(s, 4);
	expect(s, 0, 0, 0, 0, SG_DECISION_APPLY, 1);
	expect(s, 1, SEC(15), 0, 1, SG_DECISION_APPLY, 2);
	expect(s, 2, SEC(615), 0, 0, SG_DECISION_APPLY, 1);
	expect(s, 3, SEC(630), 0, 1, SG_DECISION_APPLY, 2);
	sim_free(s);
}

static void test_kill_limit_across_rules(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *a = add_rule(s, "a");
	struct sg_rule *b = add_rule(s, "b");

	s->cfg.kill_limit_count = 3;
	s->cfg.kill_limit_window_usec = SEC(300);
	add_when(a, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(a, SG_STEP_FREEZE);
	add_step(a, SG_STEP_KILL);
	add_when(b, "psi.memory.full.avg10", SG_OP_GE, 20, 0);
	add_step(b, SG_STEP_KILL);
	a->recover_after_usec = b->recover_after_usec = SEC(10);
	a->cooldown_usec = b->cooldown_usec = SEC(60);
	sim_start(s);

	set(s, "psi.io.full.avg10", 30);
	set(s, "psi.memory.full.avg10", 30);
	run(s, SEC(20) - TICK);
	set(s, "psi.io.full.avg10", 0);
	set(s, "psi.memory.full.avg10", 0);
	run(s, SEC(100) - TICK);
	set(s, "psi.memory.full.avg10", 30);
	run(s, SEC(120) - TICK);
	set(s, "psi.memory.full.avg10", 0);
	run(s, SEC(195) - TICK);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(320));

	expect_count(s, 13);
	expect(s, 0, 0, 0, 0, SG_DECISION_APPLY, 1);
	expect(s, 1, 0, 1, 0, SG_DECISION_APPLY, 1);          /* kill 1 */
	expect(s, 2, SEC(15), 0, 1, SG_DECISION_APPLY, 2);    /* kill 2 */
	expect(s, 3, SEC(30), 0, 0, SG_DECISION_REVERT, 0);
	expect(s, 4, SEC(100), 1, 0, SG_DECISION_APPLY, 1);   /* kill 3 */
	expect(s, 5, SEC(195), 0, 0, SG_DECISION_APPLY, 1);
	/* asked again once per step_after, not every tick */
	for (size_t i = 0; i < 6; i++)
		expect(s, 6 + i, SEC(210 + 15 * i), 0, 1, SG_DECISION_BLOCKED, 1);
	/* the kill at 0 s leaves the 5 min window at exactly 300 s */
	expect(s, 12, SEC(300), 0, 1, SG_DECISION_APPLY, 2);
	assert_string_equal(s->log[6].d.reason,
			    "kill_limit 3/5m reached; psi.io.full.avg10=30.0>=20");
	sim_free(s);
}

static void test_match_any_all(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *any = add_rule(s, "any");
	struct sg_rule *all = add_rule(s, "all");

	add_when(any, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_when(any, "psi.memory.full.avg10", SG_OP_GE, 20, 0);
	add_step(any, SG_STEP_IONICE);
	add_when(all, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_when(all, "psi.memory.full.avg10", SG_OP_GE, 20, 0);
	add_step(all, SG_STEP_IONICE);
	all->match_all = true;
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);
	set(s, "psi.memory.full.avg10", 0);
	run(s, SEC(10) - TICK);
	assert_true(sg_policy_holding(s->pol, 0));
	assert_false(sg_policy_holding(s->pol, 1));
	set(s, "psi.memory.full.avg10", 30);
	run(s, SEC(20));

	expect_count(s, 2);
	expect(s, 0, 0, 0, 0, SG_DECISION_APPLY, 1);
	expect(s, 1, SEC(10), 1, 0, SG_DECISION_APPLY, 1);
	assert_string_equal(s->log[0].d.reason, "psi.io.full.avg10=30.0>=20");
	assert_string_equal(s->log[1].d.reason,
			    "psi.io.full.avg10=30.0>=20, psi.memory.full.avg10=30.0>=20");
	sim_free(s);
}

static void test_event_within(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "lockup");

	add_event(r, "kmsg.soft_lockup", SG_EV_SOFT_LOCKUP, SEC(120));
	add_step(r, SG_STEP_CAPTURE);
	add_step(r, SG_STEP_HOOK);
	r->recover_after_usec = SEC(300);
	sim_start(s);

	event(s, SG_EV_SOFT_LOCKUP);
	run(s, SEC(60) - TICK);
	event(s, SG_EV_HUNG_TASK); /* another kind does not extend the window */
	run(s, SEC(120));
	assert_true(sg_policy_holding(s->pol, 0));
	tick(s);
	assert_false(sg_policy_holding(s->pol, 0));
	run(s, SEC(800));

	expect_count(s, 3);
	expect(s, 0, 0, 0, 0, SG_DECISION_APPLY, 1);
	expect(s, 1, SEC(15), 0, 1, SG_DECISION_APPLY, 2);
	expect(s, 2, SEC(420) + TICK, 0, 1, SG_DECISION_REVERT, 1);
	assert_string_equal(s->log[0].d.reason, "kmsg.soft_lockup 0.0s ago (within 2m)");
	assert_string_equal(s->log[1].d.reason, "kmsg.soft_lockup 15.0s ago (within 2m)");
	assert_string_equal(s->log[2].d.reason, "clear for 300.0s");
	/* the capture left silently at 720.25 s */
	assert_int_equal(sg_policy_level(s->pol, 0), 0);
	sim_free(s);
}

static void test_event_seen_again_extends(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "lockup");

	add_event(r, "kmsg.hung_task", SG_EV_HUNG_TASK, SEC(120));
	add_step(r, SG_STEP_CAPTURE);
	sim_start(s);

	run(s, SEC(10) - TICK);
	assert_false(sg_policy_holding(s->pol, 0));
	event(s, SG_EV_HUNG_TASK);
	run(s, SEC(100) - TICK);
	event(s, SG_EV_HUNG_TASK);
	run(s, SEC(220));
	assert_true(sg_policy_holding(s->pol, 0));
	tick(s);
	assert_false(sg_policy_holding(s->pol, 0));
	expect_count(s, 1);
	expect(s, 0, SEC(10), 0, 0, SG_DECISION_APPLY, 1);
	sim_free(s);
}

static void test_nan_never_holds(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *le = add_rule(s, "le");
	struct sg_rule *lt = add_rule(s, "lt");
	struct sg_rule *ge = add_rule(s, "ge");

	add_when(le, "psi.io.full.avg10", SG_OP_LE, 100, 0);
	add_step(le, SG_STEP_IONICE);
	add_when(lt, "tasks.dstate", SG_OP_LT, 100, 0);
	add_step(lt, SG_STEP_IONICE);
	add_when(ge, "psi.memory.some.avg10", SG_OP_GE, 20, SEC(5));
	add_step(ge, SG_STEP_IONICE);
	sim_start(s);

	/* NaN in the middle of `for` restarts it: 0..2.75 s over, NaN at 3 s */
	set(s, "psi.memory.some.avg10", 30);
	run(s, SEC(3) - TICK);
	set(s, "psi.memory.some.avg10", NAN);
	tick(s);
	set(s, "psi.memory.some.avg10", 30);
	run(s, SEC(10) - TICK);
	assert_false(sg_policy_holding(s->pol, 0));
	assert_false(sg_policy_holding(s->pol, 1));
	set(s, "psi.io.full.avg10", 50);
	run(s, SEC(20));

	expect_count(s, 2);
	expect(s, 0, SEC(8) + TICK, 2, 0, SG_DECISION_APPLY, 1);
	expect(s, 1, SEC(10), 0, 0, SG_DECISION_APPLY, 1);
	assert_false(sg_policy_holding(s->pol, 1));
	sim_free(s);
}

static void test_dry_run_global(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "io-storm");

	s->cfg.dry_run = true;
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_FREEZE);
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(20) - TICK);
	set(s, "psi.io.full.avg10", 10);
	run(s, SEC(200));

	/* the same ladder as for real, only flagged */
	expect_count(s, 4);
	expect(s, 0, 0, 0, 0, SG_DECISION_APPLY, 1);
	expect(s, 1, SEC(15), 0, 1, SG_DECISION_APPLY, 2);
	expect(s, 2, SEC(80), 0, 1, SG_DECISION_REVERT, 1);
	expect(s, 3, SEC(140), 0, 0, SG_DECISION_REVERT, 0);
	for (size_t i = 0; i < 4; i++)
		assert_true(s->log[i].d.dry_run);
	sim_free(s);
}

static void test_dry_run_per_rule_counts_kills(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *dry = add_rule(s, "dry");
	struct sg_rule *real = add_rule(s, "real");

	s->cfg.kill_limit_count = 1;
	dry->dry_run = true;
	add_when(dry, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(dry, SG_STEP_KILL);
	add_when(real, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(real, SG_STEP_KILL);
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(20));

	expect_count(s, 3);
	expect(s, 0, 0, 0, 0, SG_DECISION_APPLY, 1);
	expect(s, 1, 0, 1, 0, SG_DECISION_BLOCKED, 0);
	expect(s, 2, SEC(15), 1, 0, SG_DECISION_BLOCKED, 0);
	assert_true(s->log[0].d.dry_run);
	assert_false(s->log[1].d.dry_run);
	assert_string_equal(s->log[1].d.reason,
			    "kill_limit 1/1h reached; psi.io.full.avg10=30.0>=20");
	assert_int_equal(sg_policy_level(s->pol, 0), 1);
	assert_int_equal(sg_policy_level(s->pol, 1), 0);
	sim_free(s);
}

static void test_reason_truncated(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "wide");
	const char *one = "psi.io.full.avg10=30.0>=20 for 5.0s, ";

	for (unsigned i = 0; i < SG_COND_MAX; i++)
		add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, SEC(5));
	r->match_all = true;
	add_step(r, SG_STEP_IONICE);
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);
	run(s, SEC(5));

	expect_count(s, 1);
	assert_int_equal(strlen(s->log[0].d.reason), SG_REASON_MAX - 1);
	for (size_t off = 0; off + strlen(one) <= SG_REASON_MAX - 1; off += strlen(one))
		assert_memory_equal(s->log[0].d.reason + off, one, strlen(one));
	sim_free(s);
}

static void test_carry(void **state)
{
	(void)state;
	struct sim *o = sim_new(), *n = sim_new();
	struct sg_rule *r;

	o->cfg.kill_limit_count = n->cfg.kill_limit_count = 1;
	r = add_rule(o, "io-storm");
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, SEC(5));
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_IOMAX);
	add_step(r, SG_STEP_FREEZE);
	r = add_rule(o, "killer");
	add_when(r, "psi.memory.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_KILL);
	r = add_rule(o, "resized");
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, SEC(5));
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_FREEZE);
	r = add_rule(o, "retuned");
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, SEC(5));
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_FREEZE);
	sim_start(o);
	set(o, "psi.io.full.avg10", 30);
	set(o, "psi.memory.full.avg10", 30);
	run(o, SEC(10) - TICK);
	event(o, SG_EV_HUNG_TASK); /* kept although no old rule tests it */
	run(o, SEC(20));
	assert_int_equal(sg_policy_level(o->pol, 0), 2);
	assert_int_equal(sg_policy_level(o->pol, 1), 1);
	assert_int_equal(sg_policy_level(o->pol, 2), 2);
	assert_int_equal(sg_policy_level(o->pol, 3), 2);

	r = add_rule(n, "other");
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 90, 0);
	add_step(r, SG_STEP_IONICE);
	r = add_rule(n, "io-storm"); /* unchanged, at another index */
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, SEC(5));
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_IOMAX);
	add_step(r, SG_STEP_FREEZE);
	r = add_rule(n, "resized"); /* another ladder length: starts afresh */
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, SEC(5));
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_IOMAX);
	add_step(r, SG_STEP_FREEZE);
	r = add_rule(n, "retuned"); /* same ladder, another threshold: level kept, `for` restarts */
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 25, SEC(5));
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_FREEZE);
	r = add_rule(n, "killer2"); /* the kill of `killer` still counts */
	add_when(r, "psi.memory.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_KILL);
	r = add_rule(n, "lockup"); /* new: sees the event the old policy saw at 10 s */
	add_event(r, "kmsg.hung_task", SG_EV_HUNG_TASK, SEC(15));
	add_step(r, SG_STEP_CAPTURE);
	sim_start(n);
	set(n, "psi.io.full.avg10", 30);
	set(n, "psi.memory.full.avg10", 30);
	n->now = o->now;

	sg_policy_carry(n->pol, &n->cfg, o->pol, &o->cfg);
	assert_int_equal(sg_policy_level(n->pol, 0), 0);
	assert_int_equal(sg_policy_level(n->pol, 1), 2);
	assert_int_equal(sg_policy_level(n->pol, 2), 0);
	assert_int_equal(sg_policy_level(n->pol, 3), 2);
	assert_int_equal(sg_policy_level(n->pol, 4), 0);
	assert_int_equal(sg_policy_level(n->pol, 5), 0);

	tick(n);
	assert_true(sg_policy_holding(n->pol, 1));
	assert_false(sg_policy_holding(n->pol, 2));
	assert_false(sg_policy_holding(n->pol, 3));
	run(n, SEC(25) + TICK);
	assert_true(sg_policy_holding(n->pol, 3));
	run(n, SEC(40));

	expect_count(n, 5);
	expect(n, 0, SEC(20) + TICK, 4, 0, SG_DECISION_BLOCKED, 0);
	expect(n, 1, SEC(20) + TICK, 5, 0, SG_DECISION_APPLY, 1);
	expect(n, 2, SEC(25) + TICK, 2, 0, SG_DECISION_APPLY, 1);
	/* io-storm's last step was at 20 s: the next at 35 s */
	expect(n, 3, SEC(35), 1, 2, SG_DECISION_APPLY, 3);
	expect(n, 4, SEC(35) + TICK, 4, 0, SG_DECISION_BLOCKED, 0);
	assert_int_equal(sg_policy_level(n->pol, 3), 2);
	sim_free(o);
	sim_free(n);
}

/* A rule whose ladder changed on reload starts at rest: its old level would
 * name steps it no longer has. */
static void test_carry_changed_ladder_starts_at_rest(void **state)
{
	(void)state;
	struct sim *o = sim_new(), *n = sim_new();
	struct sg_rule *r;

	r = add_rule(o, "swapped");
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_IONICE);
	add_step(r, SG_STEP_FREEZE);
	r = add_rule(o, "retuned");
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_IOMAX);
	snprintf(r->steps[0].text, sizeof(r->steps[0].text), "io.max wbps=10M");
	sim_start(o);
	set(o, "psi.io.full.avg10", 30);
	run(o, SEC(20));
	assert_int_equal(sg_policy_level(o->pol, 0), 2);
	assert_int_equal(sg_policy_level(o->pol, 1), 1);

	r = add_rule(n, "swapped");
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_FREEZE);
	add_step(r, SG_STEP_IONICE);
	r = add_rule(n, "retuned");
	add_when(r, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_IOMAX);
	snprintf(r->steps[0].text, sizeof(r->steps[0].text), "io.max wbps=20M");
	sim_start(n);
	sg_policy_carry(n->pol, &n->cfg, o->pol, &o->cfg);
	assert_int_equal(sg_policy_level(n->pol, 0), 0);
	assert_int_equal(sg_policy_level(n->pol, 1), 0);
	sim_free(o);
	sim_free(n);
}

/* With step_after = 0 a refused kill is asked again every 10 s, not every tick. */
static void test_blocked_retry_floor(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "k");

	s->cfg.kill_limit_count = 0;
	add_when(r, "psi.memory.full.avg10", SG_OP_GE, 20, 0);
	add_step(r, SG_STEP_KILL);
	r->step_after_usec = 0;
	sim_start(s);
	set(s, "psi.memory.full.avg10", 50);
	run(s, SEC(25));
	expect_count(s, 3);
	expect(s, 0, 0, 0, 0, SG_DECISION_BLOCKED, 0);
	expect(s, 1, SEC(10), 0, 0, SG_DECISION_BLOCKED, 0);
	expect(s, 2, SEC(20), 0, 0, SG_DECISION_BLOCKED, 0);
	sim_free(s);
}

static void test_full_output_defers_ladders(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *a = add_rule(s, "a");
	struct sg_rule *b = add_rule(s, "b");
	struct sg_decision out[1];

	add_when(a, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(a, SG_STEP_IONICE);
	add_when(b, "psi.io.full.avg10", SG_OP_GE, 20, 0);
	add_step(b, SG_STEP_IONICE);
	sim_start(s);
	set(s, "psi.io.full.avg10", 30);

	s->sample.now_usec = 0;
	assert_int_equal(sg_policy_tick(s->pol, &s->cfg, &s->sample, out, 1), 1);
	assert_int_equal(out[0].rule, 0);
	assert_true(sg_policy_holding(s->pol, 1));
	assert_int_equal(sg_policy_level(s->pol, 1), 0);
	s->sample.now_usec = TICK;
	assert_int_equal(sg_policy_tick(s->pol, &s->cfg, &s->sample, out, 1), 1);
	assert_int_equal(out[0].rule, 1);
	assert_int_equal(out[0].kind, SG_DECISION_APPLY);
	assert_int_equal(sg_policy_level(s->pol, 1), 1);
	sim_free(s);
}

static void test_new_bad_signal(void **state)
{
	(void)state;
	struct sim *s = sim_new();
	struct sg_rule *r = add_rule(s, "job-io");
	struct sg_policy *pol = (struct sg_policy *)1;

	add_when(r, "job.nosuch.io.wbps", SG_OP_GE, 1e6, 0);
	add_step(r, SG_STEP_IONICE);
	assert_int_equal(sg_signal_table_init(&s->tab, &s->cfg, NULL, 0), 0);
	assert_int_equal(sg_policy_new(&pol, &s->cfg, &s->tab), -ENOENT);
	assert_null(pol);

	snprintf(r->conds[0].signal, sizeof(r->conds[0].signal), "psi.io.most.avg10");
	assert_int_equal(sg_policy_new(&pol, &s->cfg, &s->tab), -EINVAL);
	assert_null(pol);

	r->conds[0].kind = SG_COND_EVENT;
	r->conds[0].event = SG_EV_COUNT;
	assert_int_equal(sg_policy_new(&pol, &s->cfg, &s->tab), -EINVAL);
	assert_null(pol);
	r->conds[0].event = SG_EV_OOM_KILL;
	assert_int_equal(sg_policy_new(&pol, &s->cfg, &s->tab), 0);
	assert_non_null(pol);
	sg_policy_free(pol);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_for_delays_first_step),
		cmocka_unit_test(test_escalation_stops_at_top),
		cmocka_unit_test(test_recovery_one_step_per_recover_after),
		cmocka_unit_test(test_irreversible_steps_popped_silently),
		cmocka_unit_test(test_hysteresis_at_threshold),
		cmocka_unit_test(test_hysteresis_restarts_clear_timer),
		cmocka_unit_test(test_reclimb_after_partial_recovery),
		cmocka_unit_test(test_cooldown_after_kill),
		cmocka_unit_test(test_kill_limit_across_rules),
		cmocka_unit_test(test_match_any_all),
		cmocka_unit_test(test_event_within),
		cmocka_unit_test(test_event_seen_again_extends),
		cmocka_unit_test(test_nan_never_holds),
		cmocka_unit_test(test_dry_run_global),
		cmocka_unit_test(test_dry_run_per_rule_counts_kills),
		cmocka_unit_test(test_reason_truncated),
		cmocka_unit_test(test_carry),
		cmocka_unit_test(test_carry_changed_ladder_starts_at_rest),
		cmocka_unit_test(test_blocked_retry_floor),
		cmocka_unit_test(test_full_output_defers_ladders),
		cmocka_unit_test(test_new_bad_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
