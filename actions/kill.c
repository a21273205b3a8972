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
 * cgroup lists no more, within kill_grace + 1 s; -ETIMEDOUT otherwise.
 *
 * A target owned by a systemd unit is killed through systemd: KillUnit
 * (whom "all") with SIGTERM, then with SIGKILL when the unit still has
 * processes after kill_grace (SIGKILL at once when its FreezerState says
 * frozen or freezing). Done when its cgroup says "populated 0" (or is
 * removed), or, with no cgroup2 to read, when the unit is inactive, failed
 * or gone, within 1 s of the SIGKILL. Undo data "systemd sigterm GRACE" or
 * "systemd sigkill", path the unit. */
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
#include "cgroupfs.h"
#include "sdbus.h"
#include "units.h"

#define KILL_CONFIRM_USEC (1 * USEC_PER_SEC)
#define KILL_GRACE_DEFAULT_USEC (5 * USEC_PER_SEC)

struct procset {
	pid_t pid[SG_TARGET_PIDS_MAX];
	int pidfd[SG_TARGET_PIDS_MAX]; /* -1 where the kernel has no pidfd_open */
	bool termed[SG_TARGET_PIDS_MAX], killed[SG_TARGET_PIDS_MAX];
	size_t n;
	bool no_pidfd;
	size_t seen;   /* processes listed by the cgroup walk */
	bool forbidden; /* the walk met pid 1 or the guardian */
};

/* Adds pid if it may be signalled, is not there yet, and there is room. */
static void procset_add(struct procset *set, pid_t pid)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->pid[i] == pid)
			return;
	if (set->n == SG_TARGET_PIDS_MAX || !sg_proc_signallable(pid))
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

/* Counts a process the cgroup walk met in set->seen and notes pid 1 and the
 * guardian in set->forbidden; false for those. */
static bool census(struct procset *set, pid_t pid)
{
	set->seen++;
	if (pid == 1 || pid == getpid()) {
		set->forbidden = true;
		return false;
	}
	return true;
}

/* sg_cgroup_walk callbacks: count only, or count and add to the set. */
static int walk_count(pid_t pid, void *userdata)
{
	census(userdata, pid);
	return 0;
}

static int walk_add(pid_t pid, void *userdata)
{
	if (census(userdata, pid))
		procset_add(userdata, pid);
	return 0;
}

static bool exited(const struct procset *set, size_t i)
{
	if (set->pidfd[i] >= 0) {
		struct pollfd pfd = { .fd = set->pidfd[i], .events = POLLIN };
		return poll(&pfd, 1, 0) > 0;
	}
	return !sg_proc_signallable(set->pid[i]);
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
	poll(n ? pfds : NULL, n, sg_msec_until(sg_now_usec(), deadline, SG_CGROUP_POLL_MSEC));
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
		err = sg_cgroup_walk(srcfd, walk_add, set);
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
	err = sg_action_journal(journal, userdata, undo);
	if (err)
		goto out;

	uint64_t start = sg_now_usec();
	uint64_t term_until = frozen ? start : start + grace;
	uint64_t kill_until = term_until + KILL_CONFIRM_USEC;
	bool thawed = freezerfd < 0;
	for (;;) {
		if (srcfd >= 0) {
			err = sg_cgroup_walk(srcfd, walk_add, set);
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
				if (sg_proc_stat("/proc", set->pid[i], &state, &kthread) == 0 &&
				    state == 'T')
					signal_proc(set, i, SIGCONT);
				set->termed[i] = true;
			} else if (!term && !set->killed[i]) {
				signal_proc(set, i, SIGKILL);
				set->killed[i] = true;
			}
		}
		if (!term && !thawed) {
			sg_cgroup_write(freezerfd, "freezer.state", "THAWED");
			thawed = true;
		}
		procset_wait(set, term ? term_until : kill_until);
	}
out:
	procset_close(set);
	free(set);
	return err;
}

/* Waits until the unit has no process left: its cgroup2 unpopulated or
 * removed, else its ActiveState inactive or failed, or the unit gone. */
static int wait_unit_empty(struct sg_sdbus *sd, const struct sg_target *target, uint64_t timeout)
{
	uint64_t deadline = sg_now_usec() + timeout;
	char state[32];
	int r;

	if (target->cgroup2[0]) {
		int dirfd = open(target->cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return sg_cgroup_gone(-errno) ? 0 : -errno;
		r = sg_cgroup_wait_events(dirfd, "populated", 0, timeout);
		close(dirfd);
		return sg_cgroup_gone(r) ? 0 : r;
	}
	for (;;) {
		r = sg_sdbus_active_state(sd, target->unit, state, sizeof(state));
		if (r == -ENOENT || (r == 0 && (strcmp(state, "inactive") == 0 || strcmp(state, "failed") == 0)))
			return 0;
		if (r < 0)
			return r;
		if (sg_now_usec() >= deadline)
			return -ETIMEDOUT;
		poll(NULL, 0, sg_msec_until(sg_now_usec(), deadline, SG_CGROUP_POLL_MSEC));
	}
}

static int kill_unit(const struct sg_action_env *env, uint64_t grace, const struct sg_target *target,
		     struct sg_undo *undo, sg_journal_fn journal, void *userdata)
{
	struct sg_sdbus sd;
	char state[32], g[32];
	int err = 0;

	if (target->cgroup2[0]) {
		struct procset *set = calloc(1, sizeof(*set));
		int dirfd = open(target->cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		err = !set ? -ENOMEM : dirfd < 0 ? -errno : sg_cgroup_walk(dirfd, walk_count, set);
		if (!err && set->forbidden)
			err = -EPERM;
		if (dirfd >= 0)
			close(dirfd);
		free(set);
		if (err)
			return err;
	}
	err = sg_sdbus_open(&sd);
	if (!err)
		err = sg_sdbus_freezer_state(&sd, target->unit, state, sizeof(state));
	/* a frozen unit takes SIGKILL but cannot handle SIGTERM */
	bool frozen = !err && (strcmp(state, "frozen") == 0 || strcmp(state, "freezing") == 0);
	if (!err) {
		sg_strlcpy(undo->path, target->unit, sizeof(undo->path));
		if (frozen)
			snprintf(undo->data, sizeof(undo->data), "systemd sigkill");
		else
			snprintf(undo->data, sizeof(undo->data), "systemd sigterm %s",
				 sg_format_duration(grace, g, sizeof(g)));
		err = sg_action_journal(journal, userdata, undo);
	}
	if (!err && !frozen) {
		err = sg_sdbus_kill(&sd, target->unit, SIGTERM);
		if (!err)
			err = wait_unit_empty(&sd, target, grace);
	}
	if ((!err && frozen) || err == -ETIMEDOUT) {
		err = sg_sdbus_kill(&sd, target->unit, SIGKILL);
		if (!err)
			err = wait_unit_empty(&sd, target, KILL_CONFIRM_USEC);
	}
	if (err == -ENOENT)
		err = 0; /* the unit is gone: nothing is left to kill */
	if (err && sd.error[0])
		sg_action_detail(env, sd.error);
	sg_sdbus_close(&sd);
	return err;
}

static int kill_apply(const struct sg_action_env *env, const struct sg_target *target,
		      struct sg_undo *undo, sg_journal_fn journal, void *userdata)
{
	uint64_t grace = env && env->cfg ? env->cfg->kill_grace_usec : KILL_GRACE_DEFAULT_USEC;
	const char *src = "";
	int srcfd = -1, freezerfd = -1, cg2fd = -1, err = 0;
	bool frozen = false;

	if (target->unit[0])
		return kill_unit(env, grace, target, undo, journal, userdata);
	if (target->cgroup2[0]) {
		cg2fd = open(target->cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg2fd < 0)
			return -errno;
		if (faccessat(cg2fd, "cgroup.kill", W_OK, 0) == 0) {
			struct procset *set = calloc(1, sizeof(*set));
			err = set ? sg_cgroup_walk(cg2fd, walk_count, set) : -ENOMEM;
			if (!err && set->forbidden)
				err = -EPERM;
			if (!err) {
				sg_strlcpy(undo->path, target->cgroup2, sizeof(undo->path));
				snprintf(undo->data, sizeof(undo->data), "cgroup.kill %zu",
					 set->seen);
				err = sg_action_journal(journal, userdata, undo);
			}
			free(set);
			if (!err)
				err = sg_cgroup_write(cg2fd, "cgroup.kill", "1");
			/* done at "populated 0"; a cgroup removed meanwhile is empty */
			uint64_t confirm = grace > KILL_CONFIRM_USEC ? grace : KILL_CONFIRM_USEC;
			if (!err)
				err = sg_cgroup_wait_events(cg2fd, "populated", 0, confirm);
			close(cg2fd);
			return sg_cgroup_gone(err) ? 0 : err;
		}
		src = target->cgroup2;
		srcfd = cg2fd;
		/* a cgroup2-frozen task takes SIGKILL but not SIGTERM */
		int events = openat(cg2fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
		if (events >= 0) {
			frozen = sg_cgroup_events_value(events, "frozen") == 1;
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

	if (sscanf(d, "systemd sigterm %31s", grace) == 1)
		snprintf(buf, len, "kill job %s (KillUnit %s: SIGTERM, SIGKILL after %s)", undo->job, undo->path,
			 grace);
	else if (strcmp(d, "systemd sigkill") == 0)
		snprintf(buf, len, "kill job %s (KillUnit %s: SIGKILL at once: the unit was frozen)", undo->job,
			 undo->path);
	else if (sscanf(d, "cgroup.kill %lu", &count) == 1)
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
