/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guardian's state in one line: systemd's STATUS= and the heartbeat's
 * STALLGUARD_STATUS. */
#pragma once

#include <stddef.h>

#include "config.h"
#include "policy.h"

/* "watching: 3 rules at rest", or each rule off rest as
 * `io-storm: level 2/3 "ionice idle" on the top I/O process` joined by "; ",
 * then "; 2 rules at rest"; " (dry run)" after a rule that only decides.
 * Cut to len. */
void sg_summary_line(const struct sg_config *cfg, const struct sg_policy *policy, char *buf, size_t len);
