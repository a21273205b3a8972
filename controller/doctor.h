/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `stallguard doctor`: the host's safety net and what the guardian can do here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum sg_severity { SG_SEV_OK, SG_SEV_INFO, SG_SEV_WARNING, SG_SEV_SEVERE };

struct sg_finding {
	enum sg_severity severity;
	char area[24];  /* "psi", "cgroup", "lockup", "disk", ... */
	char text[256]; /* one line: what it is and what to do */
};

#define SG_DOCTOR_MAX_FINDINGS 64

struct sg_doctor_report {
	struct sg_finding findings[SG_DOCTOR_MAX_FINDINGS];
	size_t count;
};

/* Runs every check. root is "/" on the host, or a fixture tree holding proc/
 * and sys/ (and dev/kmsg); every file is read below it. live: the checks of
 * this very host too (only meaningful with root "/"): load the BPF
 * recorder's programs (attaching nothing) and report whether they run,
 * really arm a PSI trigger on root/proc/pressure/io and report its window
 * (the capability is read from this process's own /proc/self/status), and,
 * where systemd runs the host, ask it over D-Bus whether it answers. When
 * there are more findings than fit, the last slot
 * says how many were left out and carries the worst of their severities. */
void sg_doctor_run(const char *root, bool live, struct sg_doctor_report *report);

/* One line per finding: "severe   psi: PSI is off: ...", severity padded. */
void sg_doctor_print(const struct sg_doctor_report *report, FILE *out);

/* True when any finding is severe. */
bool sg_doctor_severe(const struct sg_doctor_report *report);

/* "ok", "info", "warning", "severe". */
const char *sg_severity_name(enum sg_severity severity);
