/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The freeze step on real processes: cgroup v2 cgroup.freeze on the unified
 * mount, the v1 freezer, SIGSTOP for a target without a cgroup. Every
 * process and cgroup a test makes is removed in its teardown, even when
 * the test fails. */
#include "fixture.h"
#include "proctree.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action.h"
#include "units.h"

extern const struct sg_action sg_action_freeze;

#define UNIFIED "/sys/fs/cgroup/unified"
#define V1_FREEZER "/sys/fs/cgroup/freezer"

/* The journal callback: records what it was given and what cgroup.freeze
 * held at that moment, and returns result. */
struct journal {
	int calls;
	int result;
	char freeze_file[256]; /* cgroup.freeze to read, "" for none */
	char freeze_seen[16];
	struct sg_undo undo;
};

static int journal_cb(const struct sg_undo *undo, void *userdata)
{
	struct journal *j = userdata;

	j->calls++;
	j->undo = *undo;
	if (j->freeze_file[0])
		pt_read_text(j->freeze_file, j->freeze_seen, sizeof(j->freeze_seen));
	return j->result;
}

static struct sg_undo *new_undo(void)
{
	return pt_new_undo(SG_STEP_FREEZE, "freeze", 2);
}

static const struct sg_action_env env = { .reason = "psi.io.full.avg10 >= 30", .capture = "" };

static void test_freeze_cgroup2(void **state)
{
	struct proctree *fx = *state;
	char path[256], buf[128];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();

	assert_int_equal(pt_make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	pt_spawn(fx, pt_cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 2);
	assert_int_equal(pt_advancing(fx, 0, 2, 100), 3);
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
	/* a v1 freezer and pids as well: cgroup2 comes first */
	sg_strlcpy(t->freezer, "/nonexistent", sizeof(t->freezer));
	t->pids[0] = fx->kids[0];
	t->npids = 1;
	pt_cg_file(fx->cg2, "cgroup.freeze", j.freeze_file, sizeof(j.freeze_file));

	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), 0);
	assert_int_equal(j.calls, 1);
	assert_string_equal(j.freeze_seen, "0\n"); /* journaled before freezing */
	assert_string_equal(j.undo.data, "cgroup2");
	assert_string_equal(j.undo.path, fx->cg2);
	assert_string_equal(undo->data, "cgroup2");
	assert_true(pt_events_has(fx->cg2, "frozen 1"));
	assert_int_equal(pt_advancing(fx, 0, 2, 300), 0);
	sg_action_freeze.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "freeze job backup (cgroup.freeze)");

	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);
	assert_true(pt_events_has(fx->cg2, "frozen 0"));
	assert_string_equal(pt_read_text(j.freeze_file, buf, sizeof(buf)), "0\n");
	assert_int_equal(pt_advancing(fx, 0, 2, 300), 3);
	free(t);
	free(undo);
}

static void test_freeze_v1_freezer(void **state)
{
	struct proctree *fx = *state;
	char path[256], buf[128];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();

	assert_int_equal(pt_make_cgroup(fx->v1, sizeof(fx->v1), V1_FREEZER), 0);
	pt_spawn(fx, pt_cg_file(fx->v1, "tasks", path, sizeof(path)), 0, 2);
	sg_strlcpy(t->freezer, fx->v1, sizeof(t->freezer));
	pt_cg_file(fx->v1, "freezer.state", j.freeze_file, sizeof(j.freeze_file));

	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), 0);
	assert_int_equal(j.calls, 1);
	assert_string_equal(j.freeze_seen, "THAWED\n");
	assert_string_equal(undo->data, "freezer");
	assert_string_equal(undo->path, fx->v1);
	assert_string_equal(pt_read_text(j.freeze_file, buf, sizeof(buf)), "FROZEN\n");
	assert_int_equal(pt_advancing(fx, 0, 2, 300), 0);
	sg_action_freeze.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "freeze job backup (v1 freezer)");

	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);
	assert_string_equal(pt_read_text(j.freeze_file, buf, sizeof(buf)), "THAWED\n");
	assert_int_equal(pt_advancing(fx, 0, 2, 300), 3);
	free(t);
	free(undo);
}

static void test_freeze_sigstop(void **state)
{
	struct proctree *fx = *state;
	char buf[128], want[64];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();
	pid_t kthread = pt_find_kthread();

	pid_t a = pt_spawn(fx, NULL, 0, 0);
	pid_t b = pt_spawn(fx, NULL, 1, 0);
	/* pid 1, this process and a kernel thread are never stopped; a
	 * duplicate is stopped once */
	t->pids[t->npids++] = 1;
	t->pids[t->npids++] = getpid();
	t->pids[t->npids++] = a;
	if (kthread)
		t->pids[t->npids++] = kthread;
	t->pids[t->npids++] = b;
	t->pids[t->npids++] = a;

	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), 0);
	assert_int_equal(j.calls, 1);
	snprintf(want, sizeof(want), "sigstop %d %d", (int)a, (int)b);
	assert_string_equal(undo->data, want);
	assert_string_equal(j.undo.data, want);
	assert_true(pt_wait_state(a, 'T', 1000));
	assert_true(pt_wait_state(b, 'T', 1000));
	assert_int_equal(pt_advancing(fx, 0, 1, 300), 0);
	sg_action_freeze.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "freeze job backup (SIGSTOP to 2 processes)");

	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);
	assert_int_equal(pt_advancing(fx, 0, 1, 300), 2);
	assert_true(pt_proc_state(a) != 'T' && pt_proc_state(b) != 'T');

	/* nothing left to stop */
	t->npids = 2; /* pid 1 and this process */
	j.calls = 0;
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), -ESRCH);
	assert_int_equal(j.calls, 0);
	free(t);
	free(undo);
}

static void test_freeze_journal_failure(void **state)
{
	struct proctree *fx = *state;
	char path[256], buf[128];
	struct journal j = { .result = -EIO };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();

	assert_int_equal(pt_make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	pt_spawn(fx, pt_cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 0);
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), -EIO);
	assert_int_equal(j.calls, 1);
	pt_cg_file(fx->cg2, "cgroup.freeze", path, sizeof(path));
	assert_string_equal(pt_read_text(path, buf, sizeof(buf)), "0\n");
	assert_true(pt_events_has(fx->cg2, "frozen 0"));
	assert_int_equal(pt_advancing(fx, 0, 0, 200), 1);

	/* the SIGSTOP path does not signal either */
	pid_t b = pt_spawn(fx, NULL, 1, 0);
	t->cgroup2[0] = '\0';
	t->pids[0] = b;
	t->npids = 1;
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), -EIO);
	assert_int_equal(j.calls, 2);
	assert_int_equal(pt_advancing(fx, 1, 1, 200), 1);
	assert_true(pt_proc_state(b) != 'T');
	free(t);
	free(undo);
}

static void test_freeze_missing_and_gone(void **state)
{
	struct proctree *fx = *state;
	char path[256];
	struct journal j = { 0 };
	struct sg_target *t = pt_new_target();
	struct sg_undo *undo = new_undo();

	/* apply on a cgroup that does not exist: an error, nothing journaled */
	snprintf(t->cgroup2, sizeof(t->cgroup2), UNIFIED "/stallguard-test-%d-none", (int)getpid());
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), -ENOENT);
	assert_int_equal(j.calls, 0);

	/* revert of a cgroup that went away: nothing left to thaw */
	assert_int_equal(pt_make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	pt_spawn(fx, pt_cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 0);
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), 0);
	assert_true(pt_events_has(fx->cg2, "frozen 1"));
	pt_write_file(pt_cg_file(fx->cg2, "cgroup.kill", path, sizeof(path)), "1");
	assert_int_equal(waitpid(fx->kids[0], NULL, 0), fx->kids[0]);
	fx->nkids = 0;
	fx->sh->pid[0] = 0;
	for (int i = 0; i < 100 && rmdir(fx->cg2) < 0; i++)
		pt_msleep(10);
	assert_int_equal(access(fx->cg2, F_OK), -1);
	fx->cg2[0] = '\0';
	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);
	sg_strlcpy(undo->data, "freezer", sizeof(undo->data));
	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);

	/* a journal entry that is not ours */
	sg_strlcpy(undo->data, "sigstop 12x", sizeof(undo->data));
	assert_int_equal(sg_action_freeze.revert(&env, undo), -EINVAL);
	sg_strlcpy(undo->data, "thaw", sizeof(undo->data));
	assert_int_equal(sg_action_freeze.revert(&env, undo), -EINVAL);
	free(t);
	free(undo);
}

/* A cgroup holding the guardian is refused: run in a child that joins the
 * cgroup, so a freeze that went through would freeze the child only. */
static void test_freeze_refuses_own_cgroup(void **state)
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

		sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
		fx->sh->result = sg_action_freeze.apply(&env, t, undo, journal_cb, &j);
		fx->sh->done = j.calls + 1;
		_exit(0);
	}
	for (int t = 0; t < 200 && !fx->sh->done; t++)
		pt_msleep(10);
	assert_int_equal(fx->sh->result, -EPERM);
	assert_int_equal(fx->sh->done, 1); /* journal not called */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	fx->nkids = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(pt_events_has(fx->cg2, "frozen 0"));
}

#define FREEZE_TEST(f) cmocka_unit_test_setup_teardown(f, pt_setup, pt_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FREEZE_TEST(test_freeze_cgroup2),
		FREEZE_TEST(test_freeze_v1_freezer),
		FREEZE_TEST(test_freeze_sigstop),
		FREEZE_TEST(test_freeze_journal_failure),
		FREEZE_TEST(test_freeze_missing_and_gone),
		FREEZE_TEST(test_freeze_refuses_own_cgroup),
	};

	/* workers whose parent dies come to this process, which reaps them */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
