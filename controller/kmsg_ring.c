/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The recent kernel log ring. */
#include "kmsg_ring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void sg_kmsg_ring_init(struct sg_kmsg_ring *ring)
{
	ring->next = 0;
	ring->count = 0;
	ring->added = 0;
}

size_t sg_escape_bytes(char *dst, size_t size, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		bool plain = c >= 0x20 && c < 0x7f && c != '\\';
		size_t need = plain ? 1 : 4;

		if (n + need >= size)
			break;
		if (plain) {
			dst[n++] = (char)c;
		} else {
			dst[n++] = '\\';
			dst[n++] = 'x';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 15];
		}
	}
	dst[n] = '\0';
	return i;
}

/* Room kept at the end of a cut line for " [+8192 bytes]". */
#define CUT_MARK_MAX 24

void sg_kmsg_ring_add(struct sg_kmsg_ring *ring, const struct sg_kmsg_record *rec)
{
	char *line = ring->lines[ring->next];
	size_t len = rec->text_len > SG_KMSG_RING_TEXT_MAX ? SG_KMSG_RING_TEXT_MAX : rec->text_len;
	int n = snprintf(line, SG_KMSG_RING_LINE_MAX, "[%5llu.%06llu] ",
			 (unsigned long long)(rec->ts_usec / 1000000), (unsigned long long)(rec->ts_usec % 1000000));
	size_t pos = (size_t)n < SG_KMSG_RING_LINE_MAX ? (size_t)n : SG_KMSG_RING_LINE_MAX - 1;
	size_t room = SG_KMSG_RING_LINE_MAX - pos;

	/* The whole text if its escaped form fits; else cut, with room for the mark
	 * (room is at least SG_KMSG_RING_LINE_MAX - 24, the longest prefix). */
	size_t taken = sg_escape_bytes(line + pos, room, rec->text, len);
	if (taken < rec->text_len) {
		taken = sg_escape_bytes(line + pos, room - CUT_MARK_MAX, rec->text, len);
		pos += strlen(line + pos);
		snprintf(line + pos, SG_KMSG_RING_LINE_MAX - pos, " [+%zu bytes]", rec->text_len - taken);
	}
	ring->next = (ring->next + 1) % SG_KMSG_RING_LINES;
	if (ring->count < SG_KMSG_RING_LINES)
		ring->count++;
	ring->added++;
}

void sg_kmsg_ring_on_record(const struct sg_kmsg_record *rec, void *userdata)
{
	sg_kmsg_ring_add(userdata, rec);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sg_kmsg_ring_write(const struct sg_kmsg_ring *ring, int fd)
{
	char buf[SG_KMSG_RING_LINE_MAX * 16 + 128];
	size_t len;
	int err;

	len = (size_t)snprintf(buf, sizeof(buf),
			       "# the newest %zu of %llu kernel records seen since start\n", ring->count,
			       (unsigned long long)ring->added);
	size_t first = (ring->next + SG_KMSG_RING_LINES - ring->count) % SG_KMSG_RING_LINES;
	for (size_t i = 0; i < ring->count; i++) {
		const char *line = ring->lines[(first + i) % SG_KMSG_RING_LINES];
		size_t n = strlen(line);

		if (len + n + 1 > sizeof(buf)) {
			if ((err = write_all(fd, buf, len)) < 0)
				return err;
			len = 0;
		}
		memcpy(buf + len, line, n);
		buf[len + n] = '\n';
		len += n + 1;
	}
	return write_all(fd, buf, len);
}
