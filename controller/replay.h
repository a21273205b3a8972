/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `stallguard replay`: the configuration's rules run by the policy engine
 * over a recorded trace (trace.h), each decision printed at the time it
 * would have been taken. Nothing is acted on, nothing captured. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "trace.h"

struct sg_replay_summary {
	size_t rows;       /* samples replayed */
	size_t decisions;  /* lines printed */
	size_t missing;    /* signals the rules test that the trace lacks */
};

/* Replays trace under cfg. Prints to out one line per decision, "+SECONDS
 * DECISION" (seconds since the trace's first row, the decision as the
 * guardian logs it in a dry run), and to warn one line per signal a rule
 * tests that the trace has no column for (its conditions never hold).
 * Columns the configuration has no signal for are ignored. Returns 0,
 * -ENOMEM, or -E2BIG (too many disks). */
int sg_replay(const struct sg_config *cfg, const struct sg_trace_data *trace, FILE *out, FILE *warn,
	      struct sg_replay_summary *summary);
