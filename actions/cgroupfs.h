/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small cgroup and /proc file operations the actions share: one write to a
 * cgroup file, cgroup.events, the ids a cgroup lists (with or without the
 * cgroups below it), and /proc/PID/stat. They run when a step applies or
 * reverts, never in a steady tick. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SG_CGROUP_DEPTH_MAX 64 /* how deep sg_cgroup_walk goes below its cgroup */
#define SG_CGROUP_POLL_MSEC 10 /* a wait re-reads what it waits on at least this often */

/* Whether err (-errno) says the cgroup was removed: it reads and writes as
 * ENOENT or ENODEV then. */
bool sg_cgroup_gone(int err);

/* Writes text to the file name under dirfd (AT_FDCWD: name is a path) in one
 * write, as the kernel wants a cgroup file written (O_TRUNC also makes a
 * plain file in a test hold text alone). Returns 0 or -errno; -EIO when the
 * write was short. */
int sg_cgroup_write(int dirfd, const char *name, const char *text);

/* The value of "KEY V" in an open cgroup.events: 0 or 1, -EINVAL when there
 * is no such line, or -errno. */
int sg_cgroup_events_value(int fd, const char *key);

/* Waits until cgroup.events of dirfd says "KEY want" (POLLPRI on change, and
 * a re-read every SG_CGROUP_POLL_MSEC for a missed notification). Returns 0,
 * -ETIMEDOUT after timeout_usec, or -errno. */
int sg_cgroup_wait_events(int dirfd, const char *key, int want, uint64_t timeout_usec);

/* Called for each id a cgroup lists; 0 goes on, anything else stops the
 * reading and is what the reader returns. */
typedef int (*sg_cgroup_id_fn)(pid_t id, void *userdata);

/* Calls fn for each id in the file name of the cgroup dirfd: processes in
 * cgroup.procs, threads in a v1 tasks file. A cgroup removed while it is
 * read lists no more. Returns 0, what fn stopped with, or -errno. */
int sg_cgroup_each_id(int dirfd, const char *name, sg_cgroup_id_fn fn, void *userdata);

/* Calls fn for each process in cgroup.procs of dirfd and of every cgroup
 * below it, a cgroup removed meanwhile skipped. Returns 0, what fn stopped
 * with, -ELOOP deeper than SG_CGROUP_DEPTH_MAX, or -errno. */
int sg_cgroup_walk(int dirfd, sg_cgroup_id_fn fn, void *userdata);

/* Reads at most len-1 bytes of a small file (/proc, /sys) into buf and
 * NUL-terminates them. Returns the length or -errno. */
ssize_t sg_read_small(const char *path, char *buf, size_t len);

/* The state letter and whether it is a kernel thread (PF_KTHREAD), from
 * PROC/PID/stat (proc is "/proc"; tests may pass another tree). Returns 0,
 * or -ESRCH when it cannot be read (the task has exited). */
int sg_proc_stat(const char *proc, pid_t pid, char *state, bool *kthread);

/* Whether pid is a user process other than pid 1 and the guardian, and has
 * not exited (a zombie has): one a step may stop or kill. */
bool sg_proc_signallable(pid_t pid);
