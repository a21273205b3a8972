/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by unit tests: running a tool (objcopy, xmllint) as a child and
 * waiting for it. */
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs argv[0] (searched in PATH) with stdin on /dev/null and waits for it.
 * Returns its exit status; 127 when it could not be run; -1 when it was
 * killed by a signal or could not be started. */
static inline int run_wait(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!freopen("/dev/null", "r", stdin))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}
