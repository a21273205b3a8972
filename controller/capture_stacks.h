/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The stacks of a capture bundle (offcpu/oncpu .folded and .svg).
 *
 * Before the step acts (sg_capture_stacks_take, within the capture's
 * budget): the BPF recorder's contents are copied into two stack sets, and
 * a thread starts reading the mappings of the processes in them, heaviest
 * first, so that a process the step kills can still be named; the caller
 * waits for it until the budget's deadline, no longer (reading a process's
 * mappings takes its mmap lock, which a frozen process may hold for as long
 * as the freeze lasts).
 *
 * After the step (sg_capture_stacks_finish, the bundle's deferred work, in
 * the capture writer thread): the symbol thread is waited for a while
 * longer, kernel symbols are read, the recorder's own frames are cut from
 * off-CPU kernel stacks (everything above __schedule), and each set is
 * written as NAME.folded and drawn as NAME.svg. */
#pragma once

#include <stdint.h>

struct sg_recorder;
struct sg_capture_stacks;

/* How long the writer waits for the symbol thread after the step, before
 * naming user frames without it. */
#define SG_CAPTURE_SYMBOLS_GRACE_USEC (10 * 1000000ULL)

/* Copies what rec holds now and starts reading symbols in a thread.
 * Returns 0, -ENOMEM, or the recorder's error. */
int sg_capture_stacks_take(struct sg_recorder *rec, struct sg_capture_stacks **out);

/* Waits for the symbol thread until deadline_usec (sg_now_usec clock). */
void sg_capture_stacks_wait(struct sg_capture_stacks *stacks, uint64_t deadline_usec);

/* sg_bundle_finish_fn: writes the files into dirfd and frees stacks (only
 * frees it when dirfd < 0). Returns 0 or the first -errno. */
int sg_capture_stacks_finish(int dirfd, void *stacks);
