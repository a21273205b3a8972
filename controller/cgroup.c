/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cgroup.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/statfs.h>

#include "units.h"

int sg_cgroup_detect(const char *root, enum sg_cgroup_layout *layout, char *unified, size_t len)
{
	char path[512];
	struct statfs fs;

	unified[0] = '\0';
	if (statfs(root, &fs) < 0) {
		*layout = SG_CGROUP_NONE;
		return errno == ENOENT ? 0 : -errno;
	}
	if (fs.f_type == CGROUP2_SUPER_MAGIC) {
		*layout = SG_CGROUP_UNIFIED;
		sg_strlcpy(unified, root, len);
		return 0;
	}
	if (fs.f_type != TMPFS_MAGIC) {
		*layout = SG_CGROUP_NONE;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/unified", root);
	if (statfs(path, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
		*layout = SG_CGROUP_HYBRID;
		sg_strlcpy(unified, path, len);
		return 0;
	}
	*layout = SG_CGROUP_LEGACY;
	return 0;
}

const char *sg_cgroup_layout_name(enum sg_cgroup_layout layout)
{
	switch (layout) {
	case SG_CGROUP_UNIFIED: return "unified";
	case SG_CGROUP_HYBRID: return "hybrid";
	case SG_CGROUP_LEGACY: return "legacy";
	case SG_CGROUP_NONE: break;
	}
	return "none";
}
