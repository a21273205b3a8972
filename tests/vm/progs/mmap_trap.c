/*
 * mmap_trap: the freeze trap on demand, for the VM test bed (tests/vm). One
 * thread ("mmtrap-holder") gets stuck in the kernel holding the process's
 * mmap_lock for HOLD_MS (a write to /dev/sg_mmhold, tests/vm/modules); then
 * one ("mmtrap-mapper") calls mmap() and waits for the lock as a writer;
 * then one ("mmtrap-fault") touches a page it never touched and waits
 * behind it, as would anyone reading /proc/PID/cmdline (ps). All three sit
 * in D state until the holder lets go. Prints "done" when they are through.
 *   mmap_trap HOLD_MS
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char *hold_ms;
static char *untouched;

static void *holder(void *arg)
{
	int fd = open("/dev/sg_mmhold", O_WRONLY);

	(void)arg;
	prctl(PR_SET_NAME, "mmtrap-holder");
	if (fd < 0 || write(fd, hold_ms, strlen(hold_ms)) < 0) {
		fprintf(stderr, "mmap_trap: /dev/sg_mmhold: %s\n", strerror(errno));
		exit(1);
	}
	close(fd);
	return NULL;
}

static void *mapper(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "mmtrap-mapper");
	usleep(300000);
	if (mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
		fprintf(stderr, "mmap_trap: mmap: %s\n", strerror(errno));
		exit(1);
	}
	return NULL;
}

static void *faulter(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "mmtrap-fault");
	usleep(600000);
	untouched[0] = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	void *(*steps[])(void *) = { holder, mapper, faulter };
	pthread_t threads[3];
	int i;

	if (argc != 2 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: mmap_trap HOLD_MS\n");
		return 2;
	}
	hold_ms = argv[1];
	untouched = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (untouched == MAP_FAILED)
		return 1;
	/* All started before the holder takes the lock: a thread's stack is an
	 * mmap() too. The mapper and the faulter wait their turn themselves. */
	for (i = 0; i < 3; i++) {
		if (pthread_create(&threads[i], NULL, steps[i], NULL)) {
			fprintf(stderr, "mmap_trap: cannot start a thread\n");
			return 1;
		}
	}
	for (i = 0; i < 3; i++)
		pthread_join(threads[i], NULL);
	printf("done\n");
	return 0;
}
