/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The recent kernel log ring, and the reader's on_record callback that feeds it. */
#include "fixture.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmsg.h"
#include "kmsg_ring.h"

static char *ring_text(const struct sg_kmsg_ring *ring)
{
	int fd = memfd_create("kmsg", 0);

	assert_true(fd >= 0);
	assert_int_equal(sg_kmsg_ring_write(ring, fd), 0);
	off_t size = lseek(fd, 0, SEEK_END);
	char *buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
	buf[size] = '\0';
	close(fd);
	return buf;
}

static void add(struct sg_kmsg_ring *ring, uint64_t ts, const char *text, size_t len)
{
	struct sg_kmsg_record rec = { .ts_usec = ts, .flag = '-', .text = text, .text_len = len };

	sg_kmsg_ring_add(ring, &rec);
}

static void test_wrap(void **state)
{
	struct sg_kmsg_ring *ring = malloc(sizeof(*ring));
	char text[64];

	(void)state;
	assert_non_null(ring);
	sg_kmsg_ring_init(ring);
	char *out = ring_text(ring);
	assert_string_equal(out, "# the newest 0 of 0 kernel records seen since start\n");
	free(out);

	for (int i = 0; i < 1300; i++) {
		int n = snprintf(text, sizeof(text), "message %d", i);
		add(ring, (uint64_t)i * 1000001, text, (size_t)n);
	}
	out = ring_text(ring);
	char *line = strchr(out, '\n') + 1;
	*strchr(out, '\n') = '\0';
	assert_string_equal(out, "# the newest 512 of 1300 kernel records seen since start");
	/* The newest 512, oldest first: 788 .. 1299. */
	for (int i = 1300 - SG_KMSG_RING_LINES; i < 1300; i++) {
		char want[128];
		uint64_t ts = (uint64_t)i * 1000001;
		snprintf(want, sizeof(want), "[%5llu.%06llu] message %d\n", (unsigned long long)(ts / 1000000),
			 (unsigned long long)(ts % 1000000), i);
		if (strncmp(line, want, strlen(want)) != 0)
			fail_msg("line for %d: %.60s, expected %s", i, line, want);
		line += strlen(want);
	}
	assert_string_equal(line, "");
	free(out);
	free(ring);
}

static void test_escape_and_cut(void **state)
{
	struct sg_kmsg_ring *ring = malloc(sizeof(*ring));
	static const char ctl[] = "a\tb\nc\\d\x7f\xe9\x01z";
	char longtext[761];

	(void)state;
	assert_non_null(ring);
	sg_kmsg_ring_init(ring);
	add(ring, 12345678, ctl, sizeof(ctl) - 1);
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	add(ring, 1, longtext, sizeof(longtext) - 1);
	char want[512];
	snprintf(want, sizeof(want), "[    0.000001] %.240s [+520 bytes]", longtext);
	/* 240 control bytes escape to 960: cut where the line is full. */
	memset(longtext, '\x1b', sizeof(longtext));
	add(ring, 2, longtext, 300);

	assert_string_equal(ring->lines[0], "[   12.345678] a\\x09b\\x0ac\\x5cd\\x7f\\xe9\\x01z");
	/* Plain text: the first 240 bytes, and how many were left out. */
	assert_string_equal(ring->lines[1], want);

	const char *l2 = ring->lines[2];
	assert_true(strlen(l2) < SG_KMSG_RING_LINE_MAX);
	assert_true(strncmp(l2, "[    0.000002] \\x1b\\x1b", 23) == 0);
	size_t escapes = 0;
	for (const char *p = strstr(l2, "\\x1b"); p; p = strstr(p + 1, "\\x1b"))
		escapes++;
	char tail[32];
	snprintf(tail, sizeof(tail), " [+%zu bytes]", 300 - escapes);
	assert_true(strlen(l2) > strlen(tail));
	assert_string_equal(l2 + strlen(l2) - strlen(tail), tail);
	/* No raw control byte reaches a line. */
	for (int i = 0; i < 3; i++)
		for (const char *p = ring->lines[i]; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	free(ring);
}

/* The reader calls on_record once per kernel record, a continuation joined;
 * records of other facilities are not passed on. */
static void test_reader_feeds_ring(void **state)
{
	struct sg_kmsg_ring *ring = malloc(sizeof(*ring));
	struct sg_kmsg_reader *r = malloc(sizeof(*r));
	uint32_t counts[SG_EV_COUNT] = { 0 };
	char path[512];

	(void)state;
	assert_non_null(ring);
	assert_non_null(r);
	sg_kmsg_ring_init(ring);
	snprintf(path, sizeof(path), "%s/kmsg/cont.txt", FIXTURES);
	assert_int_equal(sg_kmsg_open(r, path), 0);
	r->on_record = sg_kmsg_ring_on_record;
	r->record_userdata = ring;
	assert_int_equal(sg_kmsg_drain(r, 1e6, counts, NULL, NULL), 4);
	assert_int_equal(counts[SG_EV_WORKQUEUE_LOCKUP], 1);
	assert_int_equal(ring->count, 2);
	assert_string_equal(ring->lines[0], "[  140.000000] BUG: workqueue lockup - pool cpus=2 node=0 "
					    "flags=0x0 nice=0 stuck for 72s!");
	assert_string_equal(ring->lines[1], "[  140.000300] Showing busy workqueues and worker pools:");
	sg_kmsg_close(r);

	/* era-6.x has two user-facility records among its kernel ones. */
	sg_kmsg_ring_init(ring);
	snprintf(path, sizeof(path), "%s/kmsg/era-6.x.txt", FIXTURES);
	assert_int_equal(sg_kmsg_open(r, path), 0);
	r->on_record = sg_kmsg_ring_on_record;
	r->record_userdata = ring;
	int n = sg_kmsg_drain(r, 1e6, counts, NULL, NULL);
	assert_true(n > 0);
	assert_int_equal(ring->added, (uint64_t)n);
	sg_kmsg_close(r);
	free(r);
	free(ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_escape_and_cut),
		cmocka_unit_test(test_reader_feeds_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
