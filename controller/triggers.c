/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "triggers.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "psi.h"
#include "signals.h"

static void add(struct sg_triggers *triggers, const char *path, bool full, double percent)
{
	for (size_t i = 0; i < triggers->count; i++) {
		const struct sg_trigger *t = &triggers->items[i];
		if (strcmp(t->path, path) == 0 && t->full == full && t->percent == percent)
			return;
	}
	if (triggers->count == SG_TRIGGER_MAX) {
		sg_log(LOG_WARNING, "more than %d distinct PSI triggers: %s %s %.1f%% is read at each tick only",
		       SG_TRIGGER_MAX, path, full ? "full" : "some", percent);
		return;
	}
	struct sg_trigger *t = &triggers->items[triggers->count++];
	snprintf(t->path, sizeof(t->path), "%s", path);
	t->full = full;
	t->percent = percent;
	t->fd = -1;
	t->window_usec = 0;
}

void sg_triggers_plan(const struct sg_config *cfg, const char *proc, const char *cgroup_root,
		      struct sg_triggers *triggers)
{
	char path[sizeof(triggers->items[0].path)];

	triggers->count = 0;
	for (size_t r = 0; r < cfg->nrules; r++) {
		for (size_t c = 0; c < cfg->rules[r].nconds; c++) {
			const struct sg_cond *cond = &cfg->rules[r].conds[c];
			struct sg_signal_ref ref;
			char why[128];

			if (cond->kind != SG_COND_THRESHOLD || (cond->op != SG_OP_GE && cond->op != SG_OP_GT) ||
			    cond->threshold <= 0 || sg_signal_parse(cond->signal, &ref, why, sizeof(why)) < 0)
				continue;
			const char *res = sg_psi_resource_name(ref.res);
			if (ref.family == SG_SIG_PSI) {
				snprintf(path, sizeof(path), "%s/pressure/%s", proc, res);
			} else if (ref.family == SG_SIG_JOB_PSI) {
				int j = sg_config_find_job(cfg, ref.job);
				const struct sg_job *job = j < 0 ? NULL : &cfg->jobs[j];
				if (!job || !job->cgroup[0] || !cgroup_root[0])
					continue;
				snprintf(path, sizeof(path), "%s%s/%s.pressure", cgroup_root, job->cgroup, res);
			} else {
				continue;
			}
			add(triggers, path, ref.kind == SG_PSI_FULL, cond->threshold > 100 ? 100 : cond->threshold);
		}
	}
}

size_t sg_triggers_arm(struct sg_triggers *triggers)
{
	size_t armed = 0;

	for (size_t i = 0; i < triggers->count; i++) {
		struct sg_trigger *t = &triggers->items[i];
		int fd = sg_psi_trigger_arm(t->path, t->full, t->percent, &t->window_usec);
		if (fd < 0) {
			sg_log_errno(LOG_WARNING, fd,
				     "cannot arm a PSI trigger on %s (%s %.1f%%): polling it every tick", t->path,
				     t->full ? "full" : "some", t->percent);
			continue;
		}
		t->fd = fd;
		armed++;
		sg_log(LOG_DEBUG, "PSI trigger on %s: %s %.1f%% of %llu ms", t->path, t->full ? "full" : "some",
		       t->percent, (unsigned long long)(t->window_usec / 1000));
	}
	return armed;
}

void sg_triggers_close(struct sg_triggers *triggers)
{
	for (size_t i = 0; i < triggers->count; i++) {
		if (triggers->items[i].fd >= 0)
			close(triggers->items[i].fd);
		triggers->items[i].fd = -1;
	}
}
