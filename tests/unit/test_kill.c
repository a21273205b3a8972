/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kill step on real processes: cgroup.kill on the unified mount, and
 * SIGTERM then SIGKILL after kill_grace for targets listed by pid or by a
 * cgroup without cgroup.kill (a v1 cgroup here). Every process and cgroup a
 * test makes is removed in its teardown, even when the test fails. */
#include "fixture.h"
#include "proctree.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action.h"
#include "units.h"

extern const struct sg_action sg_action_kill;

#define UNIFIED "/sys/fs/cgroup/unified"
#define V1_FREEZER "/sys/fs/cgroup/freezer"

/* How workers started from now on take SIGTERM (each takes its copy when it
 * is forked); setup resets it. */
static struct {
	bool ignore_term;  /* they ignore it */
	bool fork_on_term; /* ... or fork one more worker on it */
} workers;

static struct pt_shared *forker_sh;
static int forker_slot;

/* SIGTERM handler of a fork_on_term worker: forks, once, a worker that
 * ignores SIGTERM and counts in the next slot. */
static void fork_on_term(int sig)
{
	static bool forked;

	(void)sig;
	if (forked)
		return;
	forked = true;
	if (fork() == 0) {
		signal(SIGTERM, SIG_IGN);
		pt_count_loop(forker_sh, forker_slot + 1);
	}
}

static void __attribute__((noreturn)) worker_loop(struct pt_shared *sh, int slot)
{
	if (workers.fork_on_term) {
		forker_sh = sh;
		forker_slot = slot;
		signal(SIGTERM, fork_on_term);
	} else {
		signal(SIGTERM, workers.ignore_term ? SIG_IGN : SIG_DFL);
	}
	pt_count_loop(sh, slot);
}

static int setup(void **state)
{
	workers.ignore_term = workers.fork_on_term = false;
	if (pt_setup(state) != 0)
		return -1;
	((struct proctree *)*state)->worker = worker_loop;
	return 0;
}

/* The journal callback: records what it was given and whether the
 * processes listed in alive[] were all alive then, and returns result. */
struct journal {
	int calls;
	int result;
	pid_t alive[PT_SLOTS];
	size_t nalive;
	bool all_alive;
	struct sg_undo undo;
};

static int journal_cb(const struct sg_undo *undo, void *userdata)
{
	struct journal *j = userdata;

	j->calls++;
	j->undo = *undo;
	j->all_alive = true;
	for (size_t i = 0; i < j->nalive; i++)
		j->all_alive = j->all_alive && pt_proc_state(j->alive[i]) != 0 &&
			       pt_proc_state(j->alive[i]) != 'Z';
	return j->result;
}

static struct sg_undo *new_undo(void)
{
	return pt_new_undo(SG_STEP_KILL, "kill", 3);
}

static volatile sig_atomic_t got_sigterm;

static void on_sigterm(int sig)
{
	(void)sig;
	got_sigterm++;
}

/* Reaps pid within timeout_ms and forgets it; returns its wait status or -1. */
static int reap(struct proctree *fx, pid_t pid, unsigned timeout_ms)
{
	int status;

	for (unsigned t = 0; t <= timeout_ms; t += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			for (size_t i = 0; i < fx->nkids; i++)
				if (fx->kids[i] == pid)
					fx->kids[i] = 0;
			for (int i = 0; i < PT_SLOTS; i++)
				if (fx->sh->pid[i] == pid)
					fx->sh->pid[i] = 0;
			return status;
		}
		pt_msleep(10);
	}
	return -1;
}

static struct sg_config *new_config(uint64_t grace)
{
	struct sg_config *cfg = calloc(1, sizeof(*cfg));

	assert_non_null(cfg);
	sg_config_defaults(cfg);
	cfg->kill_grace_usec = grace;
	return cfg;
}

static uint64_t elapsed_ms(uint64_t start)
{
	return (sg_now_usec() - start) / 1000;
}

/* "sigterm 300ms A B" and the like */
static void expect_data(const struct sg_undo *undo, const char *head, const pid_t *pids, size_t n)
{
	char want[256];
	size_t len = (size_t)snprintf(want, sizeof(want), "%s", head);

	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, " %d", (int)pids[i]);
	assert_string_equal(undo->data, want);
}

static void test_kill_cgroup_kill(void **state)
{
	struct proctree *fx = *state;
	char path[256], buf[128];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(5 * USEC_PER_SEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(pt_make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	pt_spawn(fx, pt_cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 2);
	for (int i = 0; i < 3; i++)
		j.alive[j.nalive++] = fx->sh->pid[i];
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));

	uint64_t start = sg_now_usec();
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), 0);
	assert_true(elapsed_ms(start) < 1000);
	assert_int_equal(j.calls, 1);
	assert_true(j.all_alive); /* journaled before killing */
	assert_string_equal(undo->data, "cgroup.kill 3");
	assert_string_equal(undo->path, fx->cg2);
	assert_true(pt_events_has(fx->cg2, "populated 0"));
	for (size_t i = 0; i < j.nalive; i++) {
		int status = reap(fx, j.alive[i], 2000);
		assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		assert_int_equal(kill(j.alive[i], 0), -1);
		assert_int_equal(errno, ESRCH);
	}
	sg_action_kill.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "kill job backup (cgroup.kill, 3 processes)");
	assert_int_equal(sg_action_kill.revert(&env, undo), 0);
	free(t);
	free(undo);
	sg_config_free(cfg);
	free(cfg);
}

static void test_kill_frozen_cgroup2(void **state)
{
	struct proctree *fx = *state;
	char path[256];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(5 * USEC_PER_SEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(pt_make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	pt_spawn(fx, pt_cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 1);
	pt_cg_file(fx->cg2, "cgroup.freeze", path, sizeof(path));
	assert_int_equal(pt_write_file(path, "1"), 0);
	for (int i = 0; i < 100 && !pt_events_has(fx->cg2, "frozen 1"); i++)
		pt_msleep(10);
	assert_true(pt_events_has(fx->cg2, "frozen 1"));
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));

	uint64_t start = sg_now_usec();
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), 0);
	assert_true(elapsed_ms(start) < 1000);
	assert_string_equal(undo->data, "cgroup.kill 2");
	assert_true(pt_events_has(fx->cg2, "populated 0"));
	free(t);
	free(undo);
	sg_config_free(cfg);
	free(cfg);
}

static void test_kill_sigterm_ignored(void **state)
{
	struct proctree *fx = *state;
	char buf[128];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(300 * USEC_PER_MSEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	workers.ignore_term = true;
	pid_t a = pt_spawn(fx, NULL, 0, 0);
	t->pids[t->npids++] = a;
	j.alive[j.nalive++] = a;

	uint64_t start = sg_now_usec();
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), 0);
	uint64_t ms = elapsed_ms(start);
	assert_true(ms >= 300 && ms < 1000);
	assert_true(j.all_alive);
	expect_data(undo, "sigterm 300ms", &a, 1);
	assert_string_equal(undo->path, "");
	int status = reap(fx, a, 1000);
	assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	sg_action_kill.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "kill job backup (SIGTERM, SIGKILL after 300ms)");
	free(t);
	free(undo);
	sg_config_free(cfg);
	free(cfg);
}

static void test_kill_sigterm_obeyed(void **state)
{
	struct proctree *fx = *state;
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(2 * USEC_PER_SEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	pid_t a = pt_spawn(fx, NULL, 0, 0);
	/* one stopped by SIGSTOP (a freeze without cgroup) takes SIGTERM too */
	pid_t b = pt_spawn(fx, NULL, 1, 0);
	assert_int_equal(kill(b, SIGSTOP), 0);
	assert_true(pt_wait_state(b, 'T', 1000));
	t->pids[t->npids++] = a;
	t->pids[t->npids++] = b;

	uint64_t start = sg_now_usec();
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), 0);
	assert_true(elapsed_ms(start) < 500); /* well before the 2s grace */
	pid_t both[] = { a, b };
	expect_data(undo, "sigterm 2s", both, 2);
	for (int i = 0; i < 2; i++) {
		int status = reap(fx, both[i], 1000);
		assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	}
	free(t);
	free(undo);
	sg_config_free(cfg);
	free(cfg);
}

static void test_kill_never_init_or_self(void **state)
{
	struct proctree *fx = *state;
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(300 * USEC_PER_MSEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };
	pid_t kthread = pt_find_kthread();
	struct sigaction sa = { .sa_handler = on_sigterm }, old;

	assert_int_equal(sigaction(SIGTERM, &sa, &old), 0);
	got_sigterm = 0;
	pid_t a = pt_spawn(fx, NULL, 0, 0);
	t->pids[t->npids++] = 1;
	t->pids[t->npids++] = getpid();
	if (kthread)
		t->pids[t->npids++] = kthread;
	t->pids[t->npids++] = a;

	int err = sg_action_kill.apply(&env, t, undo, journal_cb, &j);
	pt_msleep(50);
	sigaction(SIGTERM, &old, NULL);
	assert_int_equal(err, 0);
	assert_int_equal(got_sigterm, 0);
	expect_data(undo, "sigterm 300ms", &a, 1);
	int status = reap(fx, a, 1000);
	assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

	/* only those: nothing to kill, and that is done */
	t->npids = kthread ? 3 : 2;
	j.calls = 0;
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), 0);
	assert_int_equal(j.calls, 1);
	assert_string_equal(undo->data, "sigterm 300ms");
	free(t);
	free(undo);
	sg_config_free(cfg);
	free(cfg);
}

/* Without cgroup.kill (a v1 cgroup here), the processes come from
 * cgroup.procs, re-read while waiting: a child forked after SIGTERM is
 * killed too. */
static void test_kill_v1_cgroup_signals(void **state)
{
	struct proctree *fx = *state;
	char path[256], buf[256];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(300 * USEC_PER_MSEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(pt_make_cgroup(fx->v1, sizeof(fx->v1), V1_FREEZER), 0);
	pt_spawn(fx, pt_cg_file(fx->v1, "cgroup.procs", path, sizeof(path)), 0, 1);
	workers.fork_on_term = true;
	workers.ignore_term = true;
	pt_spawn(fx, pt_cg_file(fx->v1, "cgroup.procs", path, sizeof(path)), 2, 0);
	sg_strlcpy(t->freezer, fx->v1, sizeof(t->freezer));

	uint64_t start = sg_now_usec();
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), 0);
	uint64_t ms = elapsed_ms(start);
	assert_true(ms >= 300 && ms < 1000);
	assert_string_equal(undo->path, fx->v1);
	assert_memory_equal(undo->data, "sigterm 300ms ", 14);
	for (int i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), " %d", (int)fx->sh->pid[i]);
		assert_non_null(strstr(undo->data, buf));
	}
	/* the worker forked on SIGTERM, after the journal: not listed, killed */
	assert_true(fx->sh->pid[3] > 1);
	snprintf(buf, sizeof(buf), " %d", (int)fx->sh->pid[3]);
	assert_null(strstr(undo->data, buf));
	pt_cg_file(fx->v1, "cgroup.procs", path, sizeof(path));
	assert_string_equal(pt_read_text(path, buf, sizeof(buf)), "");
	for (int i = 0; i < 4; i++)
		assert_true(fx->sh->pid[i] == 0 || reap(fx, fx->sh->pid[i], 1000) != -1);
	free(t);
	free(undo);
	sg_config_free(cfg);
	free(cfg);
}

/* A v1-frozen task cannot take SIGTERM and dies of SIGKILL only when
 * thawed: SIGKILL at once, then thaw. */
static void test_kill_v1_frozen(void **state)
{
	struct proctree *fx = *state;
	char path[256], buf[128];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(5 * USEC_PER_SEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(pt_make_cgroup(fx->v1, sizeof(fx->v1), V1_FREEZER), 0);
	pt_spawn(fx, pt_cg_file(fx->v1, "tasks", path, sizeof(path)), 0, 1);
	pt_cg_file(fx->v1, "freezer.state", path, sizeof(path));
	assert_int_equal(pt_write_file(path, "FROZEN"), 0);
	for (int i = 0; i < 100 && strcmp(pt_read_text(path, buf, sizeof(buf)), "FROZEN\n"); i++)
		pt_msleep(10);
	assert_string_equal(pt_read_text(path, buf, sizeof(buf)), "FROZEN\n");
	sg_strlcpy(t->freezer, fx->v1, sizeof(t->freezer));

	uint64_t start = sg_now_usec();
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), 0);
	assert_true(elapsed_ms(start) < 1000);
	assert_memory_equal(undo->data, "sigkill ", 8);
	assert_string_equal(pt_read_text(path, buf, sizeof(buf)), "THAWED\n");
	for (int i = 0; i < 2; i++) {
		int status = reap(fx, fx->sh->pid[i], 1000);
		assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	sg_action_kill.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "kill job backup (SIGKILL at once: the job was frozen)");
	free(t);
	free(undo);
	sg_config_free(cfg);
	free(cfg);
}

static void test_kill_journal_failure(void **state)
{
	struct proctree *fx = *state;
	char path[256];
	struct journal j = { .result = -EIO };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(300 * USEC_PER_MSEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(pt_make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	pt_spawn(fx, pt_cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 1);
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), -EIO);
	assert_int_equal(j.calls, 1);
	assert_true(pt_events_has(fx->cg2, "populated 1"));
	assert_int_equal(pt_advancing(fx, 0, 1, 200), 2);

	pid_t c = pt_spawn(fx, NULL, 2, 0);
	t->cgroup2[0] = '\0';
	t->pids[t->npids++] = c;
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), -EIO);
	assert_int_equal(j.calls, 2);
	assert_int_equal(pt_advancing(fx, 2, 2, 200), 1);
	free(t);
	free(undo);
	sg_config_free(cfg);
	free(cfg);
}

/* cgroup.kill cannot leave the guardian out: a cgroup holding it is
 * refused. Run in a child that joins the cgroup, so a kill that went
 * through kills the child only. */
static void test_kill_refuses_own_cgroup(void **state)
{
	struct proctree *fx = *state;
	char path[256];
	int status;

	assert_int_equal(pt_make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	fx->sh->result = 1;
	pid_t pid = pt_fork_into(fx, pt_cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)));
	if (pid == 0) {
		struct journal j = { 0 };
		struct sg_target *t = pt_new_target();
		struct sg_undo *undo = new_undo();
		struct sg_action_env env = { .reason = "", .capture = "" };

		sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
		fx->sh->result = sg_action_kill.apply(&env, t, undo, journal_cb, &j);
		fx->sh->done = j.calls + 1;
		_exit(0);
	}
	status = reap(fx, pid, 2000);
	assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(fx->sh->result, -EPERM);
	assert_int_equal(fx->sh->done, 1); /* journal not called */
}

static void test_kill_missing_and_revert(void **state)
{
	char buf[128];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	struct sg_action_env env = { .reason = "", .capture = "" };

	(void)state;
	snprintf(t->cgroup2, sizeof(t->cgroup2), UNIFIED "/stallguard-test-%d-none", (int)getpid());
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), -ENOENT);
	assert_int_equal(j.calls, 0);
	/* nothing to undo, whatever the entry says */
	sg_strlcpy(undo->data, "garbage", sizeof(undo->data));
	assert_int_equal(sg_action_kill.revert(&env, undo), 0);
	sg_action_kill.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "kill job backup");
	sg_strlcpy(undo->data, "cgroup.kill 1", sizeof(undo->data));
	sg_action_kill.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "kill job backup (cgroup.kill, 1 process)");
	free(t);
	free(undo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_cgroup_kill, setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_kill_frozen_cgroup2, setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_kill_sigterm_ignored, setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_kill_sigterm_obeyed, setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_kill_never_init_or_self, setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_kill_v1_cgroup_signals, setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_kill_v1_frozen, setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_kill_journal_failure, setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_kill_refuses_own_cgroup, setup, pt_teardown),
		cmocka_unit_test(test_kill_missing_and_revert),
	};

	/* workers whose parent dies come to this process, which reaps them */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
