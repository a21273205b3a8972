/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The freeze step on real processes: cgroup v2 cgroup.freeze on the unified
 * mount, the v1 freezer, SIGSTOP for a target without a cgroup. Every
 * process and cgroup a test makes is removed in its teardown, even when
 * the test fails. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "units.h"

extern const struct sg_action sg_action_freeze;

#define UNIFIED "/sys/fs/cgroup/unified"
#define V1_FREEZER "/sys/fs/cgroup/freezer"
#define SLOTS 8

/* A MAP_SHARED page the workers count in, so the test sees them run. */
struct shared {
	volatile uint64_t count[SLOTS];
	volatile pid_t pid[SLOTS];
	volatile int result;
	volatile int done;
};

struct fx {
	struct shared *sh;
	char cg2[128]; /* unified cgroup made by this test, "" when none */
	char v1[128];  /* v1 freezer cgroup made by this test, "" when none */
	pid_t kids[SLOTS];
	size_t nkids;
};

static void msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

/* The file's text, NUL-terminated, "" when it cannot be read. */
static const char *read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static const char *cg_file(const char *dir, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return buf;
}

/* Whether cgroup.events of dir holds the line want ("frozen 1"). */
static bool events_has(const char *dir, const char *want)
{
	char path[256], text[256];

	read_text(cg_file(dir, "cgroup.events", path, sizeof(path)), text, sizeof(text));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strcmp(line, want) == 0)
			return true;
	return false;
}

/* The state letter of /proc/PID/stat, 0 when the process is gone. */
static char proc_state(pid_t pid)
{
	char path[64], text[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	const char *p = strrchr(read_text(path, text, sizeof(text)), ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

static bool wait_state(pid_t pid, char state, unsigned timeout_ms)
{
	for (unsigned t = 0; t < timeout_ms; t += 10) {
		if (proc_state(pid) == state)
			return true;
		msleep(10);
	}
	return proc_state(pid) == state;
}

/* A kernel thread's pid (PF_KTHREAD in the flags of /proc/PID/stat), or 0. */
static pid_t find_kthread(void)
{
	for (pid_t pid = 2; pid < 200; pid++) {
		char path[64], text[512];
		unsigned long flags;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		const char *p = strrchr(read_text(path, text, sizeof(text)), ')');
		if (p && sscanf(p, ") %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 &&
		    (flags & 0x00200000UL))
			return pid;
	}
	return 0;
}

static void __attribute__((noreturn)) worker_loop(struct shared *sh, int slot)
{
	sh->pid[slot] = getpid();
	for (;;) {
		__atomic_add_fetch(&sh->count[slot], 1, __ATOMIC_RELAXED);
		msleep(1);
	}
}

/* Forks a worker that joins procs_file when given ("0" there moves the
 * writer), then forks nkids more workers; they count in slots first ..
 * first + nkids. Returns once all of them counted. */
static pid_t spawn(struct fx *fx, const char *procs_file, int first, int nkids)
{
	assert_true(first + nkids < SLOTS && fx->nkids < SLOTS);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (procs_file && write_file(procs_file, "0") != 0)
			_exit(1);
		for (int i = 1; i <= nkids; i++) {
			if (fork() == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				worker_loop(fx->sh, first + i);
			}
		}
		worker_loop(fx->sh, first);
	}
	fx->kids[fx->nkids++] = pid;
	for (int t = 0; t < 300; t++) {
		bool all = true;
		for (int i = first; i <= first + nkids; i++)
			all = all && fx->sh->count[i] > 0;
		if (all)
			return pid;
		msleep(10);
	}
	fail_msg("workers in slots %d..%d did not start", first, first + nkids);
	return -1;
}

/* Counts of slots first..last now and after ms: how many slots advanced. */
static int advancing(struct fx *fx, int first, int last, unsigned ms)
{
	uint64_t before[SLOTS];
	int n = 0;

	for (int i = first; i <= last; i++)
		before[i] = fx->sh->count[i];
	msleep(ms);
	for (int i = first; i <= last; i++)
		n += fx->sh->count[i] != before[i];
	return n;
}

static int make_cgroup(char *path, size_t len, const char *root)
{
	static unsigned serial;

	snprintf(path, len, "%s/stallguard-test-%d-%u", root, (int)getpid(), serial++);
	if (mkdir(path, 0755) < 0) {
		path[0] = '\0';
		return -errno;
	}
	return 0;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	fx->sh = mmap(NULL, sizeof(*fx->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (fx->sh == MAP_FAILED) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char path[256];

	/* kill every worker (cgroup.kill works on frozen tasks; a v1-frozen
	 * task dies once thawed), then reap them all: grandchildren come to
	 * this process, the subreaper. */
	if (fx->cg2[0])
		write_file(cg_file(fx->cg2, "cgroup.kill", path, sizeof(path)), "1");
	for (size_t i = 0; i < fx->nkids; i++)
		if (fx->kids[i] > 1)
			kill(fx->kids[i], SIGKILL);
	for (int i = 0; i < SLOTS; i++)
		if (fx->sh->pid[i] > 1)
			kill(fx->sh->pid[i], SIGKILL);
	if (fx->v1[0])
		write_file(cg_file(fx->v1, "freezer.state", path, sizeof(path)), "THAWED");
	for (int t = 0; t < 300; t++) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid <= 0)
			msleep(10);
	}
	for (int t = 0; t < 100; t++) {
		bool left = (fx->cg2[0] && rmdir(fx->cg2) < 0 && errno != ENOENT) ||
			    (fx->v1[0] && rmdir(fx->v1) < 0 && errno != ENOENT);
		if (!left)
			break;
		msleep(10);
	}
	munmap(fx->sh, sizeof(*fx->sh));
	free(fx);
	return 0;
}

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
		read_text(j->freeze_file, j->freeze_seen, sizeof(j->freeze_seen));
	return j->result;
}

static struct sg_undo *new_undo(void)
{
	struct sg_undo *undo = calloc(1, sizeof(*undo));

	assert_non_null(undo);
	undo->kind = SG_STEP_FREEZE;
	sg_strlcpy(undo->rule, "io-storm", sizeof(undo->rule));
	sg_strlcpy(undo->job, "backup", sizeof(undo->job));
	sg_strlcpy(undo->step, "freeze", sizeof(undo->step));
	undo->level = 2;
	return undo;
}

static struct sg_target *new_target(void)
{
	struct sg_target *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	sg_strlcpy(t->job, "backup", sizeof(t->job));
	return t;
}

static const struct sg_action_env env = { .reason = "psi.io.full.avg10 >= 30", .capture = "" };

static void test_freeze_cgroup2(void **state)
{
	struct fx *fx = *state;
	char path[256], buf[128];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();

	assert_int_equal(make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	spawn(fx, cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 2);
	assert_int_equal(advancing(fx, 0, 2, 100), 3);
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
	/* a v1 freezer and pids as well: cgroup2 comes first */
	sg_strlcpy(t->freezer, "/nonexistent", sizeof(t->freezer));
	t->pids[0] = fx->kids[0];
	t->npids = 1;
	cg_file(fx->cg2, "cgroup.freeze", j.freeze_file, sizeof(j.freeze_file));

	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), 0);
	assert_int_equal(j.calls, 1);
	assert_string_equal(j.freeze_seen, "0\n"); /* journaled before freezing */
	assert_string_equal(j.undo.data, "cgroup2");
	assert_string_equal(j.undo.path, fx->cg2);
	assert_string_equal(undo->data, "cgroup2");
	assert_true(events_has(fx->cg2, "frozen 1"));
	assert_int_equal(advancing(fx, 0, 2, 300), 0);
	sg_action_freeze.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "freeze job backup (cgroup.freeze)");

	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);
	assert_true(events_has(fx->cg2, "frozen 0"));
	assert_string_equal(read_text(j.freeze_file, buf, sizeof(buf)), "0\n");
	assert_int_equal(advancing(fx, 0, 2, 300), 3);
	free(t);
	free(undo);
}

static void test_freeze_v1_freezer(void **state)
{
	struct fx *fx = *state;
	char path[256], buf[128];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();

	assert_int_equal(make_cgroup(fx->v1, sizeof(fx->v1), V1_FREEZER), 0);
	spawn(fx, cg_file(fx->v1, "tasks", path, sizeof(path)), 0, 2);
	sg_strlcpy(t->freezer, fx->v1, sizeof(t->freezer));
	cg_file(fx->v1, "freezer.state", j.freeze_file, sizeof(j.freeze_file));

	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), 0);
	assert_int_equal(j.calls, 1);
	assert_string_equal(j.freeze_seen, "THAWED\n");
	assert_string_equal(undo->data, "freezer");
	assert_string_equal(undo->path, fx->v1);
	assert_string_equal(read_text(j.freeze_file, buf, sizeof(buf)), "FROZEN\n");
	assert_int_equal(advancing(fx, 0, 2, 300), 0);
	sg_action_freeze.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "freeze job backup (v1 freezer)");

	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);
	assert_string_equal(read_text(j.freeze_file, buf, sizeof(buf)), "THAWED\n");
	assert_int_equal(advancing(fx, 0, 2, 300), 3);
	free(t);
	free(undo);
}

static void test_freeze_sigstop(void **state)
{
	struct fx *fx = *state;
	char buf[128], want[64];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();
	pid_t kthread = find_kthread();

	pid_t a = spawn(fx, NULL, 0, 0);
	pid_t b = spawn(fx, NULL, 1, 0);
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
	assert_true(wait_state(a, 'T', 1000));
	assert_true(wait_state(b, 'T', 1000));
	assert_int_equal(advancing(fx, 0, 1, 300), 0);
	sg_action_freeze.describe(undo, buf, sizeof(buf));
	assert_string_equal(buf, "freeze job backup (SIGSTOP to 2 processes)");

	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);
	assert_int_equal(advancing(fx, 0, 1, 300), 2);
	assert_true(proc_state(a) != 'T' && proc_state(b) != 'T');

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
	struct fx *fx = *state;
	char path[256], buf[128];
	struct journal j = { .result = -EIO };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();

	assert_int_equal(make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	spawn(fx, cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 0);
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), -EIO);
	assert_int_equal(j.calls, 1);
	cg_file(fx->cg2, "cgroup.freeze", path, sizeof(path));
	assert_string_equal(read_text(path, buf, sizeof(buf)), "0\n");
	assert_true(events_has(fx->cg2, "frozen 0"));
	assert_int_equal(advancing(fx, 0, 0, 200), 1);

	/* the SIGSTOP path does not signal either */
	pid_t b = spawn(fx, NULL, 1, 0);
	t->cgroup2[0] = '\0';
	t->pids[0] = b;
	t->npids = 1;
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), -EIO);
	assert_int_equal(j.calls, 2);
	assert_int_equal(advancing(fx, 1, 1, 200), 1);
	assert_true(proc_state(b) != 'T');
	free(t);
	free(undo);
}

static void test_freeze_missing_and_gone(void **state)
{
	struct fx *fx = *state;
	char path[256];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();

	/* apply on a cgroup that does not exist: an error, nothing journaled */
	snprintf(t->cgroup2, sizeof(t->cgroup2), UNIFIED "/stallguard-test-%d-none", (int)getpid());
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), -ENOENT);
	assert_int_equal(j.calls, 0);

	/* revert of a cgroup that went away: nothing left to thaw */
	assert_int_equal(make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	spawn(fx, cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 0);
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal_cb, &j), 0);
	assert_true(events_has(fx->cg2, "frozen 1"));
	write_file(cg_file(fx->cg2, "cgroup.kill", path, sizeof(path)), "1");
	assert_int_equal(waitpid(fx->kids[0], NULL, 0), fx->kids[0]);
	fx->nkids = 0;
	fx->sh->pid[0] = 0;
	for (int i = 0; i < 100 && rmdir(fx->cg2) < 0; i++)
		msleep(10);
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
	struct fx *fx = *state;
	char path[256];
	int status;

	assert_int_equal(make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	fx->sh->result = 1;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct journal j = { 0 };
		struct sg_target *t = new_target();
		struct sg_undo *undo = new_undo();

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (write_file(cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), "0") != 0)
			_exit(2);
		sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
		fx->sh->result = sg_action_freeze.apply(&env, t, undo, journal_cb, &j);
		fx->sh->done = j.calls + 1;
		_exit(0);
	}
	fx->kids[fx->nkids++] = pid;
	for (int t = 0; t < 200 && !fx->sh->done; t++)
		msleep(10);
	assert_int_equal(fx->sh->result, -EPERM);
	assert_int_equal(fx->sh->done, 1); /* journal not called */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	fx->nkids = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(events_has(fx->cg2, "frozen 0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_freeze_cgroup2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_v1_freezer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_sigstop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_journal_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_missing_and_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_refuses_own_cgroup, setup, teardown),
	};

	/* workers whose parent dies come to this process, which reaps them */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
