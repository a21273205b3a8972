/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The signal history: a ring of the last `history` seconds of samples, written
 * into each capture bundle as history.csv. Allocated at start; a push copies
 * one sample into the ring and allocates nothing. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "signals.h"

#define SG_HISTORY_ROWS_MAX 4096

struct sg_history {
	size_t nslots;
	size_t rows;        /* capacity */
	double *values;     /* rows * nslots */
	uint64_t *times;    /* rows, CLOCK_MONOTONIC usec */
	size_t next;        /* row the next push writes */
	size_t count;       /* rows held, up to rows */
};

/* Rows for cfg: history_usec / interval_usec + 1, at most SG_HISTORY_ROWS_MAX. */
size_t sg_history_rows(const struct sg_config *cfg);

/* Allocates rows (1..SG_HISTORY_ROWS_MAX) rows of nslots values. Returns 0,
 * -EINVAL or -ENOMEM; on failure h holds nothing to free. */
int sg_history_init(struct sg_history *h, size_t nslots, size_t rows);
void sg_history_free(struct sg_history *h);

/* Copies one sample in, overwriting the oldest row when full. Slots the
 * sample lacks are NaN; values past nslots are dropped. No allocation. */
void sg_history_push(struct sg_history *h, const struct sg_sample *sample);

/* Writes history.csv to fd: a header "time_ms,NAME,..." with every slot's
 * name, then one row per sample held, oldest first. time_ms is the sample's
 * time relative to the newest row, in whole milliseconds (0 for the newest,
 * negative before). A NaN is an empty field. tab must be the table the
 * history was built for (tab->nslots == h->nslots, else -EINVAL).
 * Returns 0 or -errno. */
int sg_history_write_csv(const struct sg_history *h, const struct sg_signal_table *tab,
			 const struct sg_config *cfg, int fd);
