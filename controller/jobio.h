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

#define SG_PROC_IO_CACHE 128

/* A job's processes, each with its /proc/PID/io kept open and its last
 * reading, so a tick costs one pread per process and a process that joins
 * the job adds only what it does from then on, not its whole history. A
 * cached file of a process that exited fails with ESRCH, even when its pid
 * is reused, so a cached file never reads another process. */
struct sg_proc_io_cache {
	int pid[SG_PROC_IO_CACHE];
	int fd[SG_PROC_IO_CACHE];
	uint64_t rbytes[SG_PROC_IO_CACHE], wbytes[SG_PROC_IO_CACHE];
	bool seen[SG_PROC_IO_CACHE];
	size_t count;
	size_t overflow; /* processes of the job beyond the cache, not counted */
};

void sg_proc_io_cache_init(struct sg_proc_io_cache *cache);
void sg_proc_io_cache_clear(struct sg_proc_io_cache *cache);

/* Brings the cache to the pids listed in an open cgroup.procs (scratch
 * holds the list): new processes are opened and read for a baseline, those
 * gone are closed. Returns 0 or -errno. */
int sg_proc_io_refresh(struct sg_proc_io_cache *cache, int procs_fd, int proc_dir_fd, char *scratch,
		       size_t scratch_len);

/* Bytes the cached processes read and wrote since the previous call (or
 * refresh that added them). Processes that exited leave the cache. */
void sg_proc_io_delta(struct sg_proc_io_cache *cache, uint64_t *rbytes, uint64_t *wbytes);
