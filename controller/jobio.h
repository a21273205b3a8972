/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A job's bytes read and written: cgroup v2 io.stat, or /proc/PID/io summed
 * over the cgroup's processes where the io controller is not enabled. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sums rbytes= and wbytes= over every device line of an io.stat text.
 * Returns 0 or -EINVAL. An empty io.stat (no I/O yet) is valid. */
int sg_cgroup_iostat_parse(const char *buf, size_t len, uint64_t *rbytes, uint64_t *wbytes);

/* read_bytes and write_bytes of a /proc/PID/io text. Returns 0 or -EINVAL. */
int sg_proc_io_parse(const char *buf, size_t len, uint64_t *rbytes, uint64_t *wbytes);

#define SG_PROC_IO_CACHE 32

/* /proc/PID/io files kept open across ticks for a job's processes, so a
 * steady job costs one pread per process rather than open, read and close.
 * A cached file of a process that exited fails with ESRCH, even when its pid
 * is reused, so a cached file never reads another process. */
struct sg_proc_io_cache {
	int pid[SG_PROC_IO_CACHE];
	int fd[SG_PROC_IO_CACHE];
	bool seen[SG_PROC_IO_CACHE];
	size_t count;
};

void sg_proc_io_cache_init(struct sg_proc_io_cache *cache);
void sg_proc_io_cache_clear(struct sg_proc_io_cache *cache);

/* Sums /proc/PID/io over the pids of an open cgroup.procs, using scratch for
 * the pid list and cache for the open files (processes beyond its size are
 * opened and closed each time). Processes that exit mid-read are skipped.
 * Returns 0 or -errno. */
int sg_cgroup_procs_io(int procs_fd, int proc_dir_fd, struct sg_proc_io_cache *cache, char *scratch,
		       size_t scratch_len, uint64_t *rbytes, uint64_t *wbytes);
