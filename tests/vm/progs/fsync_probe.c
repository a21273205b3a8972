/*
 * fsync_probe: what a latency-sensitive tenant sees of a disk. For SECONDS
 * seconds it writes 4 KiB at the start of FILE and fsyncs it, again and
 * again, then prints one line: "n=N p50_ms=A p99_ms=B max_ms=C".
 * Used inside the VM test bed (tests/vm), built statically.
 *   fsync_probe FILE SECONDS
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 200000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static double lat[MAX_SAMPLES];
	static char block[4096];
	size_t n = 0;
	double end, t0;
	int fd;

	if (argc != 3 || atof(argv[2]) <= 0) {
		fprintf(stderr, "usage: fsync_probe FILE SECONDS\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT, 0600);
	if (fd < 0) {
		fprintf(stderr, "fsync_probe: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memset(block, 'p', sizeof(block));
	end = now_ms() + atof(argv[2]) * 1e3;
	while (n < MAX_SAMPLES && (t0 = now_ms()) < end) {
		if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) || fsync(fd) != 0) {
			fprintf(stderr, "fsync_probe: %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		lat[n++] = now_ms() - t0;
	}
	close(fd);
	if (n == 0) {
		fprintf(stderr, "fsync_probe: no sample\n");
		return 1;
	}
	qsort(lat, n, sizeof(lat[0]), by_value);
	printf("n=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", n, lat[n / 2], lat[(n * 99) / 100], lat[n - 1]);
	return 0;
}
