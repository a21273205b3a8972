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
 * queued and the task stops when it next returns to user space.
 *
 * A target owned by a systemd unit is frozen through systemd: FreezeUnit,
 * confirmed by the unit's FreezerState "frozen" within the same 1 s; undo
 * data "systemd", path the unit. Revert is ThawUnit, confirmed by
 * FreezerState "running"; a unit that is gone or inactive has nothing
 * frozen. */
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

#define FREEZE_CONFIRM_USEC (5 * USEC_PER_SEC) /* tasks in throttled I/O freeze only once it is done */

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
		poll(NULL, 0, sg_msec_until(sg_now_usec(), deadline, SG_CGROUP_POLL_MSEC));
	}
	close(fd);
	return err;
}

/* For the walk of a cgroup's subtree: -EPERM at pid 1 or this process. */
static int refuse_init_or_self(pid_t pid, void *userdata)
{
	(void)userdata;
	return pid == 1 || pid == getpid() ? -EPERM : 0;
}

/* Freezes a cgroup: cgroup.freeze (v2) or freezer.state (v1), confirmed
 * within FREEZE_CONFIRM_USEC. */
static int apply_cgroup(const char *path, bool v2, struct sg_undo *undo, sg_journal_fn journal,
			void *userdata)
{
	const char *file = v2 ? "cgroup.freeze" : "freezer.state";
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	int err = sg_cgroup_walk(dirfd, refuse_init_or_self, NULL);
	/* The file is looked for before the journal: a host without it (or the
	 * root cgroup) is an error, not a journaled step. */
	if (!err && faccessat(dirfd, file, W_OK, 0) < 0)
		err = -errno;
	if (!err) {
		sg_strlcpy(undo->path, path, sizeof(undo->path));
		sg_strlcpy(undo->data, v2 ? "cgroup2" : "freezer", sizeof(undo->data));
		err = sg_action_journal(journal, userdata, undo);
	}
	if (!err)
		err = sg_cgroup_write(dirfd, file, v2 ? "1" : "FROZEN");
	if (!err)
		err = v2 ? sg_cgroup_wait_events(dirfd, "frozen", 1, FREEZE_CONFIRM_USEC)
			 : wait_freezer(dirfd, "FROZEN", FREEZE_CONFIRM_USEC);
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
		if (dup || !sg_proc_signallable(pid))
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

	int jerr = sg_action_journal(journal, userdata, undo), err = 0;
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

/* Polls the unit's FreezerState until it is want, until deadline. */
static int wait_unit(struct sg_sdbus *sd, const char *unit, const char *want, uint64_t deadline)
{
	char state[32];

	for (;;) {
		int r = sg_sdbus_freezer_state(sd, unit, state, sizeof(state));
		if (r < 0)
			return r;
		if (strcmp(state, want) == 0)
			return 0;
		if (sg_now_usec() >= deadline) {
			snprintf(sd->error, sizeof(sd->error), "%s: FreezerState is \"%s\", not \"%s\"", unit, state,
				 want);
			return -ETIMEDOUT;
		}
		poll(NULL, 0, sg_msec_until(sg_now_usec(), deadline, SG_CGROUP_POLL_MSEC));
	}
}

/* Freezes a unit: FreezeUnit (which systemd answers once it is frozen, or
 * at once when a freeze is under way) and its FreezerState. */
static int apply_unit(const struct sg_action_env *env, const struct sg_target *target, struct sg_undo *undo,
		      sg_journal_fn journal, void *userdata)
{
	uint64_t deadline = sg_now_usec() + FREEZE_CONFIRM_USEC;
	struct sg_sdbus sd;
	int err = 0;

	if (target->cgroup2[0]) {
		int dirfd = open(target->cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		err = dirfd < 0 ? -errno : sg_cgroup_walk(dirfd, refuse_init_or_self, NULL);
		if (dirfd >= 0)
			close(dirfd);
		if (err)
			return err;
	}
	err = sg_sdbus_open(&sd);
	if (!err) {
		sg_strlcpy(undo->path, target->unit, sizeof(undo->path));
		sg_strlcpy(undo->data, "systemd", sizeof(undo->data));
		err = sg_action_journal(journal, userdata, undo);
	}
	if (!err)
		err = sg_sdbus_freeze(&sd, target->unit, true);
	if (!err)
		err = wait_unit(&sd, target->unit, "frozen", deadline);
	if (err && sd.error[0])
		sg_action_detail(env, sd.error);
	sg_sdbus_close(&sd);
	return err;
}

static int freeze_apply(const struct sg_action_env *env, const struct sg_target *target,
			struct sg_undo *undo, sg_journal_fn journal, void *userdata)
{
	if (target->unit[0])
		return apply_unit(env, target, undo, journal, userdata);
	if (target->cgroup2[0])
		return apply_cgroup(target->cgroup2, true, undo, journal, userdata);
	if (target->freezer[0])
		return apply_cgroup(target->freezer, false, undo, journal, userdata);
	return apply_sigstop(target, undo, journal, userdata);
}

/* Thaws a cgroup: writes value to file and waits for the confirmation. A
 * cgroup that no longer exists has nothing left to thaw. */
static int revert_cgroup(const char *path, bool v2)
{
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return sg_cgroup_gone(-errno) ? 0 : -errno;
	int err = v2 ? sg_cgroup_write(dirfd, "cgroup.freeze", "0")
		     : sg_cgroup_write(dirfd, "freezer.state", "THAWED");
	if (!err)
		err = v2 ? sg_cgroup_wait_events(dirfd, "frozen", 0, FREEZE_CONFIRM_USEC)
			 : wait_freezer(dirfd, "THAWED", FREEZE_CONFIRM_USEC);
	close(dirfd);
	return sg_cgroup_gone(err) ? 0 : err;
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

/* Thaws a unit. One that is gone (-ENOENT) or inactive (-EHOSTDOWN) has
 * nothing frozen. */
static int revert_unit(const struct sg_action_env *env, const char *unit)
{
	uint64_t deadline = sg_now_usec() + FREEZE_CONFIRM_USEC;
	struct sg_sdbus sd;
	int err = sg_sdbus_open(&sd);

	if (!err)
		err = sg_sdbus_freeze(&sd, unit, false);
	if (!err)
		err = wait_unit(&sd, unit, "running", deadline);
	if (err == -ENOENT || err == -EHOSTDOWN)
		err = 0;
	if (err && sd.error[0])
		sg_action_detail(env, sd.error);
	sg_sdbus_close(&sd);
	return err;
}

static int freeze_revert(const struct sg_action_env *env, const struct sg_undo *undo)
{
	if (strcmp(undo->data, "systemd") == 0)
		return revert_unit(env, undo->path);
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
	char count[SG_PATH_MAX * 2 + 16];

	if (strcmp(undo->data, "systemd") == 0) {
		snprintf(count, sizeof(count), "FreezeUnit %s", undo->path);
		how = count;
	} else if (strcmp(undo->data, "cgroup2") == 0) {
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
