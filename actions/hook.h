/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running an administrator's executable as `PATH VERB` (SPEC "Hooks"), the
 * way the hook step and the heartbeat share: executed directly (never through
 * a shell) in its own process group, stdin on /dev/null, stdout and stderr on
 * one non-blocking pipe, every other descriptor closed, default signal
 * dispositions, an empty signal mask, cwd "/" and exactly the environment
 * given. A run is started, its output drained while it runs (the beginning
 * kept for the log, the rest dropped so it never blocks on a full pipe), and
 * finished: killed with its whole group when it timed out, reaped, and its
 * end and first lines of output logged under its tag. The caller decides how
 * to wait: the hook step polls (synchronously), the heartbeat watches pidfd
 * and out_fd from the event loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SG_HOOK_ENV_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define SG_HOOK_KEEP_BYTES 2048 /* output kept for the log ... */
#define SG_HOOK_KEEP_LINES 20   /* ... and at most this many lines of it */

struct sg_hook_output {
	char kept[SG_HOOK_KEEP_BYTES];
	size_t len;
	unsigned lines;
	unsigned long long dropped;
};

struct sg_hook_run {
	pid_t pid;        /* its process group too */
	int pidfd;        /* readable once it has exited */
	int out_fd;       /* its stdout and stderr; -1 after end of file */
	uint64_t start_usec;
	int ok_priority;  /* of the line logged for exit 0: LOG_INFO unless changed */
	struct sg_hook_output out;
	char tag[96];     /* "hook drain apply", "heartbeat" */
};

/* A hook runs as root: the file must be a regular executable owned by root
 * and writable by root only. Logs why not under tag. Returns 0 or -errno. */
int sg_hook_check(const char *tag, const char *path);

/* Starts `path verb` with envp. Logs a failure under tag. Returns 0 with run
 * filled, or -errno (nothing is left running). */
int sg_hook_start(struct sg_hook_run *run, const char *tag, const char *path, const char *verb,
		  char *const envp[]);

/* Reads what the hook printed without blocking (a bounded number of reads, so
 * a hook printing forever cannot hold the caller). */
void sg_hook_drain(struct sg_hook_run *run);

/* Kills the run's whole process group (it is still to be finished, which
 * reaps it once its pidfd says it exited). */
void sg_hook_kill(const struct sg_hook_run *run);

/* Ends a run: with timed_out, its process group is killed first. Reaps it,
 * logs how it ended ("exit 0 in 0.02s", "killed after 10s timeout", "killed
 * by SIGTERM") with its output, closes its descriptors. Returns 0 for exit
 * status 0, -ETIMEDOUT, or -EIO (non-zero exit, killed by a signal). */
int sg_hook_finish(struct sg_hook_run *run, bool timed_out, uint64_t timeout_usec);
