/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Trace files: what `stallguard record` writes and `stallguard replay` reads.
 * Text, so a trace can be read, cut and diffed by hand:
 *
 *   # stallguard trace 1
 *   # host web-7 kernel 6.1.0-27-amd64 interval_ms 250
 *   t_ms,psi.cpu.some.avg10,...,disk.vda.util,...,kmsg.soft_lockup,...,kmsg.clock_bug
 *   0,1.250,...,37.500,...,0,...,0
 *   250,1.310,...
 *
 * t_ms is the row's time since the first row; every other column is a
 * signal's value as the guardian read it (empty: unavailable), or, for
 * kmsg.EVENT, how many such kernel events arrived since the previous row.
 * Other lines starting with '#' are comments. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "signals.h"

#define SG_TRACE_MAGIC "# stallguard trace 1"
#define SG_TRACE_COLUMNS_MAX 4096

/* Writes the two comment lines and the column header for tab. Returns 0 or -EIO. */
int sg_trace_write_header(FILE *out, const struct sg_signal_table *tab, const struct sg_config *cfg,
			  uint64_t interval_usec);

/* Writes one row: t_usec since the first row, then sample's values and events. */
int sg_trace_write_row(FILE *out, uint64_t t_usec, const struct sg_sample *sample);

struct sg_trace_data {
	size_t ncolumns;                       /* signal columns, t_ms not counted */
	char (*names)[SG_SIGNAL_NAME_MAX];     /* ncolumns names */
	size_t nrows;
	uint64_t *t_usec;                      /* nrows times, never decreasing */
	double *values;                        /* nrows * ncolumns; NaN where empty */
};

/* Parses a trace from buf (len bytes, no NUL needed). On an error returns
 * -EINVAL with "LINE: what" in err (the first error; nothing kept). A last
 * line cut short (no newline) is ignored, as a recording that was stopped
 * mid-write leaves it. Returns 0, -EINVAL or -ENOMEM. */
int sg_trace_parse(const char *buf, size_t len, struct sg_trace_data *trace, char *err, size_t err_len);

/* Reads the file path and parses it (at most 1 GiB). Returns 0, -EINVAL
 * (err as above), -EFBIG, or -errno of reading it. */
int sg_trace_load(const char *path, struct sg_trace_data *trace, char *err, size_t err_len);

void sg_trace_free(struct sg_trace_data *trace);
