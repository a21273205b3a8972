/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel log: record parsing, event classification, and the reader. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmsg_event.h"

#define SG_KMSG_RECORD_MAX 8192

struct sg_kmsg_record {
	unsigned facility, level;
	uint64_t seq;
	uint64_t ts_usec;    /* since boot */
	char flag;           /* '-', 'c' (continuation starts) or '+' (continues) */
	const char *text;    /* the message, up to the first newline; not NUL-terminated */
	size_t text_len;
};

/* Parses "prio,seq,usec,flag[,more];text[\n KEY=value...]". Returns 0 or
 * -EINVAL for anything else (junk is rejected, never half-read). */
int sg_kmsg_parse_record(const char *buf, size_t len, struct sg_kmsg_record *out);

struct sg_kmsg_event_info {
	enum sg_kmsg_event kind;
	int cpu;            /* soft/hard lockup, -1 when unknown */
	uint64_t seconds;   /* "stuck for N s", "blocked for more than N seconds", 0 when unknown */
	int pid;            /* task named in the message, -1 when unknown */
	char comm[64];      /* its name, may contain spaces, colons, slashes */
	char device[32];    /* I/O error device, "" when unknown */
};

/* Classifies a kernel message text. uptime_s is the host's uptime; a soft
 * lockup "stuck for" longer than it is SG_EV_CLOCK_BUG. Returns true when
 * the text is a known event. */
bool sg_kmsg_classify(const char *text, size_t len, double uptime_s, struct sg_kmsg_event_info *out);

/* Called for every kernel-facility record drained, classified or not; a
 * continuation ('c' then '+') arrives once, joined. rec->text is valid only
 * during the call. */
typedef void (*sg_kmsg_record_fn)(const struct sg_kmsg_record *rec, void *userdata);

/* The reader over /dev/kmsg (one record per read, from now on) or a FIFO or
 * file of records, one per line. Allocation-free after open. */
struct sg_kmsg_reader {
	int fd;
	bool is_kmsg;              /* a /dev/kmsg device: one record per read */
	bool is_regular;           /* a plain file: not pollable, read each tick */
	bool have_seq;
	uint64_t last_seq;
	uint64_t lost;             /* records overwritten before we read them */
	uint64_t skipped;          /* malformed records skipped */
	uint64_t records;          /* kernel-facility records read */
	char buf[SG_KMSG_RECORD_MAX + 1];
	size_t buf_len;            /* bytes pending in buf (stream mode) */
	bool skip_line;            /* stream mode: dropping the rest of an over-long line */
	char pending[1024];        /* a continuation being joined ('c' then '+') */
	size_t pending_len;
	bool pending_active;
	sg_kmsg_record_fn on_record; /* NULL = none; set after sg_kmsg_open, which clears it */
	void *record_userdata;
};

/* Opens path non-blocking; for /dev/kmsg seeks to the end (read from now). */
int sg_kmsg_open(struct sg_kmsg_reader *reader, const char *path);
void sg_kmsg_close(struct sg_kmsg_reader *reader);

typedef void (*sg_kmsg_event_fn)(const struct sg_kmsg_event_info *ev, const struct sg_kmsg_record *rec,
				 void *userdata);

/* Reads everything available now, counts events into counts[SG_EV_COUNT]
 * and calls fn (may be NULL) for each. Returns records read, or -errno on a
 * read error other than EAGAIN/EPIPE (EPIPE is counted in lost). */
int sg_kmsg_drain(struct sg_kmsg_reader *reader, double uptime_s, uint32_t *counts, sg_kmsg_event_fn fn,
		  void *userdata);
