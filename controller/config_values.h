/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The values of the configuration language, one parser per kind of value.
 *
 * Private to config.c. Each parser takes the value as inih handed it
 * (trimmed, inline comment removed), returns 0 or -EINVAL, and on error
 * writes into why what was wrong and what was expected; the caller adds
 * "FILE:LINE: bad KEY \"VALUE\": ". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "signals.h"

#define SG_COMM_MAX 15 /* the kernel keeps this many bytes of a task's comm */

/* 1 to SG_NAME_MAX-1 of A-Z a-z 0-9 _ - */
bool sg_cfg_name_ok(const char *name);

/* yes/no, true/false, on/off, 1/0, in any case. */
int sg_cfg_parse_bool(const char *text, bool *out, char *why, size_t len);

/* A duration of at least min_usec (and above zero when positive is set). */
int sg_cfg_parse_duration(const char *text, uint64_t min_usec, bool positive, uint64_t *out,
			  char *why, size_t len);

/* A decimal count of at least min. */
int sg_cfg_parse_count(const char *text, unsigned min, unsigned max, unsigned *out, char *why, size_t len);

/* "N/DURATION", N 0..SG_KILL_LIMIT_MAX, DURATION above zero. */
int sg_cfg_parse_kill_limit(const char *text, unsigned *count, uint64_t *window_usec, char *why,
			    size_t len);

/* comm:NAME, exe:/PATH or cmdline:REGEX. The regex is only checked here
 * (compiled and freed); m->regex is left uncompiled for the caller. */
int sg_cfg_parse_match(const char *text, struct sg_match *m, char *why, size_t len);

/* Compiles m->regex for a cmdline match (nothing for other kinds). */
int sg_cfg_match_compile(struct sg_match *m, char *why, size_t len);

/* "SIGNAL OP NUMBER [for DURATION]" or "kmsg.EVENT within DURATION". The
 * signal is checked by grammar only; ref says what it names (a job, say). */
int sg_cfg_parse_when(const char *text, struct sg_cond *cond, struct sg_signal_ref *ref,
		      char *why, size_t len);

/* One ladder step; step->text gets the normalised form. */
int sg_cfg_parse_step(const char *text, struct sg_step *step, char *why, size_t len);

/* Writes an io.max value the way a user would: "50M", "2000", "max". */
void sg_cfg_format_iomax(uint64_t value, bool bytes, char *buf, size_t len);
