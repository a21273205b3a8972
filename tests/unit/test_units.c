/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Durations and sizes as the configuration writes them, and the small helpers. */
#include "fixture.h"

#include <errno.h>

#include "units.h"

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		uint64_t usec;
	} good[] = {
		{ "250ms", 250000 }, { "5s", 5000000 }, { "1.5s", 1500000 }, { "10m", 600000000 },
		{ "1h", 3600000000ULL }, { "0s", 0 }, { "0.5ms", 500 },
	};
	static const char *const bad[] = { "5", "", "s", "-1s", "5 s", "5sec", "1d", "1e3s", "nan s", "5ss" };
	uint64_t usec;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(sg_parse_duration(good[i].text, &usec), 0);
		if (usec != good[i].usec)
			fail_msg("%s parsed as %llu", good[i].text, (unsigned long long)usec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sg_parse_duration(bad[i], &usec) == 0)
			fail_msg("\"%s\" was accepted as a duration", bad[i]);
	assert_int_equal(sg_parse_duration("99999999999999h", &usec), -ERANGE);
}

static void test_sizes(void **state)
{
	uint64_t value;

	(void)state;
	assert_int_equal(sg_parse_size("50M", &value), 0);
	assert_true(value == 50ULL << 20);
	assert_int_equal(sg_parse_size("4K", &value), 0);
	assert_true(value == 4096);
	assert_int_equal(sg_parse_size("1G", &value), 0);
	assert_true(value == 1ULL << 30);
	assert_int_equal(sg_parse_size("2000", &value), 0);
	assert_true(value == 2000);
	assert_int_equal(sg_parse_size("5m", &value), -EINVAL);
	assert_int_equal(sg_parse_size("1.5M", &value), -EINVAL);
	assert_int_equal(sg_parse_size("M", &value), -EINVAL);
	assert_int_equal(sg_parse_size("5MB", &value), -EINVAL);
	assert_int_equal(sg_parse_size("99999999999999999999", &value), -ERANGE);
	assert_int_equal(sg_parse_size("17179869184G", &value), -ERANGE);
}

static void test_format_round_trips(void **state)
{
	static const uint64_t values[] = { 0, 250000, 1000000, 1500000, 60000000, 90000000, 3600000000ULL, 500 };
	static const char *const texts[] = { "0s", "250ms", "1s", "1.5s", "1m", "90s", "1h", "0.0005s" };
	char buf[32];
	uint64_t back;

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		assert_string_equal(sg_format_duration(values[i], buf, sizeof(buf)), texts[i]);
		assert_int_equal(sg_parse_duration(buf, &back), 0);
		assert_true(back == values[i]);
	}
}

static void test_strlcpy(void **state)
{
	char small[4];

	(void)state;
	assert_int_equal(sg_strlcpy(small, "abcdef", sizeof(small)), 6);
	assert_string_equal(small, "abc");
	assert_int_equal(sg_strlcpy(small, "ab", sizeof(small)), 2);
	assert_string_equal(small, "ab");
}

static void test_all_digits(void **state)
{
	(void)state;
	assert_true(sg_all_digits("0"));
	assert_true(sg_all_digits("4194304"));
	assert_false(sg_all_digits(""));
	assert_false(sg_all_digits("12a"));
	assert_false(sg_all_digits("-1"));
	assert_false(sg_all_digits(" 1"));
}

/* A poll timeout never wakes before the deadline, and is capped. */
static void test_msec_until(void **state)
{
	(void)state;
	assert_int_equal(sg_msec_until(1000, 1000, 10), 0);
	assert_int_equal(sg_msec_until(2000, 1000, 10), 0);
	assert_int_equal(sg_msec_until(1000, 1001, 10), 1);
	assert_int_equal(sg_msec_until(1000, 3000, 10), 2);
	assert_int_equal(sg_msec_until(1000, 3001, 10), 3);
	assert_int_equal(sg_msec_until(0, 60 * USEC_PER_SEC, 10), 10);
	assert_int_equal(sg_msec_until(5, 3600 * USEC_PER_SEC + 5, INT32_MAX), 3600000);
	assert_int_equal(sg_msec_until(0, 3600 * USEC_PER_SEC, 1000), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_format_round_trips),
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_all_digits),
		cmocka_unit_test(test_msec_until),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
