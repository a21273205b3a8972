/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `stallguard signals`: every signal's current value, once or live; and
 * `stallguard record`: every signal at every tick, into a trace (trace.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

struct sg_signals_options {
	bool json;
	uint64_t period_usec; /* one sample spans this (rates need two readings) */
	unsigned count;       /* samples to print; 0 = until interrupted */
};

/* Returns the exit status. */
int sg_signals_command(const struct sg_config *cfg, const struct sg_signals_options *options, FILE *out);

/* Samples every signal each cfg->interval into the trace file path (created
 * or truncated; each row flushed as it is taken) until duration_usec has
 * passed (0: until SIGINT or SIGTERM). Returns the exit status. */
int sg_record_command(const struct sg_config *cfg, const char *path, uint64_t duration_usec);
