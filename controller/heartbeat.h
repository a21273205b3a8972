/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The heartbeat: `heartbeat = PATH` is run as `PATH heartbeat` every
 * `heartbeat_interval`, from the event loop, so that an off-host dead man's
 * switch stops hearing from this host when the host or the guardian stops.
 *
 * A beat never holds the loop: the executable is started (fork and execve,
 * as hooks are: actions/hook.h) and the loop goes on; its pidfd and its
 * output pipe are event sources, and a timer kills its process group at its
 * deadline (hook_timeout, or the interval when that is shorter); it is reaped
 * when its pidfd says it is gone, so even a beat stuck in the kernel (D
 * state) never makes the loop wait. A beat due
 * while the previous one still runs is skipped, and logged. Its environment
 * is PATH, STALLGUARD_STATUS (the guardian's summary line) and
 * STALLGUARD_DRY_RUN. A beat that exits 0 is logged at debug level only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "hook.h"

struct sg_heartbeat {
	sd_event *event;
	sd_event_source *timer;    /* the next beat */
	sd_event_source *exited;   /* the running beat's pidfd */
	sd_event_source *output;   /* its output pipe */
	sd_event_source *deadline; /* when it is killed */
	struct sg_hook_run run;
	bool running;
	bool timed_out;            /* killed at its deadline, not reaped yet */
	char path[SG_PATH_MAX];
	uint64_t interval_usec, timeout_usec;
	bool dry_run;
	const char *status;        /* the loop's summary line, read at each beat */
	uint64_t beats, failed, skipped;
};

/* Sets up beats from cfg on event (nothing when cfg->heartbeat is empty),
 * the first one at once. status points to a line the loop keeps up to date.
 * Returns 0 or -errno. */
int sg_heartbeat_start(struct sg_heartbeat *hb, sd_event *event, const struct sg_config *cfg,
		       const char *status);

/* A reload: the new path, interval and timeout apply from the next beat;
 * a heartbeat turned on starts at once, one turned off stops. Returns 0 or -errno. */
int sg_heartbeat_configure(struct sg_heartbeat *hb, const struct sg_config *cfg);

/* Stops beating (at exit): a beat that runs is killed, not waited for. */
void sg_heartbeat_stop(struct sg_heartbeat *hb);
