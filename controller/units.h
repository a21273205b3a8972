/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Durations, sizes and small string helpers shared by every part. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC 1000000ULL

/* "250ms", "5s", "1.5s", "10m", "1h" -> microseconds. A bare number is an
 * error (the unit is never guessed). Returns 0 or -EINVAL / -ERANGE. */
int sg_parse_duration(const char *text, uint64_t *usec);

/* "50M", "4K", "1G" (powers of 1024) or a plain count -> value.
 * Returns 0 or -EINVAL / -ERANGE. */
int sg_parse_size(const char *text, uint64_t *value);

/* Formats a duration the shortest exact way: "250ms", "5s", "1.5s", "10m".
 * Always NUL-terminates; returns buf. */
char *sg_format_duration(uint64_t usec, char *buf, size_t len);

/* Whether s is one or more decimal digits and nothing else. */
bool sg_all_digits(const char *s);

/* Copies at most len-1 bytes and always NUL-terminates (len > 0).
 * Returns the length of src, like strlcpy, so truncation is visible. */
size_t sg_strlcpy(char *dst, const char *src, size_t len);

/* Appends printf output at buf + *pos (buf holds len bytes), always
 * NUL-terminated. Once it does not fit, *pos becomes len and later calls do
 * nothing, so *pos >= len says the text was cut. */
void sg_appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Monotonic time in microseconds. */
uint64_t sg_now_usec(void);

/* Seconds since boot, suspend included (CLOCK_BOOTTIME): the kernel log's
 * clock, against which a soft lockup's "stuck for" is judged. */
double sg_uptime_seconds(void);

/* Milliseconds from now until deadline (both sg_now_usec), rounded up so a
 * poll does not wake before the deadline, and at most max_msec; 0 once the
 * deadline has passed. */
int sg_msec_until(uint64_t now, uint64_t deadline, int max_msec);
