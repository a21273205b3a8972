/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `stallguard run`: the guardian loop on sd-event. */
#pragma once

#include <stdbool.h>

struct sg_run_options {
	const char *config_path;
	bool dry_run; /* --dry-run: on top of the config's own */
};

/* Runs until SIGTERM or SIGINT. Returns the process exit status (0, 1, 2). */
int sg_run(const struct sg_run_options *options);
