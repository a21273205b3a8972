/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cgroupfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "units.h"

#define PF_KTHREAD 0x00200000UL

bool sg_cgroup_gone(int err)
{
	return err == -ENOENT || err == -ENODEV;
}

int sg_cgroup_write(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	return err;
}

int sg_cgroup_events_value(int fd, const char *key)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	size_t klen = strlen(key);
	const char *p = buf, *end = buf + n;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) == klen + 2 && memcmp(p, key, klen) == 0 && p[klen] == ' ' &&
		    (p[klen + 1] == '0' || p[klen + 1] == '1'))
			return p[klen + 1] - '0';
		p = eol + 1;
	}
	return -EINVAL;
}

int sg_cgroup_wait_events(int dirfd, const char *key, int want, uint64_t timeout_usec)
{
	uint64_t deadline = sg_now_usec() + timeout_usec;
	struct pollfd pfd = { .events = POLLPRI };

	pfd.fd = openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (pfd.fd < 0)
		return -errno;
	int err;
	for (;;) {
		err = sg_cgroup_events_value(pfd.fd, key);
		if (err < 0 || err == want) {
			err = err < 0 ? err : 0;
			break;
		}
		if (sg_now_usec() >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		int ms = sg_msec_until(sg_now_usec(), deadline, SG_CGROUP_POLL_MSEC);
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
	}
	close(pfd.fd);
	return err;
}

/* The ids of an open list, one a line. A read that fails because the cgroup
 * was removed ends the list. */
static int each_id(int fd, sg_cgroup_id_fn fn, void *userdata)
{
	unsigned long value = 0;
	bool digits = false;
	int err = 0;
	char buf[4096];
	ssize_t n = 0;

	while (!err && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n && !err; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				value = value * 10 + (unsigned long)(buf[i] - '0');
				digits = true;
				continue;
			}
			if (digits)
				err = fn((pid_t)value, userdata);
			value = 0;
			digits = false;
		}
	}
	if (!err && n < 0 && !sg_cgroup_gone(-errno))
		err = -errno;
	return err;
}

int sg_cgroup_each_id(int dirfd, const char *name, sg_cgroup_id_fn fn, void *userdata)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = each_id(fd, fn, userdata);
	close(fd);
	return err;
}

static int walk(int dirfd, unsigned depth, sg_cgroup_id_fn fn, void *userdata)
{
	if (depth > SG_CGROUP_DEPTH_MAX)
		return -ELOOP;
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sg_cgroup_gone(-errno) ? 0 : -errno;
	int err = each_id(fd, fn, userdata);
	close(fd);
	if (err)
		return err;

	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return sg_cgroup_gone(-errno) ? 0 : -errno;
	DIR *dir = fdopendir(dfd);
	if (!dir) {
		err = -errno;
		close(dfd);
		return err;
	}
	struct dirent *de;
	while (!err && (de = readdir(dir))) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0) {
			if (!sg_cgroup_gone(-errno))
				err = -errno;
			continue;
		}
		err = walk(sub, depth + 1, fn, userdata);
		close(sub);
	}
	closedir(dir);
	return err;
}

int sg_cgroup_walk(int dirfd, sg_cgroup_id_fn fn, void *userdata)
{
	return walk(dirfd, 0, fn, userdata);
}

ssize_t sg_read_small(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* Until end of file or a full buffer: a kernel stack may take reads. */
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

int sg_proc_stat(const char *proc, pid_t pid, char *state, bool *kthread)
{
	char path[64], buf[512];
	unsigned long flags;

	snprintf(path, sizeof(path), "%s/%d/stat", proc, (int)pid);
	if (sg_read_small(path, buf, sizeof(buf)) <= 0)
		return -ESRCH;
	/* The comm may hold ')': the fields start after the last one. */
	const char *p = strrchr(buf, ')');
	/* ") STATE PPID PGRP SESSION TTY TPGID FLAGS" */
	if (!p || sscanf(p, ") %c %*d %*d %*d %*d %*d %lu", state, &flags) != 2)
		return -ESRCH;
	*kthread = flags & PF_KTHREAD;
	return 0;
}

bool sg_proc_signallable(pid_t pid)
{
	char state;
	bool kthread;

	if (pid <= 1 || pid == getpid())
		return false;
	return sg_proc_stat("/proc", pid, &state, &kthread) == 0 && !kthread && state != 'Z' &&
	       state != 'X';
}
