/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kill step on real processes: cgroup.kill on the unified mount, and
 * SIGTERM then SIGKILL after kill_grace for targets listed by pid or by a
 * cgroup without cgroup.kill (a v1 cgroup here). Every process and cgroup a
 * test makes is removed in its teardown, even when the test fails. */
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

extern const struct sg_action sg_action_kill;

#define UNIFIED "/sys/fs/cgroup/unified"
#define V1_FREEZER "/sys/fs/cgroup/freezer"
#define SLOTS 8

/* A MAP_SHARED page the workers count in, so the test sees them run. */
struct shared {
	volatile uint64_t count[SLOTS];
	volatile pid_t pid[SLOTS];
	volatile int result;
	volatile int done;
	volatile int ignore_term;  /* workers started from now on ignore SIGTERM */
	volatile int fork_on_term; /* ... or fork one more worker on SIGTERM */
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

static void __attribute__((noreturn)) count_loop(struct shared *sh, int slot)
{
	sh->pid[slot] = getpid();
	for (;;) {
		__atomic_add_fetch(&sh->count[slot], 1, __ATOMIC_RELAXED);
		msleep(1);
	}
}

static struct shared *forker_sh;
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
		count_loop(forker_sh, forker_slot + 1);
	}
}

static void __attribute__((noreturn)) worker_loop(struct shared *sh, int slot)
{
	if (sh->fork_on_term) {
		forker_sh = sh;
		forker_slot = slot;
		signal(SIGTERM, fork_on_term);
	} else {
		signal(SIGTERM, sh->ignore_term ? SIG_IGN : SIG_DFL);
	}
	count_loop(sh, slot);
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

/* The journal callback: records what it was given and whether the
 * processes listed in alive[] were all alive then, and returns result. */
struct journal {
	int calls;
	int result;
	pid_t alive[SLOTS];
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
		j->all_alive = j->all_alive && proc_state(j->alive[i]) != 0 &&
			       proc_state(j->alive[i]) != 'Z';
	return j->result;
}

static struct sg_undo *new_undo(void)
{
	struct sg_undo *undo = calloc(1, sizeof(*undo));

	assert_non_null(undo);
	undo->kind = SG_STEP_KILL;
	sg_strlcpy(undo->rule, "io-storm", sizeof(undo->rule));
	sg_strlcpy(undo->job, "backup", sizeof(undo->job));
	sg_strlcpy(undo->step, "kill", sizeof(undo->step));
	undo->level = 3;
	return undo;
}

static struct sg_target *new_target(void)
{
	struct sg_target *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	sg_strlcpy(t->job, "backup", sizeof(t->job));
	return t;
}

static volatile sig_atomic_t got_sigterm;

static void on_sigterm(int sig)
{
	(void)sig;
	got_sigterm++;
}

/* Reaps pid within timeout_ms and forgets it; returns its wait status or -1. */
static int reap(struct fx *fx, pid_t pid, unsigned timeout_ms)
{
	int status;

	for (unsigned t = 0; t <= timeout_ms; t += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			for (size_t i = 0; i < fx->nkids; i++)
				if (fx->kids[i] == pid)
					fx->kids[i] = 0;
			for (int i = 0; i < SLOTS; i++)
				if (fx->sh->pid[i] == pid)
					fx->sh->pid[i] = 0;
			return status;
		}
		msleep(10);
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
	struct fx *fx = *state;
	char path[256], buf[128];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(5 * USEC_PER_SEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	spawn(fx, cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 2);
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
	assert_true(events_has(fx->cg2, "populated 0"));
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
	struct fx *fx = *state;
	char path[256];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(5 * USEC_PER_SEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	spawn(fx, cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 1);
	assert_int_equal(write_file(cg_file(fx->cg2, "cgroup.freeze", path, sizeof(path)), "1"), 0);
	for (int i = 0; i < 100 && !events_has(fx->cg2, "frozen 1"); i++)
		msleep(10);
	assert_true(events_has(fx->cg2, "frozen 1"));
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));

	uint64_t start = sg_now_usec();
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), 0);
	assert_true(elapsed_ms(start) < 1000);
	assert_string_equal(undo->data, "cgroup.kill 2");
	assert_true(events_has(fx->cg2, "populated 0"));
	free(t);
	free(undo);
	sg_config_free(cfg);
	free(cfg);
}

static void test_kill_sigterm_ignored(void **state)
{
	struct fx *fx = *state;
	char buf[128];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(300 * USEC_PER_MSEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	fx->sh->ignore_term = 1;
	pid_t a = spawn(fx, NULL, 0, 0);
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
	struct fx *fx = *state;
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(2 * USEC_PER_SEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	pid_t a = spawn(fx, NULL, 0, 0);
	/* one stopped by SIGSTOP (a freeze without cgroup) takes SIGTERM too */
	pid_t b = spawn(fx, NULL, 1, 0);
	assert_int_equal(kill(b, SIGSTOP), 0);
	assert_true(wait_state(b, 'T', 1000));
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
	struct fx *fx = *state;
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(300 * USEC_PER_MSEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };
	pid_t kthread = find_kthread();
	struct sigaction sa = { .sa_handler = on_sigterm }, old;

	assert_int_equal(sigaction(SIGTERM, &sa, &old), 0);
	got_sigterm = 0;
	pid_t a = spawn(fx, NULL, 0, 0);
	t->pids[t->npids++] = 1;
	t->pids[t->npids++] = getpid();
	if (kthread)
		t->pids[t->npids++] = kthread;
	t->pids[t->npids++] = a;

	int err = sg_action_kill.apply(&env, t, undo, journal_cb, &j);
	msleep(50);
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
	struct fx *fx = *state;
	char path[256], buf[256];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(300 * USEC_PER_MSEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(make_cgroup(fx->v1, sizeof(fx->v1), V1_FREEZER), 0);
	spawn(fx, cg_file(fx->v1, "cgroup.procs", path, sizeof(path)), 0, 1);
	fx->sh->fork_on_term = 1;
	fx->sh->ignore_term = 1;
	spawn(fx, cg_file(fx->v1, "cgroup.procs", path, sizeof(path)), 2, 0);
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
	cg_file(fx->v1, "cgroup.procs", path, sizeof(path));
	assert_string_equal(read_text(path, buf, sizeof(buf)), "");
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
	struct fx *fx = *state;
	char path[256], buf[128];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(5 * USEC_PER_SEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(make_cgroup(fx->v1, sizeof(fx->v1), V1_FREEZER), 0);
	spawn(fx, cg_file(fx->v1, "tasks", path, sizeof(path)), 0, 1);
	cg_file(fx->v1, "freezer.state", path, sizeof(path));
	assert_int_equal(write_file(path, "FROZEN"), 0);
	for (int i = 0; i < 100 && strcmp(read_text(path, buf, sizeof(buf)), "FROZEN\n") != 0; i++)
		msleep(10);
	assert_string_equal(read_text(path, buf, sizeof(buf)), "FROZEN\n");
	sg_strlcpy(t->freezer, fx->v1, sizeof(t->freezer));

	uint64_t start = sg_now_usec();
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), 0);
	assert_true(elapsed_ms(start) < 1000);
	assert_memory_equal(undo->data, "sigkill ", 8);
	assert_string_equal(read_text(path, buf, sizeof(buf)), "THAWED\n");
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
	struct fx *fx = *state;
	char path[256];
	struct journal j = { .result = -EIO };
	struct sg_target *t = new_target();
	struct sg_undo *undo = new_undo();
	struct sg_config *cfg = new_config(300 * USEC_PER_MSEC);
	struct sg_action_env env = { .cfg = cfg, .reason = "", .capture = "" };

	assert_int_equal(make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED), 0);
	spawn(fx, cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), 0, 1);
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), -EIO);
	assert_int_equal(j.calls, 1);
	assert_true(events_has(fx->cg2, "populated 1"));
	assert_int_equal(advancing(fx, 0, 1, 200), 2);

	pid_t c = spawn(fx, NULL, 2, 0);
	t->cgroup2[0] = '\0';
	t->pids[t->npids++] = c;
	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal_cb, &j), -EIO);
	assert_int_equal(j.calls, 2);
	assert_int_equal(advancing(fx, 2, 2, 200), 1);
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
		struct sg_action_env env = { .reason = "", .capture = "" };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (write_file(cg_file(fx->cg2, "cgroup.procs", path, sizeof(path)), "0") != 0)
			_exit(2);
		sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
		fx->sh->result = sg_action_kill.apply(&env, t, undo, journal_cb, &j);
		fx->sh->done = j.calls + 1;
		_exit(0);
	}
	fx->kids[fx->nkids++] = pid;
	status = reap(fx, pid, 2000);
	assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(fx->sh->result, -EPERM);
	assert_int_equal(fx->sh->done, 1); /* journal not called */
}

static void test_kill_missing_and_revert(void **state)
{
	char buf[128];
	struct journal j = { 0 };
	struct sg_target *t = new_target();
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
		cmocka_unit_test_setup_teardown(test_kill_cgroup_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_frozen_cgroup2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_sigterm_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_sigterm_obeyed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_never_init_or_self, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_v1_cgroup_signals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_v1_frozen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_journal_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_refuses_own_cgroup, setup, teardown),
		cmocka_unit_test(test_kill_missing_and_revert),
	};

	/* workers whose parent dies come to this process, which reaps them */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
