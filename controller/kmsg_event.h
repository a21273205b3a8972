/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel log events stallguard knows. */
#pragma once

enum sg_kmsg_event {
	SG_EV_SOFT_LOCKUP,
	SG_EV_HARD_LOCKUP,
	SG_EV_HUNG_TASK,
	SG_EV_RCU_STALL,
	SG_EV_WORKQUEUE_LOCKUP,
	SG_EV_IO_ERROR,
	SG_EV_OOM_KILL,
	SG_EV_CLOCK_BUG,
	SG_EV_COUNT,
};

/* "soft_lockup", ... as used after "kmsg." in signal names. */
const char *sg_kmsg_event_name(enum sg_kmsg_event ev);
/* Returns the event for a name, or -1. */
int sg_kmsg_event_from_name(const char *name);
