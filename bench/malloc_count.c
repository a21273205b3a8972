/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Counts heap calls in a process it is preloaded into.
 *
 * bench/run builds this file a second time with -shared -fPIC into
 * build/bench/malloc_count.so and runs the real daemon with it in LD_PRELOAD.
 * malloc, calloc, realloc, free, posix_memalign, aligned_alloc and memalign
 * are counted and forwarded to glibc. On SIGUSR2 and at exit the counts are
 * written to the file named by $SG_MALLOC_COUNT_FILE, with the first heap
 * call made after the first dump as "module+offset" return addresses, so an
 * allocation in a steady-state tick can be traced to its function.
 *
 * The Makefile builds every C file in bench/ as a program, this one too: so
 * main() checks that each entry point is counted once per call, for a
 * counter that silently counted nothing would report a clean tick. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t size);

#define FRAMES_MAX 12

enum { ALLOCS, FREES, NCOUNTS };

static uint64_t counts[NCOUNTS];
static char dump_path[256];
static int dumps;               /* SIGUSR2 dumps so far */
static bool tracing;            /* set when that recording starts: nothing after it is recorded */
static void *frames[FRAMES_MAX];
static int nframes;             /* 0: none recorded yet */

/* Counts a call; records where the first one after the first dump came from. */
static void count(int which)
{
	__atomic_fetch_add(&counts[which], 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&dumps, __ATOMIC_RELAXED) == 0 || __atomic_load_n(&nframes, __ATOMIC_RELAXED))
		return;
	/* backtrace() was loaded at start (see setup), so it does not allocate
	 * here; the flag keeps a heap call it might make anyway from recursing. */
	if (__atomic_exchange_n(&tracing, true, __ATOMIC_ACQUIRE))
		return;
	int n = backtrace(frames, FRAMES_MAX);
	__atomic_store_n(&nframes, n > 0 ? n : 1, __ATOMIC_RELEASE);
}

void *malloc(size_t size)
{
	count(ALLOCS);
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	count(ALLOCS);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	count(ALLOCS);
	return __libc_realloc(p, size);
}

void free(void *p)
{
	count(FREES);
	__libc_free(p);
}

void *memalign(size_t align, size_t size)
{
	count(ALLOCS);
	return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	count(ALLOCS);
	return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	count(ALLOCS);
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = __libc_memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* Async-signal-safe appending: no stdio in a handler. */
struct out {
	char buf[2048];
	size_t len;
};

static void put(struct out *o, const char *s)
{
	while (*s && o->len < sizeof(o->buf))
		o->buf[o->len++] = *s++;
}

static void put_num(struct out *o, uint64_t v, unsigned base)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n > 0 && o->len < sizeof(o->buf))
		o->buf[o->len++] = digits[--n];
}

/* "allocs=N frees=N", then one "frame=MODULE+0xOFFSET SYMBOL" line per
 * recorded frame. dladdr takes no lock that a heap call holds. */
static void dump(void)
{
	struct out o = { .len = 0 };

	put(&o, "allocs=");
	put_num(&o, __atomic_load_n(&counts[ALLOCS], __ATOMIC_RELAXED), 10);
	put(&o, " frees=");
	put_num(&o, __atomic_load_n(&counts[FREES], __ATOMIC_RELAXED), 10);
	put(&o, "\n");
	for (int i = 0; i < __atomic_load_n(&nframes, __ATOMIC_ACQUIRE) && i < FRAMES_MAX; i++) {
		Dl_info info;

		if (!frames[i] || !dladdr(frames[i], &info) || !info.dli_fname)
			continue;
		put(&o, "frame=");
		put(&o, info.dli_fname);
		put(&o, "+0x");
		put_num(&o, (uint64_t)((uintptr_t)frames[i] - (uintptr_t)info.dli_fbase), 16);
		put(&o, " ");
		put(&o, info.dli_sname ? info.dli_sname : "?");
		put(&o, "\n");
	}
	int fd = open(dump_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, o.buf, o.len) != (ssize_t)o.len)
		o.len = 0; /* a short dump is read as a missing one */
	close(fd);
}

static void on_sigusr2(int sig)
{
	(void)sig;
	dump();
	__atomic_fetch_add(&dumps, 1, __ATOMIC_RELAXED);
}

static void on_exit_dump(void)
{
	dump();
}

__attribute__((constructor))
static void setup(void)
{
	const char *path = getenv("SG_MALLOC_COUNT_FILE");
	void *warm[1];

	if (!path || !*path || strlen(path) >= sizeof(dump_path))
		return;
	memcpy(dump_path, path, strlen(path) + 1);
	/* The first backtrace() loads the unwinder with dlopen, which allocates. */
	backtrace(warm, 1);
	struct sigaction sa = { .sa_handler = on_sigusr2, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	atexit(on_exit_dump);
}

/* The self-check: each entry point once, each counted once. */
int main(void)
{
	void *(*volatile do_malloc)(size_t) = malloc;
	void *(*volatile do_calloc)(size_t, size_t) = calloc;
	void *(*volatile do_realloc)(void *, size_t) = realloc;
	void *(*volatile do_memalign)(size_t, size_t) = memalign;
	void *(*volatile do_aligned_alloc)(size_t, size_t) = aligned_alloc;
	int (*volatile do_posix_memalign)(void **, size_t, size_t) = posix_memalign;
	void (*volatile do_free)(void *) = free;
	uint64_t allocs = counts[ALLOCS], frees = counts[FREES];
	void *a = do_malloc(16), *b = do_calloc(2, 16), *e = NULL;
	void *c = do_memalign(64, 64), *d = do_aligned_alloc(64, 64);

	a = do_realloc(a, 4096);
	if (do_posix_memalign(&e, 64, 64) != 0)
		e = NULL;
	do_free(a);
	do_free(b);
	do_free(c);
	do_free(d);
	do_free(e);
	uint64_t got_allocs = counts[ALLOCS] - allocs, got_frees = counts[FREES] - frees;
	if (got_allocs != 6 || got_frees != 5) {
		printf("malloc_count: counted %llu allocations and %llu frees of 6 and 5: it is broken\n",
		       (unsigned long long)got_allocs, (unsigned long long)got_frees);
		return 1;
	}
	printf("malloc_count: ok\n");
	return 0;
}
