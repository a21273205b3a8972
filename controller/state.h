/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The state journal: state_dir/state.json holds every applied step that can
 * be reverted, so that nothing stays frozen, throttled, demoted or drained
 * because the guardian died. An entry is written before the action (pending)
 * and again after it (applied); it is removed when the step is reverted.
 * Every write is atomic: a temp file in the same directory, fsync, rename,
 * fsync of the directory. state_dir belongs on tmpfs (/run): then the fsyncs
 * never wait on a disk. */
#pragma once

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "action.h"

struct sg_state_entry {
	struct sg_undo undo;
	bool applied;        /* false: journaled before acting, the action may not have happened */
	int64_t since;       /* CLOCK_REALTIME seconds when it was journaled */
};

struct sg_state {
	char path[SG_PATH_MAX + 16]; /* state_dir/state.json */
	struct sg_state_entry *entries;
	size_t count, cap;
};

/* Creates state_dir (0700) if needed and loads state.json when there is one
 * (what a previous run left). A missing file is an empty journal; a file
 * that cannot be parsed is renamed to state.json.corrupt-<time> and logged,
 * and the journal starts empty. Returns 0 or -errno. */
int sg_state_open(struct sg_state *state, const char *state_dir);

/* Adds the entry for (undo->rule, undo->level), or replaces it, and writes
 * the file. Returns 0 or -errno (the caller must then not act). */
int sg_state_record(struct sg_state *state, const struct sg_undo *undo, bool applied);

/* Removes the entry for (rule, level) and writes the file. Returns 0,
 * -ENOENT when there is none, or -errno from the write. */
int sg_state_remove(struct sg_state *state, const char *rule, unsigned level);

/* The entry for (rule, level), or NULL. */
const struct sg_state_entry *sg_state_find(const struct sg_state *state, const char *rule, unsigned level);

/* Writes the whole journal atomically. Returns 0 or -errno. */
int sg_state_write(const struct sg_state *state);

void sg_state_free(struct sg_state *state);

/* The journal's lock, state_dir/lock: held (flock) by whoever acts on the
 * journal — a running guardian, `stallguard revert` — for as long as it
 * does, with its pid written in it, so that two of them never act on one
 * journal. Returns a descriptor that holds it (close it to let go), or
 * -EBUSY with *holder the holder's pid (0 when unreadable), or -errno. */
int sg_state_lock(const char *state_dir, pid_t *holder);

/* The pid of whoever holds state_dir's lock now, 0 when nobody does. */
pid_t sg_state_lock_holder(const char *state_dir);

/* Parses a state.json text (for tests and `stallguard status`). Returns 0 or
 * -EINVAL. */
int sg_state_parse(const char *text, size_t len, struct sg_state *state);

/* Writes the journal as JSON text (what state.json holds, also for
 * `status --json`). */
int sg_state_to_json(const struct sg_state *state, char **text);
