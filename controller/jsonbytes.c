/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "jsonbytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated byte string of a member of size bytes -> a JSON string of one code point
 * per byte. -EINVAL when it has no NUL within size. */
int sg_json_from_bytes(const char *s, size_t size, json_t **out)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *nul = memchr(s, '\0', size);
	size_t n = 0;

	if (!nul)
		return -EINVAL;
	char *utf8 = malloc(2 * (size_t)(nul - p) + 1);
	if (!utf8)
		return -ENOMEM;
	for (; p < nul; p++) {
		if (*p < 0x80) {
			utf8[n++] = (char)*p;
		} else {
			utf8[n++] = (char)(0xc0 | (*p >> 6));
			utf8[n++] = (char)(0x80 | (*p & 0x3f));
		}
	}
	*out = json_stringn(utf8, n);
	free(utf8);
	return *out ? 0 : -ENOMEM;
}

/* The reverse: -E2BIG when it does not fit in size bytes with its NUL, -EILSEQ for a NUL or a
 * code point above U+00FF. */
int sg_json_to_bytes(const json_t *value, char *dst, size_t size)
{
	const unsigned char *s = (const unsigned char *)json_string_value(value);
	size_t len = json_string_length(value), n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned c = s[i];
		if (c >= 0x80) {
			if ((c != 0xc2 && c != 0xc3) || i + 1 >= len || (s[i + 1] & 0xc0) != 0x80)
				return -EILSEQ;
			c = ((c & 0x03) << 6) | (s[++i] & 0x3f);
		}
		if (c == 0)
			return -EILSEQ;
		if (n + 1 >= size)
			return -E2BIG;
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	return 0;
}
