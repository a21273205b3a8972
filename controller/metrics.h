/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Prometheus textfile of SPEC (`metrics_file`), for node_exporter's
 * textfile collector: text exposition format with HELP and TYPE lines,
 * label values escaped, written atomically (a temp file in the same
 * directory, renamed over the file).
 *
 * The tick never writes it. sg_metrics_format fills a buffer the loop owns
 * (snprintf only, no allocation); sg_metrics_publish copies it into the
 * pending buffer under a mutex held for that memcpy only; a writer thread of
 * its own copies the pending text out and does the file system calls. A slow or
 * hung disk stalls only the writer: the loop goes on, and each publish
 * replaces the text still pending, so the file catches up with the newest
 * figures when the disk answers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"
#include "signals.h"

/* What the file shows. counts is nrules * SG_STEP_MAX: steps applied, per
 * rule and step index. */
struct sg_metrics_input {
	const struct sg_config *cfg;
	const struct sg_policy *policy;
	const struct sg_signal_table *tab;
	const struct sg_sample *sample;
	const uint64_t *counts;
	uint64_t captures;
	uint64_t ticks;
	double tick_seconds;
};

/* The buffer size sg_metrics_format needs at most for cfg and tab. */
size_t sg_metrics_capacity(const struct sg_config *cfg, const struct sg_signal_table *tab);

/* Writes the text into buf. Returns its length, or -ENOSPC when cap is too
 * small (buf then holds a cut text). Allocates nothing. */
int sg_metrics_format(const struct sg_metrics_input *in, char *buf, size_t cap);

/* A Prometheus label value escaped (\\, \", \n) into out. Returns its length,
 * or -ENOSPC when it does not fit. */
int sg_metrics_escape(const char *value, char *out, size_t len);

struct sg_metrics;

/* Starts the writer thread for path. Returns 0 or -errno. */
int sg_metrics_new(struct sg_metrics **out, const char *path);

/* Formats in into the loop's buffer and hands it to the writer. Never waits
 * for the disk. Grows nothing: sg_metrics_reserve does, outside the tick. */
void sg_metrics_publish(struct sg_metrics *m, const struct sg_metrics_input *in);

/* Makes the loop's buffer hold cap bytes, and sets the path (a reload may
 * change both). Returns 0 or -ENOMEM. */
int sg_metrics_reserve(struct sg_metrics *m, const char *path, size_t cap);

/* Tells the writer to stop after the write it may be doing; it frees itself.
 * Never waits for the disk. NULL is fine. */
void sg_metrics_free(struct sg_metrics *m);
