// SPDX-License-Identifier: GPL-2.0-or-later
#include "heartbeat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "decision_log.h"
#include "log.h"
#include "units.h"

#define ACCURACY_USEC (100 * USEC_PER_MSEC)

/* One line a dead man's switch's owner can search the journal for. */
static void failed(struct sg_heartbeat *hb, int err)
{
	hb->failed++;
	sg_log_service(LOG_WARNING, SG_MESSAGE_ID_HEARTBEAT_FAILED, "heartbeat %s failed: %s: the switch may not "
		       "hear from this host", hb->path, strerror(-err));
}

static void drop_sources(struct sg_heartbeat *hb)
{
	hb->exited = sd_event_source_disable_unref(hb->exited);
	hb->output = sd_event_source_disable_unref(hb->output);
	hb->deadline = sd_event_source_disable_unref(hb->deadline);
	hb->running = false;
}

/* It has exited (its pidfd is readable): waitpid cannot block. */
static int on_exited(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct sg_heartbeat *hb = userdata;

	(void)source;
	(void)fd;
	(void)revents;
	drop_sources(hb);
	int r = sg_hook_finish(&hb->run, hb->timed_out, hb->timeout_usec);

	if (r < 0)
		failed(hb, r);
	return 0;
}

static int on_output(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct sg_heartbeat *hb = userdata;

	(void)fd;
	(void)revents;
	sg_hook_drain(&hb->run);
	if (hb->run.out_fd < 0) /* end of file: the descriptor is closed */
		hb->output = sd_event_source_disable_unref(source);
	return 0;
}

static int on_deadline(sd_event_source *source, uint64_t usec, void *userdata)
{
	struct sg_heartbeat *hb = userdata;

	(void)usec;
	hb->timed_out = true;
	sg_hook_kill(&hb->run);
	hb->deadline = sd_event_source_disable_unref(source);
	return 0;
}

static int beat(struct sg_heartbeat *hb)
{
	char status[sizeof("STALLGUARD_STATUS=") + 512];
	char *envp[] = {
		(char *)SG_HOOK_ENV_PATH, status,
		(char *)(hb->dry_run ? "STALLGUARD_DRY_RUN=1" : "STALLGUARD_DRY_RUN=0"), NULL,
	};
	int r;

	snprintf(status, sizeof(status), "STALLGUARD_STATUS=%s", hb->status ? hb->status : "");
	if (sg_hook_check("heartbeat", hb->path) < 0)
		return -EPERM;
	r = sg_hook_start(&hb->run, "heartbeat", hb->path, "heartbeat", envp);
	if (r < 0)
		return r;
	hb->run.ok_priority = LOG_DEBUG;
	hb->running = true;
	hb->timed_out = false;
	hb->beats++;
	r = sd_event_add_io(hb->event, &hb->exited, hb->run.pidfd, EPOLLIN, on_exited, hb);
	if (r >= 0)
		r = sd_event_add_io(hb->event, &hb->output, hb->run.out_fd, EPOLLIN, on_output, hb);
	if (r >= 0)
		r = sd_event_add_time_relative(hb->event, &hb->deadline, CLOCK_MONOTONIC, hb->timeout_usec,
					       ACCURACY_USEC, on_deadline, hb);
	if (r < 0) {
		sg_log_errno(LOG_ERR, r, "heartbeat: cannot watch it: killed it");
		drop_sources(hb);
		sg_hook_finish(&hb->run, true, hb->timeout_usec);
	}
	return r;
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata)
{
	struct sg_heartbeat *hb = userdata;

	(void)usec;
	if (hb->running) {
		hb->skipped++;
		sg_log(LOG_WARNING, "heartbeat: the previous one still runs: this beat is skipped");
	} else {
		int r = beat(hb);

		if (r < 0)
			failed(hb, r);
	}
	sd_event_source_set_time_relative(source, hb->interval_usec);
	sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
	return 0;
}

static void take(struct sg_heartbeat *hb, const struct sg_config *cfg)
{
	sg_strlcpy(hb->path, cfg->heartbeat, sizeof(hb->path));
	hb->interval_usec = cfg->heartbeat_interval_usec;
	hb->timeout_usec = cfg->hook_timeout_usec < hb->interval_usec ? cfg->hook_timeout_usec : hb->interval_usec;
	hb->dry_run = cfg->dry_run;
}

int sg_heartbeat_start(struct sg_heartbeat *hb, sd_event *event, const struct sg_config *cfg,
		       const char *status)
{
	memset(hb, 0, sizeof(*hb));
	hb->event = event;
	hb->status = status;
	return sg_heartbeat_configure(hb, cfg);
}

int sg_heartbeat_configure(struct sg_heartbeat *hb, const struct sg_config *cfg)
{
	take(hb, cfg);
	if (!cfg->heartbeat[0]) {
		hb->timer = sd_event_source_disable_unref(hb->timer);
		return 0;
	}
	if (hb->timer)
		return 0; /* the next beat comes at the time set by the last one */
	int r = sd_event_add_time_relative(hb->event, &hb->timer, CLOCK_MONOTONIC, 0, ACCURACY_USEC, on_timer, hb);

	if (r < 0)
		return sg_log_errno(LOG_ERR, r, "heartbeat: cannot set its timer");
	return 0;
}

void sg_heartbeat_stop(struct sg_heartbeat *hb)
{
	hb->timer = sd_event_source_disable_unref(hb->timer);
	if (!hb->running)
		return;
	sg_hook_kill(&hb->run);
	drop_sources(hb);
	if (hb->run.out_fd >= 0)
		close(hb->run.out_fd);
	close(hb->run.pidfd);
}
