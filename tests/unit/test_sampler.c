/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sampler over a fake /proc and cgroup tree: two readings make every
 * rate, stall and iostat figure, and files rewritten in place are re-read. */
#include "fixture.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "sampler.h"
#include "signals.h"

struct tree {
	char root[64];
	char proc[96];
	char cgroup[96];
};

static void put(const struct tree *t, const char *rel, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	FILE *f = fopen(path, "w"); /* truncates in place: the sampler's fd sees it */
	if (!f)
		fail_msg("cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

static void dir(const struct tree *t, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	if (mkdir(path, 0755) < 0)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

static void psi_files(const struct tree *t, const char *prefix, const char *suffix, double avg10, unsigned long total)
{
	static const char *const res[] = { "cpu", "io", "memory" };
	char rel[128], text[256];

	for (int r = 0; r < 3; r++) {
		snprintf(rel, sizeof(rel), "%s%s%s", prefix, res[r], suffix);
		snprintf(text, sizeof(text),
			 "some avg10=%.2f avg60=1.00 avg300=0.50 total=%lu\nfull avg10=%.2f avg60=0.50 avg300=0.25 total=%lu\n",
			 avg10, total, avg10 / 2, total / 2);
		put(t, rel, text);
	}
}

static void diskstats(const struct tree *t, unsigned long ios, unsigned long ticks, unsigned long io_ticks)
{
	char text[512];

	/* vda: writes only; vda1 a partition with the same numbers doubled must not count. */
	snprintf(text, sizeof(text),
		 " 254       0 vda 0 0 0 0 %lu 0 %lu %lu 0 %lu %lu 0 0 0 0 0 0\n"
		 " 254       1 vda1 0 0 0 0 %lu 0 %lu %lu 0 %lu %lu 0 0 0 0 0 0\n",
		 ios, ios * 8, ticks, io_ticks, ticks, ios * 2, ios * 16, ticks * 2, io_ticks * 2, ticks * 2);
	put(t, "proc/diskstats", text);
}

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->root, sizeof(t->root), "/tmp/sg-sampler.XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->proc, sizeof(t->proc), "%s/proc", t->root);
	snprintf(t->cgroup, sizeof(t->cgroup), "%s/cg", t->root);
	dir(t, "proc");
	dir(t, "proc/pressure");
	dir(t, "cg");
	dir(t, "cg/web");
	dir(t, "cg/batch");
	dir(t, "proc/41");
	dir(t, "proc/42");
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

static void write_all(const struct tree *t, int step)
{
	psi_files(t, "proc/pressure/", "", 10.0 * step, 1000000UL * (unsigned long)step);
	psi_files(t, "cg/web/", ".pressure", 20.0 * step, 500000UL * (unsigned long)step);
	psi_files(t, "cg/batch/", ".pressure", 0, 0);
	/* 1000 writes of 4 KiB per step, 500 ms of busy time per step of 1 s */
	diskstats(t, 1000UL * (unsigned long)step, 2000UL * (unsigned long)step, 500UL * (unsigned long)step);
	put(t, "proc/stat", "cpu  1 2 3 4\nctxt 5\nprocs_running 1\nprocs_blocked 0\n");
	put(t, "proc/loadavg", "1.50 0.75 0.25 1/100 4242\n");
	char text[128];
	snprintf(text, sizeof(text), "254:0 rbytes=%d wbytes=%d rios=1 wios=1 dbytes=0 dios=0\n", 4096 * step,
		 1048576 * step);
	put(t, "cg/web/io.stat", text);
	put(t, "cg/batch/cgroup.procs", "41\n42\n");
	snprintf(text, sizeof(text), "rchar: 1\nwchar: 2\nread_bytes: %d\nwrite_bytes: %d\ncancelled_write_bytes: 0\n",
		 1000 * step, 2000 * step);
	put(t, "proc/41/io", text);
	put(t, "proc/42/io", text);
}

static void test_two_readings(void **state)
{
	struct tree *t = *state;
	static const char disks[][SG_DISK_NAME_MAX] = { "vda" };
	struct sg_config cfg;
	struct sg_job jobs[2] = { 0 };
	struct sg_signal_table tab;
	struct sg_sampler *sampler;

	sg_config_defaults(&cfg);
	snprintf(jobs[0].name, sizeof(jobs[0].name), "web");
	snprintf(jobs[0].cgroup, sizeof(jobs[0].cgroup), "/web");
	snprintf(jobs[1].name, sizeof(jobs[1].name), "batch");
	snprintf(jobs[1].cgroup, sizeof(jobs[1].cgroup), "/batch");
	cfg.jobs = jobs;
	cfg.njobs = 2;
	write_all(t, 1);
	assert_int_equal(sg_signal_table_init(&tab, &cfg, disks, 1), 0);
	struct sg_sample sample = { .nvalues = tab.nslots, .values = calloc(tab.nslots, sizeof(double)) };
	assert_non_null(sample.values);
	struct sg_sampler_paths paths = { .proc = t->proc, .cgroup = t->cgroup };
	assert_int_equal(sg_sampler_new(&sampler, &cfg, &tab, &paths, true), 0);

	sg_sampler_read(sampler, 10000000, 0.5, &sample);
	/* First reading: levels yes, rates not yet. */
	assert_near(sample.values[sg_slot_psi(SG_PSI_IO, SG_PSI_SOME, SG_PSI_AVG10)], 10.0, 1e-9);
	assert_true(isnan(sample.values[sg_slot_psi(SG_PSI_IO, SG_PSI_SOME, SG_PSI_STALL)]));
	assert_true(isnan(sample.values[sg_slot_disk(&tab, 0, SG_DISK_UTIL)]));
	assert_near(sample.values[sg_slot_misc(SG_MISC_LOOP_LAG)], 0.5, 1e-9);
	assert_near(sample.values[sg_slot_misc(SG_MISC_LOAD1)], 1.5, 1e-9);
	assert_near(sample.values[sg_slot_misc(SG_MISC_LOAD15)], 0.25, 1e-9);
	assert_near(sample.values[sg_slot_misc(SG_MISC_TASKS_BLOCKED)], 0, 1e-9);
	assert_near(sample.values[sg_slot_misc(SG_MISC_TASKS_DSTATE)], 0, 1e-9);

	write_all(t, 2);
	sg_sampler_read(sampler, 11000000, 0, &sample); /* one second later */
	/* 1 s of some stall in 1 s elapsed = 100 %, full half of it. */
	assert_near(sample.values[sg_slot_psi(SG_PSI_IO, SG_PSI_SOME, SG_PSI_STALL)], 100.0, 1e-6);
	assert_near(sample.values[sg_slot_psi(SG_PSI_IO, SG_PSI_FULL, SG_PSI_STALL)], 50.0, 1e-6);
	assert_near(sample.values[sg_slot_psi(SG_PSI_MEMORY, SG_PSI_SOME, SG_PSI_AVG60)], 1.0, 1e-9);
	/* vda: 1000 writes, 8000 sectors (3.9 MiB), 2000 ms writing, io_ticks +500 over 1000 ms. */
	assert_near(sample.values[sg_slot_disk(&tab, 0, SG_DISK_UTIL)], 50.0, 1e-6);
	assert_near(sample.values[sg_slot_disk(&tab, 0, SG_DISK_IOPS)], 1000.0, 1e-6);
	assert_near(sample.values[sg_slot_disk(&tab, 0, SG_DISK_W_AWAIT)], 2.0, 1e-6);
	assert_near(sample.values[sg_slot_disk(&tab, 0, SG_DISK_WMBPS)], 8000.0 * 512 / 1048576, 1e-6);
	assert_near(sample.values[sg_slot_disk(&tab, 0, SG_DISK_AQU)], 2.0, 1e-6);
	/* any = the highest whole disk; the partition's doubled numbers are ignored. */
	assert_near(sample.values[sg_slot_disk(&tab, 1, SG_DISK_UTIL)], 50.0, 1e-6);
	/* Job web: PSI from its cgroup, I/O from io.stat. */
	assert_near(sample.values[sg_slot_job_psi(&tab, 0, SG_PSI_IO, SG_PSI_SOME, SG_PSI_AVG10)], 40.0, 1e-9);
	assert_near(sample.values[sg_slot_job_psi(&tab, 0, SG_PSI_IO, SG_PSI_SOME, SG_PSI_STALL)], 50.0, 1e-6);
	assert_near(sample.values[sg_slot_job_io(&tab, 0, SG_IO_WRITE)], 1048576.0, 1e-6);
	assert_near(sample.values[sg_slot_job_io(&tab, 0, SG_IO_READ)], 4096.0, 1e-6);
	/* Job batch: no io.stat, so /proc/PID/io summed over cgroup.procs (2 pids). */
	assert_near(sample.values[sg_slot_job_io(&tab, 1, SG_IO_WRITE)], 4000.0, 1e-6);
	assert_near(sample.values[sg_slot_job_io(&tab, 1, SG_IO_READ)], 2000.0, 1e-6);

	/* A process leaves the cgroup: its bytes go with it, never a negative rate. */
	put(t, "cg/batch/cgroup.procs", "41\n");
	sg_sampler_read(sampler, 12000000, 0, &sample);
	assert_near(sample.values[sg_slot_job_io(&tab, 1, SG_IO_WRITE)], 0.0, 1e-9);

	/* A truncated pressure file makes its values unavailable, not garbage. */
	put(t, "proc/pressure/io", "some avg10=1");
	sg_sampler_read(sampler, 13000000, 0, &sample);
	assert_true(isnan(sample.values[sg_slot_psi(SG_PSI_IO, SG_PSI_SOME, SG_PSI_AVG10)]));
	assert_false(isnan(sample.values[sg_slot_psi(SG_PSI_CPU, SG_PSI_SOME, SG_PSI_AVG10)]));

	sg_sampler_free(sampler);
	free(sample.values);
}

/* Blocked tasks make the sampler walk /proc for D-state tasks. */
static void test_dstate_scan_when_blocked(void **state)
{
	struct tree *t = *state;
	struct sg_config cfg;
	struct sg_signal_table tab;
	struct sg_sampler *sampler;

	sg_config_defaults(&cfg);
	write_all(t, 1);
	put(t, "proc/stat", "cpu  1 2 3 4\nprocs_running 1\nprocs_blocked 2\n");
	dir(t, "proc/41/task");
	dir(t, "proc/41/task/41");
	dir(t, "proc/41/task/43");
	put(t, "proc/41/task/41/stat", "41 (d (x)) D 1 41 41 0 -1\n");
	put(t, "proc/41/task/43/stat", "43 (worker) S 1 41 41 0 -1\n");
	dir(t, "proc/42/task");
	dir(t, "proc/42/task/42");
	put(t, "proc/42/task/42/stat", "42 (sync) D 1 42 42 0 -1\n");
	assert_int_equal(sg_signal_table_init(&tab, &cfg, NULL, 0), 0);
	struct sg_sample sample = { .nvalues = tab.nslots, .values = calloc(tab.nslots, sizeof(double)) };
	assert_non_null(sample.values);
	struct sg_sampler_paths paths = { .proc = t->proc, .cgroup = "" };
	assert_int_equal(sg_sampler_new(&sampler, &cfg, &tab, &paths, true), 0);
	sg_sampler_read(sampler, 1000000, 0, &sample);
	assert_near(sample.values[sg_slot_misc(SG_MISC_TASKS_BLOCKED)], 2, 1e-9);
	assert_near(sample.values[sg_slot_misc(SG_MISC_TASKS_DSTATE)], 2, 1e-9);

	/* Nothing blocked any more, but D tasks were seen: scan once more. */
	put(t, "proc/stat", "cpu  1 2 3 4\nprocs_running 1\nprocs_blocked 0\n");
	put(t, "proc/42/task/42/stat", "42 (sync) S 1 42 42 0 -1\n");
	sg_sampler_read(sampler, 2000000, 0, &sample);
	assert_near(sample.values[sg_slot_misc(SG_MISC_TASKS_DSTATE)], 1, 1e-9);
	/* Still one D task seen last time: the scan goes on until it finds none. */
	put(t, "proc/41/task/41/stat", "41 (d (x)) S 1 41 41 0 -1\n");
	sg_sampler_read(sampler, 3000000, 0, &sample);
	assert_near(sample.values[sg_slot_misc(SG_MISC_TASKS_DSTATE)], 0, 1e-9);
	/* Now the scan is skipped: a D task appearing without procs_blocked is not seen. */
	put(t, "proc/41/task/41/stat", "41 (d (x)) D 1 41 41 0 -1\n");
	sg_sampler_read(sampler, 4000000, 0, &sample);
	assert_near(sample.values[sg_slot_misc(SG_MISC_TASKS_DSTATE)], 0, 1e-9);
	sg_sampler_free(sampler);
	free(sample.values);
}

/* No files at all: every value NaN, nothing crashes. */
static void test_missing_files(void **state)
{
	struct tree *t = *state;
	struct sg_config cfg;
	struct sg_signal_table tab;
	struct sg_sampler *sampler;
	char empty[160];

	sg_config_defaults(&cfg);
	snprintf(empty, sizeof(empty), "%s/nothing", t->root);
	assert_int_equal(sg_signal_table_init(&tab, &cfg, NULL, 0), 0);
	struct sg_sample sample = { .nvalues = tab.nslots, .values = calloc(tab.nslots, sizeof(double)) };
	assert_non_null(sample.values);
	struct sg_sampler_paths paths = { .proc = empty, .cgroup = "" };
	assert_int_equal(sg_sampler_new(&sampler, &cfg, &tab, &paths, true), 0);
	sg_sampler_read(sampler, 1000000, 0, &sample);
	sg_sampler_read(sampler, 2000000, 0, &sample);
	for (size_t i = 0; i < tab.nslots; i++) {
		if (i == sg_slot_misc(SG_MISC_LOOP_LAG))
			continue;
		if (!isnan(sample.values[i]))
			fail_msg("slot %zu has %g with no files", i, sample.values[i]);
	}
	sg_sampler_free(sampler);
	free(sample.values);
}

/* A real cgroup of the unified mount removed and created again (a service
 * restart): its signals go unavailable, then come back within a second. */
static void test_job_cgroup_comes_back(void **state)
{
	static const char *const roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	struct sg_config cfg;
	struct sg_job job = { 0 };
	struct sg_signal_table tab;
	struct sg_sampler *sampler;
	const char *root = NULL;
	char dir[256], probe[300];

	(void)state;
	for (size_t i = 0; i < 2 && !root; i++) {
		snprintf(probe, sizeof(probe), "%s/cgroup.procs", roots[i]);
		if (access(probe, F_OK) == 0)
			root = roots[i];
	}
	if (!root)
		fail_msg("no cgroup2 mount at /sys/fs/cgroup/unified or /sys/fs/cgroup: this test needs one");
	sg_config_defaults(&cfg);
	snprintf(job.name, sizeof(job.name), "svc");
	snprintf(job.cgroup, sizeof(job.cgroup), "/stallguard-test-%d", (int)getpid());
	cfg.jobs = &job;
	cfg.njobs = 1;
	snprintf(dir, sizeof(dir), "%s%s", root, job.cgroup);
	if (mkdir(dir, 0755) < 0)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	assert_int_equal(sg_signal_table_init(&tab, &cfg, NULL, 0), 0);
	struct sg_sample sample = { .nvalues = tab.nslots, .values = calloc(tab.nslots, sizeof(double)) };
	assert_non_null(sample.values);
	struct sg_sampler_paths paths = { .proc = "/proc", .cgroup = root };
	assert_int_equal(sg_sampler_new(&sampler, &cfg, &tab, &paths, true), 0);
	size_t slot = sg_slot_job_psi(&tab, 0, SG_PSI_IO, SG_PSI_SOME, SG_PSI_AVG10);

	sg_sampler_read(sampler, 1000000, 0, &sample);
	bool present = !isnan(sample.values[slot]);
	rmdir(dir);
	sg_sampler_read(sampler, 1250000, 0, &sample);
	bool gone = isnan(sample.values[slot]);
	if (mkdir(dir, 0755) < 0)
		fail_msg("mkdir %s again: %s", dir, strerror(errno));
	sg_sampler_read(sampler, 1500000, 0, &sample); /* looked for again only after 1 s */
	bool too_soon = isnan(sample.values[slot]);
	sg_sampler_read(sampler, 2300000, 0, &sample);
	bool back = !isnan(sample.values[slot]);
	sg_sampler_free(sampler);
	free(sample.values);
	rmdir(dir);
	assert_true(present);
	assert_true(gone);
	assert_true(too_soon);
	assert_true(back);
}

/* A disk a rule names that is not one of the host's whole disks has its own
 * figures but does not feed disk.any. */
static void test_any_covers_whole_disks_only(void **state)
{
	struct tree *t = *state;
	static const char disks[][SG_DISK_NAME_MAX] = { "vda" };
	struct sg_config cfg;
	struct sg_rule rule = { 0 };
	struct sg_signal_table tab;
	struct sg_sampler *sampler;

	sg_config_defaults(&cfg);
	rule.nconds = 1;
	snprintf(rule.conds[0].signal, sizeof(rule.conds[0].signal), "disk.vda1.util");
	cfg.rules = &rule;
	cfg.nrules = 1;
	write_all(t, 1);
	assert_int_equal(sg_signal_table_init(&tab, &cfg, disks, 1), 0);
	assert_int_equal(tab.ndisks, 2);
	assert_int_equal(tab.nwhole, 1);
	struct sg_sample sample = { .nvalues = tab.nslots, .values = calloc(tab.nslots, sizeof(double)) };
	assert_non_null(sample.values);
	struct sg_sampler_paths paths = { .proc = t->proc, .cgroup = "" };
	assert_int_equal(sg_sampler_new(&sampler, &cfg, &tab, &paths, false), 0);
	sg_sampler_read(sampler, 1000000, 0, &sample);
	write_all(t, 2);
	sg_sampler_read(sampler, 2000000, 0, &sample);
	/* vda1's io_ticks advance twice as fast as vda's: 100 % against 50 %. */
	assert_near(sample.values[sg_slot_disk(&tab, 1, SG_DISK_UTIL)], 100.0, 1e-6);
	assert_near(sample.values[sg_slot_disk(&tab, 0, SG_DISK_UTIL)], 50.0, 1e-6);
	assert_near(sample.values[sg_slot_disk(&tab, 2, SG_DISK_UTIL)], 50.0, 1e-6);
	sg_sampler_free(sampler);
	free(sample.values);
}

/* Without every_signal only the files the rules test are read: the others'
 * signals stay unavailable even though their files are there. */
static void test_reads_only_what_rules_test(void **state)
{
	struct tree *t = *state;
	struct sg_config cfg;
	struct sg_job job = { 0 };
	struct sg_rule rule = { 0 };
	struct sg_signal_table tab;
	struct sg_sampler *sampler;

	sg_config_defaults(&cfg);
	snprintf(job.name, sizeof(job.name), "web");
	snprintf(job.cgroup, sizeof(job.cgroup), "/web");
	cfg.jobs = &job;
	cfg.njobs = 1;
	rule.nconds = 2;
	snprintf(rule.conds[0].signal, sizeof(rule.conds[0].signal), "psi.io.some.avg10");
	snprintf(rule.conds[1].signal, sizeof(rule.conds[1].signal), "job.web.psi.memory.some.avg10");
	cfg.rules = &rule;
	cfg.nrules = 1;
	write_all(t, 1);
	assert_int_equal(sg_signal_table_init(&tab, &cfg, NULL, 0), 0);
	struct sg_sample sample = { .nvalues = tab.nslots, .values = calloc(tab.nslots, sizeof(double)) };
	assert_non_null(sample.values);
	struct sg_sampler_paths paths = { .proc = t->proc, .cgroup = t->cgroup };
	assert_int_equal(sg_sampler_new(&sampler, &cfg, &tab, &paths, false), 0);
	sg_sampler_read(sampler, 1000000, 0, &sample);
	assert_near(sample.values[sg_slot_psi(SG_PSI_IO, SG_PSI_SOME, SG_PSI_AVG10)], 10.0, 1e-9);
	assert_near(sample.values[sg_slot_job_psi(&tab, 0, SG_PSI_MEMORY, SG_PSI_SOME, SG_PSI_AVG10)], 20.0, 1e-9);
	assert_true(isnan(sample.values[sg_slot_psi(SG_PSI_CPU, SG_PSI_SOME, SG_PSI_AVG10)]));
	assert_true(isnan(sample.values[sg_slot_job_psi(&tab, 0, SG_PSI_IO, SG_PSI_SOME, SG_PSI_AVG10)]));
	assert_true(isnan(sample.values[sg_slot_misc(SG_MISC_LOAD1)]));
	assert_true(isnan(sample.values[sg_slot_misc(SG_MISC_TASKS_BLOCKED)]));
	assert_true(isnan(sample.values[sg_slot_job_io(&tab, 0, SG_IO_WRITE)]));
	sg_sampler_free(sampler);
	free(sample.values);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_readings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dstate_scan_when_blocked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
		cmocka_unit_test(test_job_cgroup_comes_back),
		cmocka_unit_test_setup_teardown(test_reads_only_what_rules_test, setup, teardown),
		cmocka_unit_test_setup_teardown(test_any_covers_whole_disks_only, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
