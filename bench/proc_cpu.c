/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CPU time of running processes, to the nanosecond.
 *
 *   proc_cpu PID...
 *
 * prints "PID NSEC" per process: user and system time of all its threads,
 * those that exited included, from the process's CPU-time clock
 * (clock_getcpuclockid). A process that is gone prints "PID -". bench/run
 * uses it where /proc/PID/stat would do but counts in 10 ms clock ticks:
 * a daemon using 0.1 ms a second takes a minute to use 6 ms. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: proc_cpu PID...\n");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		char *end;
		long pid = strtol(argv[i], &end, 10);
		struct timespec ts;
		clockid_t clock;

		if (end == argv[i] || *end || pid <= 0) {
			fprintf(stderr, "proc_cpu: not a PID: '%s'\n", argv[i]);
			status = 1;
			continue;
		}
		if (clock_getcpuclockid((pid_t)pid, &clock) != 0 || clock_gettime(clock, &ts) != 0) {
			printf("%ld -\n", pid);
			continue;
		}
		printf("%ld %llu\n", pid,
		       (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
	}
	return status;
}
