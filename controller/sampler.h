/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reads every sensor into a sample. Files are opened once and re-read with
 * pread; buffers are allocated in sg_sampler_new, never in a tick. */
#pragma once

#include <stdint.h>

#include "config.h"
#include "kmsg.h"
#include "signals.h"

struct sg_sampler;

struct sg_sampler_paths {
	const char *proc;       /* "/proc" */
	const char *sys_block;  /* "/sys/block" */
	const char *cgroup;     /* the cgroup2 mount, "" when none */
};

int sg_sampler_new(struct sg_sampler **out, const struct sg_config *cfg, const struct sg_signal_table *tab,
		   const struct sg_sampler_paths *paths);
void sg_sampler_free(struct sg_sampler *sampler);

/* Reads every signal at now_usec into sample->values (rates and stalls over
 * the time since the previous call; NaN on the first call). Events are not
 * touched: the kmsg reader counts them. lag_ms is the tick's lateness. */
void sg_sampler_read(struct sg_sampler *sampler, uint64_t now_usec, double lag_ms, struct sg_sample *sample);
