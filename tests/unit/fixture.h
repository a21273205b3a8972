/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by unit tests: cmocka's headers in the order it needs, and fixture loading. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <sys/stat.h>

/* Reads tests/fixtures/REL into a malloc'd NUL-terminated buffer; fails the test if missing. */
static inline char *fixture_read(const char *rel, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", FIXTURES, rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("fixture %s: cannot open", path);
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* cmocka 1.1.5 has no assert_double_equal. */
#define assert_near(a, b, eps) assert_near_at((a), (b), (eps), #a, __FILE__, __LINE__)
static inline void assert_near_at(double a, double b, double eps, const char *expr, const char *file, int line)
{
	if (!(fabs(a - b) <= eps))
		fail_msg("%s:%d: %s = %.9g, expected %.9g", file, line, expr, a, b);
}

/* A fixture in a buffer of exactly its length (no NUL), so a read past len
 * shows under ASan or valgrind. */
static inline char *fixture_exact(const char *name, size_t *len)
{
	char *text = fixture_read(name, len);
	char *buf = malloc(*len ? *len : 1);

	assert_non_null(buf);
	memcpy(buf, text, *len);
	free(text);
	return buf;
}

static inline int fixture_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf DIR (not following links); returns nftw's result. */
static inline int fixture_remove_tree(const char *dir)
{
	return nftw(dir, fixture_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
