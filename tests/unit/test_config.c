/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The configuration parser: values, every kind of error at its line, inih's
 * traps (long lines, indentation, CRLF, inline comments), hook files. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "units.h"

#define NAME "t.ini"
#define RULE_OK "[rule r]\nwhen = load.1 > 4\nstep = capture\n"

/* Whether some error is at line (of file name) and contains phrase. */
static bool find_error(const struct sg_config_errors *errors, const char *name, int line,
		       const char *phrase)
{
	char prefix[PATH_MAX + 32];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", name, line);
	for (size_t i = 0; i < errors->count; i++)
		if (strncmp(errors->lines[i], prefix, strlen(prefix)) == 0 &&
		    strstr(errors->lines[i], phrase))
			return true;
	return false;
}

static void print_errors(const struct sg_config_errors *errors)
{
	for (size_t i = 0; i < errors->count; i++)
		print_message("  reported: %s\n", errors->lines[i]);
}

static void assert_error(const struct sg_config_errors *errors, const char *name, int line,
			 const char *phrase)
{
	if (find_error(errors, name, line, phrase))
		return;
	print_errors(errors);
	fail_msg("no error at %s:%d with \"%s\"", name, line, phrase);
}

static void assert_loads(const char *text, struct sg_config *cfg)
{
	struct sg_config_errors errors;
	int rc = sg_config_load_string(NAME, text, cfg, &errors);

	for (size_t i = 0; i < errors.count; i++)
		print_message("  unexpected: %s\n", errors.lines[i]);
	assert_int_equal(rc, 0);
	assert_int_equal(errors.count, 0);
	sg_config_errors_free(&errors);
}

/* The text must fail with exactly one error, at line, containing phrase. */
static void assert_one_error(const char *text, int line, const char *phrase)
{
	struct sg_config_errors errors;
	struct sg_config cfg;
	int rc = sg_config_load_string(NAME, text, &cfg, &errors);

	if (rc != -EINVAL || errors.count != 1 || !find_error(&errors, NAME, line, phrase)) {
		print_errors(&errors);
		fail_msg("expected one error at line %d with \"%s\" (rc %d) for:\n%s", line,
			 phrase, rc, text);
	}
	assert_int_equal(cfg.njobs, 0);
	assert_int_equal(cfg.nrules, 0);
	sg_config_errors_free(&errors);
	sg_config_free(&cfg);
}

static char *print_to_string(const struct sg_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	sg_config_print(cfg, out);
	fclose(out);
	return buf;
}

static void test_defaults(void **state)
{
	struct sg_config cfg;

	(void)state;
	sg_config_defaults(&cfg);
	assert_int_equal(cfg.interval_usec, 250 * USEC_PER_MSEC);
	assert_false(cfg.dry_run);
	assert_string_equal(cfg.state_dir, "/run/stallguard");
	assert_string_equal(cfg.capture_dir, "/var/lib/stallguard/captures");
	assert_int_equal(cfg.capture_keep, 50);
	assert_int_equal(cfg.capture_budget_usec, 200 * USEC_PER_MSEC);
	assert_int_equal(cfg.history_usec, 120 * USEC_PER_SEC);
	assert_string_equal(cfg.kmsg, "/dev/kmsg");
	assert_string_equal(cfg.metrics_file, "");
	assert_int_equal(cfg.nprotect, 0);
	assert_int_equal(cfg.kill_limit_count, 3);
	assert_int_equal(cfg.kill_limit_window_usec, 3600 * USEC_PER_SEC);
	assert_int_equal(cfg.kill_grace_usec, 5 * USEC_PER_SEC);
	assert_int_equal(cfg.hook_timeout_usec, 10 * USEC_PER_SEC);
	assert_true(cfg.revert_on_exit);
	assert_int_equal(cfg.recorder, SG_RECORDER_ON);
	assert_int_equal(cfg.recorder_hz, 49);
	assert_int_equal(cfg.recorder_window_usec, 10 * USEC_PER_SEC);
	assert_string_equal(cfg.heartbeat, "");
	assert_int_equal(cfg.heartbeat_interval_usec, 60 * USEC_PER_SEC);
	assert_int_equal(cfg.metrics_interval_usec, 10 * USEC_PER_SEC);
	assert_int_equal(cfg.njobs, 0);
	assert_int_equal(cfg.nrules, 0);
	sg_config_free(&cfg);
}

static void test_rule_defaults(void **state)
{
	struct sg_config cfg;
	const struct sg_rule *r;

	(void)state;
	assert_loads(RULE_OK, &cfg);
	assert_int_equal(cfg.nrules, 1);
	r = &cfg.rules[0];
	assert_string_equal(r->name, "r");
	assert_int_equal(r->line, 1);
	assert_false(r->match_all);
	assert_int_equal(r->target, SG_TARGET_NONE);
	assert_int_equal(r->step_after_usec, 15 * USEC_PER_SEC);
	assert_int_equal(r->recover_after_usec, 60 * USEC_PER_SEC);
	assert_int_equal(r->cooldown_usec, 600 * USEC_PER_SEC);
	assert_false(r->dry_run);
	assert_int_equal(r->nhooks, 0);
	/* no [guardian]: its defaults */
	assert_int_equal(cfg.interval_usec, 250 * USEC_PER_MSEC);
	sg_config_free(&cfg);
}

static void test_full_fixture(void **state)
{
	struct sg_config_errors errors;
	struct sg_config cfg;
	const char *path = FIXTURES "/config/full.ini";
	char want[PATH_MAX], got[PATH_MAX];
	const struct sg_job *j;
	const struct sg_rule *r;
	const struct sg_step *s;
	int rc;

	(void)state;
	if (geteuid() != 0)
		fail_msg("this test needs root: its hook files must be owned by root");
	rc = sg_config_load(path, &cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		print_message("  unexpected: %s\n", errors.lines[i]);
	assert_int_equal(rc, 0);
	assert_int_equal(errors.count, 0);
	assert_string_equal(cfg.path, path);

	assert_int_equal(cfg.interval_usec, 100 * USEC_PER_MSEC);
	assert_true(cfg.dry_run);
	assert_string_equal(cfg.state_dir, "/run/sg-test");
	assert_string_equal(cfg.capture_dir, "/var/tmp/sg-captures");
	assert_int_equal(cfg.capture_keep, 7);
	assert_int_equal(cfg.capture_budget_usec, 150 * USEC_PER_MSEC);
	assert_int_equal(cfg.history_usec, 300 * USEC_PER_SEC);
	assert_string_equal(cfg.kmsg, "/tmp/kmsg.fifo");
	assert_string_equal(cfg.metrics_file, "/var/lib/node_exporter/stallguard.prom");
	assert_int_equal(cfg.nprotect, 3);
	assert_int_equal(cfg.protect[0].kind, SG_MATCH_COMM);
	assert_string_equal(cfg.protect[0].value, "sshd");
	assert_int_equal(cfg.protect[0].line, 12);
	assert_int_equal(cfg.protect[1].kind, SG_MATCH_EXE);
	assert_string_equal(cfg.protect[1].value, "/usr/sbin/haproxy");
	assert_int_equal(cfg.protect[2].kind, SG_MATCH_CMDLINE);
	assert_string_equal(cfg.protect[2].value, "^postgres: (checkpointer|walwriter)");
	assert_int_equal(regexec(&cfg.protect[2].regex, "postgres: walwriter", 0, NULL, 0), 0);
	assert_int_equal(regexec(&cfg.protect[2].regex, "postgres: autovacuum", 0, NULL, 0),
			 REG_NOMATCH);
	assert_int_equal(cfg.kill_limit_count, 2);
	assert_int_equal(cfg.kill_limit_window_usec, 1800 * USEC_PER_SEC);
	assert_int_equal(cfg.kill_grace_usec, 3 * USEC_PER_SEC);
	assert_int_equal(cfg.hook_timeout_usec, 20 * USEC_PER_SEC);
	assert_false(cfg.revert_on_exit);

	assert_int_equal(cfg.njobs, 2);
	j = &cfg.jobs[0];
	assert_string_equal(j->name, "backup");
	assert_int_equal(j->line, 19);
	assert_string_equal(j->unit, "backup.service");
	assert_string_equal(j->cgroup, "/system.slice/backup.service");
	assert_int_equal(j->nmatches, 3);
	assert_int_equal(j->matches[0].kind, SG_MATCH_COMM);
	assert_string_equal(j->matches[0].value, "rsync");
	assert_int_equal(j->matches[1].kind, SG_MATCH_EXE);
	assert_string_equal(j->matches[1].value, "/usr/bin/borg");
	assert_int_equal(j->matches[2].kind, SG_MATCH_CMDLINE);
	assert_int_equal(j->matches[2].line, 24);
	assert_int_equal(regexec(&j->matches[2].regex, "borg   create ::x", 0, NULL, 0), 0);
	assert_string_equal(j->device, "nvme0n1");
	assert_string_equal(cfg.jobs[1].name, "indexer");
	assert_string_equal(cfg.jobs[1].unit, "");
	assert_string_equal(cfg.jobs[1].cgroup, "");
	assert_string_equal(cfg.jobs[1].device, "");

	assert_int_equal(cfg.nrules, 3);
	r = &cfg.rules[0];
	assert_string_equal(r->name, "io-storm");
	assert_int_equal(r->line, 30);
	assert_int_equal(r->nconds, 4);
	assert_int_equal(r->conds[0].kind, SG_COND_THRESHOLD);
	assert_string_equal(r->conds[0].signal, "psi.io.full.avg10");
	assert_int_equal(r->conds[0].op, SG_OP_GE);
	assert_true(r->conds[0].threshold == 20.0);
	assert_int_equal(r->conds[0].for_usec, 5 * USEC_PER_SEC);
	assert_int_equal(r->conds[0].line, 31);
	assert_string_equal(r->conds[1].signal, "disk.vda.util");
	assert_int_equal(r->conds[1].op, SG_OP_GT);
	assert_true(r->conds[1].threshold == 90.5);
	assert_string_equal(r->conds[2].signal, "job.backup.io.wbps");
	assert_int_equal(r->conds[2].op, SG_OP_LE);
	assert_int_equal(r->conds[2].for_usec, 0);
	assert_int_equal(r->conds[3].op, SG_OP_LT);
	assert_true(r->conds[3].threshold == 0.5);
	assert_int_equal(r->conds[3].for_usec, 1500 * USEC_PER_MSEC);
	assert_true(r->match_all);
	assert_int_equal(r->target, SG_TARGET_JOB);
	assert_int_equal(r->job, 0);
	assert_int_equal(r->nsteps, 7);
	assert_int_equal(r->steps[0].kind, SG_STEP_CAPTURE);
	assert_int_equal(r->steps[0].line, 37);
	s = &r->steps[1];
	assert_int_equal(s->kind, SG_STEP_IONICE);
	assert_int_equal(s->ionice_class, 2);
	assert_int_equal(s->ionice_level, 4);
	assert_string_equal(s->text, "ionice be:4");
	assert_int_equal(r->steps[2].ionice_class, 3);
	s = &r->steps[3];
	assert_int_equal(s->kind, SG_STEP_IOMAX);
	assert_int_equal(s->wbps, 50ULL << 20);
	assert_int_equal(s->riops, 2000);
	assert_true(s->rbps == SG_IOMAX_UNSET);
	assert_true(s->wiops == SG_IOMAX_UNSET);
	assert_string_equal(s->text, "io.max wbps=50M riops=2000");
	s = &r->steps[4];
	assert_int_equal(s->rbps, 1ULL << 30);
	assert_true(s->wbps == SG_IOMAX_MAX);
	assert_int_equal(s->wiops, 100);
	assert_true(s->riops == SG_IOMAX_UNSET);
	assert_string_equal(s->text, "io.max rbps=1G wbps=max wiops=100");
	assert_int_equal(r->steps[5].kind, SG_STEP_FREEZE);
	assert_int_equal(r->steps[6].kind, SG_STEP_KILL);
	assert_int_equal(r->step_after_usec, 30 * USEC_PER_SEC);
	assert_int_equal(r->recover_after_usec, 120 * USEC_PER_SEC);
	assert_int_equal(r->cooldown_usec, 3600 * USEC_PER_SEC);
	assert_true(r->dry_run);

	r = &cfg.rules[1];
	assert_string_equal(r->name, "lockup");
	assert_int_equal(r->target, SG_TARGET_NONE);
	assert_int_equal(r->conds[0].kind, SG_COND_EVENT);
	assert_string_equal(r->conds[0].signal, "kmsg.soft_lockup");
	assert_int_equal(r->conds[0].event, SG_EV_SOFT_LOCKUP);
	assert_int_equal(r->conds[0].within_usec, 120 * USEC_PER_SEC);
	assert_int_equal(r->conds[1].event, SG_EV_HUNG_TASK);
	assert_int_equal(r->conds[1].within_usec, 120 * USEC_PER_SEC);
	assert_int_equal(r->steps[1].kind, SG_STEP_HOOK);
	assert_string_equal(r->steps[1].hook, "drain");
	assert_string_equal(r->steps[2].hook, "notify");
	assert_int_equal(r->recover_after_usec, 300 * USEC_PER_SEC);
	assert_int_equal(r->nhooks, 2);
	assert_string_equal(r->hooks[0].name, "drain");
	assert_int_equal(r->hooks[0].line, 56);
	/* relative: from the config file's directory, made absolute */
	assert_true(r->hooks[0].path[0] == '/');
	assert_non_null(realpath(FIXTURES "/../../etc/hooks/lb-drain", want));
	assert_non_null(realpath(r->hooks[0].path, got));
	assert_string_equal(got, want);
	assert_string_equal(r->hooks[1].path, "/usr/bin/true");
	assert_ptr_equal(sg_rule_hook(r, "notify"), &r->hooks[1]);

	r = &cfg.rules[2];
	assert_int_equal(r->target, SG_TARGET_TOP_IO);
	assert_string_equal(r->conds[0].signal, "psi.cpu.some.avg60");
	assert_int_equal(r->conds[0].for_usec, 0);
	sg_config_errors_free(&errors);
	sg_config_free(&cfg);
	assert_int_equal(cfg.njobs, 0);
	assert_null(cfg.jobs);
}

static void test_shipped_config(void **state)
{
	const char *path = FIXTURES "/../../etc/stallguard.ini";
	struct sg_config_errors errors;
	struct sg_config cfg;
	const struct sg_rule *r;
	int rc;

	(void)state;
	if (geteuid() != 0)
		fail_msg("this test needs root: its hook file must be owned by root");
	rc = sg_config_load(path, &cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		print_message("  unexpected: %s\n", errors.lines[i]);
	assert_int_equal(rc, 0);
	assert_int_equal(errors.count, 0);
	assert_int_equal(cfg.nrules, 3);
	r = &cfg.rules[0];
	assert_string_equal(r->name, "io-storm");
	assert_int_equal(r->target, SG_TARGET_TOP_IO);
	assert_false(r->match_all);
	for (size_t i = 0; i < r->nsteps; i++) /* not for an unknown process */
		assert_true(r->steps[i].kind != SG_STEP_FREEZE && r->steps[i].kind != SG_STEP_KILL);
	assert_string_equal(r->conds[1].signal, "disk.any.util");
	assert_int_equal(r->conds[1].for_usec, 60 * USEC_PER_SEC);
	r = &cfg.rules[1];
	assert_string_equal(r->name, "lockup");
	assert_int_equal(r->nconds, 4);
	assert_int_equal(r->recover_after_usec, 300 * USEC_PER_SEC);
	assert_non_null(strstr(r->hooks[0].path, "/etc/hooks/lb-drain"));
	assert_int_equal(cfg.rules[2].target, SG_TARGET_NONE);
	sg_config_errors_free(&errors);
	sg_config_free(&cfg);
}

/* Every mistake of errors.ini, each at its own line, none left out. */
static void test_many_errors_one_pass(void **state)
{
	static const struct {
		int line;
		const char *phrase;
	} want[] = {
		{ 3, "bad interval \"5\"" },
		{ 4, "bad dry_run \"perhaps\"" },
		{ 5, "bad kill_limit" },
		{ 9, "at most 15 characters" },
		{ 11, "duplicate section [job backup] (first at line 7)" },
		{ 15, "expected one of >= > <= <" },
		{ 16, "names no [job nosuch]" },
		{ 17, "job = nosuch names no [job nosuch]" },
		{ 19, "unknown step \"throttle\"" },
		{ 20, "wbps=lots" },
		{ 22, "rule quiet has no when" },
		{ 27, "step freeze acts on a job" },
		{ 28, "needs \"hook.page = PATH\"" },
		{ 30, "unknown section [nonsense]" },
	};
	const char *path = FIXTURES "/config/errors.ini";
	struct sg_config_errors errors;
	struct sg_config cfg;
	int last = 0;

	(void)state;
	assert_int_equal(sg_config_load(path, &cfg, &errors), -EINVAL);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_error(&errors, path, want[i].line, want[i].phrase);
	assert_int_equal(errors.count, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < errors.count; i++) { /* in line order */
		int line = atoi(errors.lines[i] + strlen(path) + 1);

		assert_true(line >= last);
		last = line;
	}
	assert_int_equal(cfg.njobs, 0);
	sg_config_errors_free(&errors);
	assert_null(errors.lines);
	sg_config_free(&cfg);
}

static void test_each_error(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *phrase;
	} cases[] = {
		/* lines and sections */
		{ "history = 1m\n", 1, "before any section" },
		{ "[guardian]\nhistory 1m\n", 2, "expected \"key = value\", a [section]" },
		{ "[guardian]\n= 1m\n", 2, "no key before '='" },
		{ "[guardian]\n[frobnicate]\n", 2, "unknown section [frobnicate]" },
		{ "[guardian]\n[job a b]\n", 2, "NAME one word" },
		{ "[guardian\n", 1, "without ']'" },
		{ "[guardian] x\n", 1, "unexpected text after ']'" },
		{ "[job]\n", 1, "[job] needs a name" },
		{ "[job a.b]\nunit = a.service\n", 1, "bad job name \"a.b\"" },
		{ "[job top-io]\nunit = a.service\n", 1, "top-io is reserved" },
		{ "[guardian]\n[guardian]\n", 2, "duplicate section [guardian] (first at line 1)" },
		{ "[job a]\nunit = a.service\n[job a]\nunit = b.service\n", 3,
		  "duplicate section [job a] (first at line 1)" },
		{ RULE_OK "[rule r]\nwhen = load.1 > 5\nstep = capture\n", 4,
		  "duplicate section [rule r] (first at line 1)" },
		/* [guardian] */
		{ "[guardian]\nintervall = 2s\n", 2, "unknown key \"intervall\" in [guardian]" },
		{ "[guardian]\nhistory = 1m\nhistory = 2m\n", 3,
		  "history given twice (first at line 2)" },
		{ "[guardian]\ninterval = 5ms\n", 2, "at least 10ms" },
		{ "[guardian]\nhistory = 10 minutes\n", 2,
		  "bad history \"10 minutes\": expected a duration" },
		{ "[guardian]\nkill_grace = 5\n", 2, "bad kill_grace \"5\"" },
		{ "[guardian]\nhook_timeout = 0s\n", 2, "above zero" },
		{ "[guardian]\ndry_run = maybe\n", 2,
		  "expected yes, no, true, false, on, off, 1 or 0" },
		{ "[guardian]\nstate_dir = run/sg\n", 2,
		  "bad state_dir \"run/sg\": expected an absolute" },
		{ "[guardian]\ncapture_dir = captures\n", 2, "bad capture_dir" },
		{ "[guardian]\nmetrics_file = sg.prom\n", 2, "absolute path, or nothing for off" },
		{ "[guardian]\nkmsg =\n", 2, "bad kmsg \"\": expected a path" },
		{ "[guardian]\ncapture_keep = 0\n", 2, "bad capture_keep \"0\"" },
		{ "[guardian]\ncapture_keep = lots\n", 2, "whole number" },
		{ "[guardian]\nkill_limit = 65/1h\n", 2, "COUNT from 0 (no kills) to 64" },
		{ "[guardian]\nkill_limit = 3/0s\n", 2, "bad kill_limit \"3/0s\"" },
		{ "[guardian]\nkill_limit = 3\n", 2, "COUNT/DURATION" },
		{ "[guardian]\nprotect = pid:1\n", 2,
		  "expected comm:NAME, exe:/PATH or cmdline:REGEX" },
		{ "[guardian]\nprotect = comm:\n", 2, "nothing after 'comm:'" },
		/* [job] */
		{ "[job a]\nunit = a.service\nport = 80\n", 3, "unknown key \"port\" in [job a]" },
		{ "[job a]\nunit = a.service\nunit = b.service\n", 3, "unit given twice" },
		{ "[job a]\nunit = backup\n", 2, "systemd unit name" },
		{ "[job a]\ncgroup = a/b\n", 2, "starting with '/'" },
		{ "[job a]\ncgroup = /a/../b\n", 2, "\"..\" is not allowed" },
		{ "[job a]\ncgroup = /a/..\n", 2, "\"..\" is not allowed" },
		{ "[job a]\ncgroup = /\n", 2, "root cgroup" },
		{ "[job a]\nmatch = comm:abcdefghijklmnop\n", 2, "at most 15 characters" },
		{ "[job a]\nmatch = exe:bin/x\n", 2, "absolute path after exe:" },
		{ "[job a]\nmatch = cmdline:a(b\n", 2, "bad regular expression" },
		{ "[job a]\nunit = a.service\ndevice = /dev/vda\n", 3, "without /dev/" },
		{ "[job a]\ndevice = vda\n", 1, "job a needs unit, cgroup or match" },
		/* [rule]: keys */
		{ RULE_OK "colour = red\n", 4,
		  "unknown key \"colour\" in [rule r] (expected when," },
		{ RULE_OK "cooldown = 1m\ncooldown = 2m\n", 5,
		  "cooldown given twice (first at line 4)" },
		{ RULE_OK "match = some\n", 4, "expected any or all" },
		{ RULE_OK "step_after = soon\n", 4, "bad step_after" },
		{ RULE_OK "dry_run = y\n", 4, "bad dry_run" },
		{ RULE_OK "job = ghost\n", 4, "job = ghost names no [job ghost]" },
		{ RULE_OK "job = a/b\n", 4, "expected the name of a [job], or top-io" },
		{ "[rule r]\nstep = capture\n", 1, "rule r has no when" },
		{ "[rule r]\nwhen = load.1 > 4\n", 1, "rule r has no step" },
		/* when */
		{ RULE_OK "when = load.1 = 4\n", 4, "expected one of >= > <= <" },
		{ RULE_OK "when = load.1 > four\n", 4, "expected a number after >, got \"four\"" },
		{ RULE_OK "when = load.1 > inf\n", 4, "expected a number" },
		{ RULE_OK "when = load.1 >\n", 4, "expected a number after >" },
		{ RULE_OK "when = load.1 > 4 for ever\n", 4, "expected a duration" },
		{ RULE_OK "when = load.1 > 4 during 5s\n", 4, "expected \"for DURATION\"" },
		{ RULE_OK "when = load.1 > 4 for 5s please\n", 4, "unexpected \"please\"" },
		{ RULE_OK "when = load.1 within 5s\n", 4, "only kmsg.* events take within" },
		{ RULE_OK "when = kmsg.oom_kill > 0\n", 4, "kernel event: expected" },
		{ RULE_OK "when = kmsg.oom_kill within\n", 4, "expected a duration after within" },
		{ RULE_OK "when = kmsg.oom_kill within 0s\n", 4, "above zero" },
		{ RULE_OK "when = psi.disk.full.avg10 > 1\n", 4,
		  "bad when \"psi.disk.full.avg10 > 1\"" },
		{ RULE_OK "when = > 1\n", 4, "no signal" },
		{ RULE_OK "when = job.ghost.io.wbps > 1\n", 4, "names no [job ghost]" },
		/* step */
		{ RULE_OK "step = dance\n", 4, "unknown step \"dance\"" },
		{ RULE_OK "step = capture now\n", 4, "capture takes nothing after it" },
		{ RULE_OK "job = top-io\nstep = ionice be:8\n", 5, "N from 0 to 7" },
		{ RULE_OK "job = top-io\nstep = ionice\n", 5, "ionice idle" },
		{ RULE_OK "job = top-io\nstep = io.max\n", 5, "at least one of rbps=" },
		{ RULE_OK "job = top-io\nstep = io.max wbps=1M wbps=2M\n", 5, "wbps given twice" },
		{ RULE_OK "job = top-io\nstep = io.max wbps=50X\n", 5,
		  "wbps=50X: expected a size" },
		{ RULE_OK "job = top-io\nstep = io.max speed=5\n", 5, "got \"speed\"" },
		{ RULE_OK "job = top-io\nstep = io.max riops=0\n", 5, "riops=0 would stop" },
		{ RULE_OK "step = io.max wbps=1M\n", 4, "step io.max wbps=1M acts on a job" },
		{ RULE_OK "step = kill\n", 4, "but rule r has no \"job =\"" },
		{ RULE_OK "step = hook page\n", 4, "step hook page needs \"hook.page = PATH\"" },
		{ RULE_OK "step = hook a/b\n", 4, "expected \"hook NAME\"" },
		/* hook.NAME */
		{ RULE_OK "hook.x = /nonexistent/hook\n", 4,
		  "hook.x = /nonexistent/hook: No such file" },
		{ RULE_OK "hook.x =\n", 4, "expected the path of an executable" },
		{ RULE_OK "hook.a/b = /usr/bin/true\n", 4, "bad hook name \"a/b\"" },
		{ RULE_OK "hook.x = /usr/bin/true\nhook.x = /usr/bin/true\n", 5,
		  "hook.x given twice (first at line 4)" },
		{ RULE_OK "hook.x = /usr/bin\n", 4, "not a regular file" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_one_error(cases[i].text, cases[i].line, cases[i].phrase);
}

static void test_too_many(void **state)
{
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), "[rule r]\nstep = capture\n");

	(void)state;
	for (int i = 0; i < SG_COND_MAX + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "when = load.1 > %d\n", i);
	assert_one_error(text, 3 + SG_COND_MAX, "too many when lines (at most 16)");

	n = (size_t)snprintf(text, sizeof(text), "[rule r]\nwhen = load.1 > 1\n");
	for (int i = 0; i < SG_STEP_MAX + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "step = capture\n");
	assert_one_error(text, 3 + SG_STEP_MAX, "too many steps (at most 16)");
}

static void test_long_line(void **state)
{
	struct sg_config_errors errors;
	struct sg_config cfg;
	char text[1024], line[301];

	(void)state;
	memset(line, 'x', 300);
	memcpy(line, "protect = cmdline:", 18);
	line[300] = '\0';
	/* inih would cut it at 199 bytes and read the rest as lines of their own */
	snprintf(text, sizeof(text), "[guardian]\n%s\n   interval = 1s\nhistory = nope\n"
		 "[rule r]\nwhen = load.1 > 4\nstep = capture\nstep = dance\n", line);
	assert_int_equal(sg_config_load_string(NAME, text, &cfg, &errors), -EINVAL);
	assert_error(&errors, NAME, 2, "line too long (300 bytes, at most 199)");
	assert_error(&errors, NAME, 4, "bad history \"nope\"");
	assert_error(&errors, NAME, 8, "unknown step \"dance\"");
	assert_int_equal(errors.count, 3);
	sg_config_errors_free(&errors);
	sg_config_free(&cfg);

	/* 199 bytes is fine, CR LF included or not; 200 is not */
	memset(line, 'a', 199);
	memcpy(line, "protect = cmdline:", 18);
	line[199] = '\0';
	snprintf(text, sizeof(text), "[guardian]\r\n%s\r\n%s\n", line, line);
	assert_loads(text, &cfg);
	assert_int_equal(cfg.nprotect, 2);
	assert_int_equal(strlen(cfg.protect[1].value), 199 - 18);
	sg_config_free(&cfg);
	snprintf(text, sizeof(text), "[guardian]\n%sa\n", line);
	assert_one_error(text, 2, "line too long (200 bytes, at most 199)");
}

static void test_indentation_ignored(void **state)
{
	struct sg_config cfg;

	(void)state;
	/* To inih an indented line continues the key above ("job" here). */
	assert_loads("  [guardian]\n    interval = 1s\n\t\tdry_run = true\n"
		     "[rule r]\n  when = load.1 > 4\n  job = top-io\n      step = capture\n"
		     "\tstep = ionice idle\n", &cfg);
	assert_int_equal(cfg.interval_usec, USEC_PER_SEC);
	assert_true(cfg.dry_run);
	assert_int_equal(cfg.rules[0].target, SG_TARGET_TOP_IO);
	assert_int_equal(cfg.rules[0].nsteps, 2);
	assert_int_equal(cfg.rules[0].steps[1].kind, SG_STEP_IONICE);
	assert_int_equal(cfg.rules[0].steps[1].line, 8);
	sg_config_free(&cfg);
}

static void test_crlf_bom_and_last_line(void **state)
{
	struct sg_config cfg;

	(void)state;
	assert_loads("\xef\xbb\xbf[guardian]\r\nstate_dir = /run/x\r\n\r\n" RULE_OK
		     "cooldown = 5m", &cfg);
	assert_string_equal(cfg.state_dir, "/run/x");
	assert_int_equal(cfg.rules[0].cooldown_usec, 300 * USEC_PER_SEC);
	sg_config_free(&cfg);
	assert_one_error("[guardian]\r\n\r\nhistory = x\r\n", 3, "bad history \"x\":");
	assert_one_error("[guardian]\nhistory = 1m\nkmsg = /dev/kmsg\nhistory = x", 4,
			 "history given twice");
}

static void test_comments(void **state)
{
	struct sg_config cfg;

	(void)state;
	assert_loads("; a comment\n# another\n[guardian] ; the guardian\n"
		     "interval = 1s ; one second\nmetrics_file = ; off\n"
		     "protect = cmdline:a;b\nprotect = comm:x;y ; only after a blank\n"
		     "[rule r] # not inline, but after ']' fine\nwhen = load.1 >= 4 ; four\n"
		     "step = capture ; first\n", &cfg);
	assert_int_equal(cfg.interval_usec, USEC_PER_SEC);
	assert_string_equal(cfg.metrics_file, "");
	assert_string_equal(cfg.protect[0].value, "a;b");
	assert_string_equal(cfg.protect[1].value, "x;y");
	assert_string_equal(cfg.rules[0].name, "r");
	assert_true(cfg.rules[0].conds[0].threshold == 4.0);
	assert_string_equal(cfg.rules[0].steps[0].text, "capture");
	sg_config_free(&cfg);
}

static void test_names(void **state)
{
	char name[64], text[512];
	struct sg_config cfg;

	(void)state;
	/* 47 characters: inih would cut "[job NAME]" at 49, we do not */
	memset(name, 'j', 47);
	name[47] = '\0';
	snprintf(text, sizeof(text), "[job %s]\nunit = a.service\n[rule r]\n"
		 "when = job.%s.io.rbps > 1\njob = %s\nstep = freeze\n", name, name, name);
	assert_loads(text, &cfg);
	assert_string_equal(cfg.jobs[0].name, name);
	assert_int_equal(cfg.rules[0].target, SG_TARGET_JOB);
	assert_int_equal(cfg.rules[0].job, 0);
	sg_config_free(&cfg);

	name[47] = 'j';
	name[48] = '\0';
	snprintf(text, sizeof(text), "[job %s]\nunit = a.service\n", name);
	assert_one_error(text, 1, "bad job name");
	snprintf(text, sizeof(text), "[rule %s]\nwhen = load.1 > 1\nstep = capture\n", name);
	assert_one_error(text, 1, "bad rule name");

	/* jobs and rules have names of their own; a job may come after its rule */
	assert_loads("[rule x]\nwhen = job.x.psi.io.some.avg10 > 1\njob = x\nstep = kill\n"
		     "[job x]\ncgroup = /x\n", &cfg);
	assert_string_equal(cfg.rules[0].name, "x");
	assert_int_equal(cfg.rules[0].job, 0);
	sg_config_free(&cfg);
}

static void test_values(void **state)
{
	struct sg_config cfg;
	const struct sg_rule *r;

	(void)state;
	assert_loads("[guardian]\ndry_run = ON\nkill_limit = 0/10m\n"
		     "[rule r]\nwhen = load.1>4\nwhen =   tasks.dstate   <=  -2.5e1   for  250ms\n"
		     "when = kmsg.io_error within 1h\nmatch = all\njob = top-io\n"
		     "step =   io.max   wbps=51200K  rbps=3000 riops=4K\nstep = ionice be:0\n"
		     "dry_run = 0\n", &cfg);
	assert_true(cfg.dry_run);
	assert_int_equal(cfg.kill_limit_count, 0);
	assert_int_equal(cfg.kill_limit_window_usec, 600 * USEC_PER_SEC);
	r = &cfg.rules[0];
	assert_string_equal(r->conds[0].signal, "load.1");
	assert_int_equal(r->conds[0].op, SG_OP_GT);
	assert_true(r->conds[0].threshold == 4.0);
	assert_string_equal(r->conds[1].signal, "tasks.dstate");
	assert_int_equal(r->conds[1].op, SG_OP_LE);
	assert_true(r->conds[1].threshold == -25.0);
	assert_int_equal(r->conds[1].for_usec, 250 * USEC_PER_MSEC);
	assert_int_equal(r->conds[2].event, SG_EV_IO_ERROR);
	assert_int_equal(r->conds[2].within_usec, 3600 * USEC_PER_SEC);
	assert_true(r->match_all);
	assert_int_equal(r->steps[0].wbps, 50ULL << 20);
	assert_int_equal(r->steps[0].rbps, 3000);
	assert_int_equal(r->steps[0].riops, 4096);
	assert_string_equal(r->steps[0].text, "io.max wbps=50M rbps=3000 riops=4096");
	assert_int_equal(r->steps[1].ionice_class, 2);
	assert_int_equal(r->steps[1].ionice_level, 0);
	assert_false(r->dry_run);
	sg_config_free(&cfg);
}

static void test_print(void **state)
{
	struct sg_config cfg;
	char *out;

	(void)state;
	assert_loads("[guardian]\ninterval = 100ms\nkill_limit = 2/30m\nprotect = comm:sshd\n"
		     "[job backup]\ncgroup = /backup\nmatch = comm:rsync\ndevice = vda\n"
		     "[rule io-storm]\nwhen = psi.io.full.avg10 >= 20 for 5s\n"
		     "when = disk.vda.util >= 90 for 10s\njob = backup\nstep = capture\n"
		     "step = ionice idle\nstep = io.max wbps=50M riops=2000\nstep = freeze\n"
		     "step = kill\n"
		     "[rule lockup]\nwhen = kmsg.hung_task within 120s\nmatch = all\n"
		     "step = capture\nstep = hook page\nhook.page = /usr/bin/true\n"
		     "dry_run = yes\n", &cfg);
	out = print_to_string(&cfg);
	assert_non_null(strstr(out, "guardian: interval 100ms, dry-run no, kill_limit 2/30m,"));
	assert_non_null(strstr(out, "comm:sshd"));
	assert_non_null(strstr(out, "\njob backup: cgroup /backup, match comm:rsync, "
				    "device vda\n"));
	assert_non_null(strstr(out, "\nrule io-storm (any of 2, job backup, step_after 15s, "
				    "recover_after 1m, cooldown 10m):\n"));
	assert_non_null(strstr(out, "\n  when psi.io.full.avg10 >= 20 for 5s\n"
				    "  when disk.vda.util >= 90 for 10s\n"));
	assert_non_null(strstr(out, "\n  ladder: 1 capture -> 2 ionice idle -> "
				    "3 io.max wbps=50M riops=2000 -> 4 freeze -> 5 kill\n"));
	assert_non_null(strstr(out, "\nrule lockup (all of 1, host-level, step_after 15s, "
				    "recover_after 1m, cooldown 10m, dry-run):\n"));
	assert_non_null(strstr(out, "\n  when kmsg.hung_task within 2m\n"));
	assert_non_null(strstr(out, "\n  ladder: 1 capture -> 2 hook page\n"));
	assert_non_null(strstr(out, "\n  hook page = /usr/bin/true\n"));
	free(out);
	sg_config_free(&cfg);
}

static void test_helpers(void **state)
{
	struct sg_rule rule = { .nhooks = 2 };

	(void)state;
	assert_true(sg_step_reversible(SG_STEP_IONICE));
	assert_true(sg_step_reversible(SG_STEP_IOMAX));
	assert_true(sg_step_reversible(SG_STEP_FREEZE));
	assert_true(sg_step_reversible(SG_STEP_HOOK));
	assert_false(sg_step_reversible(SG_STEP_CAPTURE));
	assert_false(sg_step_reversible(SG_STEP_KILL));
	assert_string_equal(sg_step_kind_name(SG_STEP_CAPTURE), "capture");
	assert_string_equal(sg_step_kind_name(SG_STEP_IONICE), "ionice");
	assert_string_equal(sg_step_kind_name(SG_STEP_IOMAX), "io.max");
	assert_string_equal(sg_step_kind_name(SG_STEP_FREEZE), "freeze");
	assert_string_equal(sg_step_kind_name(SG_STEP_KILL), "kill");
	assert_string_equal(sg_step_kind_name(SG_STEP_HOOK), "hook");
	assert_string_equal(sg_op_text(SG_OP_GE), ">=");
	assert_string_equal(sg_op_text(SG_OP_GT), ">");
	assert_string_equal(sg_op_text(SG_OP_LE), "<=");
	assert_string_equal(sg_op_text(SG_OP_LT), "<");
	strcpy(rule.hooks[0].name, "drain");
	strcpy(rule.hooks[1].name, "page");
	assert_ptr_equal(sg_rule_hook(&rule, "page"), &rule.hooks[1]);
	assert_null(sg_rule_hook(&rule, "pag"));
}

static void test_unreadable(void **state)
{
	struct sg_config_errors errors;
	struct sg_config cfg;

	(void)state;
	assert_int_equal(sg_config_load("/nonexistent/sg.ini", &cfg, &errors), -ENOENT);
	assert_int_equal(errors.count, 1);
	assert_non_null(strstr(errors.lines[0], "/nonexistent/sg.ini: cannot open"));
	assert_int_equal(cfg.interval_usec, 250 * USEC_PER_MSEC);
	sg_config_errors_free(&errors);
	sg_config_free(&cfg);
	assert_int_equal(sg_config_load("/", &cfg, &errors), -EINVAL);
	assert_non_null(strstr(errors.lines[0], "not a regular file"));
	sg_config_errors_free(&errors);
	/* errors are optional */
	assert_int_equal(sg_config_load_string(NAME, "[x]\n", &cfg, NULL), -EINVAL);
	sg_config_free(&cfg);
}

/* ---- hook files, made in a directory of our own ---- */

struct hook_dir {
	char path[64];
};

static const char *const hook_files[] = { "ok", "world", "group", "noexec", "nobody" };

static int hooks_setup(void **state)
{
	struct hook_dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/sg-test-hooks-XXXXXX");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int hooks_teardown(void **state)
{
	struct hook_dir *d = *state;
	char path[128];

	for (size_t i = 0; i < sizeof(hook_files) / sizeof(hook_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", d->path, hook_files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/sg.ini", d->path);
	unlink(path);
	snprintf(path, sizeof(path), "%s/subdir", d->path);
	rmdir(path);
	rmdir(d->path);
	free(d);
	return 0;
}

static void make_hook(const struct hook_dir *d, const char *name, mode_t mode, uid_t uid)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
	assert_int_equal(fchown(fd, uid, 0), 0);
	assert_int_equal(fchmod(fd, mode), 0); /* after chown, which clears set-id bits */
	close(fd);
}

/* Root-owned "ok" (0755) and "world" (0777) executables in d. */
static void ok_and_world_hooks(const struct hook_dir *d)
{
	if (geteuid() != 0)
		fail_msg("this test needs root: it makes root-owned hook files");
	make_hook(d, "ok", 0755, 0);
	make_hook(d, "world", 0777, 0);
}

static void load_hook(const char *name, const char *path, int *rc,
		      struct sg_config_errors *errors)
{
	struct sg_config cfg;
	char text[512];

	snprintf(text, sizeof(text), RULE_OK "step = hook h\nhook.h = %s\n", path);
	*rc = sg_config_load_string(name, text, &cfg, errors);
	sg_config_free(&cfg);
}

static void test_hook_files(void **state)
{
	struct hook_dir *d = *state;
	struct sg_config_errors errors;
	char path[128];
	int rc;

	if (geteuid() != 0)
		fail_msg("this test needs root: it checks root-owned hook files");
	make_hook(d, "ok", 0755, 0);
	make_hook(d, "world", 0777, 0);
	make_hook(d, "group", 0775, 0);
	make_hook(d, "noexec", 0644, 0);
	make_hook(d, "nobody", 0755, 65534);
	snprintf(path, sizeof(path), "%s/subdir", d->path);
	assert_int_equal(mkdir(path, 0755), 0);

	snprintf(path, sizeof(path), "%s/ok", d->path);
	load_hook(NAME, path, &rc, &errors);
	assert_int_equal(rc, 0);
	assert_int_equal(errors.count, 0);

	snprintf(path, sizeof(path), "%s/world", d->path);
	load_hook(NAME, path, &rc, &errors);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(errors.count, 1);
	assert_error(&errors, NAME, 5, "writable by group or others (mode 0777)");
	sg_config_errors_free(&errors);

	snprintf(path, sizeof(path), "%s/group", d->path);
	load_hook(NAME, path, &rc, &errors);
	assert_int_equal(rc, -EINVAL);
	assert_error(&errors, NAME, 5, "writable by group or others (mode 0775)");
	sg_config_errors_free(&errors);

	snprintf(path, sizeof(path), "%s/noexec", d->path);
	load_hook(NAME, path, &rc, &errors);
	assert_int_equal(rc, -EINVAL);
	assert_error(&errors, NAME, 5, "not executable (mode 0644)");
	sg_config_errors_free(&errors);

	snprintf(path, sizeof(path), "%s/nobody", d->path);
	load_hook(NAME, path, &rc, &errors);
	assert_int_equal(rc, -EINVAL);
	assert_error(&errors, NAME, 5, "owned by uid 65534, expected root");
	sg_config_errors_free(&errors);

	snprintf(path, sizeof(path), "%s/missing", d->path);
	load_hook(NAME, path, &rc, &errors);
	assert_int_equal(rc, -EINVAL);
	assert_error(&errors, NAME, 5, "missing: No such file or directory");
	sg_config_errors_free(&errors);

	snprintf(path, sizeof(path), "%s/subdir", d->path);
	load_hook(NAME, path, &rc, &errors);
	assert_int_equal(rc, -EINVAL);
	assert_error(&errors, NAME, 5, "not a regular file");
	sg_config_errors_free(&errors);
}

/* heartbeat = PATH is checked like a hook file; heartbeat_interval is at least 1s. */
static void test_heartbeat_keys(void **state)
{
	struct hook_dir *d = *state;
	struct sg_config_errors errors;
	struct sg_config cfg;
	char text[512];
	char *printed;

	ok_and_world_hooks(d);
	snprintf(text, sizeof(text), "[guardian]\nheartbeat = %s/ok\nheartbeat_interval = 5s\n", d->path);
	assert_loads(text, &cfg);
	assert_int_equal(cfg.heartbeat_interval_usec, 5 * USEC_PER_SEC);
	assert_true(strncmp(cfg.heartbeat, d->path, strlen(d->path)) == 0);
	printed = print_to_string(&cfg);
	assert_non_null(strstr(printed, "/ok every 5s\n"));
	free(printed);
	sg_config_free(&cfg);

	snprintf(text, sizeof(text), "[guardian]\nheartbeat =\n");
	assert_loads(text, &cfg);
	assert_string_equal(cfg.heartbeat, "");
	printed = print_to_string(&cfg);
	assert_non_null(strstr(printed, "  heartbeat (off)\n"));
	free(printed);
	sg_config_free(&cfg);

	snprintf(text, sizeof(text), "[guardian]\n\nheartbeat = %s/world\n", d->path);
	assert_int_equal(sg_config_load_string(NAME, text, &cfg, &errors), -EINVAL);
	assert_error(&errors, NAME, 3, "heartbeat = ");
	assert_error(&errors, NAME, 3, "writable by group or others (mode 0777)");
	sg_config_errors_free(&errors);
	sg_config_free(&cfg);

	assert_one_error("[guardian]\nheartbeat_interval = 500ms\n", 2, "bad heartbeat_interval \"500ms\"");
	assert_one_error("[guardian]\nmetrics_interval = 100ms\n", 2, "bad metrics_interval \"100ms\"");
	snprintf(text, sizeof(text), "[guardian]\nheartbeat = %s/missing\n", d->path);
	assert_one_error(text, 2, "missing: No such file or directory");
}

/* A relative hook path is taken from the config file's directory, not the cwd. */
static void test_hook_relative(void **state)
{
	struct hook_dir *d = *state;
	struct sg_config_errors errors;
	struct sg_config cfg;
	int rc;
	char ini[128], want[PATH_MAX], text[256], cwd[PATH_MAX];
	FILE *f;

	ok_and_world_hooks(d);
	snprintf(ini, sizeof(ini), "%s/sg.ini", d->path);
	f = fopen(ini, "w");
	assert_non_null(f);
	fputs(RULE_OK "step = hook h\nhook.h = ok\n", f);
	fclose(f);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/"), 0);
	rc = sg_config_load(ini, &cfg, &errors);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_non_null(realpath(d->path, want));
	strcat(want, "/ok");
	assert_string_equal(cfg.rules[0].hooks[0].path, want);
	sg_config_free(&cfg);

	/* the same for an in-memory text named by a path */
	snprintf(text, sizeof(text), RULE_OK "step = hook h\nhook.h = world\n");
	assert_int_equal(sg_config_load_string(ini, text, &cfg, &errors), -EINVAL);
	assert_error(&errors, ini, 5, "/world: writable by group or others");
	sg_config_errors_free(&errors);
	sg_config_free(&cfg);
}

static void test_on_exit_values(void **state)
{
	struct sg_config cfg;
	struct sg_config_errors errors = { 0 };

	(void)state;
	assert_int_equal(sg_config_load_string("x.ini", "[guardian]\non_exit = keep\n", &cfg, &errors), 0);
	assert_false(cfg.revert_on_exit);
	sg_config_free(&cfg);
	assert_int_equal(sg_config_load_string("x.ini", "[guardian]\non_exit = maybe\n", &cfg, &errors), -EINVAL);
	assert_int_equal(errors.count, 1);
	assert_non_null(strstr(errors.lines[0], "x.ini:2: "));
	assert_non_null(strstr(errors.lines[0], "expected revert or keep"));
	sg_config_errors_free(&errors);
	sg_config_free(&cfg);
}

static void test_recorder_values(void **state)
{
	struct sg_config cfg;
	struct sg_config_errors errors = { 0 };

	(void)state;
	assert_int_equal(sg_config_load_string("x.ini", "[guardian]\nrecorder = on-trigger\nrecorder_hz = 99\n"
							"recorder_window = 300ms\n", &cfg, &errors), 0);
	assert_int_equal(cfg.recorder, SG_RECORDER_ON_TRIGGER);
	assert_int_equal(cfg.recorder_hz, 99);
	assert_int_equal(cfg.recorder_window_usec, 300 * USEC_PER_MSEC);
	sg_config_free(&cfg);
	assert_int_equal(sg_config_load_string("x.ini", "[guardian]\nrecorder = off\n", &cfg, &errors), 0);
	assert_int_equal(cfg.recorder, SG_RECORDER_OFF);
	sg_config_free(&cfg);
	assert_int_equal(sg_config_load_string("x.ini", "[guardian]\nrecorder = sometimes\nrecorder_hz = 48\n"
							"recorder_window = 61m\n[job j]\ncgroup = /j\nrecorder_hz = 100\n",
						&cfg, &errors), -EINVAL);
	assert_int_equal(errors.count, 4);
	assert_non_null(strstr(errors.lines[0], "x.ini:2: bad recorder \"sometimes\": expected on, off or on-trigger"));
	assert_non_null(strstr(errors.lines[1], "x.ini:3: bad recorder_hz \"48\": expected a whole number from 49 to 99"));
	assert_non_null(strstr(errors.lines[2], "x.ini:4: bad recorder_window \"61m\": at most 1h"));
	assert_non_null(strstr(errors.lines[3], "x.ini:7: unknown key \"recorder_hz\" in [job j]"));
	sg_config_errors_free(&errors);
	sg_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_on_exit_values),
		cmocka_unit_test(test_recorder_values),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_rule_defaults),
		cmocka_unit_test(test_full_fixture),
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_many_errors_one_pass),
		cmocka_unit_test(test_each_error),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_indentation_ignored),
		cmocka_unit_test(test_crlf_bom_and_last_line),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test_setup_teardown(test_hook_files, hooks_setup, hooks_teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_keys, hooks_setup, hooks_teardown),
		cmocka_unit_test_setup_teardown(test_hook_relative, hooks_setup, hooks_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
