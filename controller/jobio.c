/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "jobio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scan.h"

int sg_cgroup_iostat_parse(const char *buf, size_t len, uint64_t *rbytes, uint64_t *wbytes)
{
	const char *p = buf, *end = buf + len;

	*rbytes = *wbytes = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		/* "MAJ:MIN rbytes=N wbytes=N rios=N ..." */
		const char *blank = memchr(p, ' ', (size_t)(eol - p));
		if (!blank)
			return -EINVAL;
		struct sg_cursor c = { blank, eol };
		while (sg_eat_blanks(&c)) {
			uint64_t value, *sum = NULL;
			if (sg_eat_word(&c, "rbytes="))
				sum = rbytes;
			else if (sg_eat_word(&c, "wbytes="))
				sum = wbytes;
			if (sum) {
				if (!sg_eat_u64(&c, &value))
					return -EINVAL;
				*sum += value;
			}
			while (c.p < c.end && *c.p != ' ')
				c.p++;
		}
		p = eol + 1;
	}
	return 0;
}

int sg_proc_io_parse(const char *buf, size_t len, uint64_t *rbytes, uint64_t *wbytes)
{
	const char *p = buf, *end = buf + len;
	bool have_read = false, have_write = false;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		struct sg_cursor c = { p, eol };
		if (sg_eat_word(&c, "read_bytes: "))
			have_read = sg_eat_u64(&c, rbytes);
		else if (sg_eat_word(&c, "write_bytes: "))
			have_write = sg_eat_u64(&c, wbytes);
		p = eol + 1;
	}
	return have_read && have_write ? 0 : -EINVAL;
}

void sg_proc_io_cache_init(struct sg_proc_io_cache *cache)
{
	cache->count = 0;
	cache->overflow = 0;
}

void sg_proc_io_cache_clear(struct sg_proc_io_cache *cache)
{
	for (size_t i = 0; i < cache->count; i++)
		close(cache->fd[i]);
	cache->count = 0;
}

static void cache_drop(struct sg_proc_io_cache *cache, size_t i)
{
	size_t last = --cache->count;

	close(cache->fd[i]);
	cache->pid[i] = cache->pid[last];
	cache->fd[i] = cache->fd[last];
	cache->rbytes[i] = cache->rbytes[last];
	cache->wbytes[i] = cache->wbytes[last];
	cache->seen[i] = cache->seen[last];
}

static bool read_io(int fd, uint64_t *r, uint64_t *w)
{
	char io[512];
	ssize_t got = pread(fd, io, sizeof(io), 0);

	return got > 0 && sg_proc_io_parse(io, (size_t)got, r, w) == 0;
}

/* Opens and baselines a process new to the cache (nothing when it is gone). */
static void cache_add(struct sg_proc_io_cache *cache, int proc_dir_fd, int pid)
{
	char path[32];
	size_t i = cache->count;

	if (i == SG_PROC_IO_CACHE) {
		cache->overflow++;
		return;
	}
	snprintf(path, sizeof(path), "%d/io", pid);
	int fd = openat(proc_dir_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* exited */
	if (!read_io(fd, &cache->rbytes[i], &cache->wbytes[i])) {
		close(fd);
		return;
	}
	cache->pid[i] = pid;
	cache->fd[i] = fd;
	cache->seen[i] = true;
	cache->count++;
}

int sg_proc_io_refresh(struct sg_proc_io_cache *cache, int procs_fd, int proc_dir_fd, char *scratch,
		       size_t scratch_len)
{
	ssize_t n = pread(procs_fd, scratch, scratch_len, 0);

	if (n < 0)
		return -errno;
	/* A list longer than scratch is cut at its last whole line. */
	const char *end = scratch + n;
	if ((size_t)n == scratch_len) {
		const char *last = memrchr(scratch, '\n', (size_t)n);
		end = last ? last + 1 : scratch;
	}
	for (size_t i = 0; i < cache->count; i++)
		cache->seen[i] = false;
	cache->overflow = 0;
	for (struct sg_cursor c = { scratch, end }; c.p < c.end; c.p++ /* newline */) {
		uint64_t pid;
		size_t i;

		if (!sg_eat_u64(&c, &pid) || pid > INT32_MAX)
			return -EINVAL;
		for (i = 0; i < cache->count && cache->pid[i] != (int)pid; i++)
			;
		if (i < cache->count)
			cache->seen[i] = true;
		else
			cache_add(cache, proc_dir_fd, (int)pid);
	}
	/* Processes that left the cgroup leave the cache. */
	for (size_t i = 0; i < cache->count;) {
		if (cache->seen[i])
			i++;
		else
			cache_drop(cache, i);
	}
	return 0;
}

void sg_proc_io_delta(struct sg_proc_io_cache *cache, uint64_t *rbytes, uint64_t *wbytes)
{
	*rbytes = *wbytes = 0;
	for (size_t i = 0; i < cache->count;) {
		uint64_t r, w;

		if (!read_io(cache->fd[i], &r, &w)) {
			cache_drop(cache, i); /* exited: ESRCH */
			continue;
		}
		*rbytes += r > cache->rbytes[i] ? r - cache->rbytes[i] : 0;
		*wbytes += w > cache->wbytes[i] ? w - cache->wbytes[i] : 0;
		cache->rbytes[i] = r;
		cache->wbytes[i] = w;
		i++;
	}
}
