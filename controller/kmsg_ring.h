/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The recent kernel log, for capture bundles: a fixed ring of the newest
 * SG_KMSG_RING_LINES kernel records as "[seconds.micro] text" lines. Fed by
 * the kmsg reader's on_record callback (sg_kmsg_ring_on_record); allocates
 * nothing. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kmsg.h"

#define SG_KMSG_RING_LINES 512
#define SG_KMSG_RING_LINE_MAX 288 /* prefix (at most 24) + 240 + the cut mark, with the NUL */
#define SG_KMSG_RING_TEXT_MAX 240 /* bytes of message text kept */

struct sg_kmsg_ring {
	char lines[SG_KMSG_RING_LINES][SG_KMSG_RING_LINE_MAX];
	size_t next;    /* line the next record goes to */
	size_t count;   /* lines held */
	uint64_t added; /* records added since start */
};

void sg_kmsg_ring_init(struct sg_kmsg_ring *ring);

/* Stores "[%5llu.%06llu] text" (like dmesg). Bytes below 0x20, 0x7f and
 * above, and '\' are written as \xNN (as /dev/kmsg does). Text longer than
 * SG_KMSG_RING_TEXT_MAX bytes, or whose escaped form does not fit the line,
 * is cut and ends in " [+N bytes]", N the bytes left out. The oldest line
 * is overwritten when the ring is full. */
void sg_kmsg_ring_add(struct sg_kmsg_ring *ring, const struct sg_kmsg_record *rec);

/* An sg_kmsg_record_fn; userdata is the ring. */
void sg_kmsg_ring_on_record(const struct sg_kmsg_record *rec, void *userdata);

/* Writes a "# ..." line saying how many records are shown of how many seen,
 * then the lines, oldest first, one per line. Returns 0 or -errno. */
int sg_kmsg_ring_write(const struct sg_kmsg_ring *ring, int fd);

/* Escapes src[0, len) into dst (size > 0, always NUL-terminated) as
 * sg_kmsg_ring_add does, stopping before a byte whose escape does not fit.
 * Returns how many bytes of src were written. */
size_t sg_escape_bytes(char *dst, size_t size, const char *src, size_t len);
