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
}

void sg_proc_io_cache_clear(struct sg_proc_io_cache *cache)
{
	for (size_t i = 0; i < cache->count; i++)
		close(cache->fd[i]);
	cache->count = 0;
}

static void cache_drop(struct sg_proc_io_cache *cache, size_t i)
{
	close(cache->fd[i]);
	cache->count--;
	cache->pid[i] = cache->pid[cache->count];
	cache->fd[i] = cache->fd[cache->count];
	cache->seen[i] = cache->seen[cache->count];
}

/* Reads one process's bytes through the cache. Returns false when it is gone. */
static bool read_process(struct sg_proc_io_cache *cache, int proc_dir_fd, int pid, uint64_t *r, uint64_t *w)
{
	char path[32], io[512];
	size_t i;
	ssize_t got;

	for (i = 0; i < cache->count && cache->pid[i] != pid; i++)
		;
	if (i < cache->count) {
		got = pread(cache->fd[i], io, sizeof(io), 0);
		if (got > 0 && sg_proc_io_parse(io, (size_t)got, r, w) == 0) {
			cache->seen[i] = true;
			return true;
		}
		cache_drop(cache, i); /* exited (ESRCH) */
		return false;
	}
	snprintf(path, sizeof(path), "%d/io", pid);
	int fd = openat(proc_dir_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false; /* exited */
	got = pread(fd, io, sizeof(io), 0);
	bool ok = got > 0 && sg_proc_io_parse(io, (size_t)got, r, w) == 0;
	if (ok && cache->count < SG_PROC_IO_CACHE) {
		cache->pid[cache->count] = pid;
		cache->fd[cache->count] = fd;
		cache->seen[cache->count++] = true;
	} else {
		close(fd);
	}
	return ok;
}

int sg_cgroup_procs_io(int procs_fd, int proc_dir_fd, struct sg_proc_io_cache *cache, char *scratch,
		       size_t scratch_len, uint64_t *rbytes, uint64_t *wbytes)
{
	ssize_t n = pread(procs_fd, scratch, scratch_len, 0);

	*rbytes = *wbytes = 0;
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
	for (struct sg_cursor c = { scratch, end }; c.p < c.end; c.p++ /* newline */) {
		uint64_t pid, r, w;

		if (!sg_eat_u64(&c, &pid) || pid > INT32_MAX)
			return -EINVAL;
		if (read_process(cache, proc_dir_fd, (int)pid, &r, &w)) {
			*rbytes += r;
			*wbytes += w;
		}
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
