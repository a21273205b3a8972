/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The freeze step: cgroup v2 cgroup.freeze, else the v1 freezer, else
 * SIGSTOP to each process of a target that has no cgroup.
 *
 * apply refuses (-EPERM) a cgroup whose subtree holds pid 1 or the guardian
 * itself: freezing either would leave nobody to thaw. The pids path leaves
 * out pid 1, the guardian and kernel threads. Processes are signalled
 * through a pidfd opened before the journal is written, so a pid that is
 * reused in between is never stopped; revert works from the recorded pids
 * alone (after a crash there is no pidfd), and a SIGCONT to a pid that was
 * reused meanwhile only resumes a process that is stopped.
 *
 * A cgroup freeze is confirmed within 1 s ("frozen 1" in cgroup.events, or
 * freezer.state FROZEN); past that apply returns -ETIMEDOUT with the undo
 * already journaled (a task in D state freezes only when it leaves the
 * kernel), so revert still thaws. SIGSTOP is not waited for: the signal is
 * queued and the task stops when it next returns to user space. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "action.h"
#include "units.h"

#define FREEZE_CONFIRM_USEC (1 * USEC_PER_SEC)
#define POLL_STEP_MSEC 10
#define CGROUP_DEPTH_MAX 64
#define PF_KTHREAD_FLAG 0x00200000UL

static int write_at(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int err = n < 0 ? -errno : ((size_t)n == len ? 0 : -EIO);
	close(fd);
	return err;
}

/* A cgroup that was removed reads and writes as ENOENT or ENODEV. */
static bool gone(int err)
{
	return err == -ENOENT || err == -ENODEV;
}

static int poll_ms(uint64_t deadline)
{
	uint64_t now = sg_now_usec();
	uint64_t left = deadline > now ? (deadline - now + 999) / 1000 : 0;
	return left < POLL_STEP_MSEC ? (int)left : POLL_STEP_MSEC;
}

/* The value of "KEY V" in an open cgroup.events: 0 or 1, or -errno. */
static int events_value(int fd, const char *key)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	size_t klen = strlen(key);
	const char *p = buf, *end = buf + n;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) == klen + 2 && memcmp(p, key, klen) == 0 && p[klen] == ' ' &&
		    (p[klen + 1] == '0' || p[klen + 1] == '1'))
			return p[klen + 1] - '0';
		p = eol + 1;
	}
	return -EINVAL;
}

/* Waits until cgroup.events says "KEY want". cgroup.events raises POLLPRI
 * on change; the 10 ms re-read covers a missed notification. */
static int wait_events(int dirfd, const char *key, int want, uint64_t timeout_usec)
{
	uint64_t deadline = sg_now_usec() + timeout_usec;
	struct pollfd pfd = { .events = POLLPRI };

	pfd.fd = openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (pfd.fd < 0)
		return -errno;
	int err;
	for (;;) {
		err = events_value(pfd.fd, key);
		if (err < 0 || err == want) {
			err = err < 0 ? err : 0;
			break;
		}
		if (sg_now_usec() >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, poll_ms(deadline)) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
	}
	close(pfd.fd);
	return err;
}

/* Waits until freezer.state reads want (FREEZING while on the way). */
static int wait_freezer(int dirfd, const char *want, uint64_t timeout_usec)
{
	uint64_t deadline = sg_now_usec() + timeout_usec;
	size_t wlen = strlen(want);
	int fd = openat(dirfd, "freezer.state", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err;
	for (;;) {
		char buf[32];
		ssize_t n = pread(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			err = -errno;
			break;
		}
		if ((size_t)n >= wlen && memcmp(buf, want, wlen) == 0 &&
		    ((size_t)n == wlen || buf[wlen] == '\n')) {
			err = 0;
			break;
		}
		if (sg_now_usec() >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		poll(NULL, 0, poll_ms(deadline));
	}
	close(fd);
	return err;
}

/* -EPERM when the cgroup.procs of dirfd or of a cgroup below it lists
 * pid 1 or this process; 0 otherwise. A cgroup removed meanwhile is skipped. */
static int subtree_forbidden(int dirfd, unsigned depth)
{
	if (depth > CGROUP_DEPTH_MAX)
		return -ELOOP;
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gone(-errno) ? 0 : -errno;
	pid_t self = getpid();
	unsigned long value = 0;
	bool digits = false;
	int err = 0;
	char buf[4096];
	ssize_t n;
	while (!err && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				value = value * 10 + (unsigned long)(buf[i] - '0');
				digits = true;
			} else {
				if (digits && (value == 1 || value == (unsigned long)self))
					err = -EPERM;
				value = 0;
				digits = false;
			}
		}
	}
	if (!err && n < 0 && !gone(-errno))
		err = -errno;
	close(fd);
	if (err)
		return err;

	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return gone(-errno) ? 0 : -errno;
	DIR *dir = fdopendir(dfd);
	if (!dir) {
		err = -errno;
		close(dfd);
		return err;
	}
	struct dirent *de;
	while (!err && (de = readdir(dir))) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0) {
			if (!gone(-errno))
				err = -errno;
			continue;
		}
		err = subtree_forbidden(sub, depth + 1);
		close(sub);
	}
	closedir(dir);
	return err;
}

/* Whether pid is a user process other than pid 1 and this one, alive. */
static bool stoppable(pid_t pid)
{
	char path[32], buf[512];

	if (pid <= 1 || pid == getpid())
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	char state;
	unsigned long flags;
	/* ") STATE PPID PGRP SESSION TTY TPGID FLAGS" */
	if (!p || sscanf(p, ") %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return false;
	return !(flags & PF_KTHREAD_FLAG) && state != 'Z' && state != 'X';
}

static int journal_first(sg_journal_fn journal, void *userdata, const struct sg_undo *undo)
{
	int err = journal(undo, userdata);
	return err > 0 ? -EIO : err;
}

static int apply_cgroup2(const struct sg_target *target, struct sg_undo *undo,
			 sg_journal_fn journal, void *userdata)
{
	int dirfd = open(target->cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	int err = subtree_forbidden(dirfd, 0);
	/* cgroup.freeze is looked for before the journal: a host without it
	 * (or the root cgroup) is an error, not a journaled step. */
	if (!err && faccessat(dirfd, "cgroup.freeze", W_OK, 0) < 0)
		err = -errno;
	if (!err) {
		sg_strlcpy(undo->path, target->cgroup2, sizeof(undo->path));
		sg_strlcpy(undo->data, "cgroup2", sizeof(undo->data));
		err = journal_first(journal, userdata, undo);
	}
	if (!err)
		err = write_at(dirfd, "cgroup.freeze", "1");
	if (!err)
		err = wait_events(dirfd, "frozen", 1, FREEZE_CONFIRM_USEC);
	close(dirfd);
	return err;
}

static int apply_freezer(const struct sg_target *target, struct sg_undo *undo,
			 sg_journal_fn journal, void *userdata)
{
	int dirfd = open(target->freezer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	int err = subtree_forbidden(dirfd, 0);
	if (!err && faccessat(dirfd, "freezer.state", W_OK, 0) < 0)
		err = -errno;
	if (!err) {
		sg_strlcpy(undo->path, target->freezer, sizeof(undo->path));
		sg_strlcpy(undo->data, "freezer", sizeof(undo->data));
		err = journal_first(journal, userdata, undo);
	}
	if (!err)
		err = write_at(dirfd, "freezer.state", "FROZEN");
	if (!err)
		err = wait_freezer(dirfd, "FROZEN", FREEZE_CONFIRM_USEC);
	close(dirfd);
	return err;
}

static int apply_sigstop(const struct sg_target *target, struct sg_undo *undo,
			 sg_journal_fn journal, void *userdata)
{
	pid_t pids[SG_TARGET_PIDS_MAX];
	int pidfds[SG_TARGET_PIDS_MAX];
	size_t n = 0;
	size_t npids = target->npids < SG_TARGET_PIDS_MAX ? target->npids : SG_TARGET_PIDS_MAX;
	bool have_pidfd = true;

	for (size_t i = 0; i < npids; i++) {
		pid_t pid = target->pids[i];
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++)
			dup = pids[j] == pid;
		if (dup || !stoppable(pid))
			continue;
		int fd = -1;
		if (have_pidfd) {
			fd = (int)syscall(SYS_pidfd_open, pid, 0);
			if (fd < 0 && errno == ENOSYS)
				have_pidfd = false;
			else if (fd < 0)
				continue; /* exited since */
		}
		pids[n] = pid;
		pidfds[n++] = fd;
	}
	if (n == 0)
		return -ESRCH;

	undo->path[0] = '\0';
	size_t len = (size_t)snprintf(undo->data, sizeof(undo->data), "sigstop");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(undo->data + len, sizeof(undo->data) - len, " %d",
					(int)pids[i]);

	int jerr = journal_first(journal, userdata, undo), err = 0;
	for (size_t i = 0; i < n; i++) {
		if (!jerr) {
			int r = pidfds[i] < 0 ? kill(pids[i], SIGSTOP)
					      : (int)syscall(SYS_pidfd_send_signal, pidfds[i],
							     SIGSTOP, NULL, 0);
			if (r < 0 && errno != ESRCH && !err)
				err = -errno;
		}
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	}
	return jerr ? jerr : err;
}

static int freeze_apply(const struct sg_action_env *env, const struct sg_target *target,
			struct sg_undo *undo, sg_journal_fn journal, void *userdata)
{
	(void)env;
	if (target->cgroup2[0])
		return apply_cgroup2(target, undo, journal, userdata);
	if (target->freezer[0])
		return apply_freezer(target, undo, journal, userdata);
	return apply_sigstop(target, undo, journal, userdata);
}

/* Thaws a cgroup: writes value to file and waits for the confirmation. A
 * cgroup that no longer exists has nothing left to thaw. */
static int revert_cgroup(const char *path, bool v2)
{
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return gone(-errno) ? 0 : -errno;
	int err = v2 ? write_at(dirfd, "cgroup.freeze", "0")
		     : write_at(dirfd, "freezer.state", "THAWED");
	if (!err)
		err = v2 ? wait_events(dirfd, "frozen", 0, FREEZE_CONFIRM_USEC)
			 : wait_freezer(dirfd, "THAWED", FREEZE_CONFIRM_USEC);
	close(dirfd);
	return gone(err) ? 0 : err;
}

static int revert_sigstop(const char *list)
{
	int err = 0;

	while (*list) {
		char *end;
		if (*list != ' ')
			return -EINVAL;
		long pid = strtol(list + 1, &end, 10);
		if (end == list + 1 || pid <= 1 || pid > INT32_MAX || (*end && *end != ' '))
			return -EINVAL;
		if (kill((pid_t)pid, SIGCONT) < 0 && errno != ESRCH && !err)
			err = -errno;
		list = end;
	}
	return err;
}

static int freeze_revert(const struct sg_action_env *env, const struct sg_undo *undo)
{
	(void)env;
	if (strcmp(undo->data, "cgroup2") == 0)
		return revert_cgroup(undo->path, true);
	if (strcmp(undo->data, "freezer") == 0)
		return revert_cgroup(undo->path, false);
	if (strncmp(undo->data, "sigstop", 7) == 0)
		return revert_sigstop(undo->data + 7);
	return -EINVAL;
}

static void freeze_describe(const struct sg_undo *undo, char *buf, size_t len)
{
	const char *how = NULL;
	char count[48];

	if (strcmp(undo->data, "cgroup2") == 0) {
		how = "cgroup.freeze";
	} else if (strcmp(undo->data, "freezer") == 0) {
		how = "v1 freezer";
	} else if (strncmp(undo->data, "sigstop", 7) == 0) {
		unsigned n = 0;
		for (const char *p = undo->data + 7; *p; p++)
			n += *p == ' ';
		snprintf(count, sizeof(count), "SIGSTOP to %u process%s", n, n == 1 ? "" : "es");
		how = count;
	}
	if (how)
		snprintf(buf, len, "freeze job %s (%s)", undo->job, how);
	else
		snprintf(buf, len, "freeze job %s", undo->job);
}

const struct sg_action sg_action_freeze = {
	.kind = SG_STEP_FREEZE,
	.apply = freeze_apply,
	.revert = freeze_revert,
	.describe = freeze_describe,
};
