// SPDX-License-Identifier: GPL-2.0-or-later
#include "summary.h"

#include <stdio.h>

#include "units.h"

static const char *target(const struct sg_config *cfg, const struct sg_rule *rule, char *buf, size_t len)
{
	switch (rule->target) {
	case SG_TARGET_JOB:
		snprintf(buf, len, "job %s", cfg->jobs[rule->job].name);
		return buf;
	case SG_TARGET_TOP_IO:
		return "the top I/O process";
	case SG_TARGET_NONE:
		break;
	}
	return "the host";
}

void sg_summary_line(const struct sg_config *cfg, const struct sg_policy *policy, char *buf, size_t len)
{
	char job[SG_NAME_MAX + 8];
	size_t used = 0, at_rest = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t r = 0; r < cfg->nrules; r++) {
		const struct sg_rule *rule = &cfg->rules[r];
		unsigned level = sg_policy_level(policy, r);

		if (!level) {
			at_rest++;
			continue;
		}
		sg_appendf(buf, len, &used, "%s%s: level %u/%zu \"%s\" on %s%s", used ? "; " : "", rule->name, level,
		       rule->nsteps, rule->steps[level - 1].text, target(cfg, rule, job, sizeof(job)),
		       cfg->dry_run || rule->dry_run ? " (dry run)" : "");
	}
	if (!used)
		sg_appendf(buf, len, &used, "watching: %zu rule%s at rest%s", at_rest, at_rest == 1 ? "" : "s",
		       cfg->dry_run ? " (dry run)" : "");
	else if (at_rest)
		sg_appendf(buf, len, &used, "; %zu rule%s at rest", at_rest, at_rest == 1 ? "" : "s");
}
