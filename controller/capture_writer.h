/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The capture writer: one thread that stores capture bundles (bundle.h) taken
 * in memory by the loop before it acts, and finishes their deferred work
 * (stacks symbolized and drawn), so that a slow or full disk never holds up
 * the guardian's tick or its actions. It runs at a lower CPU and I/O priority
 * than the loop, and logs each bundle it stores, or why it could not. */
#pragma once

#include <stdint.h>

#include "bundle.h"

#define SG_CAPTURE_QUEUE 4 /* bundles waiting at most; more are dropped, with a log line */

struct sg_capture_writer;

/* Starts the thread. Returns 0, -ENOMEM or -errno from pthread_create. */
int sg_capture_writer_start(struct sg_capture_writer **out);

/* Hands b over to be stored; the writer frees it. Never blocks on the disk.
 * Returns 0, or -EBUSY when SG_CAPTURE_QUEUE bundles are waiting already (a
 * disk that does not keep up): b is freed, not stored. */
int sg_capture_writer_submit(struct sg_capture_writer *w, struct sg_bundle *b);

/* Waits up to timeout_usec for the bundles handed over to be stored, then
 * stops the thread and frees the writer. A writer still stuck on the disk
 * then is left to the process's exit (logged). */
void sg_capture_writer_stop(struct sg_capture_writer *w, uint64_t timeout_usec);
