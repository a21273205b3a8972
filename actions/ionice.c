/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ionice: the I/O priority of every thread of a job, and back.
 *
 * ioprio is per thread (one ioprio per thread), so apply walks the threads: the processes
 * of the job's cgroup2 (cgroup.procs, then /proc/PID/task), else the TIDs of
 * its v1 blkio cgroup (tasks), else /proc/PID/task of each listed pid. It
 * records "TID:IOPRIO ..." in undo->data, has the journal write it, and only
 * then sets class<<13|level on the threads it recorded.
 *
 * The ioprio set is not stored in data: revert and describe read it from
 * undo->step ("ionice idle" or "ionice be:N", as config_values.c normalises
 * it), and apply refuses a step text that does not say what env->step says,
 * so a journal written by apply can always be reverted. */
#include "action.h"
#include "units.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "log.h"

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_CLASS_NONE 0
#define IOPRIO_CLASS_RT 1
#define IOPRIO_CLASS_BE 2
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_LEVELS 8

static int ioprio_get_tid(pid_t tid)
{
	long r = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);

	return r < 0 ? -errno : (int)r;
}

static int ioprio_set_tid(pid_t tid, int ioprio)
{
	return syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, ioprio) < 0 ? -errno : 0;
}

/* "ionice idle" or "ionice be:N" to the ioprio value it sets. */
static int step_ioprio(const char *text, int *ioprio)
{
	static const char be[] = "ionice be:";

	if (strcmp(text, "ionice idle") == 0) {
		*ioprio = IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT;
		return 0;
	}
	if (strncmp(text, be, sizeof(be) - 1) == 0) {
		const char *n = text + sizeof(be) - 1;

		if (n[0] >= '0' && n[0] < '0' + IOPRIO_LEVELS && n[1] == '\0') {
			*ioprio = IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT | (n[0] - '0');
			return 0;
		}
	}
	return -EINVAL;
}

/* The process a thread belongs to (Tgid of its status), or -errno. */
static pid_t tgid_of(pid_t tid)
{
	char path[64], buf[1024];
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	ssize_t n = sg_read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (pid_t)n;
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : -EINVAL;
}

/* pid 1, the guardian and kernel threads are never acted on; neither is a
 * task whose /proc entry cannot be read (it has exited). */
static bool tid_excluded(pid_t tid, pid_t self)
{
	char state;
	bool kthread;
	pid_t tgid;

	if (tid <= 1 || tid == self)
		return true;
	tgid = tgid_of(tid);
	if (tgid <= 1 || tgid == self)
		return true;
	return sg_proc_stat("/proc", tid, &state, &kthread) < 0 || kthread;
}

struct collect {
	struct sg_undo *undo;
	size_t len;      /* of undo->data */
	size_t recorded; /* threads in undo->data */
	size_t left;     /* threads not recorded because undo->data is full */
	pid_t self;
};

static void record_tid(struct collect *c, pid_t tid)
{
	char entry[32];
	int ioprio, n;

	if (tid_excluded(tid, c->self))
		return;
	ioprio = ioprio_get_tid(tid);
	if (ioprio < 0)
		return; /* exited */
	/* Once full, stay full: every later thread is left as it is. */
	n = snprintf(entry, sizeof(entry), "%s%d:%d", c->len ? " " : "", tid, ioprio);
	if (c->left || n < 0 || c->len + (size_t)n >= sizeof(c->undo->data)) {
		c->left++;
		return;
	}
	memcpy(c->undo->data + c->len, entry, n + 1);
	c->len += n;
	c->recorded++;
}

static void record_process(struct collect *c, pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dir;

	if (pid <= 1 || pid == c->self)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return; /* exited */
	while ((de = readdir(dir))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && *end == '\0')
			record_tid(c, (pid_t)tid);
	}
	closedir(dir);
}

static int record_tid_id(pid_t tid, void *userdata)
{
	record_tid(userdata, tid);
	return 0;
}

static int record_process_id(pid_t pid, void *userdata)
{
	record_process(userdata, pid);
	return 0;
}

/* Each id in DIR/FILE: a process (cgroup.procs) or a thread (v1 tasks). */
static int record_cgroup(struct collect *c, const char *dir, const char *file, bool threads)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (dirfd < 0)
		return -errno;
	r = sg_cgroup_each_id(dirfd, file, threads ? record_tid_id : record_process_id, c);
	close(dirfd);
	return r;
}

static bool pid_listed_before(const struct sg_target *target, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (target->pids[j] == target->pids[i])
			return true;
	return false;
}

/* The next "TID:IOPRIO" of data at *p. Returns 1, 0 at the end, or -EINVAL. */
static int next_entry(const char **p, pid_t *tid, int *ioprio)
{
	const char *s = *p;
	char *end;
	long t, v;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	t = strtol(s, &end, 10);
	if (*end != ':' || t <= 0 || t > INT32_MAX || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	v = strtol(end + 1, &end, 10);
	if ((*end != ' ' && *end != '\0') || v > INT32_MAX)
		return -EINVAL;
	*tid = (pid_t)t;
	*ioprio = (int)v;
	*p = end;
	return 1;
}

static int ionice_apply(const struct sg_action_env *env, const struct sg_target *target,
			struct sg_undo *undo, sg_journal_fn journal, void *userdata)
{
	struct collect c = { .undo = undo, .self = getpid() };
	size_t set = 0, failed = 0;
	int want, step_want, r, first_err = 0;
	const char *p;
	pid_t tid;
	int old;

	if (!env->step || env->step->kind != SG_STEP_IONICE)
		return -EINVAL;
	if (env->step->ionice_class == IOPRIO_CLASS_IDLE)
		want = IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT;
	else if (env->step->ionice_class == IOPRIO_CLASS_BE && env->step->ionice_level >= 0 &&
		 env->step->ionice_level < IOPRIO_LEVELS)
		want = IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT | env->step->ionice_level;
	else
		return -EINVAL;
	/* revert finds the value it must see on a thread in undo->step. */
	if (step_ioprio(undo->step, &step_want) < 0 || step_want != want)
		return -EINVAL;

	undo->data[0] = '\0';
	undo->path[0] = '\0';
	if (target->cgroup2[0]) {
		snprintf(undo->path, sizeof(undo->path), "%s", target->cgroup2);
		r = record_cgroup(&c, target->cgroup2, "cgroup.procs", false);
	} else if (target->blkio[0]) {
		snprintf(undo->path, sizeof(undo->path), "%s", target->blkio);
		r = record_cgroup(&c, target->blkio, "tasks", true);
	} else {
		r = 0;
		for (size_t i = 0; i < target->npids && i < SG_TARGET_PIDS_MAX; i++)
			if (!pid_listed_before(target, i))
				record_process(&c, target->pids[i]);
	}
	if (r < 0)
		return r;
	if (c.left)
		sg_log(LOG_WARNING,
		       "%s on job %s: undo record full after %zu threads; %zu left as they are",
		       undo->step, target->job, c.recorded, c.left);

	r = journal(undo, userdata);
	if (r < 0)
		return r;

	p = undo->data;
	while (next_entry(&p, &tid, &old) > 0) {
		r = ioprio_set_tid(tid, want);
		if (r == 0) {
			set++;
		} else if (r != -ESRCH) {
			failed++;
			if (!first_err)
				first_err = r;
		}
	}
	if (failed && !set)
		return first_err;
	if (failed)
		sg_log(LOG_WARNING, "%s on job %s: %zu of %zu threads left as they are: %s",
		       undo->step, target->job, failed, c.recorded, strerror(-first_err));
	return 0;
}

/* The old ioprio data records for tid, or -1 when it has none. */
static int recorded_old(const char *data, pid_t tid)
{
	const char *p = data;
	pid_t t;
	int old;

	while (next_entry(&p, &t, &old) > 0)
		if (t == tid)
			return old;
	return -1;
}

/* The old ioprio most threads of data had. */
static int most_common_old(const char *data)
{
	size_t count[8 * IOPRIO_LEVELS] = { 0 }, best = 0; /* by class and level */
	const char *p = data;
	int old, common = 0;
	pid_t tid;

	while (next_entry(&p, &tid, &old) > 0) {
		size_t i = ((size_t)(old >> IOPRIO_CLASS_SHIFT) & 7) * IOPRIO_LEVELS + ((size_t)old & 7);
		if (++count[i] > best) {
			best = count[i];
			common = old;
		}
	}
	return common;
}

/* Threads that appeared after apply: see ionice_revert. */
struct newcomers {
	const char *data;
	int applied;  /* the ioprio apply set */
	int fallback; /* most_common_old(data) */
	pid_t self;
	size_t restored;
	int first_err;
};

static void restore_newcomer(struct newcomers *nc, pid_t tgid, pid_t tid)
{
	int old;

	if (recorded_old(nc->data, tid) >= 0 || tid_excluded(tid, nc->self) || ioprio_get_tid(tid) != nc->applied)
		return;
	old = recorded_old(nc->data, tgid);
	int r = ioprio_set_tid(tid, old >= 0 ? old : nc->fallback);
	if (r == 0)
		nc->restored++;
	else if (r != -ESRCH && !nc->first_err)
		nc->first_err = r;
}

static int restore_newcomers_of(pid_t pid, void *userdata)
{
	struct newcomers *nc = userdata;
	char path[64];
	struct dirent *de;
	DIR *dir;

	if (pid <= 1 || pid == nc->self)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return 0; /* exited */
	while ((de = readdir(dir))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && *end == '\0')
			restore_newcomer(nc, pid, (pid_t)tid);
	}
	closedir(dir);
	return 0;
}

/* A recorded thread is restored only while it still has the ioprio apply set.
 * One that differs was changed since (by an operator, the job itself, or a
 * later step) or its TID now names a new thread that started with its own
 * ioprio: either way it is left alone. A thread that has exited (ESRCH) has
 * nothing to undo.
 *
 * Threads and processes that appeared after apply inherited the applied
 * ioprio from whoever made them; without the step they would have had that
 * one's old ioprio. So every thread not recorded, of a recorded process or,
 * when apply worked on a cgroup (undo->path), of a process in it now, that
 * still has the applied ioprio gets the old ioprio of its process's leader
 * when that was recorded, else the one most recorded threads had. */
static int ionice_revert(const struct sg_action_env *env, const struct sg_undo *undo)
{
	struct newcomers nc = { .data = undo->data, .self = getpid() };
	const char *p = undo->data;
	int applied, old, cur, r, first_err = 0;
	pid_t tid;

	(void)env;
	r = step_ioprio(undo->step, &applied);
	if (r < 0)
		return r;
	while ((r = next_entry(&p, &tid, &old)) > 0)
		;
	if (r < 0)
		return r;

	p = undo->data;
	while (next_entry(&p, &tid, &old) > 0) {
		cur = ioprio_get_tid(tid);
		if (cur < 0) {
			if (cur != -ESRCH && !first_err)
				first_err = cur;
			continue;
		}
		if (cur != applied)
			continue;
		r = ioprio_set_tid(tid, old);
		if (r < 0 && r != -ESRCH && !first_err)
			first_err = r;
	}

	nc.applied = applied;
	nc.fallback = most_common_old(undo->data);
	p = undo->data;
	while (next_entry(&p, &tid, &old) > 0)
		if (tgid_of(tid) == tid)
			restore_newcomers_of(tid, &nc);
	if (undo->path[0]) {
		int dirfd = open(undo->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd >= 0) {
			sg_cgroup_each_id(dirfd, "cgroup.procs", restore_newcomers_of, &nc);
			close(dirfd);
		}
	}
	if (nc.restored)
		sg_log(LOG_INFO, "%s on job %s: %zu threads started since it was applied restored too", undo->step,
		       undo->job, nc.restored);
	return first_err ? first_err : nc.first_err;
}


static void append_ioprio(char *buf, size_t len, size_t *pos, unsigned cls, unsigned level)
{
	switch (cls) {
	case IOPRIO_CLASS_NONE: sg_appendf(buf, len, pos, "none"); break;
	case IOPRIO_CLASS_RT: sg_appendf(buf, len, pos, "realtime %u", level); break;
	case IOPRIO_CLASS_BE: sg_appendf(buf, len, pos, "best-effort %u", level); break;
	case IOPRIO_CLASS_IDLE: sg_appendf(buf, len, pos, "idle"); break;
	default: sg_appendf(buf, len, pos, "class %u level %u", cls, level); break;
	}
}

static void ionice_describe(const struct sg_undo *undo, char *buf, size_t len)
{
	/* Threads per previous class and level (hints are not shown). */
	size_t count[8 * IOPRIO_LEVELS] = { 0 }, n = 0, pos = 0;
	const char *step = undo->step[0] ? undo->step : "ionice";
	const char *p = undo->data;
	bool first = true;
	int old;
	pid_t tid;

	if (!len)
		return;
	while (next_entry(&p, &tid, &old) > 0) {
		unsigned cls = (old >> IOPRIO_CLASS_SHIFT) & 7, level = old & (IOPRIO_LEVELS - 1);

		count[cls * IOPRIO_LEVELS + level]++;
		n++;
	}
	if (!n) {
		if (undo->job[0])
			snprintf(buf, len, "%s on job %s", step, undo->job);
		else
			snprintf(buf, len, "%s", step);
		return;
	}
	sg_appendf(buf, len, &pos, "%s on %zu thread%s", step, n, n == 1 ? "" : "s");
	if (undo->job[0])
		sg_appendf(buf, len, &pos, " of job %s", undo->job);
	sg_appendf(buf, len, &pos, " (was ");
	for (size_t i = 0; i < sizeof(count) / sizeof(count[0]); i++) {
		if (!count[i])
			continue;
		if (!first)
			sg_appendf(buf, len, &pos, ", ");
		append_ioprio(buf, len, &pos, i / IOPRIO_LEVELS, i % IOPRIO_LEVELS);
		sg_appendf(buf, len, &pos, " on %zu", count[i]);
		first = false;
	}
	sg_appendf(buf, len, &pos, ")");
}

const struct sg_action sg_action_ionice = {
	.kind = SG_STEP_IONICE,
	.apply = ionice_apply,
	.revert = ionice_revert,
	.describe = ionice_describe,
};
