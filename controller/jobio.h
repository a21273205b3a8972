/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A job's bytes read and written: cgroup v2 io.stat, or /proc/PID/io summed
 * over the cgroup's processes where the io controller is not enabled. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Sums rbytes= and wbytes= over every device line of an io.stat text.
 * Returns 0 or -EINVAL. An empty io.stat (no I/O yet) is valid. */
int sg_cgroup_iostat_parse(const char *buf, size_t len, uint64_t *rbytes, uint64_t *wbytes);

/* read_bytes and write_bytes of a /proc/PID/io text. Returns 0 or -EINVAL. */
int sg_proc_io_parse(const char *buf, size_t len, uint64_t *rbytes, uint64_t *wbytes);

/* Sums /proc/PID/io over the pids of an open cgroup.procs, using scratch for
 * the pid list. Processes that exit mid-read are skipped. Returns 0 or -errno. */
int sg_cgroup_procs_io(int procs_fd, int proc_dir_fd, char *scratch, size_t scratch_len, uint64_t *rbytes,
		       uint64_t *wbytes);
