/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "units.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sg_parse_duration(const char *text, uint64_t *usec)
{
	static const struct {
		const char *suffix;
		double usec;
	} units[] = {
		{ "ms", 1e3 }, { "s", 1e6 }, { "m", 60e6 }, { "h", 3600e6 },
	};
	char *end;

	/* DIGITS[.DIGITS] only: strtod alone would take "1e3", "0x10" or "inf". */
	if (!text || !(*text >= '0' && *text <= '9'))
		return -EINVAL;
	size_t digits = strspn(text, "0123456789");
	if (text[digits] == '.' && !(text[digits + 1] >= '0' && text[digits + 1] <= '9'))
		return -EINVAL;
	if (text[digits] == '.')
		digits += 1 + strspn(text + digits + 1, "0123456789");
	errno = 0;
	double number = strtod(text, &end);
	if (errno || end != text + digits || !isfinite(number))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		double value = number * units[i].usec;
		if (value > (double)UINT64_MAX / 2)
			return -ERANGE;
		*usec = (uint64_t)llround(value);
		return 0;
	}
	return -EINVAL;
}

int sg_parse_size(const char *text, uint64_t *value)
{
	char *end;

	if (!text || !(*text >= '0' && *text <= '9'))
		return -EINVAL;
	errno = 0;
	unsigned long long number = strtoull(text, &end, 10);
	if (errno)
		return -ERANGE;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	default: return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	if (shift && number > (UINT64_MAX >> shift))
		return -ERANGE;
	*value = (uint64_t)number << shift;
	return 0;
}

char *sg_format_duration(uint64_t usec, char *buf, size_t len)
{
	if (usec % 3600000000ULL == 0 && usec)
		snprintf(buf, len, "%lluh", (unsigned long long)(usec / 3600000000ULL));
	else if (usec % 60000000ULL == 0 && usec)
		snprintf(buf, len, "%llum", (unsigned long long)(usec / 60000000ULL));
	else if (usec % 1000000ULL == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(usec / 1000000ULL));
	else if (usec % 1000ULL == 0 && usec < 1000000ULL)
		snprintf(buf, len, "%llums", (unsigned long long)(usec / 1000ULL));
	else
		snprintf(buf, len, "%gs", (double)usec / 1e6);
	return buf;
}

bool sg_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

size_t sg_strlcpy(char *dst, const char *src, size_t len)
{
	size_t src_len = strlen(src);

	if (len) {
		size_t n = src_len < len - 1 ? src_len : len - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return src_len;
}

void sg_appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	*pos = n < 0 || (size_t)n >= len - *pos ? len : *pos + (size_t)n;
}

uint64_t sg_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

int sg_msec_until(uint64_t now, uint64_t deadline, int max_msec)
{
	uint64_t left = deadline > now ? (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC : 0;

	return left < (uint64_t)max_msec ? (int)left : max_msec;
}

double sg_uptime_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
