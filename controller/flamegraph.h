/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Flame graphs drawn by stallguard itself: folded stacks (stacks.h) in, one
 * self-contained SVG out, readable in a browser with no network (no script,
 * no external reference, no font to fetch).
 *
 * The root "all" is at the bottom and each frame sits on its caller; a
 * frame's width is proportional to its count; siblings are in name order.
 * Each frame is a <g> holding a <title> "NAME (COUNT UNIT, P%)" that shows
 * on hover, a <rect>, and the name as <text> when at least three characters
 * of it fit (cut with ".." when it does not fit whole). Colours come from a
 * hash of the name, so a function has the same colour in every graph: warm
 * (reds, oranges, yellows) on-CPU, cool (blues, greens) off-CPU. A header
 * gives the title, the total and the number of frames not drawn: frames
 * narrower than 0.1 % of the total are left out with all above them, and at
 * most SG_FLAME_MAX_FRAMES frames are drawn.
 *
 * Every name and the title are escaped for XML; bytes that are not valid
 * UTF-8, control characters and code points XML forbids become U+FFFD, so the
 * file is well-formed whatever the input. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "stacks.h"

#define SG_FLAME_MAX_FRAMES 16384 /* frames drawn at most */
#define SG_FLAME_MAX_DEPTH 1024   /* frames in a line at most; a deeper line is malformed */

/* Draws the folded text (len bytes, not NUL-terminated) titled title. A line
 * is "FRAME;...;FRAME COUNT" (COUNT decimal, after the last space); a line
 * that is not (no count, an empty frame, deeper than SG_FLAME_MAX_DEPTH) is
 * skipped and counted; blank lines are ignored. Empty text draws a graph that
 * says there were no samples. Returns the number of lines skipped, -ENOMEM,
 * or -EIO when out reports a write error. It recurses as deep as the graph:
 * up to about 200 KiB of stack for SG_FLAME_MAX_DEPTH frames (mind it in a
 * thread with a small stack). */
int sg_flamegraph_write(FILE *out, const char *folded, size_t len, const char *title, enum sg_stack_kind kind);
