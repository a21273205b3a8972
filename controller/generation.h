/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a tick needs, built from one configuration: the signal table, the
 * sampler, the policy and the buffers they fill. Built at start and at each
 * reload; a tick allocates nothing. `run` and `make bench` tick through the
 * same code. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"
#include "sampler.h"
#include "signals.h"

struct sg_generation {
	struct sg_config cfg; /* loaded by the caller */
	struct sg_signal_table tab;
	struct sg_sampler *sampler;
	struct sg_policy *policy;
	struct sg_sample sample;
	struct sg_decision *decisions; /* cfg.nrules of them */
};

/* Builds everything from gen->cfg, which the caller has loaded: the host's
 * whole disks, the signal table, the sampler (reading cgroups under
 * cgroup_root, the cgroup2 mount or "") and the policy. Logs what an
 * operator must know. Returns 0 or -errno; on failure gen holds nothing to
 * free but its configuration. */
int sg_generation_build(struct sg_generation *gen, const char *cgroup_root);

/* Frees what sg_generation_build made, and the configuration. */
void sg_generation_release(struct sg_generation *gen);

/* One tick: every signal read at now_usec, the kernel events counted since
 * the last tick taken from events (which is zeroed), and the policy run.
 * Returns how many decisions are in gen->decisions. */
size_t sg_generation_tick(struct sg_generation *gen, uint64_t now_usec, double lag_ms, uint32_t *events);
