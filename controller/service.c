// SPDX-License-Identifier: GPL-2.0-or-later
#include "service.h"

#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "summary.h"
#include "units.h"

/* STATUS= when the summary changed. */
static void update_status(struct sg_service *svc, const struct sg_generation *gen)
{
	char line[SG_SERVICE_STATUS_MAX];

	sg_summary_line(&gen->cfg, gen->policy, line, sizeof(line));
	if (strcmp(line, svc->status) == 0)
		return;
	memcpy(svc->status, line, sizeof(line));
	sd_notifyf(0, "STATUS=%s", svc->status);
}

/* Metrics on, off, or to another path, as cfg says. */
static int setup_metrics(struct sg_service *svc, const struct sg_generation *gen)
{
	const struct sg_config *cfg = &gen->cfg;
	int r;

	if (!cfg->metrics_file[0]) {
		sg_metrics_free(svc->metrics);
		svc->metrics = NULL;
		return 0;
	}
	if (!svc->metrics) {
		r = sg_metrics_new(&svc->metrics, cfg->metrics_file);
		if (r < 0)
			return sg_log_errno(LOG_ERR, r, "cannot start the metrics writer for %s", cfg->metrics_file);
	}
	r = sg_metrics_reserve(svc->metrics, cfg->metrics_file, sg_metrics_capacity(cfg, &gen->tab));
	if (r < 0)
		return sg_log_errno(LOG_ERR, r, "metrics file %s", cfg->metrics_file);
	svc->metrics_due = 0;
	return 0;
}

/* Actions run in the loop: one that outlasts half the watchdog interval
 * may get a healthy guardian restarted. */
static void check_watchdog(const struct sg_config *cfg)
{
	uint64_t watchdog_usec = 0, longest = cfg->hook_timeout_usec;
	char a[32], b[32];

	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		return;
	if (cfg->kill_grace_usec + USEC_PER_SEC > longest)
		longest = cfg->kill_grace_usec + USEC_PER_SEC;
	if (longest * 2 >= watchdog_usec)
		sg_log(LOG_WARNING, "an action may hold the loop for %s (hook_timeout, kill_grace + 1s), more than "
		       "half of WatchdogSec=%s: raise WatchdogSec or lower them",
		       sg_format_duration(longest, a, sizeof(a)), sg_format_duration(watchdog_usec, b, sizeof(b)));
}

int sg_service_start(struct sg_service *svc, sd_event *event, const struct sg_generation *gen)
{
	int r;

	memset(svc, 0, sizeof(*svc));
	check_watchdog(&gen->cfg);
	update_status(svc, gen);
	r = setup_metrics(svc, gen);
	if (r < 0)
		return r;
	return sg_heartbeat_start(&svc->heartbeat, event, &gen->cfg, svc->status);
}

int sg_service_reload(struct sg_service *svc, const struct sg_generation *old, const struct sg_generation *gen,
		      const char (*captures)[SG_SERVICE_CAPTURE_MAX])
{
	uint64_t carried[SG_RULE_MAX * SG_STEP_MAX] = { 0 };

	for (size_t r = 0; r < gen->cfg.nrules; r++) {
		const struct sg_rule *rule = &gen->cfg.rules[r];
		int o = sg_config_find_rule(&old->cfg, rule->name);

		for (size_t s = 0; o >= 0 && s < rule->nsteps; s++) {
			const struct sg_rule *was = &old->cfg.rules[o];

			/* the same step at the same place in the ladder */
			if (s < was->nsteps && strcmp(was->steps[s].text, rule->steps[s].text) == 0)
				carried[r * SG_STEP_MAX + s] = svc->counts[(size_t)o * SG_STEP_MAX + s];
		}
		sg_strlcpy(svc->seen[r], captures ? captures[r] : "", sizeof(svc->seen[r]));
	}
	memcpy(svc->counts, carried, sizeof(carried));
	check_watchdog(&gen->cfg);
	update_status(svc, gen);
	int err = setup_metrics(svc, gen);
	int r = sg_heartbeat_configure(&svc->heartbeat, &gen->cfg);

	return err < 0 ? err : r;
}

void sg_service_decided(struct sg_service *svc, const struct sg_decision *d, const char *capture)
{
	if (d->kind == SG_DECISION_APPLY && !d->dry_run)
		svc->counts[d->rule * SG_STEP_MAX + d->step]++;
	if (capture && capture[0] && strcmp(capture, svc->seen[d->rule]) != 0) {
		svc->captures++;
		sg_strlcpy(svc->seen[d->rule], capture, sizeof(svc->seen[d->rule]));
	}
}

void sg_service_ticked(struct sg_service *svc, const struct sg_generation *gen, uint64_t start_usec,
		       uint64_t ticks, size_t decisions)
{
	uint64_t now = sg_now_usec();

	svc->tick_usec = now - start_usec;
	if (decisions)
		update_status(svc, gen);
	if (!svc->metrics || now < svc->metrics_due)
		return;
	svc->metrics_due = now + gen->cfg.metrics_interval_usec;
	struct sg_metrics_input in = {
		.cfg = &gen->cfg, .policy = gen->policy, .tab = &gen->tab, .sample = &gen->sample,
		.counts = svc->counts, .captures = svc->captures, .ticks = ticks,
		.tick_seconds = (double)svc->tick_usec / USEC_PER_SEC,
	};
	sg_metrics_publish(svc->metrics, &in);
}

void sg_service_stop(struct sg_service *svc)
{
	sg_heartbeat_stop(&svc->heartbeat);
	sg_metrics_free(svc->metrics);
	svc->metrics = NULL;
}
