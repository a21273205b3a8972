/* SPDX-License-Identifier: GPL-2.0-or-later */
/* actions/ionice.c on real processes: a child with four threads, in a cgroup
 * of its own under the unified mount or the v1 blkio hierarchy. Needs root. */
#include "fixture.h"
#include "proctree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action.h"

extern const struct sg_action sg_action_ionice;

#define WHO_PROCESS 1
#define NONE 0
#define BE(level) (2 << 13 | (level))
#define IDLE (3 << 13)
#define NTHREADS 4

struct job {
	pid_t pid;
	pid_t tids[NTHREADS];
	char cg2[256];   /* "" when not made */
	char blkio[256]; /* "" when not made */
};

struct journal_check {
	const struct job *job;
	int expect[NTHREADS]; /* each thread's ioprio before apply */
	int ret;              /* what the callback returns */
	int calls;
	bool unchanged;       /* every thread still had its old ioprio when called */
	char data[SG_UNDO_DATA_MAX];
};

static int get_prio(pid_t tid)
{
	long r = syscall(SYS_ioprio_get, WHO_PROCESS, tid);

	return r < 0 ? -errno : (int)r;
}

static void set_prio(pid_t tid, int ioprio)
{
	assert_int_equal(syscall(SYS_ioprio_set, WHO_PROCESS, tid, ioprio), 0);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void child(void)
{
	pthread_t t;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int i = 1; i < NTHREADS; i++)
		if (pthread_create(&t, NULL, sleeper, NULL) != 0)
			_exit(1);
	sleeper(NULL);
}

/* The job of test_revert_restores_newcomers: one thread until a byte comes
 * on spawn_pipe, then a new thread and two child processes, all made by a
 * thread that has the applied ioprio by then. */
static int spawn_pipe[2];

static void spawner(void)
{
	pthread_t t;
	char byte;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close(spawn_pipe[1]);
	if (read(spawn_pipe[0], &byte, 1) != 1)
		_exit(1);
	if (pthread_create(&t, NULL, sleeper, NULL) != 0)
		_exit(1);
	for (int i = 0; i < 2; i++)
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			sleeper(NULL);
		}
	sleeper(NULL);
}

static void write_file(const char *dir, const char *file, long value)
{
	char path[512], text[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	n = snprintf(text, sizeof(text), "%ld\n", value);
	if (write(fd, text, n) != n)
		fail_msg("write %ld to %s: %s", value, path, strerror(errno));
	close(fd);
}

static void make_cgroup(const char *root, char *out, size_t len)
{
	snprintf(out, len, "%s/stallguard-test-XXXXXX", root);
	if (!mkdtemp(out)) {
		int err = errno;

		out[0] = '\0';
		fail_msg("mkdir under %s: %s", root, strerror(err));
	}
}

static void stop_job(struct job *job)
{
	if (job->pid > 0) {
		kill(job->pid, SIGKILL);
		waitpid(job->pid, NULL, 0);
		job->pid = 0;
	}
}

/* Reads the job's threads into tids, the leader first. Returns how many there are. */
static int read_tids(struct job *job)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 1;

	snprintf(path, sizeof(path), "/proc/%d/task", job->pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	job->tids[0] = job->pid;
	while ((de = readdir(dir))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0 || tid == job->pid)
			continue;
		if (n < NTHREADS)
			job->tids[n] = tid;
		n++;
	}
	closedir(dir);
	return n;
}

/* Starts the job and waits for its threads. */
static int setup_job(void **state)
{
	struct job *job = calloc(1, sizeof(*job));

	if (!job)
		return -1;
	job->pid = fork();
	if (job->pid == 0)
		child();
	for (int tries = 0; job->pid > 0 && tries < 500; tries++) {
		if (read_tids(job) == NTHREADS) {
			*state = job;
			return 0;
		}
		pt_msleep(10);
	}
	stop_job(job);
	free(job);
	return -1;
}

static void remove_cgroup(char *dir)
{
	if (!dir[0])
		return;
	/* A killed task may leave the cgroup a moment after it is reaped. */
	for (int tries = 0; tries < 100 && rmdir(dir) < 0 && errno == EBUSY; tries++)
		pt_msleep(10);
	dir[0] = '\0';
}

/* Threads outside the job a test lists as a target (pid 1, the test itself, a
 * kernel thread), saved so that teardown puts them back should apply reach them. */
static struct {
	pid_t tid;
	int ioprio;
} saved[1024];
static size_t nsaved;

static void save_process(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((de = readdir(dir)) && nsaved < sizeof(saved) / sizeof(saved[0])) {
		pid_t tid = atoi(de->d_name);

		if (tid > 0 && get_prio(tid) >= 0) {
			saved[nsaved].tid = tid;
			saved[nsaved].ioprio = get_prio(tid);
			nsaved++;
		}
	}
	closedir(dir);
}

/* Returns how many saved threads had changed. */
static size_t restore_saved(void)
{
	size_t changed = 0;

	for (size_t i = 0; i < nsaved; i++) {
		int cur = get_prio(saved[i].tid);

		if (cur >= 0 && cur != saved[i].ioprio) {
			syscall(SYS_ioprio_set, WHO_PROCESS, saved[i].tid, saved[i].ioprio);
			changed++;
		}
	}
	nsaved = 0;
	return changed;
}

static int teardown_job(void **state)
{
	struct job *job = *state;

	restore_saved();
	if (!job)
		return 0;
	stop_job(job);
	remove_cgroup(job->cg2);
	remove_cgroup(job->blkio);
	free(job);
	return 0;
}

static int journal_cb(const struct sg_undo *undo, void *userdata)
{
	struct journal_check *jc = userdata;

	jc->calls++;
	jc->unchanged = true;
	for (int i = 0; i < NTHREADS; i++)
		if (get_prio(jc->job->tids[i]) != jc->expect[i])
			jc->unchanged = false;
	snprintf(jc->data, sizeof(jc->data), "%s", undo->data);
	return jc->ret;
}

static void init(struct sg_step *step, struct sg_action_env *env, struct sg_undo *undo,
		 const char *text, int cls, int level)
{
	memset(step, 0, sizeof(*step));
	memset(env, 0, sizeof(*env));
	step->kind = SG_STEP_IONICE;
	step->ionice_class = cls;
	step->ionice_level = level;
	snprintf(step->text, sizeof(step->text), "%s", text);
	env->step = step;
	env->reason = "";
	env->capture = "";
	memset(undo, 0, sizeof(*undo));
	undo->kind = SG_STEP_IONICE;
	snprintf(undo->rule, sizeof(undo->rule), "io-storm");
	snprintf(undo->job, sizeof(undo->job), "backup");
	snprintf(undo->step, sizeof(undo->step), "%s", text);
	undo->level = 1;
}

static struct sg_undo undo;
static struct sg_target target;

static void init_target(void)
{
	memset(&target, 0, sizeof(target));
	snprintf(target.job, sizeof(target.job), "backup");
}

static void expect_prios(const struct job *job, const int want[NTHREADS])
{
	for (int i = 0; i < NTHREADS; i++)
		if (get_prio(job->tids[i]) != want[i])
			fail_msg("thread %d (tid %d): ioprio %d, expected %d", i, job->tids[i],
				 get_prio(job->tids[i]), want[i]);
}

static size_t count_entries(const char *data)
{
	size_t n = 0;

	for (const char *p = data; *p; p++)
		n += *p == ':';
	return n;
}

/* Whether data has an entry for tid. */
static bool has_tid(const char *data, pid_t tid)
{
	char text[32];
	snprintf(text, sizeof(text), "%d:", tid);

	for (const char *p = data; (p = strstr(p, text)); p++)
		if (p == data || p[-1] == ' ')
			return true;
	return false;
}

static void test_cgroup2_apply_revert(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;
	const int before[NTHREADS] = { NONE, BE(4), NONE, NONE };
	const int idle[NTHREADS] = { IDLE, IDLE, IDLE, IDLE };
	char text[256];

	make_cgroup("/sys/fs/cgroup/unified", job->cg2, sizeof(job->cg2));
	write_file(job->cg2, "cgroup.procs", job->pid);
	set_prio(job->tids[1], BE(4));
	expect_prios(job, before);
	memcpy(jc.expect, before, sizeof(before));

	init(&step, &env, &undo, "ionice idle", 3, 0);
	init_target();
	snprintf(target.cgroup2, sizeof(target.cgroup2), "%s", job->cg2);
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), 0);
	assert_int_equal(jc.calls, 1);
	assert_true(jc.unchanged);
	assert_string_equal(jc.data, undo.data);
	assert_int_equal(count_entries(undo.data), NTHREADS);
	snprintf(text, sizeof(text), "%d:%d", job->tids[1], BE(4));
	assert_non_null(strstr(undo.data, text));
	for (int i = 0; i < NTHREADS; i++)
		assert_true(has_tid(undo.data, job->tids[i]));
	assert_string_equal(undo.path, job->cg2);
	expect_prios(job, idle);

	sg_action_ionice.describe(&undo, text, sizeof(text));
	assert_string_equal(text, "ionice idle on 4 threads of job backup "
				  "(was none on 3, best-effort 4 on 1)");

	assert_int_equal(sg_action_ionice.revert(&env, &undo), 0);
	expect_prios(job, before);
}

static int setup_spawner(void **state)
{
	struct job *job = calloc(1, sizeof(*job));

	if (!job || pipe(spawn_pipe) < 0)
		return -1;
	job->pid = fork();
	if (job->pid == 0)
		spawner();
	close(spawn_pipe[0]);
	*state = job;
	return job->pid > 0 ? 0 : -1;
}

static int teardown_spawner(void **state)
{
	struct job *job = *state;

	close(spawn_pipe[1]);
	if (job && job->cg2[0]) /* the child processes too */
		write_file(job->cg2, "cgroup.kill", 1);
	return teardown_job(state);
}

/* The pids in cgroup.procs of dir other than leader, up to max. */
static size_t other_procs(const char *dir, pid_t leader, pid_t *out, size_t max)
{
	char path[512];
	size_t n = 0;
	long pid;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fscanf(f, "%ld", &pid) == 1)
		if (pid != leader && n < max)
			out[n++] = (pid_t)pid;
	fclose(f);
	return n;
}

static void test_revert_restores_newcomers(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;
	pid_t kids[2];

	make_cgroup("/sys/fs/cgroup/unified", job->cg2, sizeof(job->cg2));
	write_file(job->cg2, "cgroup.procs", job->pid);
	set_prio(job->pid, BE(3));
	/* One thread for now: journal_cb checks it NTHREADS times. */
	for (int i = 0; i < NTHREADS; i++) {
		job->tids[i] = job->pid;
		jc.expect[i] = BE(3);
	}

	init(&step, &env, &undo, "ionice idle", 3, 0);
	init_target();
	snprintf(target.cgroup2, sizeof(target.cgroup2), "%s", job->cg2);
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), 0);
	assert_int_equal(count_entries(undo.data), 1);
	assert_int_equal(get_prio(job->pid), IDLE);

	/* The job makes a thread and two processes while demoted: they inherit idle. */
	assert_int_equal(write(spawn_pipe[1], "x", 1), 1);
	int tries = 0;
	while ((read_tids(job) < 2 || other_procs(job->cg2, job->pid, kids, 2) < 2) && tries++ < 500)
		pt_msleep(10);
	assert_int_equal(read_tids(job), 2);
	assert_int_equal(other_procs(job->cg2, job->pid, kids, 2), 2);
	pid_t thread = job->tids[1];
	assert_int_equal(get_prio(thread), IDLE);
	assert_int_equal(get_prio(kids[0]), IDLE);
	/* An operator gives one of them a priority of its own meanwhile. */
	set_prio(kids[1], BE(7));

	assert_int_equal(sg_action_ionice.revert(&env, &undo), 0);
	assert_int_equal(get_prio(job->pid), BE(3));
	/* The new thread gets its leader's old priority; the new process, whose
	 * leader was never recorded, the one most recorded threads had. */
	assert_int_equal(get_prio(thread), BE(3));
	assert_int_equal(get_prio(kids[0]), BE(3));
	assert_int_equal(get_prio(kids[1]), BE(7));
}

static void test_journal_failure(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job, .ret = -EIO };
	struct sg_step step;
	struct sg_action_env env;
	const int before[NTHREADS] = { NONE, BE(4), NONE, NONE };

	make_cgroup("/sys/fs/cgroup/unified", job->cg2, sizeof(job->cg2));
	write_file(job->cg2, "cgroup.procs", job->pid);
	set_prio(job->tids[1], BE(4));
	memcpy(jc.expect, before, sizeof(before));

	init(&step, &env, &undo, "ionice idle", 3, 0);
	init_target();
	snprintf(target.cgroup2, sizeof(target.cgroup2), "%s", job->cg2);
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), -EIO);
	assert_int_equal(jc.calls, 1);
	assert_true(jc.unchanged);
	assert_int_equal(count_entries(jc.data), NTHREADS);
	expect_prios(job, before);
}

static void test_pids_be7(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;
	const int before[NTHREADS] = { NONE, NONE, NONE, NONE };
	const int be7[NTHREADS] = { BE(7), BE(7), BE(7), BE(7) };

	init(&step, &env, &undo, "ionice be:7", 2, 7);
	init_target();
	/* Listed twice: still one record per thread. */
	target.pids[0] = job->pid;
	target.pids[1] = job->pid;
	target.npids = 2;
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), 0);
	assert_true(jc.unchanged);
	assert_string_equal(undo.path, "");
	assert_int_equal(count_entries(undo.data), NTHREADS);
	expect_prios(job, be7);

	assert_int_equal(sg_action_ionice.revert(&env, &undo), 0);
	expect_prios(job, before);
}

/* v1: the tasks file holds TIDs; a thread of the process left outside the
 * cgroup is not touched. */
static void test_blkio_tasks(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;
	const int before[NTHREADS] = { NONE, NONE, NONE, NONE };
	const int after[NTHREADS] = { IDLE, IDLE, IDLE, NONE };

	make_cgroup("/sys/fs/cgroup/blkio", job->blkio, sizeof(job->blkio));
	for (int i = 0; i < NTHREADS - 1; i++)
		write_file(job->blkio, "tasks", job->tids[i]);

	init(&step, &env, &undo, "ionice idle", 3, 0);
	init_target();
	snprintf(target.blkio, sizeof(target.blkio), "%s", job->blkio);
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), 0);
	assert_true(jc.unchanged);
	assert_string_equal(undo.path, job->blkio);
	assert_int_equal(count_entries(undo.data), NTHREADS - 1);
	expect_prios(job, after);

	assert_int_equal(sg_action_ionice.revert(&env, &undo), 0);
	expect_prios(job, before);
}

static void test_revert_after_exit(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;

	init(&step, &env, &undo, "ionice idle", 3, 0);
	init_target();
	target.pids[0] = job->pid;
	target.npids = 1;
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), 0);
	assert_int_equal(get_prio(job->tids[2]), IDLE);
	stop_job(job);
	assert_int_equal(get_prio(job->tids[2]), -ESRCH);
	assert_int_equal(sg_action_ionice.revert(&env, &undo), 0);
}

/* A thread changed by someone else after apply keeps what they set. */
static void test_revert_leaves_changed(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;
	const int after[NTHREADS] = { NONE, NONE, BE(2), NONE };

	init(&step, &env, &undo, "ionice idle", 3, 0);
	init_target();
	target.pids[0] = job->pid;
	target.npids = 1;
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), 0);
	set_prio(job->tids[2], BE(2));
	assert_int_equal(sg_action_ionice.revert(&env, &undo), 0);
	expect_prios(job, after);
}

/* pid 1, the guardian itself and a kernel thread are never recorded or changed. */
static void test_never_pid1_self_kthread(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;
	const int be7[NTHREADS] = { BE(7), BE(7), BE(7), BE(7) };
	bool kthread = pt_is_kthread(2);

	save_process(1);
	save_process(getpid());
	if (kthread)
		save_process(2);
	init(&step, &env, &undo, "ionice be:7", 2, 7);
	init_target();
	target.pids[target.npids++] = 1;
	target.pids[target.npids++] = getpid();
	if (kthread)
		target.pids[target.npids++] = 2;
	target.pids[target.npids++] = job->pid;
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), 0);
	expect_prios(job, be7);
	assert_int_equal(count_entries(undo.data), NTHREADS);
	assert_int_equal(restore_saved(), 0);
	assert_false(has_tid(undo.data, 1));
	assert_false(has_tid(undo.data, getpid()));
	assert_false(has_tid(undo.data, 2));
	assert_true(has_tid(undo.data, job->tids[3]));
	assert_int_equal(sg_action_ionice.revert(&env, &undo), 0);
}

/* With only pid 1 listed there is nothing to act on: 0, journal still called. */
static void test_nothing_to_do(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;

	save_process(1);
	init(&step, &env, &undo, "ionice idle", 3, 0);
	init_target();
	target.pids[0] = 1;
	target.npids = 1;
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), 0);
	assert_int_equal(jc.calls, 1);
	assert_string_equal(undo.data, "");
	assert_int_equal(restore_saved(), 0);
}

/* undo->step must say what env->step says, or revert could not check threads. */
static void test_step_mismatch(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;
	const int before[NTHREADS] = { NONE, NONE, NONE, NONE };

	init(&step, &env, &undo, "ionice be:7", 2, 7);
	snprintf(undo.step, sizeof(undo.step), "ionice idle");
	init_target();
	target.pids[0] = job->pid;
	target.npids = 1;
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), -EINVAL);
	assert_int_equal(jc.calls, 0);
	expect_prios(job, before);
}

static void test_missing_cgroup(void **state)
{
	struct job *job = *state;
	struct journal_check jc = { .job = job };
	struct sg_step step;
	struct sg_action_env env;

	init(&step, &env, &undo, "ionice idle", 3, 0);
	init_target();
	snprintf(target.cgroup2, sizeof(target.cgroup2), "%s",
		 "/sys/fs/cgroup/unified/stallguard-test-absent");
	assert_int_equal(sg_action_ionice.apply(&env, &target, &undo, journal_cb, &jc), -ENOENT);
	assert_int_equal(jc.calls, 0);
}

static void test_revert_bad_data(void **state)
{
	struct sg_step step;
	struct sg_action_env env;

	(void)state;
	init(&step, &env, &undo, "ionice idle", 3, 0);
	snprintf(undo.data, sizeof(undo.data), "123:0 abc");
	assert_int_equal(sg_action_ionice.revert(&env, &undo), -EINVAL);
	snprintf(undo.data, sizeof(undo.data), "123:");
	assert_int_equal(sg_action_ionice.revert(&env, &undo), -EINVAL);
	snprintf(undo.data, sizeof(undo.data), "%s", "");
	snprintf(undo.step, sizeof(undo.step), "ionice be:8");
	assert_int_equal(sg_action_ionice.revert(&env, &undo), -EINVAL);
	snprintf(undo.step, sizeof(undo.step), "ionice be:7");
	assert_int_equal(sg_action_ionice.revert(&env, &undo), 0);
}

static void test_describe(void **state)
{
	struct sg_step step;
	struct sg_action_env env;
	char text[256];

	(void)state;
	init(&step, &env, &undo, "ionice idle", 3, 0);
	sg_action_ionice.describe(&undo, text, sizeof(text));
	assert_string_equal(text, "ionice idle on job backup");

	init(&step, &env, &undo, "ionice be:7", 2, 7);
	snprintf(undo.data, sizeof(undo.data), "101:0 102:0 103:%d", BE(4));
	sg_action_ionice.describe(&undo, text, sizeof(text));
	assert_string_equal(text, "ionice be:7 on 3 threads of job backup "
				  "(was none on 2, best-effort 4 on 1)");

	snprintf(undo.data, sizeof(undo.data), "101:%d", IDLE);
	sg_action_ionice.describe(&undo, text, sizeof(text));
	assert_string_equal(text, "ionice be:7 on 1 thread of job backup (was idle on 1)");

	/* Truncated, still terminated. */
	sg_action_ionice.describe(&undo, text, 12);
	assert_string_equal(text, "ionice be:7");
}

#define JOB_TEST(f) cmocka_unit_test_setup_teardown(f, setup_job, teardown_job)

int main(void)
{
	const struct CMUnitTest tests[] = {
		JOB_TEST(test_cgroup2_apply_revert),
		JOB_TEST(test_journal_failure),
		JOB_TEST(test_pids_be7),
		JOB_TEST(test_blkio_tasks),
		JOB_TEST(test_revert_after_exit),
		JOB_TEST(test_revert_leaves_changed),
		JOB_TEST(test_never_pid1_self_kthread),
		JOB_TEST(test_nothing_to_do),
		JOB_TEST(test_step_mismatch),
		JOB_TEST(test_missing_cgroup),
		cmocka_unit_test_setup_teardown(test_revert_restores_newcomers, setup_spawner, teardown_spawner),
		cmocka_unit_test(test_revert_bad_data),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
