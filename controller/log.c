/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

static int max_priority = LOG_INFO;
static bool to_journal;

void sg_log_set_level(int priority)
{
	max_priority = priority;
}

int sg_log_get_level(void)
{
	return max_priority;
}

int sg_log_parse_level(const char *text, int *priority)
{
	static const struct {
		const char *name;
		int priority;
	} levels[] = {
		{ "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "warning", LOG_WARNING }, { "error", LOG_ERR },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(text, levels[i].name) == 0) {
			*priority = levels[i].priority;
			return 0;
		}
	}
	return -EINVAL;
}

/* stderr goes to the journal when its device:inode is JOURNAL_STREAM's. */
void sg_log_open(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	to_journal = stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
		     st.st_dev == dev && st.st_ino == ino;
}

static const char *priority_prefix(int priority)
{
	switch (priority) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error: ";
	case LOG_WARNING: return "warning: ";
	case LOG_DEBUG: return "debug: ";
	default: return "";
	}
}

static void vlog(int priority, const struct sg_log_fields *fields, const char *fmt, va_list ap)
{
	char message[1024];

	if (priority > max_priority)
		return;
	vsnprintf(message, sizeof(message), fmt, ap);
	if (!to_journal) {
		/* Decisions and kernel events carry fields; their lines need no prefix. */
		fprintf(stderr, "%s%s\n", fields ? "" : priority_prefix(priority), message);
		return;
	}
	if (!fields) {
		sd_journal_send("MESSAGE=%s", message, "PRIORITY=%d", priority, "SYSLOG_IDENTIFIER=stallguard", NULL);
		return;
	}
	sd_journal_send("MESSAGE=%s", message, "PRIORITY=%d", priority, "SYSLOG_IDENTIFIER=stallguard",
			"MESSAGE_ID=%s", fields->message_id, "RULE=%s", fields->rule ? fields->rule : "",
			"JOB=%s", fields->job ? fields->job : "", "STEP=%s", fields->step ? fields->step : "",
			"LEVEL=%d", fields->level, "DRY_RUN=%d", fields->dry_run ? 1 : 0,
			"CAPTURE=%s", fields->capture ? fields->capture : "", NULL);
}

void sg_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(priority, NULL, fmt, ap);
	va_end(ap);
}

int sg_log_errno(int priority, int err, const char *fmt, ...)
{
	char message[768];
	va_list ap;

	err = abs(err);
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	sg_log(priority, "%s: %s", message, strerror(err));
	return -err;
}

void sg_log_fields(int priority, const struct sg_log_fields *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(priority, fields, fmt, ap);
	va_end(ap);
}
