/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What `run` does for the host's service manager and monitoring beside the
 * tick: systemd's STATUS= (the summary line, sent when it changes), the
 * metrics textfile (every metrics_interval, through metrics.h's writer
 * thread), the action and capture counters it shows, and the heartbeat.
 * The loop calls it after each decision, after each tick, and at reload. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "generation.h"
#include "heartbeat.h"
#include "metrics.h"
#include "policy.h"

#define SG_SERVICE_STATUS_MAX 512
#define SG_SERVICE_CAPTURE_MAX (SG_PATH_MAX + 64)

struct sg_service {
	char status[SG_SERVICE_STATUS_MAX];      /* the summary line systemd was last told */
	struct sg_metrics *metrics;              /* NULL when metrics_file is empty */
	uint64_t metrics_due;                    /* next publish, sg_now_usec */
	uint64_t counts[SG_RULE_MAX * SG_STEP_MAX]; /* steps applied, per rule and step index */
	uint64_t captures;
	char seen[SG_RULE_MAX][SG_SERVICE_CAPTURE_MAX]; /* each rule's newest bundle, to count new ones */
	uint64_t tick_usec;                      /* how long the last tick took */
	struct sg_heartbeat heartbeat;
};

/* Starts metrics and the heartbeat for gen, and tells systemd the status.
 * Returns 0 or -errno (logged). */
int sg_service_start(struct sg_service *svc, sd_event *event, const struct sg_generation *gen);

/* A reload replaced old with gen: counters of rules and steps that still
 * exist carry over; metrics and heartbeat take the new settings. captures
 * holds each rule's newest bundle path as the actuator keeps them (indexed
 * like gen's rules), or NULL. Returns 0 or -errno (logged). */
int sg_service_reload(struct sg_service *svc, const struct sg_generation *old, const struct sg_generation *gen,
		      const char (*captures)[SG_SERVICE_CAPTURE_MAX]);

/* After a decision was carried out: counts a step applied (not in dry run)
 * and a capture bundle written (capture is the rule's newest bundle path,
 * or NULL). */
void sg_service_decided(struct sg_service *svc, const struct sg_decision *decision, const char *capture);

/* After a tick that started at start_usec (ticks so far, decisions it made):
 * STATUS= when it changed, metrics when due. Allocates nothing. */
void sg_service_ticked(struct sg_service *svc, const struct sg_generation *gen, uint64_t start_usec,
		       uint64_t ticks, size_t decisions);

/* Stops the heartbeat and the metrics writer. */
void sg_service_stop(struct sg_service *svc);
