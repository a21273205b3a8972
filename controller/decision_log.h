/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One log line per decision and per kernel event, with journal fields and a
 * fixed MESSAGE_ID per kind (docs/logging.md lists them). */
#pragma once

#include "config.h"
#include "kmsg.h"
#include "policy.h"

#define SG_MESSAGE_ID_APPLY "4a023e1d91f84420b9b63caa3ea80c2d"
#define SG_MESSAGE_ID_REVERT "07752e89aeaf47b992e0e54a3f5d07db"
#define SG_MESSAGE_ID_BLOCKED "0996a5a36cc9437fa8d462ae582fb03d"
#define SG_MESSAGE_ID_KERNEL_EVENT "fd62da1504b141a487dcf2bc565306ab"
#define SG_MESSAGE_ID_DONE "b463a3792ba2458fa7147d654ef77bdd"
#define SG_MESSAGE_ID_FAILED "f15f964ace00491f96e7153d0608f1e3"
/* The service itself (docs/logging.md, "The service"). */
#define SG_MESSAGE_ID_STARTED "e92eb8def757468a834348bb544060ae"
#define SG_MESSAGE_ID_RELOADED "6cc68953966a4350b6b4f66bc2f4af56"
#define SG_MESSAGE_ID_RELOAD_REFUSED "e5a6f19032324fa59f4f35821f2f1fd8"
#define SG_MESSAGE_ID_STOPPING "3228191833bb4a1faa1fe24520b404fb"
#define SG_MESSAGE_ID_HEARTBEAT_FAILED "b4e5247ccb744140afcc2b0e205c0006"

/* What an outcome line is about, for its journal fields. */
struct sg_outcome {
	const char *rule, *job, *step;
	unsigned level;
	bool dry_run;
	const char *capture; /* the incident's bundle, or NULL */
};

/* An action's outcome: "RULE: done: WHAT" or "RULE: WHAT failed: ERROR", with
 * the decision's journal fields. */
void sg_log_outcome(const struct sg_outcome *about, bool failed, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "io-storm: would apply "ionice idle" to job backup: psi.io.full.avg10=34.2>=20 for 5.0s" */
void sg_format_decision(const struct sg_config *cfg, const struct sg_decision *decision, char *buf, size_t len);
void sg_log_decision(const struct sg_config *cfg, const struct sg_decision *decision);
/* A line about the service itself, with its MESSAGE_ID and no rule fields. */
void sg_log_service(int priority, const char *message_id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void sg_log_kernel_event(const struct sg_kmsg_event_info *ev, const struct sg_kmsg_record *rec);
