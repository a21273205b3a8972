/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Arbitrary bytes (paths, comms, command lines) in JSON. jansson takes only
 * valid UTF-8, so each byte is the code point of the same value
 * (U+0001..U+00FF); written with JSON_ENSURE_ASCII the file is plain ASCII
 * and reads back byte for byte. Used by the state journal and captures. */
#pragma once

#include <stddef.h>

#include <jansson.h>

/* The NUL-terminated string in s (a member of size bytes) as a JSON string.
 * Returns 0, -EINVAL when there is no NUL within size, or -ENOMEM. */
int sg_json_from_bytes(const char *s, size_t size, json_t **out);

/* The reverse into dst (size bytes with its NUL): 0, -E2BIG when it does
 * not fit, -EILSEQ for a NUL or a code point above U+00FF. */
int sg_json_to_bytes(const json_t *value, char *dst, size_t size);
