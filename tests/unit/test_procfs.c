// SPDX-License-Identifier: GPL-2.0-or-later
/* /proc/stat, /proc/loadavg, task stat with hostile comms, and the D-state scan. */
#include "fixture.h"
#include "dstate.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"

static void test_procstat_blocked(void **state)
{
	size_t len;
	char *buf;
	unsigned blocked = 99;

	(void)state;
	buf = fixture_exact("procfs/stat", &len);
	assert_int_equal(sg_procstat_parse_blocked(buf, len, &blocked), 0);
	assert_int_equal(blocked, 7);
	free(buf);

	/* The last line cut before its '\n': the number may be cut too. */
	blocked = 99;
	buf = fixture_exact("procfs/stat-truncated", &len);
	assert_int_equal(sg_procstat_parse_blocked(buf, len, &blocked), -EINVAL);
	assert_int_equal(blocked, 99);
	free(buf);

	/* procs_blockedx is not procs_blocked */
	buf = fixture_exact("procfs/stat-no-blocked", &len);
	assert_int_equal(sg_procstat_parse_blocked(buf, len, &blocked), -EINVAL);
	free(buf);

	assert_int_equal(sg_procstat_parse_blocked("procs_blocked 0\n", 16, &blocked), 0);
	assert_int_equal(blocked, 0);
	assert_int_equal(sg_procstat_parse_blocked("procs_blocked x\n", 16, &blocked), -EINVAL);
	assert_int_equal(sg_procstat_parse_blocked("", 0, &blocked), -EINVAL);
}

static void test_procstat_real(void **state)
{
	char buf[8192];
	unsigned blocked = 12345;
	ssize_t n;
	int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_int_equal(sg_procstat_parse_blocked(buf, (size_t)n, &blocked), 0);
	assert_true(blocked < 100000);
}

static void test_loadavg(void **state)
{
	size_t len;
	char *buf;
	double load[3] = { -1, -1, -1 };

	(void)state;
	buf = fixture_exact("procfs/loadavg", &len);
	assert_int_equal(sg_loadavg_parse(buf, len, load), 0);
	assert_near(load[0], 0.47, 1e-9);
	assert_near(load[1], 1.20, 1e-9);
	assert_near(load[2], 12.05, 1e-9);
	free(buf);

	load[0] = -1;
	buf = fixture_exact("procfs/loadavg-truncated", &len);
	assert_int_equal(sg_loadavg_parse(buf, len, load), -EINVAL);
	assert_near(load[0], -1, 0); /* untouched on failure */
	free(buf);

	buf = fixture_exact("procfs/loadavg-garbled", &len);
	assert_int_equal(sg_loadavg_parse(buf, len, load), -EINVAL);
	free(buf);
	assert_int_equal(sg_loadavg_parse("", 0, load), -EINVAL);
}

static int parse_task_fixture(const char *name, struct sg_task_stat *st)
{
	size_t len;
	char *buf = fixture_exact(name, &len);
	int r = sg_task_stat_parse(buf, len, st);

	free(buf);
	return r;
}

static void test_task_stat_hostile_comms(void **state)
{
	struct sg_task_stat st;

	(void)state;
	assert_int_equal(parse_task_fixture("procfs/task-stat-paren", &st), 0);
	assert_int_equal(st.pid, 1234);
	assert_string_equal(st.comm, "a) (b");
	assert_int_equal(st.state, 'S');

	assert_int_equal(parse_task_fixture("procfs/task-stat-space", &st), 0);
	assert_int_equal(st.pid, 77);
	assert_string_equal(st.comm, "x y) S");
	assert_int_equal(st.state, 'D');

	assert_int_equal(parse_task_fixture("procfs/task-stat-colon", &st), 0);
	assert_int_equal(st.pid, 9);
	assert_string_equal(st.comm, ":) D (");
	assert_int_equal(st.state, 'R');
}

static void test_task_stat_odd_bytes(void **state)
{
	/* Any byte may be in a comm: a tab, a high byte, a ')' at its end. */
	static const char text[] = "5 (\t\xff))) Z 1 5 5 0 -1 0\n";
	static const char empty[] = "6 () I 2 0 0 0 -1 0\n";
	struct sg_task_stat st;

	(void)state;
	assert_int_equal(sg_task_stat_parse(text, sizeof(text) - 1, &st), 0);
	assert_string_equal(st.comm, "\t\xff))");
	assert_int_equal(st.state, 'Z');
	assert_int_equal(sg_task_stat_parse(empty, sizeof(empty) - 1, &st), 0);
	assert_string_equal(st.comm, "");
	assert_int_equal(st.state, 'I');
}

static void test_task_stat_long_comm(void **state)
{
	char text[200];
	struct sg_task_stat st;
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "10 (%s) S 2 0 0\n",
		     "0123456789012345678901234567890123456789012345678901234567890123456789");
	assert_int_equal(sg_task_stat_parse(text, (size_t)n, &st), 0);
	assert_int_equal(strlen(st.comm), sizeof(st.comm) - 1);
	assert_memory_equal(st.comm, "012345678901234567890123456789", 30);
}

static void test_task_stat_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"12",
		"12 (bash",
		"(bash) S 1 ",
		"0 (swapper) R 0 ",
		"-3 (bash) S 1 ",
		"12 bash S 1 ",
		"12 (bash) 5 1 ",
		"12 (bash) SS 1 ",
		"12 (bash) S x ",
		"99999999999 (bash) S 1 ",
	};
	struct sg_task_stat st;

	(void)state;
	assert_int_equal(parse_task_fixture("procfs/task-stat-truncated", &st), -EINVAL);
	assert_int_equal(parse_task_fixture("procfs/task-stat-truncated-state", &st), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sg_task_stat_parse(bad[i], strlen(bad[i]), &st) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
}

struct dtask {
	pid_t helper; /* leads its own process group, with its vfork child */
};

static int dtask_setup(void **state)
{
	static struct dtask d;

	memset(&d, 0, sizeof(d));
	*state = &d;
	d.helper = fork();
	if (d.helper < 0)
		return -1;
	if (d.helper == 0) {
		setpgid(0, 0);
		/* Sits in D until the child dies (teardown kills the group). */
		if (clone(vfork_child, vfork_stack + sizeof(vfork_stack),
			  CLONE_VM | CLONE_VFORK | SIGCHLD, NULL) < 0)
			_exit(3);
		_exit(0);
	}
	setpgid(d.helper, d.helper); /* both sides, so teardown never races it */
	return 0;
}

static int dtask_teardown(void **state)
{
	struct dtask *d = *state;

	if (d->helper > 0) {
		kill(-d->helper, SIGKILL);
		kill(d->helper, SIGKILL);
		waitpid(d->helper, NULL, 0);
		d->helper = 0;
	}
	return 0;
}

static void test_dstate_real(void **state)
{
	struct dtask *d = *state;
	static char scratch[2 * 32768];
	char small[2 * 600];
	int count;

	/* Wait up to 2 s for the helper to block in clone(CLONE_VFORK). */
	for (int i = 0; i < 200 && task_state(d->helper) != 'D'; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (task_state(d->helper) != 'D')
		fail_msg("helper %d never reached D (state %c)", (int)d->helper,
			 task_state(d->helper));

	count = sg_tasks_count_dstate("/proc", scratch, sizeof(scratch));
	if (count < 1)
		fail_msg("scan over /proc: %d, expected >= 1 (our helper is in D)", count);
	/* A small scratch takes many getdents64 rounds and finds it too. */
	count = sg_tasks_count_dstate("/proc", small, sizeof(small));
	if (count < 1)
		fail_msg("scan over /proc with a small buffer: %d", count);
	/* An unaligned scratch of odd length works too. */
	count = sg_tasks_count_dstate("/proc", scratch + 1, sizeof(scratch) - 3);
	assert_true(count >= 1);
}

static void test_dstate_errors(void **state)
{
	char scratch[2 * 4096];
	char tiny[256];

	(void)state;
	assert_int_equal(sg_tasks_count_dstate("/nonexistent-proc", scratch, sizeof(scratch)),
			 -ENOENT);
	assert_int_equal(sg_tasks_count_dstate("/proc/loadavg", scratch, sizeof(scratch)), -ENOTDIR);
	assert_int_equal(sg_tasks_count_dstate("/proc", tiny, sizeof(tiny)), -EINVAL);
}

/* A fake proc tree in a temporary directory. Paths are relative to it;
 * a trailing '/' makes a directory, otherwise a file with the content. */
struct fake_entry {
	const char *path;
	const char *content;
};

static const struct fake_entry fake_proc[] = {
	{ "1/", NULL },
	{ "1/task/", NULL },
	{ "1/task/1/", NULL },
	{ "1/task/1/stat", "1 (init) D 0 1 1 0 -1 4194560 0 0\n" },
	{ "2/", NULL },
	{ "2/task/", NULL },
	{ "2/task/2/", NULL },
	{ "2/task/2/stat", "2 (worker) S 1 2 2 0 -1 0\n" },
	{ "2/task/3/", NULL },
	{ "2/task/3/stat", "3 (worker) D) D 1 2 2 0 -1 0\n" },
	/* not a pid: never looked into */
	{ "self/", NULL },
	{ "self/task/", NULL },
	{ "self/task/9/", NULL },
	{ "self/task/9/stat", "9 (self) D 1 9 9 0 -1 0\n" },
	{ "sys/", NULL },
	/* a pid without task/: it exited */
	{ "3/", NULL },
	/* a thread without stat: it exited */
	{ "4/", NULL },
	{ "4/task/", NULL },
	{ "4/task/5/", NULL },
	/* a stat that is not one */
	{ "6/", NULL },
	{ "6/task/", NULL },
	{ "6/task/6/", NULL },
	{ "6/task/6/stat", "garbage D\n" },
	/* a task entry that is not a tid */
	{ "7/", NULL },
	{ "7/task/", NULL },
	{ "7/task/x7/", NULL },
	{ "7/task/x7/stat", "7 (x) D 1 7 7 0 -1 0\n" },
	{ "7/task/7/", NULL },
	{ "7/task/7/stat", "7 (idle) I 2 0 0 0 -1 0\n" },
};

#define MANY 90 /* more pid dirs: many getdents64 rounds with a small buffer */

struct fake_tree {
	char root[64];
};

static void fake_path(const struct fake_tree *t, const char *rel, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", t->root, rel);
}

static int fake_teardown(void **state)
{
	struct fake_tree *t = *state;
	char path[256];

	if (!t->root[0])
		return 0;
	for (size_t i = sizeof(fake_proc) / sizeof(fake_proc[0]); i-- > 0;) {
		fake_path(t, fake_proc[i].path, path, sizeof(path));
		if (fake_proc[i].content)
			unlink(path);
		else
			rmdir(path);
	}
	for (int p = 100; p < 100 + MANY; p++) {
		snprintf(path, sizeof(path), "%s/%d/task/%d/stat", t->root, p, p);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%d/task/%d", t->root, p, p);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/%d/task", t->root, p);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/%d", t->root, p);
		rmdir(path);
	}
	if (rmdir(t->root) != 0)
		return -1;
	t->root[0] = '\0';
	return 0;
}

static int write_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len = strlen(content);
	bool ok;

	if (fd < 0)
		return -1;
	ok = write(fd, content, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

static int fake_setup(void **state)
{
	static struct fake_tree t;
	char path[256], stat[64];

	*state = &t;
	snprintf(t.root, sizeof(t.root), "/tmp/sg-proc-XXXXXX");
	if (!mkdtemp(t.root)) {
		t.root[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < sizeof(fake_proc) / sizeof(fake_proc[0]); i++) {
		fake_path(&t, fake_proc[i].path, path, sizeof(path));
		if (fake_proc[i].content ? write_file(path, fake_proc[i].content) != 0
					 : mkdir(path, 0700) != 0)
			goto fail;
	}
	/* pids 100..189, every third one (100, 103, ...) in D: 30 of them */
	for (int p = 100; p < 100 + MANY; p++) {
		snprintf(path, sizeof(path), "%s/%d", t.root, p);
		if (mkdir(path, 0700) != 0)
			goto fail;
		snprintf(path, sizeof(path), "%s/%d/task", t.root, p);
		if (mkdir(path, 0700) != 0)
			goto fail;
		snprintf(path, sizeof(path), "%s/%d/task/%d", t.root, p, p);
		if (mkdir(path, 0700) != 0)
			goto fail;
		snprintf(path, sizeof(path), "%s/%d/task/%d/stat", t.root, p, p);
		snprintf(stat, sizeof(stat), "%d (many %d) %c 1 0 0\n", p, p,
			 (p - 100) % 3 == 0 ? 'D' : 'S');
		if (write_file(path, stat) != 0)
			goto fail;
	}
	return 0;
fail:
	fake_teardown(state); /* cmocka skips teardown when setup fails */
	return -1;
}

static void test_dstate_fake_tree(void **state)
{
	struct fake_tree *t = *state;
	static char scratch[2 * 32768];
	char small[2 * 512];

	/* 1/task/1 and 2/task/3, plus 30 of the many: 32 */
	assert_int_equal(sg_tasks_count_dstate(t->root, scratch, sizeof(scratch)), 32);
	assert_int_equal(sg_tasks_count_dstate(t->root, small, sizeof(small)), 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procstat_blocked),
		cmocka_unit_test(test_procstat_real),
		cmocka_unit_test(test_loadavg),
		cmocka_unit_test(test_task_stat_hostile_comms),
		cmocka_unit_test(test_task_stat_odd_bytes),
		cmocka_unit_test(test_task_stat_long_comm),
		cmocka_unit_test(test_task_stat_rejects),
		cmocka_unit_test_setup_teardown(test_dstate_real, dtask_setup, dtask_teardown),
		cmocka_unit_test(test_dstate_errors),
		cmocka_unit_test_setup_teardown(test_dstate_fake_tree, fake_setup, fake_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
