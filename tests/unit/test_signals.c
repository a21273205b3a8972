/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Signal names, their grammar, slots, and names back from slots. */
#include "fixture.h"

#include <errno.h>

#include "config.h"
#include "signals.h"

static struct sg_config *config_with_jobs(const char *const *names, size_t n)
{
	struct sg_config *cfg = calloc(1, sizeof(*cfg));

	assert_non_null(cfg);
	sg_config_defaults(cfg);
	cfg->jobs = calloc(n ? n : 1, sizeof(*cfg->jobs));
	assert_non_null(cfg->jobs);
	for (size_t i = 0; i < n; i++)
		snprintf(cfg->jobs[i].name, sizeof(cfg->jobs[i].name), "%s", names[i]);
	cfg->njobs = n;
	return cfg;
}

static void free_config(struct sg_config *cfg)
{
	free(cfg->jobs);
	free(cfg);
}

static void test_parse_grammar(void **state)
{
	struct sg_signal_ref ref;
	char why[128];

	(void)state;
	assert_int_equal(sg_signal_parse("psi.io.full.avg10", &ref, why, sizeof(why)), 0);
	assert_int_equal(ref.family, SG_SIG_PSI);
	assert_int_equal(ref.res, SG_PSI_IO);
	assert_int_equal(ref.kind, SG_PSI_FULL);
	assert_int_equal(ref.metric, SG_PSI_AVG10);

	assert_int_equal(sg_signal_parse("job.back-up_1.psi.memory.some.stall", &ref, why, sizeof(why)), 0);
	assert_int_equal(ref.family, SG_SIG_JOB_PSI);
	assert_string_equal(ref.job, "back-up_1");
	assert_int_equal(ref.metric, SG_PSI_STALL);

	assert_int_equal(sg_signal_parse("job.db.io.wbps", &ref, why, sizeof(why)), 0);
	assert_int_equal(ref.family, SG_SIG_JOB_IO);
	assert_int_equal(ref.dir, SG_IO_WRITE);

	assert_int_equal(sg_signal_parse("disk.nvme0n1.w_await", &ref, why, sizeof(why)), 0);
	assert_int_equal(ref.family, SG_SIG_DISK);
	assert_string_equal(ref.disk, "nvme0n1");
	assert_int_equal(ref.disk_metric, SG_DISK_W_AWAIT);

	assert_int_equal(sg_signal_parse("load.15", &ref, why, sizeof(why)), 0);
	assert_int_equal(ref.misc, SG_MISC_LOAD15);
	assert_int_equal(sg_signal_parse("loop.lag", &ref, why, sizeof(why)), 0);
	assert_int_equal(ref.misc, SG_MISC_LOOP_LAG);

	assert_int_equal(sg_signal_parse("kmsg.clock_bug", &ref, why, sizeof(why)), 0);
	assert_int_equal(ref.family, SG_SIG_KMSG);
	assert_int_equal(ref.event, SG_EV_CLOCK_BUG);
}

static void test_parse_rejects(void **state)
{
	static const struct {
		const char *name, *why;
	} bad[] = {
		{ "psi.disk.some.avg10", "unknown PSI resource" },
		{ "psi.io.most.avg10", "unknown PSI kind" },
		{ "psi.io.some.avg5", "unknown PSI metric" },
		{ "job.db.psi.io.some.avg60", "avg10 or stall" },
		{ "job.d b.io.wbps", "bad job name" },
		{ "job.db.io.iops", "rbps or wbps" },
		{ "disk.sd/a.util", "bad disk name" },
		{ "disk.sda.svctm", "unknown disk metric" },
		{ "kmsg.panic", "unknown kernel event" },
		{ "load.2", "unknown signal" },
		{ "psi.io.some", "unknown signal" },
		{ "", "unknown signal" },
		{ "a.b.c.d.e.f.g.h.i.j", "too long" },
	};
	struct sg_signal_ref ref;
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (sg_signal_parse(bad[i].name, &ref, why, sizeof(why)) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i].name);
		if (!strstr(why, bad[i].why))
			fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", bad[i].name, why, bad[i].why);
	}
}

/* Every slot is distinct, inside the table, and names itself back. */
static void test_slots_round_trip(void **state)
{
	static const char *const jobs[] = { "backup", "db" };
	static const char disks[][SG_DISK_NAME_MAX] = { "sda", "vda" };
	struct sg_config *cfg = config_with_jobs(jobs, 2);
	struct sg_signal_table tab;
	char name[SG_SIGNAL_NAME_MAX];

	(void)state;
	assert_int_equal(sg_signal_table_init(&tab, cfg, disks, 2), 0);
	/* 24 PSI + 6 misc + 3 disks (sda, vda, any) * 8 + 2 jobs * 14 */
	assert_int_equal(tab.nslots, 24 + 6 + 24 + 28);
	unsigned char *seen = calloc(tab.nslots, 1);
	assert_non_null(seen);
	for (size_t slot = 0; slot < tab.nslots; slot++) {
		sg_signal_slot_name(&tab, cfg, slot, name, sizeof(name));
		int back = sg_signal_slot(&tab, cfg, name);
		if (back != (int)slot)
			fail_msg("slot %zu is named \"%s\", which resolves to %d", slot, name, back);
		seen[slot]++;
	}
	for (size_t slot = 0; slot < tab.nslots; slot++)
		assert_int_equal(seen[slot], 1);
	assert_int_equal(sg_signal_slot(&tab, cfg, "disk.any.util"), (int)sg_slot_disk(&tab, 2, SG_DISK_UTIL));
	assert_int_equal(sg_signal_slot(&tab, cfg, "job.db.io.rbps"), (int)sg_slot_job_io(&tab, 1, SG_IO_READ));
	free(seen);
	free_config(cfg);
}

static void test_slot_errors(void **state)
{
	static const char *const jobs[] = { "backup" };
	struct sg_config *cfg = config_with_jobs(jobs, 1);
	struct sg_signal_table tab;

	(void)state;
	assert_int_equal(sg_signal_table_init(&tab, cfg, NULL, 0), 0);
	assert_int_equal(sg_signal_slot(&tab, cfg, "job.nosuch.io.wbps"), -ENOENT);
	assert_int_equal(sg_signal_slot(&tab, cfg, "disk.sdz.util"), -ENOENT);
	assert_int_equal(sg_signal_slot(&tab, cfg, "kmsg.soft_lockup"), -EINVAL);
	assert_int_equal(sg_signal_slot(&tab, cfg, "psi.io"), -EINVAL);
	free_config(cfg);
}

/* A disk a rule names gets a slot even when the host lacks it. */
static void test_named_disk_gets_slot(void **state)
{
	struct sg_config *cfg = config_with_jobs(NULL, 0);
	static const char disks[][SG_DISK_NAME_MAX] = { "vda" };
	struct sg_signal_table tab;

	(void)state;
	cfg->rules = calloc(1, sizeof(*cfg->rules));
	assert_non_null(cfg->rules);
	cfg->nrules = 1;
	cfg->rules[0].nconds = 3;
	snprintf(cfg->rules[0].conds[0].signal, SG_SIGNAL_NAME_MAX, "disk.nvme1n1.util");
	snprintf(cfg->rules[0].conds[1].signal, SG_SIGNAL_NAME_MAX, "disk.vda.util");
	snprintf(cfg->rules[0].conds[2].signal, SG_SIGNAL_NAME_MAX, "disk.any.aqu");
	assert_int_equal(sg_signal_table_init(&tab, cfg, disks, 1), 0);
	assert_int_equal(tab.ndisks, 2);
	assert_string_equal(tab.disks[0], "vda");
	assert_string_equal(tab.disks[1], "nvme1n1");
	assert_true(sg_signal_slot(&tab, cfg, "disk.nvme1n1.util") >= 0);
	free(cfg->rules);
	free_config(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_grammar),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_slots_round_trip),
		cmocka_unit_test(test_slot_errors),
		cmocka_unit_test(test_named_disk_gets_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
