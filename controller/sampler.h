/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reads every sensor into a sample. Files are opened at start and re-read
 * with pread; a job's cgroup that goes away is looked for again once a
 * second and its files reopened when it is back. Buffers are allocated in
 * sg_sampler_new, never in a tick. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "kmsg.h"
#include "signals.h"

struct sg_sampler;

struct sg_sampler_paths {
	const char *proc;       /* "/proc" */
	const char *cgroup;     /* the cgroup2 mount, "" when none */
};

/* Opens every file the signals need. Job I/O rates are read only for jobs a
 * rule tests them on, unless every_signal is set (`stallguard signals`).
 * Missing files are not errors: their signals stay NaN, and start-up logs
 * why once. Returns 0 or -ENOMEM. */
int sg_sampler_new(struct sg_sampler **out, const struct sg_config *cfg, const struct sg_signal_table *tab,
		   const struct sg_sampler_paths *paths, bool every_signal);
void sg_sampler_free(struct sg_sampler *sampler);

/* Reads every signal at now_usec into sample->values (rates and stalls over
 * the time since the previous call; NaN on the first call). Events are not
 * touched: the kmsg reader counts them. lag_ms is the tick's lateness. */
void sg_sampler_read(struct sg_sampler *sampler, uint64_t now_usec, double lag_ms, struct sg_sample *sample);
