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
