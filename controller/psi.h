/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pressure stall information: parsing and triggers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sg_psi_line {
	bool present;
	double avg10, avg60, avg300; /* percent */
	uint64_t total;              /* cumulative microseconds stalled */
};

struct sg_psi {
	struct sg_psi_line some, full; /* full.present is false for cpu on old kernels */
};

/* Parses the text of a *.pressure file. Returns 0, or -EINVAL when the text
 * has no valid `some` line, or a `full` line that is not valid (a truncated
 * or garbled file). */
int sg_psi_parse(const char *buf, size_t len, struct sg_psi *out);

/* pread()s an open pressure file from offset 0 and parses it. */
int sg_psi_read_fd(int fd, struct sg_psi *out);

/* Percent of elapsed_usec stalled, from two `total` readings; NaN when
 * elapsed_usec is 0 or the counter went backwards. Clamped to 0..100. */
double sg_psi_stall_percent(uint64_t total_prev, uint64_t total_now, uint64_t elapsed_usec);

#define SG_PSI_WINDOW_FAST_USEC 500000ULL   /* needs CAP_SYS_RESOURCE */
#define SG_PSI_WINDOW_SLOW_USEC 2000000ULL  /* allowed to every process */

/* Arms a trigger on a pressure file: stall of percent% of the window.
 * Tries a 500 ms window, then 2 s. Returns the fd (poll it for POLLPRI;
 * POLLERR means the cgroup is gone) and sets *window_usec, or -errno
 * (-ENOENT no such file, -EOPNOTSUPP triggers refused). */
int sg_psi_trigger_arm(const char *path, bool full, double percent, uint64_t *window_usec);
