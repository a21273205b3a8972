/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "jobio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Reads a decimal number at p (bounded by end); returns false on no digits. */
static bool read_u64(const char **p, const char *end, uint64_t *out)
{
	uint64_t value = 0;
	const char *start = *p;

	while (*p < end && **p >= '0' && **p <= '9') {
		value = value * 10 + (uint64_t)(**p - '0');
		(*p)++;
	}
	*out = value;
	return *p > start;
}

static bool has_prefix(const char *p, const char *end, const char *prefix)
{
	size_t n = strlen(prefix);
	return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

int sg_cgroup_iostat_parse(const char *buf, size_t len, uint64_t *rbytes, uint64_t *wbytes)
{
	const char *p = buf, *end = buf + len;

	*rbytes = *wbytes = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		/* "MAJ:MIN rbytes=N wbytes=N rios=N ..." */
		const char *word = memchr(p, ' ', (size_t)(eol - p));
		if (!word)
			return -EINVAL;
		while (word < eol) {
			uint64_t value;
			word++;
			if (has_prefix(word, eol, "rbytes=")) {
				word += 7;
				if (!read_u64(&word, eol, &value))
					return -EINVAL;
				*rbytes += value;
			} else if (has_prefix(word, eol, "wbytes=")) {
				word += 7;
				if (!read_u64(&word, eol, &value))
					return -EINVAL;
				*wbytes += value;
			}
			word = memchr(word, ' ', (size_t)(eol - word));
			if (!word)
				break;
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
		if (has_prefix(p, eol, "read_bytes: ")) {
			p += 12;
			have_read = read_u64(&p, eol, rbytes);
		} else if (has_prefix(p, eol, "write_bytes: ")) {
			p += 13;
			have_write = read_u64(&p, eol, wbytes);
		}
		p = eol + 1;
	}
	return have_read && have_write ? 0 : -EINVAL;
}

int sg_cgroup_procs_io(int procs_fd, int proc_dir_fd, char *scratch, size_t scratch_len, uint64_t *rbytes,
		       uint64_t *wbytes)
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
	for (const char *p = scratch; p < end;) {
		char path[32], io[512];
		uint64_t pid, r, w;

		if (!read_u64(&p, end, &pid))
			return -EINVAL;
		p++; /* newline */
		snprintf(path, sizeof(path), "%llu/io", (unsigned long long)pid);
		int fd = openat(proc_dir_fd, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* exited */
		ssize_t got = pread(fd, io, sizeof(io), 0);
		close(fd);
		if (got > 0 && sg_proc_io_parse(io, (size_t)got, &r, &w) == 0) {
			*rbytes += r;
			*wbytes += w;
		}
	}
	return 0;
}
