/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A context-switch-heavy workload at a chosen rate, for the recorder's cost
 * in `make bench`:
 *
 *   switches SECONDS WORK_US
 *
 * A parent and a child (bench/run pins both to one CPU) pass a byte back and
 * forth over two pipes for SECONDS; each spins WORK_US microseconds of work
 * before answering, so every round trip is two context switches and twice
 * WORK_US of work. Unlike `perf bench sched pipe`, which does nothing but
 * switch, the rate is that of a busy service, and a cost per switch shows as
 * the share of the work it takes. Prints "ROUNDS_PER_S" on stdout; exit 0,
 * or 1 with the reason on stderr. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void spin(uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

/* Reads one byte, spins, writes one byte, until the read end closes. */
static void answer(int in, int out, uint64_t work_ns)
{
	char byte;

	while (read(in, &byte, 1) == 1) {
		spin(work_ns);
		if (write(out, &byte, 1) != 1)
			break;
	}
}

int main(int argc, char **argv)
{
	int to_child[2], to_parent[2];
	char byte = 'x';

	if (argc != 3 || atof(argv[1]) <= 0 || atof(argv[2]) < 0) {
		fprintf(stderr, "usage: switches SECONDS WORK_US\n");
		return 1;
	}
	uint64_t duration_ns = (uint64_t)(atof(argv[1]) * 1e9), work_ns = (uint64_t)(atof(argv[2]) * 1e3);
	if (pipe(to_child) < 0 || pipe(to_parent) < 0) {
		fprintf(stderr, "switches: pipe: %s\n", strerror(errno));
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "switches: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(to_child[1]);
		close(to_parent[0]);
		answer(to_child[0], to_parent[1], work_ns);
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	uint64_t rounds = 0, start = now_ns(), end = start + duration_ns, t;
	for (t = start; t < end; t = now_ns(), rounds++) {
		spin(work_ns);
		if (write(to_child[1], &byte, 1) != 1 || read(to_parent[0], &byte, 1) != 1) {
			fprintf(stderr, "switches: the child went away\n");
			return 1;
		}
	}
	close(to_child[1]);
	waitpid(child, NULL, 0);
	printf("%.0f\n", (double)rounds / ((double)(t - start) / 1e9));
	return 0;
}
