/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging: one line on stderr, or the journal with fields under systemd. */
#pragma once

#include <stdbool.h>
#include <syslog.h>

/* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG from syslog.h */
void sg_log_set_level(int max_priority);
int sg_log_get_level(void);
/* Parses "debug|info|warning|error"; returns 0 or -EINVAL. */
int sg_log_parse_level(const char *text, int *priority);
/* Sends to the journal when stderr is connected to it (JOURNAL_STREAM). */
void sg_log_open(void);

void sg_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs at priority and returns -abs(err), for `return sg_log_errno(...)`. */
int sg_log_errno(int priority, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Structured fields that accompany a decision in the journal. */
struct sg_log_fields {
	const char *message_id; /* 32 hex chars, one per kind of event */
	const char *rule;
	const char *job;
	const char *step;
	int level;
	bool dry_run;
	const char *capture; /* may be NULL */
};

void sg_log_fields(int priority, const struct sg_log_fields *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
