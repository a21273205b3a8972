/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by unit tests of steps that act on real processes: workers that
 * count in a MAP_SHARED page (so a test sees whether they run), the cgroups
 * a test puts them in, /proc/PID/stat and cgroup file helpers, what apply is
 * handed, and a setup and teardown that kill and reap every worker and
 * remove those cgroups, even when the test fails. Include after fixture.h.
 * main() makes the test process a child subreaper, so that workers whose
 * parent died are reaped too. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "units.h"

#define PT_SLOTS 8
#define PT_PF_KTHREAD 0x00200000UL

/* The page the workers count in. */
struct pt_shared {
	volatile uint64_t count[PT_SLOTS];
	volatile pid_t pid[PT_SLOTS];
	volatile int result; /* what a test's child process reports */
	volatile int done;
};

typedef void (*pt_worker_fn)(struct pt_shared *sh, int slot) __attribute__((noreturn));

struct proctree {
	struct pt_shared *sh;
	char cg2[128]; /* unified cgroup made by this test, "" when none */
	char v1[128];  /* v1 freezer cgroup made by this test, "" when none */
	pid_t kids[PT_SLOTS];
	size_t nkids;
	pt_worker_fn worker; /* what a worker runs; NULL: pt_count_loop */
};

static inline void pt_msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static inline int pt_write_file(const char *path, const char *text)
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
static inline const char *pt_read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static inline const char *pt_cg_file(const char *dir, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return buf;
}

/* Whether cgroup.events of dir holds the line want ("frozen 1"). */
static inline bool pt_events_has(const char *dir, const char *want)
{
	char path[256], text[256];

	pt_read_text(pt_cg_file(dir, "cgroup.events", path, sizeof(path)), text, sizeof(text));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strcmp(line, want) == 0)
			return true;
	return false;
}

/* The state letter of /proc/PID/stat, 0 when the process is gone. */
static inline char pt_proc_state(pid_t pid)
{
	char path[64], text[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	const char *p = strrchr(pt_read_text(path, text, sizeof(text)), ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

static inline bool pt_wait_state(pid_t pid, char state, unsigned timeout_ms)
{
	for (unsigned t = 0; t < timeout_ms; t += 10) {
		if (pt_proc_state(pid) == state)
			return true;
		pt_msleep(10);
	}
	return pt_proc_state(pid) == state;
}

/* Whether pid is a kernel thread: PF_KTHREAD in the flags of /proc/PID/stat. */
static inline bool pt_is_kthread(pid_t pid)
{
	char path[64], text[512];
	unsigned long flags;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	const char *p = strrchr(pt_read_text(path, text, sizeof(text)), ')');
	return p && sscanf(p, ") %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 &&
	       (flags & PT_PF_KTHREAD);
}

/* A kernel thread's pid, or 0. */
static inline pid_t pt_find_kthread(void)
{
	for (pid_t pid = 2; pid < 200; pid++)
		if (pt_is_kthread(pid))
			return pid;
	return 0;
}

static inline void __attribute__((noreturn)) pt_count_loop(struct pt_shared *sh, int slot)
{
	sh->pid[slot] = getpid();
	for (;;) {
		__atomic_add_fetch(&sh->count[slot], 1, __ATOMIC_RELAXED);
		pt_msleep(1);
	}
}

static inline void __attribute__((noreturn)) pt_work(struct proctree *fx, int slot)
{
	if (fx->worker)
		fx->worker(fx->sh, slot);
	pt_count_loop(fx->sh, slot);
}

/* Forks a child that dies with this process and joins procs_file when
 * given ("0" there moves the writer; it exits 1 when it cannot). Returns 0
 * in the child, and its pid in the parent, which teardown kills. */
static inline pid_t pt_fork_into(struct proctree *fx, const char *procs_file)
{
	assert_true(fx->nkids < PT_SLOTS);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (procs_file && pt_write_file(procs_file, "0") != 0)
			_exit(1);
		return 0;
	}
	fx->kids[fx->nkids++] = pid;
	return pid;
}

/* Forks a worker that joins procs_file when given, then forks nkids more
 * workers; they count in slots first .. first + nkids. Returns once all of
 * them counted. */
static inline pid_t pt_spawn(struct proctree *fx, const char *procs_file, int first, int nkids)
{
	assert_true(first + nkids < PT_SLOTS);
	pid_t pid = pt_fork_into(fx, procs_file);
	if (pid == 0) {
		for (int i = 1; i <= nkids; i++) {
			if (fork() == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				pt_work(fx, first + i);
			}
		}
		pt_work(fx, first);
	}
	for (int t = 0; t < 300; t++) {
		bool all = true;
		for (int i = first; i <= first + nkids; i++)
			all = all && fx->sh->count[i] > 0;
		if (all)
			return pid;
		pt_msleep(10);
	}
	fail_msg("workers in slots %d..%d did not start", first, first + nkids);
	return -1;
}

/* Counts of slots first..last now and after ms: how many slots advanced. */
static inline int pt_advancing(struct proctree *fx, int first, int last, unsigned ms)
{
	uint64_t before[PT_SLOTS];
	int n = 0;

	for (int i = first; i <= last; i++)
		before[i] = fx->sh->count[i];
	pt_msleep(ms);
	for (int i = first; i <= last; i++)
		n += fx->sh->count[i] != before[i];
	return n;
}

/* A cgroup of this test under root (a hierarchy's mount), named for this
 * process; path is "" when it cannot be made. Returns 0 or -errno. */
static inline int pt_make_cgroup(char *path, size_t len, const char *root)
{
	static unsigned serial;

	snprintf(path, len, "%s/stallguard-test-%d-%u", root, (int)getpid(), serial++);
	if (mkdir(path, 0755) < 0) {
		path[0] = '\0';
		return -errno;
	}
	return 0;
}

/* What apply is handed for a step of kind on job backup of rule io-storm. */
static inline struct sg_undo *pt_new_undo(enum sg_step_kind kind, const char *step, unsigned level)
{
	struct sg_undo *undo = calloc(1, sizeof(*undo));

	assert_non_null(undo);
	undo->kind = kind;
	sg_strlcpy(undo->rule, "io-storm", sizeof(undo->rule));
	sg_strlcpy(undo->job, "backup", sizeof(undo->job));
	sg_strlcpy(undo->step, step, sizeof(undo->step));
	undo->level = level;
	return undo;
}

/* Job backup, with no cgroup or process yet. */
static inline struct sg_target *pt_new_target(void)
{
	struct sg_target *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	sg_strlcpy(t->job, "backup", sizeof(t->job));
	return t;
}

static inline int pt_setup(void **state)
{
	struct proctree *fx = calloc(1, sizeof(*fx));
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

static inline int pt_teardown(void **state)
{
	struct proctree *fx = *state;
	char path[256];

	/* kill every worker (cgroup.kill works on frozen tasks; a v1-frozen
	 * task dies once thawed), then reap them all: grandchildren come to
	 * this process, the subreaper. */
	if (fx->cg2[0])
		pt_write_file(pt_cg_file(fx->cg2, "cgroup.kill", path, sizeof(path)), "1");
	for (size_t i = 0; i < fx->nkids; i++)
		if (fx->kids[i] > 1)
			kill(fx->kids[i], SIGKILL);
	for (int i = 0; i < PT_SLOTS; i++)
		if (fx->sh->pid[i] > 1)
			kill(fx->sh->pid[i], SIGKILL);
	if (fx->v1[0])
		pt_write_file(pt_cg_file(fx->v1, "freezer.state", path, sizeof(path)), "THAWED");
	for (int t = 0; t < 300; t++) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid <= 0)
			pt_msleep(10);
	}
	for (int t = 0; t < 100; t++) {
		bool left = (fx->cg2[0] && rmdir(fx->cg2) < 0 && errno != ENOENT) ||
			    (fx->v1[0] && rmdir(fx->v1) < 0 && errno != ENOENT);
		if (!left)
			break;
		pt_msleep(10);
	}
	munmap(fx->sh, sizeof(*fx->sh));
	free(fx);
	return 0;
}
