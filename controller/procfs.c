// SPDX-License-Identifier: GPL-2.0-or-later
/* Small /proc files and the D-state scan. Every path here runs each tick:
 * hand-written scanning over (buf, len), open/pread/getdents64, no allocation. */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "units.h"

/* Scans DIGITS at buf[*i..len) into *out; false when there are none or they overflow. */
static bool scan_u64(const char *buf, size_t len, size_t *i, uint64_t max, uint64_t *out)
{
	size_t start = *i;
	uint64_t v = 0;

	while (*i < len && buf[*i] >= '0' && buf[*i] <= '9') {
		unsigned d = (unsigned)(buf[*i] - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
		(*i)++;
	}
	if (*i == start)
		return false;
	*out = v;
	return true;
}

/* DIGITS[.DIGITS], locale-free. */
static bool scan_decimal(const char *buf, size_t len, size_t *i, double *out)
{
	uint64_t ip;
	double frac = 0, scale = 1;

	if (!scan_u64(buf, len, i, UINT64_MAX, &ip))
		return false;
	if (*i < len && buf[*i] == '.') {
		size_t start = ++(*i);

		while (*i < len && buf[*i] >= '0' && buf[*i] <= '9') {
			scale /= 10;
			frac += (buf[*i] - '0') * scale;
			(*i)++;
		}
		if (*i == start)
			return false;
	}
	*out = (double)ip + frac;
	return true;
}

int sg_procstat_parse_blocked(const char *buf, size_t len, unsigned *blocked)
{
	static const char key[] = "procs_blocked";
	const size_t klen = sizeof(key) - 1;
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;

		if (end - pos > klen && memcmp(buf + pos, key, klen) == 0 &&
		    (buf[pos + klen] == ' ' || buf[pos + klen] == '\t')) {
			size_t i = pos + klen;
			uint64_t v;

			while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
				i++;
			/* The line must end in '\n': otherwise the number may be cut. */
			if (!nl || !scan_u64(buf, end, &i, UINT32_MAX, &v) || i != end)
				return -EINVAL;
			*blocked = (unsigned)v;
			return 0;
		}
		pos = end + 1;
	}
	return -EINVAL;
}

int sg_loadavg_parse(const char *buf, size_t len, double load[3])
{
	size_t i = 0;
	double l[3];

	for (int k = 0; k < 3; k++) {
		if (!scan_decimal(buf, len, &i, &l[k]))
			return -EINVAL;
		/* Each average is followed by a blank (the third by " R/T PID"), so a
		 * number cut by the end of the buffer is never taken. */
		if (i == len || (buf[i] != ' ' && buf[i] != '\t'))
			return -EINVAL;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
	}
	memcpy(load, l, sizeof(l));
	return 0;
}

int sg_task_stat_parse(const char *buf, size_t len, struct sg_task_stat *out)
{
	size_t i = 0, lp, rp, clen;
	uint64_t pid, ppid;
	char state;

	if (!scan_u64(buf, len, &i, INT32_MAX, &pid) || pid == 0)
		return -EINVAL;
	if (i + 1 >= len || buf[i] != ' ' || buf[i + 1] != '(')
		return -EINVAL;
	lp = i + 1;
	/* The comm may hold any byte, ')' included: it ends at the last ')'. */
	rp = len;
	while (rp > lp + 1 && buf[rp - 1] != ')')
		rp--;
	if (rp <= lp + 1)
		return -EINVAL;
	rp--; /* index of the last ')' */
	/* ") S PPID ": the state, then a number, both whole. A cut text whose last
	 * ')' is inside the comm fails here. */
	i = rp + 1;
	if (i + 3 > len || buf[i] != ' ')
		return -EINVAL;
	state = buf[i + 1];
	if (!((state >= 'A' && state <= 'Z') || (state >= 'a' && state <= 'z')) || buf[i + 2] != ' ')
		return -EINVAL;
	i += 3;
	if (!scan_u64(buf, len, &i, UINT64_MAX, &ppid) || i == len || buf[i] != ' ')
		return -EINVAL;

	clen = rp - (lp + 1);
	if (clen > sizeof(out->comm) - 1)
		clen = sizeof(out->comm) - 1;
	out->pid = (int)pid;
	memcpy(out->comm, buf + lp + 1, clen);
	out->comm[clen] = '\0';
	out->state = state;
	return 0;
}

/* struct linux_dirent64, as getdents64(2) fills it. */
struct sg_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static bool gone(int err)
{
	return err == ENOENT || err == ESRCH;
}

/* 1 when TID's stat (under the open task directory) says D, 0 when not or
 * when the task is gone, or -errno. */
static int task_is_d(int taskfd, const char *tid)
{
	char path[64], buf[512];
	struct sg_task_stat st;
	ssize_t r;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/stat", tid) >= sizeof(path))
		return 0;
	fd = openat(taskfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gone(errno) ? 0 : -errno;
	do
		r = pread(fd, buf, sizeof(buf), 0);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int err = errno;

		close(fd);
		return gone(err) ? 0 : -err;
	}
	close(fd);
	/* Only the first fields matter; a stat longer than buf parses the same. */
	if (sg_task_stat_parse(buf, (size_t)r, &st) < 0)
		return 0;
	return st.state == 'D';
}

/* Counts D tasks in PID/task. Returns the count or -errno. */
static int count_pid(int procfd, const char *pid, char *buf, size_t buflen)
{
	char path[64];
	int taskfd, count = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/task", pid) >= sizeof(path))
		return 0;
	taskfd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (taskfd < 0)
		return gone(errno) ? 0 : -errno;
	for (;;) {
		long n = syscall(SYS_getdents64, taskfd, buf, buflen);

		if (n < 0) {
			int err = errno;

			close(taskfd);
			return gone(err) ? count : -err;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct sg_dirent64 *de = (struct sg_dirent64 *)(buf + off);
			int d;

			off += de->d_reclen;
			if (!sg_all_digits(de->d_name))
				continue;
			d = task_is_d(taskfd, de->d_name);
			if (d < 0) {
				close(taskfd);
				return d;
			}
			count += d;
		}
	}
	close(taskfd);
	return count;
}

int sg_tasks_count_dstate(const char *proc_root, char *scratch, size_t scratch_len)
{
	/* Two 8-byte aligned halves: the proc_root listing and each task directory. */
	uintptr_t base = ((uintptr_t)scratch + 7) & ~(uintptr_t)7;
	size_t usable = scratch_len > base - (uintptr_t)scratch ?
				scratch_len - (base - (uintptr_t)scratch) : 0;
	size_t half = (usable / 2) & ~(size_t)7;
	char *list = (char *)base, *tasks = list + half;
	int procfd, count = 0;

	/* Room for at least one entry with a name of NAME_MAX. */
	if (half < sizeof(struct sg_dirent64) + 256)
		return -EINVAL;
	procfd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return -errno;
	for (;;) {
		long n = syscall(SYS_getdents64, procfd, list, half);

		if (n < 0) {
			int err = errno;

			close(procfd);
			return -err;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct sg_dirent64 *de = (struct sg_dirent64 *)(list + off);
			int c;

			off += de->d_reclen;
			if (!sg_all_digits(de->d_name))
				continue;
			c = count_pid(procfd, de->d_name, tasks, half);
			if (c < 0) {
				close(procfd);
				return c;
			}
			count += c;
		}
	}
	close(procfd);
	return count;
}
