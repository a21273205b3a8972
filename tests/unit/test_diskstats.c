// SPDX-License-Identifier: GPL-2.0-or-later
/* /proc/diskstats parsing, counter wrap, iostat figures, disk discovery. */
#include "fixture.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskstats.h"

/* Parses a whole fixture for names; returns the skipped count. */
static size_t parse_fixture(const char *name, const char (*names)[SG_DISK_NAME_MAX], size_t n,
			    struct sg_diskstats_entry *out, bool *found)
{
	size_t len;
	char *buf = fixture_exact(name, &len);
	size_t skipped = sg_diskstats_parse(buf, len, names, n, out, found);

	free(buf);
	return skipped;
}

static void test_line_14_columns(void **state)
{
	static const char names[][SG_DISK_NAME_MAX] = { "sda", "loop0" };
	struct sg_diskstats_entry e[2];
	bool found[2];

	(void)state;
	assert_int_equal(parse_fixture("diskstats/cols14", names, 2, e, found), 0);
	assert_true(found[0] && found[1]);
	assert_int_equal(e[0].major, 8);
	assert_int_equal(e[0].minor, 0);
	assert_string_equal(e[0].name, "sda");
	assert_true(e[0].rd_ios == 18120 && e[0].rd_merges == 2307);
	assert_true(e[0].rd_sectors == 1204778 && e[0].rd_ticks == 21540);
	assert_true(e[0].wr_ios == 9322 && e[0].wr_merges == 14710);
	assert_true(e[0].wr_sectors == 545448 && e[0].wr_ticks == 31020);
	assert_true(e[0].in_flight == 0 && e[0].io_ticks == 18460 && e[0].time_in_queue == 52560);
	/* no discard or flush columns before 4.18 */
	assert_true(e[0].dc_ios == 0 && e[0].dc_sectors == 0 && e[0].fl_ios == 0);
	assert_int_equal(e[1].major, 7);
	assert_true(e[1].rd_ios == 0);
}

static void test_line_18_columns(void **state)
{
	static const char line[] =
		" 259       0 nvme0n1 51234 120 3047820 10235 80312 4567 9912344 70123 1 44560 "
		"80358 1200 0 2457600 310";
	struct sg_diskstats_entry e;

	(void)state;
	assert_int_equal(sg_diskstats_parse_line(line, strlen(line), &e), 0);
	assert_int_equal(e.major, 259);
	assert_string_equal(e.name, "nvme0n1");
	assert_true(e.wr_sectors == 9912344 && e.in_flight == 1 && e.time_in_queue == 80358);
	assert_true(e.dc_ios == 1200 && e.dc_merges == 0 && e.dc_sectors == 2457600);
	assert_true(e.dc_ticks == 310);
	assert_true(e.fl_ios == 0 && e.fl_ticks == 0);
}

static void test_line_20_columns(void **state)
{
	static const char names[][SG_DISK_NAME_MAX] = { "vda" };
	struct sg_diskstats_entry e;
	bool found;

	(void)state;
	assert_int_equal(parse_fixture("diskstats/cols20", names, 1, &e, &found), 0);
	assert_true(found);
	assert_int_equal(e.major, 254);
	assert_true(e.rd_ios == 28551 && e.rd_sectors == 2233618 && e.io_ticks == 3340);
	assert_true(e.time_in_queue == 6630 && e.dc_ios == 6000 && e.dc_merges == 36);
	assert_true(e.dc_sectors == 191544 && e.dc_ticks == 270);
	assert_true(e.fl_ios == 855 && e.fl_ticks == 30);
}

static void test_line_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"   8 0 sda",
		/* 15, 19 and 21 columns */
		"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12",
		"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
		"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18",
		"8 0 sda 1 2 3 4 5 6 7 8 9 10 x1",
		"8 0 sda 1 2 3 4 5 6 7 8 9 10 -1",
		"8 0 sda 1 2 3 4 5 6 7 8 9 10 18446744073709551616",
		"x 0 sda 1 2 3 4 5 6 7 8 9 10 11",
		"8 4294967296 sda 1 2 3 4 5 6 7 8 9 10 11",
		"8 0 0123456789012345678901234567890123 1 2 3 4 5 6 7 8 9 10 11",
	};
	struct sg_diskstats_entry e;
	static const char ok[] = "8 0 sda 1 2 3 4 5 6 7 8 9 10 18446744073709551615\n";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sg_diskstats_parse_line(bad[i], strlen(bad[i]), &e) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
	assert_int_equal(sg_diskstats_parse_line(ok, strlen(ok), &e), 0);
	assert_true(e.time_in_queue == UINT64_MAX);
	/* len cuts the last number: "1" instead of "18446744073709551615" */
	assert_int_equal(sg_diskstats_parse_line(ok, strlen("8 0 sda 1 2 3 4 5 6 7 8 9 10 1"), &e),
			 0);
	assert_true(e.time_in_queue == 1);
	/* len cuts a column off */
	assert_int_equal(sg_diskstats_parse_line(ok, strlen("8 0 sda 1 2 3 4 5 6 7 8 9 10"), &e),
			 -EINVAL);
}

static void test_malformed_lines_skipped(void **state)
{
	static const char names[][SG_DISK_NAME_MAX] = { "vda", "sda", "nvme0n1", "vdb", "absent" };
	struct sg_diskstats_entry e[5];
	bool found[5];

	(void)state;
	/* sda1 (5 columns), "garbage", vdb (15 columns), vdc (1a), vdd (overflow),
	 * the long name, vde (21 columns), vdf (major -3): 8. The blank line is
	 * not counted. */
	assert_int_equal(parse_fixture("diskstats/malformed", names, 5, e, found), 8);
	assert_true(found[0] && found[1] && found[2]);
	assert_false(found[3]);
	assert_false(found[4]);
	assert_true(e[0].rd_ios == 100 && e[0].time_in_queue == 70); /* 14 columns */
	assert_true(e[1].fl_ticks == 17);                            /* 20 columns */
	assert_true(e[2].rd_ios == 9 && e[2].dc_ticks == 5);         /* 18 columns */
}

static void test_partitions_not_reported(void **state)
{
	static const char names[][SG_DISK_NAME_MAX] = { "vda" };
	struct sg_diskstats_entry e;
	bool found;

	(void)state;
	/* snap-b has vda then vda1: vda's own numbers, not its partition's */
	assert_int_equal(parse_fixture("diskstats/snap-b", names, 1, &e, &found), 0);
	assert_true(found);
	assert_string_equal(e.name, "vda");
	assert_int_equal(e.minor, 0);
	assert_true(e.rd_ios == 1100);
	/* asking for "vd" finds neither vda nor vda1 */
	{
		static const char prefix[][SG_DISK_NAME_MAX] = { "vd" };

		assert_int_equal(parse_fixture("diskstats/snap-b", prefix, 1, &e, &found), 0);
		assert_false(found);
	}
}

static void test_counter_delta(void **state)
{
	(void)state;
	assert_true(sg_counter_delta(100, 250) == 150);
	assert_true(sg_counter_delta(7, 7) == 0);
	/* 32-bit wrap: 2^32 - 6 -> 4 is 10 steps */
	assert_true(sg_counter_delta(4294967290ULL, 4) == 10);
	assert_true(sg_counter_delta(UINT32_MAX, 0) == 1);
	/* above 32 bits: a 64-bit wrap */
	assert_true(sg_counter_delta(UINT64_MAX - 4, 5) == 10);
	assert_true(sg_counter_delta(5000000000ULL, 10) == (uint64_t)(10 - 5000000000LL));
}

static void load_snapshots(struct sg_diskstats_entry *a, struct sg_diskstats_entry *b)
{
	static const char names[][SG_DISK_NAME_MAX] = { "vda" };
	bool found;

	assert_int_equal(parse_fixture("diskstats/snap-a", names, 1, a, &found), 0);
	assert_true(found);
	assert_int_equal(parse_fixture("diskstats/snap-b", names, 1, b, &found), 0);
	assert_true(found);
}

/*
 * snap-a -> snap-b for vda, 1000 ms apart:
 *   rd_ios 1000 -> 1100 (+100)      wr_ios 500 -> 800 (+300)
 *   rd_sectors 80000 -> 100480 (+20480 = 10 MiB)
 *   wr_sectors 40000 -> 44096 (+4096 = 2 MiB)
 *   rd_ticks 2000 -> 2250 (+250)    wr_ticks 3000 -> 4500 (+1500)
 *   io_ticks 10000 -> 10500 (+500)  time_in_queue 20000 -> 21750 (+1750)
 *   discards +10, flushes +10: not in iops or await
 * so:
 *   iops    = 100/s + 300/s                 = 400
 *   rmbps   = 20480 * 512 / 2^20 / 1 s      = 10
 *   wmbps   = 4096 * 512 / 2^20 / 1 s       = 2
 *   r_await = 250 / 100                     = 2.5 ms
 *   w_await = 1500 / 300                    = 5 ms
 *   await   = (250 + 1500) / (100 + 300)    = 4.375 ms
 *   aqu     = 1750 / 1000                   = 1.75
 *   util    = 500 / 1000 * 100              = 50 %
 */
static void test_iostat_from_snapshots(void **state)
{
	struct sg_diskstats_entry a, b;
	struct sg_iostat s;

	(void)state;
	load_snapshots(&a, &b);
	sg_iostat_compute(&a, &b, 1000.0, &s);
	assert_near(s.iops, 400.0, 1e-9);
	assert_near(s.rmbps, 10.0, 1e-9);
	assert_near(s.wmbps, 2.0, 1e-9);
	assert_near(s.r_await, 2.5, 1e-9);
	assert_near(s.w_await, 5.0, 1e-9);
	assert_near(s.await, 4.375, 1e-9);
	assert_near(s.aqu, 1.75, 1e-9);
	assert_near(s.util, 50.0, 1e-9);

	/* The same deltas over a 250 ms tick: rates x4, awaits unchanged,
	 * aqu 1750/250 = 7, util 500/250*100 = 200 clamped to 100. */
	sg_iostat_compute(&a, &b, 250.0, &s);
	assert_near(s.iops, 1600.0, 1e-9);
	assert_near(s.rmbps, 40.0, 1e-9);
	assert_near(s.wmbps, 8.0, 1e-9);
	assert_near(s.r_await, 2.5, 1e-9);
	assert_near(s.await, 4.375, 1e-9);
	assert_near(s.aqu, 7.0, 1e-9);
	assert_near(s.util, 100.0, 1e-9);
}

static void test_iostat_idle_and_bad_interval(void **state)
{
	struct sg_diskstats_entry a, b;
	struct sg_iostat s;

	(void)state;
	load_snapshots(&a, &b);
	/* Nothing moved: no I/O means await 0, not NaN (as iostat prints 0.00). */
	sg_iostat_compute(&b, &b, 1000.0, &s);
	assert_near(s.iops, 0, 0);
	assert_near(s.r_await, 0, 0);
	assert_near(s.w_await, 0, 0);
	assert_near(s.await, 0, 0);
	assert_near(s.util, 0, 0);
	assert_near(s.aqu, 0, 0);
	/* Only reads moved: w_await stays 0, await is the read await. */
	b.wr_ios = a.wr_ios;
	b.wr_ticks = a.wr_ticks;
	sg_iostat_compute(&a, &b, 1000.0, &s);
	assert_near(s.w_await, 0, 0);
	assert_near(s.await, 2.5, 1e-9);
	/* No elapsed time: nothing is known. */
	sg_iostat_compute(&a, &b, 0.0, &s);
	assert_true(isnan(s.util) && isnan(s.await) && isnan(s.iops) && isnan(s.aqu));
	assert_true(isnan(s.rmbps) && isnan(s.wmbps) && isnan(s.r_await) && isnan(s.w_await));
}

static void test_iostat_32bit_wrap(void **state)
{
	struct sg_diskstats_entry a, b;
	struct sg_iostat s;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	/* io_ticks wraps: 2^32 - 100 -> 400 is +500 ms over 1000 ms = 50 % */
	a.io_ticks = UINT32_MAX - 99;
	b.io_ticks = 400;
	/* rd_ios wraps: 2^32 - 10 -> 10 is +20; rd_ticks 2^32 - 30 -> 50 is +80: 4 ms each */
	a.rd_ios = 4294967286ULL;
	b.rd_ios = 10;
	a.rd_ticks = 4294967266ULL;
	b.rd_ticks = 50;
	sg_iostat_compute(&a, &b, 1000.0, &s);
	assert_near(s.util, 50.0, 1e-9);
	assert_near(s.iops, 20.0, 1e-9);
	assert_near(s.r_await, 4.0, 1e-9);
	assert_near(s.await, 4.0, 1e-9);
}

/* A fake /sys/block in a temporary directory. */
struct tree {
	char root[64];
};

static const char *const fake_links[][2] = {
	{ "loop0", "../devices/virtual/block/loop0" },
	{ "zram0", "../devices/virtual/block/zram0" },
	{ "dm-0", "../devices/virtual/block/dm-0" },
	{ "vda", "../devices/pci0000:00/0000:00:02.0/virtio1/block/vda" },
	{ "sdb", "../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sdb" },
	{ "nvme0n1", "../devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1" },
	{ "sda", "../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda" },
};

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char path[128];

	if (!t->root[0])
		return 0;
	for (size_t i = 0; i < sizeof(fake_links) / sizeof(fake_links[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", t->root, fake_links[i][0]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/stray", t->root);
	rmdir(path);
	if (rmdir(t->root) != 0)
		return -1;
	t->root[0] = '\0';
	return 0;
}

static int tree_setup(void **state)
{
	static struct tree t;
	char path[128];

	*state = &t;
	snprintf(t.root, sizeof(t.root), "/tmp/sg-sysblock-XXXXXX");
	if (!mkdtemp(t.root)) {
		t.root[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < sizeof(fake_links) / sizeof(fake_links[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", t.root, fake_links[i][0]);
		if (symlink(fake_links[i][1], path) != 0)
			goto fail;
	}
	/* Not a symlink: not a device entry. */
	snprintf(path, sizeof(path), "%s/stray", t.root);
	if (mkdir(path, 0700) != 0)
		goto fail;
	return 0;
fail:
	tree_teardown(state); /* cmocka skips teardown when setup fails */
	return -1;
}

static void test_discover_fake_tree(void **state)
{
	struct tree *t = *state;
	char names[8][SG_DISK_NAME_MAX];
	size_t n;

	memset(names, 0, sizeof(names));
	n = sg_disks_discover(t->root, names, 8);
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "nvme0n1");
	assert_string_equal(names[1], "sda");
	assert_string_equal(names[2], "sdb");
	assert_string_equal(names[3], "vda");

	/* At most max, still the first names in order. */
	memset(names, 0, sizeof(names));
	n = sg_disks_discover(t->root, names, 2);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "nvme0n1");
	assert_string_equal(names[1], "sda");
	assert_int_equal(names[2][0], '\0');

	assert_int_equal(sg_disks_discover(t->root, names, 0), 0);
	assert_int_equal(sg_disks_discover("/nonexistent/sys/block", names, 8), 0);
}

static void test_discover_real(void **state)
{
	char names[64][SG_DISK_NAME_MAX];
	size_t n;
	bool vda = false;

	(void)state;
	n = sg_disks_discover("/sys/block", names, 64);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], "vda") == 0)
			vda = true;
		if (strncmp(names[i], "loop", 4) == 0 || strncmp(names[i], "zram", 4) == 0 ||
		    strncmp(names[i], "ram", 3) == 0)
			fail_msg("virtual device %s reported", names[i]);
		if (i > 0 && strcmp(names[i - 1], names[i]) >= 0)
			fail_msg("not sorted: %s before %s", names[i - 1], names[i]);
	}
	if (!vda)
		fail_msg("/sys/block: vda not found among %zu disks", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_14_columns),
		cmocka_unit_test(test_line_18_columns),
		cmocka_unit_test(test_line_20_columns),
		cmocka_unit_test(test_line_rejects),
		cmocka_unit_test(test_malformed_lines_skipped),
		cmocka_unit_test(test_partitions_not_reported),
		cmocka_unit_test(test_counter_delta),
		cmocka_unit_test(test_iostat_from_snapshots),
		cmocka_unit_test(test_iostat_idle_and_bad_interval),
		cmocka_unit_test(test_iostat_32bit_wrap),
		cmocka_unit_test_setup_teardown(test_discover_fake_tree, tree_setup, tree_teardown),
		cmocka_unit_test(test_discover_real),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
