/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hook action with real processes (the scripts in tests/fixtures/hooks):
 * the exact environment and arguments, the child's descriptors, process group
 * and signals, the timeout killing the whole process group, failures, a
 * flood of output, the journal coming first, revert after a crash, and no
 * zombie left behind by any of it. Runs as root: hook files must be owned by
 * root and the configuration refuses others. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action.h"
#include "config.h"
#include "log.h"
#include "units.h"

extern const struct sg_action sg_action_hook;

#define SENTINEL_FD 200 /* left open without O_CLOEXEC: the hook must not inherit it */

struct ctx {
	struct sg_config cfg;
	char rule[SG_NAME_MAX];  /* unique per process, names the hook's files under /tmp */
	struct sg_undo *undo;
	struct sg_undo *journalled; /* what the journal was handed */
	int journal_calls;
	int journal_rc;
	int saved_stderr;
};

static void tmp_path(const struct ctx *c, const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/sg-hook-test-%s.%s", c->rule, suffix);
}

static void remove_tmp_files(const struct ctx *c)
{
	static const char *const suffixes[] = { "env", "args", "proc", "child", "copy" };
	char path[256];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		tmp_path(c, suffixes[i], path, sizeof(path));
		unlink(path);
	}
}

/* A configuration with one host-level rule c->rule whose only step is
 * `hook NAME`, NAME being the fixture script's. */
static void load(struct ctx *c, const char *script, const char *timeout)
{
	struct sg_config_errors errors;
	char text[1024];
	int rc;

	if (geteuid() != 0)
		fail_msg("test_hook must run as root: hook files must be owned by root, and the "
			 "configuration refuses them otherwise");
	snprintf(text, sizeof(text),
		 "[guardian]\nhook_timeout = %s\n"
		 "[rule %s]\nwhen = load.1 > 4\nstep = hook %s\nhook.%s = %s/hooks/%s\n",
		 timeout, c->rule, script, script, FIXTURES, script);
	rc = sg_config_load_string("hook-test.ini", text, &c->cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		print_message("  config: %s\n", errors.lines[i]);
	assert_int_equal(rc, 0);
	sg_config_errors_free(&errors);
	assert_int_equal(c->cfg.nrules, 1);
	assert_int_equal(c->cfg.rules[0].steps[0].kind, SG_STEP_HOOK);
}

static int setup(void **state)
{
	static unsigned seq;
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	snprintf(c->rule, sizeof(c->rule), "t%ld-%u", (long)getpid(), seq++);
	c->undo = calloc(1, sizeof(*c->undo));
	c->journalled = calloc(1, sizeof(*c->journalled));
	assert_non_null(c->undo);
	assert_non_null(c->journalled);
	c->saved_stderr = -1;
	remove_tmp_files(c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	remove_tmp_files(c);
	sg_config_free(&c->cfg);
	free(c->undo);
	free(c->journalled);
	free(c);
	return 0;
}

static int journal(const struct sg_undo *undo, void *userdata)
{
	struct ctx *c = userdata;

	c->journal_calls++;
	memcpy(c->journalled, undo, sizeof(*undo));
	return c->journal_rc;
}

/* stderr (where sg_log writes outside systemd) goes to a memfd until log_end. */
static void log_begin(struct ctx *c)
{
	int fd = memfd_create("sg-hook-log", MFD_CLOEXEC);

	assert_true(fd >= 0);
	fflush(stderr);
	c->saved_stderr = dup(STDERR_FILENO);
	assert_true(c->saved_stderr >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

static char *log_end(struct ctx *c)
{
	off_t len;
	char *buf;

	fflush(stderr);
	len = lseek(STDERR_FILENO, 0, SEEK_END);
	assert_true(len >= 0);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(pread(STDERR_FILENO, buf, (size_t)len, 0), len);
	assert_int_equal(dup2(c->saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(c->saved_stderr);
	c->saved_stderr = -1;
	return buf;
}

static void assert_log_has(const char *log, const char *text)
{
	if (!strstr(log, text))
		fail_msg("log lacks \"%s\"; it was:\n%s", text, log);
}

/* The hook was reaped and left no other child of ours behind. */
static void assert_no_children(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static bool tmp_exists(const struct ctx *c, const char *suffix)
{
	char path[256];

	tmp_path(c, suffix, path, sizeof(path));
	return access(path, F_OK) == 0;
}

static char *tmp_read(const struct ctx *c, const char *suffix)
{
	char path[256];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	tmp_path(c, suffix, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		fail_msg("the hook did not write %s", path);
	assert_true(getdelim(&buf, &len, '\0', f) >= 0);
	fclose(f);
	return buf;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text's lines sorted, each followed by '\n', in a malloc'd string. */
static char *sorted_lines(const char *text)
{
	char *copy = strdup(text), *lines[64], *out, *save = NULL;
	size_t n = 0;

	assert_non_null(copy);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		assert_true(n < 64);
		lines[n++] = l;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_lines);
	out = calloc(1, strlen(text) + n + 1);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	free(copy);
	return out;
}

/* The value after "key " at the start of a line of text, copied into buf. */
static const char *field(const char *text, const char *key, char *buf, size_t len)
{
	char prefix[64];
	const char *p;
	size_t n;

	snprintf(prefix, sizeof(prefix), "\n%s ", key);
	if (strncmp(text, prefix + 1, strlen(prefix + 1)) == 0)
		p = text + strlen(prefix + 1);
	else if ((p = strstr(text, prefix)))
		p += strlen(prefix);
	else
		fail_msg("no \"%s\" in:\n%s", key, text);
	n = strcspn(p, "\n");
	assert_true(n < len);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static void env_for_rule(const struct ctx *c, struct sg_action_env *env, unsigned level,
			 const char *reason, const char *capture)
{
	*env = (struct sg_action_env){
		.cfg = &c->cfg,
		.rule = &c->cfg.rules[0],
		.step = &c->cfg.rules[0].steps[0],
		.level = level,
		.reason = reason,
		.capture = capture,
	};
}

static int apply(struct ctx *c, const struct sg_action_env *env, const char *job)
{
	struct sg_target *target = calloc(1, sizeof(*target));
	int rc;

	assert_non_null(target);
	snprintf(target->job, sizeof(target->job), "%s", job);
	c->undo->kind = SG_STEP_HOOK;
	snprintf(c->undo->rule, sizeof(c->undo->rule), "%s", env->rule->name);
	snprintf(c->undo->job, sizeof(c->undo->job), "%s", job);
	snprintf(c->undo->step, sizeof(c->undo->step), "%s", env->step->text);
	c->undo->level = env->level;
	rc = sg_action_hook.apply(env, target, c->undo, journal, c);
	free(target);
	return rc;
}

static void test_kind_and_describe(void **state)
{
	struct ctx *c = *state;
	char buf[128], small[12];

	assert_int_equal(sg_action_hook.kind, SG_STEP_HOOK);
	snprintf(c->undo->path, sizeof(c->undo->path), "/etc/stallguard/hooks/lb-drain");
	snprintf(c->undo->data, sizeof(c->undo->data), "drain");
	sg_action_hook.describe(c->undo, buf, sizeof(buf));
	assert_string_equal(buf, "hook drain (/etc/stallguard/hooks/lb-drain)");
	sg_action_hook.describe(c->undo, small, sizeof(small));
	assert_string_equal(small, "hook drain ");
}

/* Exactly SPEC's environment, `PATH apply`, stdin /dev/null, stdout and
 * stderr on one pipe, no other inherited descriptor, its own process group,
 * cwd /; the journal saw the path and name first. */
static void test_apply_environment(void **state)
{
	struct ctx *c = *state;
	struct sg_action_env env;
	char expected[2048], *got, *want, *text, *log, buf[256], buf2[256], path[512];
	int sentinel = open("/dev/zero", O_RDONLY);
	int rc;

	load(c, "env-dump", "10s");
	assert_true(sentinel >= 0);
	assert_int_equal(dup2(sentinel, SENTINEL_FD), SENTINEL_FD); /* no O_CLOEXEC */
	close(sentinel);
	setenv("SG_HOOK_TEST_LEAK", "must not reach the hook", 1);

	env_for_rule(c, &env, 2, "\npsi.io.full.avg10=34.2>=20 for 5.0s\r\ndisk.vda.util=95>90\n",
		     "/var/lib/stallguard/captures/20250101T000000Z-r");
	log_begin(c);
	rc = apply(c, &env, "backup");
	log = log_end(c);

	unsetenv("SG_HOOK_TEST_LEAK");
	close(SENTINEL_FD);
	assert_int_equal(rc, 0);
	assert_no_children();

	snprintf(path, sizeof(path), "%s/hooks/env-dump", FIXTURES);
	assert_int_equal(c->journal_calls, 1);
	assert_string_equal(c->journalled->path, path);
	assert_string_equal(c->journalled->data, "env-dump");
	assert_string_equal(c->undo->path, path);
	assert_string_equal(c->undo->data, "env-dump");

	snprintf(expected, sizeof(expected),
		 "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
		 "STALLGUARD_CAPTURE=/var/lib/stallguard/captures/20250101T000000Z-r\n"
		 "STALLGUARD_DRY_RUN=0\n"
		 "STALLGUARD_JOB=backup\n"
		 "STALLGUARD_LEVEL=2\n"
		 "STALLGUARD_REASON=psi.io.full.avg10=34.2>=20 for 5.0s disk.vda.util=95>90\n"
		 "STALLGUARD_RULE=%s\n"
		 "STALLGUARD_STEP=hook env-dump\n",
		 c->rule);
	text = tmp_read(c, "env");
	got = sorted_lines(text);
	want = sorted_lines(expected);
	assert_string_equal(got, want);
	free(text);
	free(got);
	free(want);

	text = tmp_read(c, "args");
	assert_string_equal(text, "1\napply\n");
	free(text);

	text = tmp_read(c, "proc");
	assert_string_equal(field(text, "fd0", buf, sizeof(buf)), "/dev/null");
	assert_memory_equal(field(text, "fd1", buf, sizeof(buf)), "pipe:[", 6);
	assert_string_equal(field(text, "fd2", buf2, sizeof(buf2)), buf);
	assert_string_equal(field(text, "fd200", buf, sizeof(buf)), "closed");
	assert_string_equal(field(text, "pgid", buf, sizeof(buf)),
			    field(text, "pid", buf2, sizeof(buf2)));
	assert_string_equal(field(text, "cwd", buf, sizeof(buf)), "/");
	free(text);

	assert_log_has(log, "hook env-dump apply: exit 0 in ");
	assert_log_has(log, "s: dumped apply\n");
	free(log);
}

/* What the guardian blocks (its signalfd signals) or ignores, the hook does not. */
static void test_signal_state(void **state)
{
	struct ctx *c = *state;
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_act;
	struct sg_action_env env;
	sigset_t block, old_mask;
	char *log;
	int rc;

	load(c, "sigstate", "10s");
	env_for_rule(c, &env, 1, "load.1=9>4", "");
	assert_int_equal(sigaction(SIGUSR1, &ignore, &old_act), 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
	log_begin(c);
	rc = apply(c, &env, "");
	log = log_end(c);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGUSR1, &old_act, NULL);
	assert_int_equal(rc, 0);
	assert_no_children();
	/* Tabs in hook output are logged as spaces. */
	assert_log_has(log, "hook sigstate apply: exit 0 in ");
	assert_log_has(log, "s: SigBlk: 0000000000000000\n");
	assert_log_has(log, "hook sigstate apply: SigIgn: 0000000000000000\n");
	free(log);
}

/* A hook that sleeps with a background child is killed at the timeout with
 * its whole process group, in well under a second. */
static void test_timeout_kills_group(void **state)
{
	struct ctx *c = *state;
	struct sg_action_env env;
	uint64_t start, elapsed;
	char *text, *log;
	pid_t child;
	int rc, reaped = 0, status;

	load(c, "hang", "300ms");
	/* Orphans of the hook become our children, so their fate can be read. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	env_for_rule(c, &env, 1, "load.1=9>4", "");
	log_begin(c);
	start = sg_now_usec();
	rc = apply(c, &env, "");
	elapsed = sg_now_usec() - start;
	log = log_end(c);

	text = tmp_read(c, "child");
	child = (pid_t)atol(text);
	free(text);
	assert_true(child > 0);
	/* Reap every orphan: each must have died of SIGKILL, the background child among them. */
	for (uint64_t deadline = sg_now_usec() + 2 * USEC_PER_SEC;;) {
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid < 0) {
			assert_int_equal(errno, ECHILD);
			break;
		}
		if (pid == 0) {
			if (sg_now_usec() > deadline) {
				kill(child, SIGKILL);
				fail_msg("the hook's background child %d survived its timeout",
					 (int)child);
			}
			usleep(1000);
			continue;
		}
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
		if (pid == child)
			reaped++;
	}
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
	assert_int_equal(reaped, 1);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_true(elapsed >= 290 * USEC_PER_MSEC);
	assert_true(elapsed < USEC_PER_SEC);
	assert_log_has(log, "hook hang apply: killed after 300ms timeout\n");
	assert_no_children();
	free(log);
}

/* exit 3 is a failed step; both output lines are logged, the first with the status. */
static void test_failing_hook(void **state)
{
	struct ctx *c = *state;
	struct sg_action_env env;
	char *log;
	int rc;

	load(c, "fail", "10s");
	env_for_rule(c, &env, 1, "load.1=9>4", "");
	log_begin(c);
	rc = apply(c, &env, "");
	log = log_end(c);
	assert_int_equal(rc, -EIO);
	assert_no_children();
	assert_log_has(log, "warning: hook fail apply: exit 3 in ");
	assert_log_has(log, "s: cannot reach the load balancer\n");
	assert_log_has(log, "warning: hook fail apply: second line\n");
	free(log);
}

/* A hook killed by a signal fails; SIGTERM ignored by the guardian is not
 * ignored by the hook (otherwise it would exit 0). */
static void test_signalled_hook(void **state)
{
	struct ctx *c = *state;
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_act;
	struct sg_action_env env;
	char *log;
	int rc;

	load(c, "self-kill", "10s");
	env_for_rule(c, &env, 1, "load.1=9>4", "");
	assert_int_equal(sigaction(SIGTERM, &ignore, &old_act), 0);
	log_begin(c);
	rc = apply(c, &env, "");
	log = log_end(c);
	sigaction(SIGTERM, &old_act, NULL);
	assert_int_equal(rc, -EIO);
	assert_no_children();
	assert_log_has(log, "hook self-kill apply: killed by SIGTERM in ");
	assert_log_has(log, "s: about to die\n");
	free(log);
}

/* 1 MiB of output neither blocks the hook nor fills the log: 20 lines kept. */
static void test_output_flood(void **state)
{
	struct ctx *c = *state;
	struct sg_action_env env;
	uint64_t start, elapsed;
	unsigned shown = 0;
	char *log;
	int rc;

	load(c, "flood", "10s");
	env_for_rule(c, &env, 1, "load.1=9>4", "");
	log_begin(c);
	start = sg_now_usec();
	rc = apply(c, &env, "");
	elapsed = sg_now_usec() - start;
	log = log_end(c);
	assert_int_equal(rc, 0);
	assert_no_children();
	assert_true(elapsed < 5 * USEC_PER_SEC);
	assert_log_has(log, "hook flood apply: exit 0 in ");
	for (const char *p = log; (p = strstr(p, "0123456789abcdef\n")); p++)
		shown++;
	assert_int_equal(shown, 20);
	/* 1048576 bytes less 20 lines of 17 */
	assert_log_has(log, "hook flood apply: 1048236 more bytes of output not shown\n");
	free(log);
}

/* A hook printing without end still meets its timeout. */
static void test_endless_output_timeout(void **state)
{
	struct ctx *c = *state;
	struct sg_action_env env;
	uint64_t start, elapsed;
	char *log;
	int rc;

	load(c, "babble", "300ms");
	env_for_rule(c, &env, 1, "load.1=9>4", "");
	log_begin(c);
	start = sg_now_usec();
	rc = apply(c, &env, "");
	elapsed = sg_now_usec() - start;
	log = log_end(c);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_no_children();
	assert_true(elapsed < USEC_PER_SEC);
	assert_log_has(log, "hook babble apply: killed after 300ms timeout: babble\n");
	assert_log_has(log, " more bytes of output not shown\n");
	free(log);
}

/* The journal comes first: when it fails the hook does not run. */
static void test_journal_failure(void **state)
{
	struct ctx *c = *state;
	struct sg_action_env env;
	int rc;

	load(c, "env-dump", "10s");
	env_for_rule(c, &env, 1, "load.1=9>4", "");
	c->journal_rc = -ENOSPC;
	rc = apply(c, &env, "");
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(c->journal_calls, 1);
	assert_false(tmp_exists(c, "env"));
	assert_false(tmp_exists(c, "args"));
	assert_no_children();
}

static void undo_after_crash(struct ctx *c, const char *path)
{
	c->undo->kind = SG_STEP_HOOK;
	snprintf(c->undo->rule, sizeof(c->undo->rule), "%s", c->rule);
	snprintf(c->undo->job, sizeof(c->undo->job), "backup");
	snprintf(c->undo->step, sizeof(c->undo->step), "hook drain");
	c->undo->level = 3;
	snprintf(c->undo->path, sizeof(c->undo->path), "%s", path);
	snprintf(c->undo->data, sizeof(c->undo->data), "drain");
}

/* After a crash the rule is gone: everything comes from undo. */
static void test_revert_from_undo(void **state)
{
	struct ctx *c = *state;
	struct sg_config cfg;
	struct sg_action_env env = {
		.cfg = &cfg, .rule = NULL, .step = NULL, .reason = "", .capture = "",
	};
	char path[512], expected[512], *text, *got, *want, *log;
	int rc;

	sg_config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s/hooks/env-dump", FIXTURES);
	undo_after_crash(c, path);
	log_begin(c);
	rc = sg_action_hook.revert(&env, c->undo);
	log = log_end(c);
	assert_int_equal(rc, 0);
	assert_no_children();

	snprintf(expected, sizeof(expected),
		 "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nSTALLGUARD_CAPTURE=\nSTALLGUARD_DRY_RUN=0\n"
		 "STALLGUARD_JOB=backup\nSTALLGUARD_LEVEL=3\nSTALLGUARD_REASON=\n"
		 "STALLGUARD_RULE=%s\nSTALLGUARD_STEP=hook drain\n", c->rule);
	text = tmp_read(c, "env");
	got = sorted_lines(text);
	want = sorted_lines(expected);
	assert_string_equal(got, want);
	free(text);
	free(got);
	free(want);
	text = tmp_read(c, "args");
	assert_string_equal(text, "1\nrevert\n");
	free(text);
	assert_log_has(log, "hook drain revert: exit 0 in ");
	assert_log_has(log, "s: dumped revert\n");
	free(log);
}

/* A hook file that is gone: -ENOENT, said in the log. */
static void test_revert_missing_file(void **state)
{
	struct ctx *c = *state;
	struct sg_config cfg;
	struct sg_action_env env = { .cfg = &cfg, .reason = "", .capture = "" };
	char *log;
	int rc;

	sg_config_defaults(&cfg);
	undo_after_crash(c, "/nonexistent/stallguard/hooks/drain");
	log_begin(c);
	rc = sg_action_hook.revert(&env, c->undo);
	log = log_end(c);
	assert_int_equal(rc, -ENOENT);
	assert_no_children();
	assert_log_has(log, "hook drain revert: /nonexistent/stallguard/hooks/drain: "
		       "No such file or directory\n");
	free(log);
}

/* A hook file others could have changed since is not run (it would run as root). */
static void test_revert_unsafe_file(void **state)
{
	struct ctx *c = *state;
	struct sg_config cfg;
	struct sg_action_env env = { .cfg = &cfg, .reason = "", .capture = "" };
	char copy[256], *script, *log;
	size_t len;
	int fd, rc;

	sg_config_defaults(&cfg);
	script = fixture_read("hooks/env-dump", &len);
	tmp_path(c, "copy", copy, sizeof(copy));
	fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, script, len), (ssize_t)len);
	close(fd);
	free(script);
	assert_int_equal(chmod(copy, 0775), 0);
	undo_after_crash(c, copy);
	log_begin(c);
	rc = sg_action_hook.revert(&env, c->undo);
	log = log_end(c);
	assert_int_equal(rc, -EPERM);
	assert_false(tmp_exists(c, "env"));
	assert_no_children();
	assert_log_has(log, "not run: must be a regular executable file owned by root and "
		       "writable by root only (uid 0, mode 0775)");
	free(log);

	/* The same file once fixed does run: the refusal was about the mode. */
	assert_int_equal(chmod(copy, 0755), 0);
	log_begin(c);
	rc = sg_action_hook.revert(&env, c->undo);
	free(log_end(c));
	assert_int_equal(rc, 0);
	assert_true(tmp_exists(c, "env"));
	assert_no_children();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kind_and_describe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signalled_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endless_output_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revert_from_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revert_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revert_unsafe_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
