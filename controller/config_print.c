/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A loaded configuration printed as understood (`check`), and the small
 * questions other parts ask of it. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "config_values.h"
#include "units.h"


static void print_match(FILE *out, const struct sg_match *m)
{
	static const char *const kinds[] = { "comm", "exe", "cmdline" };

	fprintf(out, "%s:%s", kinds[m->kind], m->value);
}

static void print_guardian(const struct sg_config *cfg, FILE *out)
{
	char a[32], b[32], c[32], d[32], e[32], f[32];

	fprintf(out, "guardian: interval %s, dry-run %s, kill_limit %u/%s%s, kill_grace %s, "
		"hook_timeout %s, history %s, capture_budget %s, capture_keep %u\n",
		sg_format_duration(cfg->interval_usec, a, sizeof(a)), cfg->dry_run ? "yes" : "no",
		cfg->kill_limit_count,
		sg_format_duration(cfg->kill_limit_window_usec, b, sizeof(b)),
		cfg->kill_limit_count ? "" : " (no kills)",
		sg_format_duration(cfg->kill_grace_usec, c, sizeof(c)),
		sg_format_duration(cfg->hook_timeout_usec, d, sizeof(d)),
		sg_format_duration(cfg->history_usec, e, sizeof(e)),
		sg_format_duration(cfg->capture_budget_usec, f, sizeof(f)), cfg->capture_keep);
	fprintf(out, "  state_dir %s, capture_dir %s, kmsg %s, metrics_file %s, on_exit %s\n", cfg->state_dir,
		cfg->capture_dir, cfg->kmsg, cfg->metrics_file[0] ? cfg->metrics_file : "(off)",
		cfg->revert_on_exit ? "revert" : "keep");
	fprintf(out, "  recorder %s, recorder_hz %u, recorder_window %s\n",
		cfg->recorder == SG_RECORDER_ON ? "on" : cfg->recorder == SG_RECORDER_OFF ? "off" : "on-trigger",
		cfg->recorder_hz, sg_format_duration(cfg->recorder_window_usec, a, sizeof(a)));
	if (cfg->metrics_file[0])
		fprintf(out, "  metrics every %s\n", sg_format_duration(cfg->metrics_interval_usec, a, sizeof(a)));
	if (cfg->heartbeat[0])
		fprintf(out, "  heartbeat %s every %s\n", cfg->heartbeat,
			sg_format_duration(cfg->heartbeat_interval_usec, a, sizeof(a)));
	else
		fprintf(out, "  heartbeat (off)\n");
	fprintf(out, "  protect: pid 1, kernel threads, stallguard");
	for (size_t i = 0; i < cfg->nprotect; i++) {
		fputs(", ", out);
		print_match(out, &cfg->protect[i]);
	}
	fputc('\n', out);
}

static void print_job(const struct sg_job *job, FILE *out)
{
	const char *sep = "";

	fprintf(out, "job %s: ", job->name);
	if (job->unit[0]) {
		fprintf(out, "unit %s", job->unit);
		sep = ", ";
	}
	if (job->cgroup[0]) {
		fprintf(out, "%scgroup %s", sep, job->cgroup);
		sep = ", ";
	}
	for (size_t i = 0; i < job->nmatches; i++) {
		fprintf(out, "%smatch ", sep);
		print_match(out, &job->matches[i]);
		sep = ", ";
	}
	fprintf(out, "%sdevice %s\n", sep, job->device[0] ? job->device : "(the disk under /)");
}

static void print_rule(const struct sg_config *cfg, const struct sg_rule *rule, FILE *out)
{
	char a[32], b[32], c[32];

	fprintf(out, "rule %s (%s of %zu, ", rule->name, rule->match_all ? "all" : "any",
		rule->nconds);
	if (rule->target == SG_TARGET_JOB)
		fprintf(out, "job %s", cfg->jobs[rule->job].name);
	else if (rule->target == SG_TARGET_TOP_IO)
		fprintf(out, "job top-io");
	else
		fprintf(out, "host-level");
	fprintf(out, ", step_after %s, recover_after %s, cooldown %s%s):\n",
		sg_format_duration(rule->step_after_usec, a, sizeof(a)),
		sg_format_duration(rule->recover_after_usec, b, sizeof(b)),
		sg_format_duration(rule->cooldown_usec, c, sizeof(c)),
		rule->dry_run ? ", dry-run" : "");
	for (size_t i = 0; i < rule->nconds; i++) {
		const struct sg_cond *cond = &rule->conds[i];

		if (cond->kind == SG_COND_EVENT) {
			fprintf(out, "  when %s within %s\n", cond->signal,
				sg_format_duration(cond->within_usec, a, sizeof(a)));
			continue;
		}
		fprintf(out, "  when %s %s %g", cond->signal, sg_op_text(cond->op),
			cond->threshold);
		if (cond->for_usec)
			fprintf(out, " for %s", sg_format_duration(cond->for_usec, a, sizeof(a)));
		fputc('\n', out);
	}
	fprintf(out, "  ladder:");
	for (size_t i = 0; i < rule->nsteps; i++)
		fprintf(out, "%s %zu %s", i ? " ->" : "", i + 1, rule->steps[i].text);
	fputc('\n', out);
	for (size_t i = 0; i < rule->nhooks; i++)
		fprintf(out, "  hook %s = %s\n", rule->hooks[i].name, rule->hooks[i].path);
}

void sg_config_print(const struct sg_config *cfg, FILE *out)
{
	print_guardian(cfg, out);
	for (size_t j = 0; j < cfg->njobs; j++)
		print_job(&cfg->jobs[j], out);
	for (size_t r = 0; r < cfg->nrules; r++)
		print_rule(cfg, &cfg->rules[r], out);
}

int sg_config_find_job(const struct sg_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->njobs; i++)
		if (strcmp(cfg->jobs[i].name, name) == 0)
			return (int)i;
	return -1;
}

int sg_config_find_rule(const struct sg_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		if (strcmp(cfg->rules[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct sg_hook *sg_rule_hook(const struct sg_rule *rule, const char *name)
{
	for (size_t i = 0; i < rule->nhooks; i++)
		if (strcmp(rule->hooks[i].name, name) == 0)
			return &rule->hooks[i];
	return NULL;
}

const char *sg_op_text(enum sg_op op)
{
	switch (op) {
	case SG_OP_GE: return ">=";
	case SG_OP_GT: return ">";
	case SG_OP_LE: return "<=";
	case SG_OP_LT: return "<";
	}
	return "?";
}

const char *sg_step_kind_name(enum sg_step_kind kind)
{
	switch (kind) {
	case SG_STEP_CAPTURE: return "capture";
	case SG_STEP_IONICE: return "ionice";
	case SG_STEP_IOMAX: return "io.max";
	case SG_STEP_FREEZE: return "freeze";
	case SG_STEP_KILL: return "kill";
	case SG_STEP_HOOK: return "hook";
	}
	return "?";
}

bool sg_step_reversible(enum sg_step_kind kind)
{
	return kind != SG_STEP_CAPTURE && kind != SG_STEP_KILL;
}
