/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kill step: cgroup v2 cgroup.kill where the kernel has it (5.14+),
 * else SIGTERM, then SIGKILL to what is left after kill_grace.
 *
 * cgroup.kill: refused (-EPERM) when the cgroup's subtree holds pid 1 or
 * the guardian itself, since it cannot leave them out. It kills frozen
 * tasks too. Done when cgroup.events says "populated 0", within kill_grace
 * (at least 1 s: a kill_grace of 0 still gives SIGKILL time to land).
 *
 * Signals: the processes come from the cgroup (cgroup2 without cgroup.kill,
 * else the v1 freezer, else the v1 blkio cgroup, each with its subtree; the
 * list is re-read while waiting, so a child forked meanwhile is signalled
 * too) or from target->pids; pid 1, the guardian and kernel threads are
 * left out. Each process is signalled through a pidfd (no pid-reuse race),
 * with kill() where the kernel has no pidfd_open. A stopped process (state
 * T, e.g. frozen by SIGSTOP) gets SIGCONT after SIGTERM so it can handle
 * it. A frozen cgroup cannot handle SIGTERM, so then the grace is skipped:
 * SIGKILL at once, and a frozen v1 freezer cgroup is thawed after the
 * SIGKILL (a v1-frozen task dies only when thawed; the pending SIGKILL is
 * taken before it returns to user space, so it runs no more of its code).
 * A v1 cgroup frozen because its parent is cannot be thawed from here:
 * that ends in -ETIMEDOUT.
 * Done when every process has exited (a zombie counts as exited) and the
 * cgroup lists no more, within kill_grace + 1 s; -ETIMEDOUT otherwise. */
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

#define KILL_CONFIRM_USEC (1 * USEC_PER_SEC)
#define KILL_GRACE_DEFAULT_USEC (5 * USEC_PER_SEC)
#define POLL_STEP_MSEC 10
#define CGROUP_DEPTH_MAX 64
#define PF_KTHREAD_FLAG 0x00200000UL

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

/* Waits until cgroup.events says "populated 0" (POLLPRI on change, and a
 * re-read every 10 ms). A cgroup removed meanwhile is empty. */
static int wait_unpopulated(int dirfd, uint64_t timeout_usec)
{
	uint64_t deadline = sg_now_usec() + timeout_usec;
	struct pollfd pfd = { .events = POLLPRI };

	pfd.fd = openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (pfd.fd < 0)
		return gone(-errno) ? 0 : -errno;
	int err;
	for (;;) {
		err = events_value(pfd.fd, "populated");
		if (err <= 0)
			break;
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
	return gone(err) ? 0 : err;
}

/* State and kernel-thread flag of /proc/PID/stat. Returns 0 or -ESRCH. */
static int proc_info(pid_t pid, char *state, bool *kthread)
{
	char path[32], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	unsigned long flags;
	/* ") STATE PPID PGRP SESSION TTY TPGID FLAGS" */
	if (!p || sscanf(p, ") %c %*d %*d %*d %*d %*d %lu", state, &flags) != 2)
		return -ESRCH;
	*kthread = flags & PF_KTHREAD_FLAG;
	return 0;
}

/* A user process other than pid 1 and the guardian, not yet exited. */
static bool killable(pid_t pid)
{
	char state;
	bool kthread;

	if (pid <= 1 || pid == getpid())
		return false;
	return proc_info(pid, &state, &kthread) == 0 && !kthread && state != 'Z' && state != 'X';
}

struct procset {
	pid_t pid[SG_TARGET_PIDS_MAX];
	int pidfd[SG_TARGET_PIDS_MAX]; /* -1 where the kernel has no pidfd_open */
	bool termed[SG_TARGET_PIDS_MAX], killed[SG_TARGET_PIDS_MAX];
	size_t n;
	bool no_pidfd;
	size_t seen;   /* processes listed by the cgroup walk */
	bool forbidden; /* the walk met pid 1 or the guardian */
};

/* Adds pid if it is killable, not there yet, and there is room. */
static void procset_add(struct procset *set, pid_t pid)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->pid[i] == pid)
			return;
	if (set->n == SG_TARGET_PIDS_MAX || !killable(pid))
		return;
	int fd = -1;
	if (!set->no_pidfd) {
		fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0 && errno != ENOSYS)
			return; /* exited since */
		set->no_pidfd = fd < 0;
	}
	set->pid[set->n] = pid;
	set->pidfd[set->n] = fd;
	set->termed[set->n] = set->killed[set->n] = false;
	set->n++;
}

static void procset_close(struct procset *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->pidfd[i] >= 0)
			close(set->pidfd[i]);
	set->n = 0;
}

/* Reads the cgroup.procs of dirfd and of every cgroup below it: counts the
 * processes in set->seen, notes pid 1 and the guardian in set->forbidden,
 * and when add is true adds the others to set. A cgroup removed meanwhile
 * is skipped. */
static int walk_cgroup(int dirfd, unsigned depth, struct procset *set, bool add)
{
	if (depth > CGROUP_DEPTH_MAX)
		return -ELOOP;
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gone(-errno) ? 0 : -errno;
	pid_t self = getpid();
	unsigned long value = 0;
	bool digits = false;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				value = value * 10 + (unsigned long)(buf[i] - '0');
				digits = true;
				continue;
			}
			if (digits) {
				set->seen++;
				if (value == 1 || value == (unsigned long)self)
					set->forbidden = true;
				else if (add)
					procset_add(set, (pid_t)value);
			}
			value = 0;
			digits = false;
		}
	}
	int err = n < 0 && !gone(-errno) ? -errno : 0;
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
		err = walk_cgroup(sub, depth + 1, set, add);
		close(sub);
	}
	closedir(dir);
	return err;
}

static bool exited(const struct procset *set, size_t i)
{
	if (set->pidfd[i] >= 0) {
		struct pollfd pfd = { .fd = set->pidfd[i], .events = POLLIN };
		return poll(&pfd, 1, 0) > 0;
	}
	return !killable(set->pid[i]);
}

static void signal_proc(const struct procset *set, size_t i, int sig)
{
	if (set->pidfd[i] >= 0)
		syscall(SYS_pidfd_send_signal, set->pidfd[i], sig, NULL, 0);
	else
		kill(set->pid[i], sig);
}

/* Drops the processes that exited. */
static void procset_reap(struct procset *set)
{
	size_t j = 0;

	for (size_t i = 0; i < set->n; i++) {
		if (exited(set, i)) {
			if (set->pidfd[i] >= 0)
				close(set->pidfd[i]);
			continue;
		}
		set->pid[j] = set->pid[i];
		set->pidfd[j] = set->pidfd[i];
		set->termed[j] = set->termed[i];
		set->killed[j] = set->killed[i];
		j++;
	}
	set->n = j;
}

/* Sleeps until one of the processes exits or deadline, at most 10 ms. */
static void procset_wait(const struct procset *set, uint64_t deadline)
{
	struct pollfd pfds[SG_TARGET_PIDS_MAX];
	nfds_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		if (set->pidfd[i] >= 0)
			pfds[n++] = (struct pollfd){ .fd = set->pidfd[i], .events = POLLIN };
	poll(n ? pfds : NULL, n, poll_ms(deadline));
}

/* Whether freezer.state of dirfd reads something other than THAWED. */
static bool freezer_frozen(int dirfd)
{
	char buf[32];
	int fd = openat(dirfd, "freezer.state", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0 && !(n >= 6 && memcmp(buf, "THAWED", 6) == 0);
}

static int journal_first(sg_journal_fn journal, void *userdata, const struct sg_undo *undo)
{
	int err = journal(undo, userdata);
	return err > 0 ? -EIO : err;
}

/* The signal path. srcfd is the cgroup the processes come from, or -1 for
 * target->pids; freezerfd the target's v1 freezer cgroup, or -1. */
static int kill_signals(uint64_t grace, const struct sg_target *target, const char *src, int srcfd,
			int freezerfd, bool frozen, struct sg_undo *undo, sg_journal_fn journal,
			void *userdata)
{
	struct procset *set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;

	int err = 0;
	if (srcfd >= 0) {
		err = walk_cgroup(srcfd, 0, set, true);
	} else {
		for (size_t i = 0; i < target->npids && i < SG_TARGET_PIDS_MAX; i++)
			procset_add(set, target->pids[i]);
	}
	if (err)
		goto out;

	sg_strlcpy(undo->path, src, sizeof(undo->path));
	size_t len;
	if (frozen) {
		len = (size_t)snprintf(undo->data, sizeof(undo->data), "sigkill");
	} else {
		char g[32];
		len = (size_t)snprintf(undo->data, sizeof(undo->data), "sigterm %s",
				       sg_format_duration(grace, g, sizeof(g)));
	}
	for (size_t i = 0; i < set->n; i++)
		len += (size_t)snprintf(undo->data + len, sizeof(undo->data) - len, " %d",
					(int)set->pid[i]);
	err = journal_first(journal, userdata, undo);
	if (err)
		goto out;

	uint64_t start = sg_now_usec();
	uint64_t term_until = frozen ? start : start + grace;
	uint64_t kill_until = term_until + KILL_CONFIRM_USEC;
	bool thawed = freezerfd < 0;
	for (;;) {
		if (srcfd >= 0) {
			err = walk_cgroup(srcfd, 0, set, true);
			if (err)
				break;
		}
		procset_reap(set);
		if (set->n == 0)
			break;
		uint64_t now = sg_now_usec();
		if (now >= kill_until) {
			err = -ETIMEDOUT;
			break;
		}
		bool term = now < term_until;
		for (size_t i = 0; i < set->n; i++) {
			if (term && !set->termed[i]) {
				char state;
				bool kthread;
				signal_proc(set, i, SIGTERM);
				if (proc_info(set->pid[i], &state, &kthread) == 0 && state == 'T')
					signal_proc(set, i, SIGCONT);
				set->termed[i] = true;
			} else if (!term && !set->killed[i]) {
				signal_proc(set, i, SIGKILL);
				set->killed[i] = true;
			}
		}
		if (!term && !thawed) {
			write_at(freezerfd, "freezer.state", "THAWED");
			thawed = true;
		}
		procset_wait(set, term ? term_until : kill_until);
	}
out:
	procset_close(set);
	free(set);
	return err;
}

static int kill_apply(const struct sg_action_env *env, const struct sg_target *target,
		      struct sg_undo *undo, sg_journal_fn journal, void *userdata)
{
	uint64_t grace = env && env->cfg ? env->cfg->kill_grace_usec : KILL_GRACE_DEFAULT_USEC;
	const char *src = "";
	int srcfd = -1, freezerfd = -1, cg2fd = -1, err = 0;
	bool frozen = false;

	if (target->cgroup2[0]) {
		cg2fd = open(target->cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg2fd < 0)
			return -errno;
		if (faccessat(cg2fd, "cgroup.kill", W_OK, 0) == 0) {
			struct procset *set = calloc(1, sizeof(*set));
			err = set ? walk_cgroup(cg2fd, 0, set, false) : -ENOMEM;
			if (!err && set->forbidden)
				err = -EPERM;
			if (!err) {
				sg_strlcpy(undo->path, target->cgroup2, sizeof(undo->path));
				snprintf(undo->data, sizeof(undo->data), "cgroup.kill %zu",
					 set->seen);
				err = journal_first(journal, userdata, undo);
			}
			free(set);
			if (!err)
				err = write_at(cg2fd, "cgroup.kill", "1");
			if (!err)
				err = wait_unpopulated(cg2fd, grace > KILL_CONFIRM_USEC
								      ? grace
								      : KILL_CONFIRM_USEC);
			close(cg2fd);
			return gone(err) ? 0 : err;
		}
		src = target->cgroup2;
		srcfd = cg2fd;
		/* a cgroup2-frozen task takes SIGKILL but not SIGTERM */
		int events = openat(cg2fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
		if (events >= 0) {
			frozen = events_value(events, "frozen") == 1;
			close(events);
		}
	}
	if (target->freezer[0]) {
		freezerfd = open(target->freezer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (freezerfd < 0) {
			err = -errno;
			goto out;
		}
		if (srcfd < 0) {
			src = target->freezer;
			srcfd = freezerfd;
		}
		if (freezer_frozen(freezerfd))
			frozen = true;
		else {
			if (srcfd != freezerfd)
				close(freezerfd);
			freezerfd = -1;
		}
	}
	if (srcfd < 0 && target->blkio[0]) {
		srcfd = open(target->blkio, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (srcfd < 0) {
			err = -errno;
			goto out;
		}
		src = target->blkio;
	}
	err = kill_signals(grace, target, src, srcfd, freezerfd, frozen, undo, journal, userdata);
out:
	if (srcfd >= 0)
		close(srcfd);
	if (freezerfd >= 0 && freezerfd != srcfd)
		close(freezerfd);
	return err;
}

/* A kill cannot be undone: there is nothing to do. */
static int kill_revert(const struct sg_action_env *env, const struct sg_undo *undo)
{
	(void)env;
	(void)undo;
	return 0;
}

static void kill_describe(const struct sg_undo *undo, char *buf, size_t len)
{
	const char *d = undo->data;
	unsigned long count;
	char grace[32];

	if (sscanf(d, "cgroup.kill %lu", &count) == 1)
		snprintf(buf, len, "kill job %s (cgroup.kill, %lu process%s)", undo->job, count,
			 count == 1 ? "" : "es");
	else if (sscanf(d, "sigterm %31s", grace) == 1)
		snprintf(buf, len, "kill job %s (SIGTERM, SIGKILL after %s)", undo->job, grace);
	else if (strncmp(d, "sigkill", 7) == 0)
		snprintf(buf, len, "kill job %s (SIGKILL at once: the job was frozen)", undo->job);
	else
		snprintf(buf, len, "kill job %s", undo->job);
}

const struct sg_action sg_action_kill = {
	.kind = SG_STEP_KILL,
	.apply = kill_apply,
	.revert = kill_revert,
	.describe = kill_describe,
};
