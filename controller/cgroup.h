/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which cgroup layout the host has, and where its unified (v2) mount is. */
#pragma once

#include <stddef.h>

enum sg_cgroup_layout {
	SG_CGROUP_NONE,    /* nothing mounted at root */
	SG_CGROUP_UNIFIED, /* root is cgroup2 */
	SG_CGROUP_HYBRID,  /* v1 controllers, cgroup2 at root/unified */
	SG_CGROUP_LEGACY,  /* v1 only */
};

/* Detects by statfs as docs/design.md says. root is "/sys/fs/cgroup" (tests
 * pass other trees). unified receives the cgroup2 mount path, or "" when
 * there is none. Returns 0 or -errno. */
int sg_cgroup_detect(const char *root, enum sg_cgroup_layout *layout, char *unified, size_t len);
const char *sg_cgroup_layout_name(enum sg_cgroup_layout layout);
