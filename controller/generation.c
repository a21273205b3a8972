/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "generation.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diskstats.h"
#include "log.h"

static void release_built(struct sg_generation *gen)
{
	sg_policy_free(gen->policy);
	sg_sampler_free(gen->sampler);
	free(gen->sample.values);
	free(gen->decisions);
	gen->policy = NULL;
	gen->sampler = NULL;
	gen->sample.values = NULL;
	gen->decisions = NULL;
}

int sg_generation_build(struct sg_generation *gen, const char *cgroup_root)
{
	char disks[SG_DISK_MAX][SG_DISK_NAME_MAX];
	int r;

	size_t ndisks = sg_disks_discover("/sys/block", disks, SG_DISK_MAX);
	r = sg_signal_table_init(&gen->tab, &gen->cfg, (const char(*)[SG_DISK_NAME_MAX])disks, ndisks);
	if (r < 0) {
		sg_log(LOG_ERR, "more than %d disks to watch: name fewer disks in rules", SG_DISK_MAX);
		return r;
	}
	for (size_t d = ndisks; d < gen->tab.ndisks; d++)
		sg_log(LOG_WARNING, "disk %s is named by a rule but is not a whole physical disk here: it has "
				    "figures only while /proc/diskstats lists it, and disk.any leaves it out",
		       gen->tab.disks[d]);
	gen->sample.nvalues = gen->tab.nslots;
	gen->sample.values = calloc(gen->tab.nslots, sizeof(double));
	gen->decisions = calloc(gen->cfg.nrules ? gen->cfg.nrules : 1, sizeof(*gen->decisions));
	if (!gen->sample.values || !gen->decisions) {
		r = -ENOMEM;
		goto fail;
	}
	struct sg_sampler_paths paths = { .proc = "/proc", .cgroup = cgroup_root };
	r = sg_sampler_new(&gen->sampler, &gen->cfg, &gen->tab, &paths, false);
	if (r < 0)
		goto fail;
	r = sg_policy_new(&gen->policy, &gen->cfg, &gen->tab);
	if (r < 0)
		goto fail;
	return 0;
fail:
	release_built(gen);
	return r;
}

void sg_generation_release(struct sg_generation *gen)
{
	release_built(gen);
	sg_config_free(&gen->cfg);
}

size_t sg_generation_tick(struct sg_generation *gen, uint64_t now_usec, double lag_ms, uint32_t *events)
{
	sg_sampler_read(gen->sampler, now_usec, lag_ms, &gen->sample);
	memcpy(gen->sample.events, events, sizeof(gen->sample.events));
	memset(events, 0, sizeof(gen->sample.events));
	return sg_policy_tick(gen->policy, &gen->cfg, &gen->sample, gen->decisions, gen->cfg.nrules);
}
