/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A job's bytes: io.stat and /proc/PID/io texts, good and bad. */
#include "fixture.h"

#include <errno.h>

#include "jobio.h"

static int iostat(const char *text, uint64_t *r, uint64_t *w)
{
	return sg_cgroup_iostat_parse(text, strlen(text), r, w);
}

static void test_iostat_sums_devices(void **state)
{
	uint64_t r, w;

	(void)state;
	assert_int_equal(iostat("8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
				"254:0 rbytes=1000 wbytes=2000 rios=3 wios=4 dbytes=7 dios=1\n",
				&r, &w),
			 0);
	assert_true(r == 1100 && w == 2200);
	/* rbytes= must be a word of its own: "xrbytes=" is another key. */
	assert_int_equal(iostat("8:0 xrbytes=5 rbytes=1 wbytes=2\n", &r, &w), 0);
	assert_true(r == 1 && w == 2);
	assert_int_equal(iostat("", &r, &w), 0);
	assert_true(r == 0 && w == 0);
	/* no newline at the end: still one whole line */
	assert_int_equal(iostat("8:0 rbytes=3 wbytes=4", &r, &w), 0);
	assert_true(r == 3 && w == 4);
}

static void test_iostat_rejects_garbage(void **state)
{
	uint64_t r, w;

	(void)state;
	assert_int_equal(iostat("8:0 rbytes=abc wbytes=1\n", &r, &w), -EINVAL);
	assert_int_equal(iostat("garbage\n", &r, &w), -EINVAL);
	assert_int_equal(iostat("8:0 rbytes=99999999999999999999999 wbytes=1\n", &r, &w), -EINVAL);
}

static void test_proc_io(void **state)
{
	static const char good[] = "rchar: 12\nwchar: 34\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\n"
				   "write_bytes: 8192\ncancelled_write_bytes: 0\n";
	uint64_t r, w;

	(void)state;
	assert_int_equal(sg_proc_io_parse(good, strlen(good), &r, &w), 0);
	assert_true(r == 4096 && w == 8192);
	/* truncated before write_bytes */
	assert_int_equal(sg_proc_io_parse(good, 60, &r, &w), -EINVAL);
	assert_int_equal(sg_proc_io_parse("read_bytes: x\nwrite_bytes: 1\n", 29, &r, &w), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iostat_sums_devices),
		cmocka_unit_test(test_iostat_rejects_garbage),
		cmocka_unit_test(test_proc_io),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
