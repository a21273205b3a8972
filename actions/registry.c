/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which action carries out which step kind, and the journal call they share. */
#include "action.h"

#include <errno.h>

#include "units.h"

extern const struct sg_action sg_action_ionice;
extern const struct sg_action sg_action_iomax;
extern const struct sg_action sg_action_freeze;
extern const struct sg_action sg_action_kill;
extern const struct sg_action sg_action_hook;

const struct sg_action *sg_action_for(enum sg_step_kind kind)
{
	switch (kind) {
	case SG_STEP_IONICE: return &sg_action_ionice;
	case SG_STEP_IOMAX: return &sg_action_iomax;
	case SG_STEP_FREEZE: return &sg_action_freeze;
	case SG_STEP_KILL: return &sg_action_kill;
	case SG_STEP_HOOK: return &sg_action_hook;
	case SG_STEP_CAPTURE: break;
	}
	return NULL;
}

int sg_action_journal(sg_journal_fn journal, void *userdata, const struct sg_undo *undo)
{
	int err = journal(undo, userdata);
	return err > 0 ? -EIO : err;
}

void sg_action_detail(const struct sg_action_env *env, const char *text)
{
	if (env && env->detail && env->detail_len)
		sg_strlcpy(env->detail, text, env->detail_len);
}
