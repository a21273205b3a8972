/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel log events stallguard knows, by name. */
#include "kmsg_event.h"

#include <string.h>

static const char *const names[SG_EV_COUNT] = {
	[SG_EV_SOFT_LOCKUP] = "soft_lockup",
	[SG_EV_HARD_LOCKUP] = "hard_lockup",
	[SG_EV_HUNG_TASK] = "hung_task",
	[SG_EV_RCU_STALL] = "rcu_stall",
	[SG_EV_WORKQUEUE_LOCKUP] = "workqueue_lockup",
	[SG_EV_IO_ERROR] = "io_error",
	[SG_EV_OOM_KILL] = "oom_kill",
	[SG_EV_CLOCK_BUG] = "clock_bug",
};

const char *sg_kmsg_event_name(enum sg_kmsg_event ev)
{
	if ((unsigned)ev >= SG_EV_COUNT)
		return NULL;
	return names[ev];
}

int sg_kmsg_event_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SG_EV_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}
