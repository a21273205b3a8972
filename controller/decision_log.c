/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "decision_log.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static const char *target_text(const struct sg_config *cfg, const struct sg_rule *rule, char *buf, size_t len)
{
	switch (rule->target) {
	case SG_TARGET_JOB:
		snprintf(buf, len, "job %s", cfg->jobs[rule->job].name);
		break;
	case SG_TARGET_TOP_IO:
		snprintf(buf, len, "the top I/O process");
		break;
	case SG_TARGET_NONE:
		snprintf(buf, len, "the host");
		break;
	}
	return buf;
}

void sg_format_decision(const struct sg_config *cfg, const struct sg_decision *d, char *buf, size_t len)
{
	const struct sg_rule *rule = &cfg->rules[d->rule];
	const struct sg_step *step = &rule->steps[d->step];
	char target[SG_NAME_MAX + 32];

	target_text(cfg, rule, target, sizeof(target));
	switch (d->kind) {
	case SG_DECISION_APPLY:
		snprintf(buf, len, "%s: %s \"%s\" to %s: %s", rule->name, d->dry_run ? "would apply" : "apply",
			 step->text, target, d->reason);
		break;
	case SG_DECISION_REVERT:
		snprintf(buf, len, "%s: %s \"%s\" on %s: %s", rule->name, d->dry_run ? "would revert" : "revert",
			 step->text, target, d->reason);
		break;
	case SG_DECISION_BLOCKED:
		snprintf(buf, len, "%s: %s \"%s\" to %s: %s", rule->name,
			 d->dry_run ? "would not apply" : "not applying", step->text, target, d->reason);
		break;
	}
}

void sg_log_decision(const struct sg_config *cfg, const struct sg_decision *d)
{
	static const char *const ids[] = {
		[SG_DECISION_APPLY] = SG_MESSAGE_ID_APPLY,
		[SG_DECISION_REVERT] = SG_MESSAGE_ID_REVERT,
		[SG_DECISION_BLOCKED] = SG_MESSAGE_ID_BLOCKED,
	};
	const struct sg_rule *rule = &cfg->rules[d->rule];
	char line[SG_REASON_MAX + 256];

	sg_format_decision(cfg, d, line, sizeof(line));
	struct sg_log_fields fields = {
		.message_id = ids[d->kind],
		.rule = rule->name,
		.job = rule->target == SG_TARGET_JOB ? cfg->jobs[rule->job].name
			: rule->target == SG_TARGET_TOP_IO ? "top-io" : "",
		.step = rule->steps[d->step].text,
		.level = (int)d->level,
		.dry_run = d->dry_run,
	};
	/* Decisions are what the guardian is for: shown at every level but error. */
	sg_log_fields(LOG_WARNING, &fields, "%s", line);
}

void sg_log_kernel_event(const struct sg_kmsg_event_info *ev, const struct sg_kmsg_record *rec)
{
	struct sg_log_fields fields = {
		.message_id = SG_MESSAGE_ID_KERNEL_EVENT,
	};

	sg_log_fields(LOG_WARNING, &fields, "kernel: %s: %.*s", sg_kmsg_event_name(ev->kind), (int)rec->text_len,
		      rec->text);
}

void sg_log_service(int priority, const char *message_id, const char *fmt, ...)
{
	struct sg_log_fields fields = { .message_id = message_id };
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sg_log_fields(priority, &fields, "%s", line);
}

void sg_log_outcome(const struct sg_outcome *about, bool failed, const char *fmt, ...)
{
	struct sg_log_fields fields = {
		.message_id = failed ? SG_MESSAGE_ID_FAILED : SG_MESSAGE_ID_DONE,
		.rule = about->rule,
		.job = about->job,
		.step = about->step,
		.level = (int)about->level,
		.dry_run = about->dry_run,
		.capture = about->capture,
	};
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sg_log_fields(failed ? LOG_ERR : LOG_WARNING, &fields, "%s", line);
}
