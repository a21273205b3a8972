/* SPDX-License-Identifier: GPL-2.0-or-later */
/* actions/cgroupfs.c on plain files shaped like cgroup and /proc trees, and
 * on this process's own /proc entries. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "units.h"

static int setup(void **state)
{
	char *dir = strdup("/tmp/sg-cgroupfs.XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	char *dir = *state;

	fixture_remove_tree(dir);
	free(dir);
	return 0;
}

/* Writes DIR/REL (its directory made when missing) holding text. */
static void put(const char *dir, const char *rel, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*slash = '/';
	}
	FILE *f = fopen(path, "w");
	if (!f)
		fail_msg("cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

static int open_dir(const char *dir, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* What the readers called back with; stop_at makes the callback answer
 * stop_with at that id. */
struct ids {
	pid_t id[16];
	size_t n;
	pid_t stop_at;
	int stop_with;
};

static int collect(pid_t id, void *userdata)
{
	struct ids *ids = userdata;

	assert_true(ids->n < 16);
	ids->id[ids->n++] = id;
	return id == ids->stop_at ? ids->stop_with : 0;
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

static void test_each_id(void **state)
{
	const char *dir = *state;
	struct ids ids = { .n = 0 };

	put(dir, "cg/cgroup.procs", "12\n345\n7\n");
	put(dir, "cg/tasks", "8\n");
	int fd = open_dir(dir, "cg");
	assert_int_equal(sg_cgroup_each_id(fd, "cgroup.procs", collect, &ids), 0);
	assert_int_equal(ids.n, 3);
	assert_true(ids.id[0] == 12 && ids.id[1] == 345 && ids.id[2] == 7);

	ids = (struct ids){ .stop_at = 345, .stop_with = 5 };
	assert_int_equal(sg_cgroup_each_id(fd, "cgroup.procs", collect, &ids), 5);
	assert_int_equal(ids.n, 2);

	ids = (struct ids){ .n = 0 };
	assert_int_equal(sg_cgroup_each_id(fd, "tasks", collect, &ids), 0);
	assert_true(ids.n == 1 && ids.id[0] == 8);
	assert_int_equal(sg_cgroup_each_id(fd, "missing", collect, &ids), -ENOENT);
	assert_int_equal(ids.n, 1);
	close(fd);
}

/* The walk reads every cgroup below, skips one without cgroup.procs (as a
 * cgroup removed meanwhile), stops where the callback says, and goes no
 * deeper than SG_CGROUP_DEPTH_MAX. */
static void test_walk(void **state)
{
	const char *dir = *state;
	struct ids ids = { .n = 0 };
	char rel[512];

	put(dir, "cg/cgroup.procs", "10\n11\n");
	put(dir, "cg/a/cgroup.procs", "20\n");
	put(dir, "cg/a/b/cgroup.procs", "30\n");
	put(dir, "cg/gone/c/cgroup.procs", "40\n");
	put(dir, "cg/file", "50\n");
	int fd = open_dir(dir, "cg");
	assert_int_equal(sg_cgroup_walk(fd, collect, &ids), 0);
	qsort(ids.id, ids.n, sizeof(ids.id[0]), cmp_pid);
	assert_int_equal(ids.n, 4);
	assert_true(ids.id[0] == 10 && ids.id[1] == 11 && ids.id[2] == 20 && ids.id[3] == 30);

	ids = (struct ids){ .stop_at = 30, .stop_with = -EPERM };
	assert_int_equal(sg_cgroup_walk(fd, collect, &ids), -EPERM);
	close(fd);

	size_t len = (size_t)snprintf(rel, sizeof(rel), "deep");
	for (int depth = 0; depth <= SG_CGROUP_DEPTH_MAX + 1; depth++) {
		char file[600];

		snprintf(file, sizeof(file), "%s/cgroup.procs", rel);
		put(dir, file, "");
		len += (size_t)snprintf(rel + len, sizeof(rel) - len, "/d");
	}
	fd = open_dir(dir, "deep");
	assert_int_equal(sg_cgroup_walk(fd, collect, &ids), -ELOOP);
	close(fd);
}

static void test_events(void **state)
{
	const char *dir = *state;

	put(dir, "cg/cgroup.events", "populated 1\nfrozen 0\n");
	int fd = open_dir(dir, "cg");
	int events = openat(fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	assert_true(events >= 0);
	assert_int_equal(sg_cgroup_events_value(events, "populated"), 1);
	assert_int_equal(sg_cgroup_events_value(events, "frozen"), 0);
	assert_int_equal(sg_cgroup_events_value(events, "froze"), -EINVAL);
	assert_int_equal(sg_cgroup_events_value(events, "absent"), -EINVAL);
	close(events);

	assert_int_equal(sg_cgroup_wait_events(fd, "populated", 1, 1000), 0);
	uint64_t start = sg_now_usec();
	assert_int_equal(sg_cgroup_wait_events(fd, "frozen", 1, 50 * USEC_PER_MSEC), -ETIMEDOUT);
	assert_true(sg_now_usec() - start >= 50 * USEC_PER_MSEC);
	close(fd);
	put(dir, "empty/tasks", "");
	fd = open_dir(dir, "empty");
	assert_int_equal(sg_cgroup_wait_events(fd, "frozen", 1, 1000), -ENOENT);
	close(fd);
}

static void test_write_and_read(void **state)
{
	const char *dir = *state;
	char path[512], buf[8];

	put(dir, "cg/cgroup.freeze", "longer text\n");
	int fd = open_dir(dir, "cg");
	assert_int_equal(sg_cgroup_write(fd, "cgroup.freeze", "1"), 0);
	assert_int_equal(sg_cgroup_write(fd, "absent", "1"), -ENOENT);
	close(fd);
	snprintf(path, sizeof(path), "%s/cg/cgroup.freeze", dir);
	assert_int_equal(sg_read_small(path, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "1");
	assert_int_equal(sg_cgroup_write(AT_FDCWD, path, "0123456789"), 0);
	assert_int_equal(sg_read_small(path, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "0123456");
	snprintf(path, sizeof(path), "%s/absent", dir);
	assert_int_equal(sg_read_small(path, buf, sizeof(buf)), -ENOENT);

	assert_true(sg_cgroup_gone(-ENOENT));
	assert_true(sg_cgroup_gone(-ENODEV));
	assert_false(sg_cgroup_gone(-EPERM));
	assert_false(sg_cgroup_gone(ENOENT));
}

/* PROC/PID/stat: a comm holding ") " does not shift the fields. */
static void test_proc_stat(void **state)
{
	const char *dir = *state;
	char state_letter = 0;
	bool kthread = true;

	put(dir, "42/stat", "42 (a) S 1 (b) R 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0\n");
	put(dir, "2/stat", "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0\n");
	put(dir, "7/stat", "7 (cut) S 1\n");
	assert_int_equal(sg_proc_stat(dir, 42, &state_letter, &kthread), 0);
	assert_int_equal(state_letter, 'R');
	assert_false(kthread);
	assert_int_equal(sg_proc_stat(dir, 2, &state_letter, &kthread), 0);
	assert_int_equal(state_letter, 'S');
	assert_true(kthread);
	assert_int_equal(sg_proc_stat(dir, 7, &state_letter, &kthread), -ESRCH);
	assert_int_equal(sg_proc_stat(dir, 8, &state_letter, &kthread), -ESRCH);

	assert_int_equal(sg_proc_stat("/proc", getpid(), &state_letter, &kthread), 0);
	assert_int_equal(state_letter, 'R');
	assert_false(kthread);
}

/* Never pid 1 or this process; a live child is, its zombie is not. */
static void test_signallable(void **state)
{
	(void)state;
	assert_false(sg_proc_signallable(1));
	assert_false(sg_proc_signallable(getpid()));
	assert_false(sg_proc_signallable(0));

	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	assert_true(sg_proc_signallable(child));
	assert_int_equal(kill(child, SIGKILL), 0);
	siginfo_t info;
	assert_int_equal(waitid(P_PID, child, &info, WEXITED | WNOWAIT), 0);
	assert_false(sg_proc_signallable(child)); /* a zombie */
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_false(sg_proc_signallable(child));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_each_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proc_stat, setup, teardown),
		cmocka_unit_test(test_signallable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
