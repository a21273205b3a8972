/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PSI triggers for every psi.* condition, so a stall wakes the loop within
 * the trigger window rather than at the next tick. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SG_TRIGGER_MAX 64

struct sg_trigger {
	char path[SG_PATH_MAX * 2]; /* the pressure file */
	bool full;
	double percent;
	int fd;                     /* -1 until armed */
	uint64_t window_usec;
};

struct sg_triggers {
	struct sg_trigger items[SG_TRIGGER_MAX];
	size_t count;
};

/* Lists the distinct triggers cfg's conditions want: one per pressure file,
 * kind and threshold, for `>=`/`>` conditions on psi.* and job.*.psi.*
 * (a job needs a cgroup; cgroup_root is the cgroup2 mount or ""). Triggers
 * past SG_TRIGGER_MAX are logged and left to the tick. */
void sg_triggers_plan(const struct sg_config *cfg, const char *proc, const char *cgroup_root,
		      struct sg_triggers *triggers);

/* Arms every planned trigger. Returns how many are armed; failures leave
 * fd -1 and are logged once each. */
size_t sg_triggers_arm(struct sg_triggers *triggers);
void sg_triggers_close(struct sg_triggers *triggers);
