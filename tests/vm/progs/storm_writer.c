/*
 * storm_writer: a backup job's write storm. Writes 1 MiB blocks over the
 * first SIZE_MB MiB of FILE, again and again, buffered or with O_DIRECT,
 * for SECONDS seconds (0: until killed). Overwriting one region keeps the
 * storm going on a small disk. Used inside the VM test bed (tests/vm).
 *   storm_writer FILE buffered|direct SIZE_MB SECONDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1 << 20)

int main(int argc, char **argv)
{
	long size_mb, seconds, block = 0;
	int direct, fd;
	time_t end;
	void *buf;

	if (argc != 5 || (strcmp(argv[2], "buffered") && strcmp(argv[2], "direct")) ||
	    (size_mb = atol(argv[3])) <= 0 || (seconds = atol(argv[4])) < 0) {
		fprintf(stderr, "usage: storm_writer FILE buffered|direct SIZE_MB SECONDS\n");
		return 2;
	}
	direct = strcmp(argv[2], "direct") == 0;
	fd = open(argv[1], O_WRONLY | O_CREAT | (direct ? O_DIRECT : 0), 0600);
	if (fd < 0 || posix_memalign(&buf, 4096, BLOCK)) {
		fprintf(stderr, "storm_writer: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memset(buf, 's', BLOCK);
	end = time(NULL) + seconds;
	while (seconds == 0 || time(NULL) < end) {
		if (pwrite(fd, buf, BLOCK, (off_t)block * BLOCK) != BLOCK) {
			fprintf(stderr, "storm_writer: %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		block = (block + 1) % size_mb;
	}
	close(fd);
	return 0;
}
