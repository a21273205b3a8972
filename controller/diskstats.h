/* SPDX-License-Identifier: GPL-2.0-or-later */
/* /proc/diskstats to iostat's extended figures, with sysstat's formulas. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signals.h"

struct sg_diskstats_entry {
	unsigned major, minor;
	char name[SG_DISK_NAME_MAX];
	uint64_t rd_ios, rd_merges, rd_sectors, rd_ticks;
	uint64_t wr_ios, wr_merges, wr_sectors, wr_ticks;
	uint64_t in_flight, io_ticks, time_in_queue;
	uint64_t dc_ios, dc_merges, dc_sectors, dc_ticks; /* 18+ columns, else 0 */
	uint64_t fl_ios, fl_ticks;                        /* 20 columns, else 0 */
};

/* Parses one line (14, 18 or 20 columns). Returns 0 or -EINVAL. */
int sg_diskstats_parse_line(const char *line, size_t len, struct sg_diskstats_entry *out);

/* Finds the entries for names[0..n) in a whole /proc/diskstats text. found[i]
 * tells whether names[i] had a valid line. Malformed lines are skipped.
 * Returns how many lines were skipped as malformed. */
size_t sg_diskstats_parse(const char *buf, size_t len, const char (*names)[SG_DISK_NAME_MAX], size_t n,
			  struct sg_diskstats_entry *out, bool *found);

struct sg_iostat {
	double util;     /* %util */
	double await;    /* ms, reads and writes together (sysstat's pre-12 await) */
	double r_await, w_await; /* ms */
	double aqu;      /* aqu-sz */
	double iops;     /* r/s + w/s */
	double rmbps, wmbps; /* MB/s (MiB, as iostat -m) */
};

/* Delta of a counter that may have wrapped at 32 or 64 bits. */
uint64_t sg_counter_delta(uint64_t prev, uint64_t now);

/* iostat figures between two readings elapsed_ms apart (sysstat 12's
 * formulas; await counts reads and writes). */
void sg_iostat_compute(const struct sg_diskstats_entry *prev, const struct sg_diskstats_entry *now,
		       double elapsed_ms, struct sg_iostat *out);

/* Lists whole, non-virtual disks under sysblock ("/sys/block"): entries whose
 * device is not under /sys/devices/virtual (loop, ram, zram, dm, md are
 * left out). Returns how many, at most max. */
size_t sg_disks_discover(const char *sysblock, char (*names)[SG_DISK_NAME_MAX], size_t max);
