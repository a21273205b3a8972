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
	for (struct sg_cursor c = { scratch, end }; c.p < c.end; c.p++ /* newline */) {
		char path[32], io[512];
		uint64_t pid, r, w;

		if (!sg_eat_u64(&c, &pid))
			return -EINVAL;
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
