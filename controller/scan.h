/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A cursor over kernel text that is not NUL-terminated: the scanning every
 * parser shares. No locale, no allocation, never past end. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct sg_cursor {
	const char *p, *end;
};

/* Consumes word if the text continues with it. */
static inline bool sg_eat_word(struct sg_cursor *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* At least one blank (space or tab); skips all of them. */
static inline bool sg_eat_blanks(struct sg_cursor *c)
{
	const char *start = c->p;

	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	return c->p > start;
}

/* Decimal digits into *out. False when there is no digit or the number
 * does not fit in 64 bits (garbage, not a kernel counter). */
static inline bool sg_eat_u64(struct sg_cursor *c, uint64_t *out)
{
	const char *start = c->p;
	uint64_t value = 0;

	for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++) {
		unsigned digit = (unsigned)(*c->p - '0');
		if (value > (UINT64_MAX - digit) / 10)
			return false;
		value = value * 10 + digit;
	}
	*out = value;
	return c->p != start;
}

/* DIGITS[.DIGITS], the only form the kernel prints for fractions. */
static inline bool sg_eat_decimal(struct sg_cursor *c, double *out)
{
	double frac = 0, scale = 1;
	uint64_t whole;

	if (!sg_eat_u64(c, &whole))
		return false;
	if (c->p < c->end && *c->p == '.') {
		const char *start = ++c->p;

		for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++) {
			scale /= 10;
			frac += (*c->p - '0') * scale;
		}
		if (c->p == start)
			return false;
	}
	*out = (double)whole + frac;
	return true;
}

/* Like sg_eat_u64, but a number too large is UINT64_MAX, for values where
 * "absurdly large" is itself the finding (a broken clock's "stuck for"). */
static inline bool sg_eat_u64_saturating(struct sg_cursor *c, uint64_t *out)
{
	const char *start = c->p;

	if (sg_eat_u64(c, out))
		return true;
	if (c->p == start)
		return false;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	*out = UINT64_MAX;
	return true;
}
