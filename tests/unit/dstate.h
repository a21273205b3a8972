/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A task of our own in D state, for tests that look for one: the parent of
 * a clone(CLONE_VFORK) waits uninterruptibly (TASK_KILLABLE shows as D)
 * until its child exits. */
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <sys/types.h>
#include <unistd.h>

#include "procfs.h"

static char vfork_stack[64 * 1024] __attribute__((aligned(16)));

static inline int vfork_child(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

/* The state letter of pid from /proc, '?' when it cannot be read. */
static inline char task_state(pid_t pid)
{
	char path[64], buf[512];
	struct sg_task_stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || sg_task_stat_parse(buf, (size_t)n, &st) < 0)
		return '?';
	return st.state;
}

/* Forks a helper leading its own process group that sits in D until its
 * vfork child dies; returns its pid or -1. dstate_helper_stop() ends both. */
static inline pid_t dstate_helper_start(void)
{
	pid_t helper = fork();

	if (helper == 0) {
		setpgid(0, 0);
		if (clone(vfork_child, vfork_stack + sizeof(vfork_stack), CLONE_VM | CLONE_VFORK | SIGCHLD, NULL) < 0)
			_exit(3);
		_exit(0);
	}
	if (helper > 0)
		setpgid(helper, helper); /* both sides, so a stop never races it */
	return helper;
}

static inline void dstate_helper_stop(pid_t helper)
{
	if (helper <= 0)
		return;
	kill(-helper, SIGKILL);
	kill(helper, SIGKILL);
	waitpid(helper, NULL, 0);
}
