/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A capture bundle held in memory until it is stored: each file is a memfd,
 * filled while the capture is taken (before acting, never touching the disk),
 * copied into capture_dir/<UTC time>-<rule>/ later by whoever may block on
 * the disk (the capture writer thread, or a command). Directory 0700, files
 * 0600, the newest capture_keep bundles kept.
 *
 * A bundle may also carry work to finish after the action (stack sets to
 * symbolize and draw): sg_bundle_defer() hands it a function that the store
 * runs once the in-memory files are on disk. */
#pragma once

#include <stddef.h>
#include <time.h>

#define SG_BUNDLE_FILES 16
#define SG_BUNDLE_STAMP_LEN 16 /* YYYYmmddTHHMMSSZ */

struct sg_bundle;

/* Work finished by the store, in the bundle's directory (dirfd), after the
 * files: returns 0 or -errno; frees its data either way (also when the bundle
 * is freed unstored: then dirfd is -1). */
typedef int (*sg_bundle_finish_fn)(int dirfd, void *data);

/* A new empty bundle for capture_dir (absolute) and rule (a valid name) at
 * time now. Its name is <stamp>-<rule>, or <stamp>-<rule>-N when this process
 * already made one of that name. Returns 0, -EINVAL or -ENOMEM. */
int sg_bundle_new(const char *capture_dir, const char *rule, time_t now, unsigned keep, struct sg_bundle **out);

/* The directory the bundle will be stored in (capture_dir/name). */
const char *sg_bundle_path(const struct sg_bundle *b);

/* A new file of the bundle: returns a writable fd of its own (close it when
 * done), or -errno (-ENOSPC when the bundle has SG_BUNDLE_FILES files). */
int sg_bundle_fd(struct sg_bundle *b, const char *name);

/* Work to finish after the files are stored (at most one per bundle). */
void sg_bundle_defer(struct sg_bundle *b, sg_bundle_finish_fn finish, void *data);

/* Stores and frees b: creates capture_dir (parents 0755) and the bundle
 * directory (a "-N" suffix when one of that name exists already), copies every
 * file, runs the deferred work, then removes all but the newest capture_keep
 * bundles. dir_out (may be NULL) gets the directory's path. A failed rotation
 * is logged, not returned. Returns 0 or -errno of the first failure (the
 * other files still written). May block on the disk. */
int sg_bundle_store(struct sg_bundle *b, char *dir_out, size_t dir_len);

void sg_bundle_free(struct sg_bundle *b);

/* Removes all but the newest keep (at least 1) bundle directories in dir
 * (only directories named like a bundle). Returns how many were removed, or
 * -errno for the first failure. */
int sg_capture_rotate(const char *dir, unsigned keep);
