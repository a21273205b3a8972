/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mmap_lock freeze, for the recorder's tests and the qemu test bed.
 *
 *   mmap_freeze [SECONDS]
 *
 * One mapper thread maps a large region with MAP_POPULATE and unmaps it,
 * again and again: it holds the process's mmap_lock for long stretches.
 * FAULTERS threads map a small fresh region, fault every page of it in and
 * unmap it, again and again: the first fault of a fresh region cannot take
 * the per-VMA lock (it has no anon_vma yet) and goes through mmap_lock,
 * and the mmap and munmap calls take it for writing. So the faulters spend
 * their time in uninterruptible sleep on the mmap_lock rwsem
 * (rwsem_down_read_slowpath, rwsem_down_write_slowpath) behind the mapper
 * and each other. Runs SECONDS (default: until killed), then exits 0;
 * prints "ready" on stdout once every thread runs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define FAULTERS 4
#define BIG_BYTES (256UL << 20)
#define SMALL_BYTES (2UL << 20)

static void *mapper(void *arg)
{
	(void)arg;
	for (;;) {
		void *p = mmap(NULL, BIG_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
			       -1, 0);
		if (p != MAP_FAILED)
			munmap(p, BIG_BYTES);
	}
	return NULL;
}

static void *faulter(void *arg)
{
	long page = sysconf(_SC_PAGESIZE);

	(void)arg;
	for (;;) {
		volatile char *p = mmap(NULL, SMALL_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			continue;
		for (unsigned long off = 0; off < SMALL_BYTES; off += (unsigned long)page)
			p[off] = 1;
		munmap((void *)p, SMALL_BYTES);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned seconds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 0;
	pthread_t thread;

	if (pthread_create(&thread, NULL, mapper, NULL) != 0)
		return 1;
	for (int i = 0; i < FAULTERS; i++)
		if (pthread_create(&thread, NULL, faulter, NULL) != 0)
			return 1;
	printf("ready\n");
	fflush(stdout);
	if (seconds == 0)
		for (;;)
			pause();
	sleep(seconds);
	return 0;
}
