// SPDX-License-Identifier: GPL-2.0-or-later
/* The metrics textfile (format, label escaping, capacity, the writer thread
 * on a real file) and the one-line summary behind STATUS= and the heartbeat. */
#include "fixture.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "summary.h"
#include "units.h"

struct world {
	struct sg_config cfg;
	struct sg_signal_table tab;
	struct sg_policy *policy;
	double values[512];
	struct sg_sample sample;
	uint64_t counts[SG_RULE_MAX * SG_STEP_MAX];
};

/* Two rules: storm (capture, io.max, capture) on job backup and quiet; a
 * table with disk vda. */
static void world_init(struct world *w, bool dry_run)
{
	static const char disks[1][SG_DISK_NAME_MAX] = { "vda" };
	struct sg_config_errors errors;
	char text[1024];

	snprintf(text, sizeof(text),
		 "[guardian]\ndry_run = %s\n[job backup]\ncgroup = /backup\n"
		 "[rule storm]\nwhen = load.1 >= 1\njob = backup\nstep = capture\nstep = io.max wbps=50M riops=2000\n"
		 "step = capture\nstep_after = 0ms\n"
		 "[rule quiet]\nwhen = load.5 >= 1000\nstep = capture\n", dry_run ? "yes" : "no");
	memset(w, 0, sizeof(*w));
	assert_int_equal(sg_config_load_string("m.ini", text, &w->cfg, &errors), 0);
	sg_config_errors_free(&errors);
	assert_int_equal(sg_signal_table_init(&w->tab, &w->cfg, disks, 1), 0);
	assert_true(w->tab.nslots <= 512);
	assert_int_equal(sg_policy_new(&w->policy, &w->cfg, &w->tab), 0);
	for (size_t i = 0; i < w->tab.nslots; i++)
		w->values[i] = NAN;
	w->sample = (struct sg_sample){ .values = w->values, .nvalues = w->tab.nslots };
}

static void world_free(struct world *w)
{
	sg_policy_free(w->policy);
	sg_config_free(&w->cfg);
}

/* One tick with load.1 at value; returns the decisions made. */
static size_t world_tick(struct world *w, uint64_t now_usec, double load1)
{
	struct sg_decision out[SG_RULE_MAX];

	w->values[sg_slot_misc(SG_MISC_LOAD1)] = load1;
	w->sample.now_usec = now_usec;
	return sg_policy_tick(w->policy, &w->cfg, &w->sample, out, SG_RULE_MAX);
}

static struct sg_metrics_input input(struct world *w)
{
	return (struct sg_metrics_input){
		.cfg = &w->cfg, .policy = w->policy, .tab = &w->tab, .sample = &w->sample,
		.counts = w->counts, .captures = 7, .ticks = 1234, .tick_seconds = 0.000021,
	};
}

static void test_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(sg_metrics_escape("plain io.max wbps=50M", out, sizeof(out)), 21);
	assert_string_equal(out, "plain io.max wbps=50M");
	assert_int_equal(sg_metrics_escape("a\"b\\c\nd", out, sizeof(out)), 10);
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	assert_int_equal(sg_metrics_escape("\"\"", out, 4), -ENOSPC);
	assert_int_equal(sg_metrics_escape("\"\"", out, 5), 4);
	assert_int_equal(sg_metrics_escape("", out, 1), 0);
}

static void test_format(void **state)
{
	static const char *const families[][2] = {
		{ "stallguard_rule_level", "gauge" }, { "stallguard_rule_holding", "gauge" },
		{ "stallguard_actions_total", "counter" }, { "stallguard_captures_total", "counter" },
		{ "stallguard_ticks_total", "counter" }, { "stallguard_tick_seconds", "gauge" },
		{ "stallguard_signal", "gauge" },
	};
	struct world w;
	char *buf, line[160];
	size_t cap;
	int n;

	(void)state;
	world_init(&w, false);
	world_tick(&w, USEC_PER_SEC, 2.0); /* storm climbs to level 1 */
	w.counts[0] = 2;                   /* storm, step 0: capture */
	w.counts[1] = 1;                   /* storm, step 1: io.max */
	w.counts[2] = 3;                   /* storm, step 2: capture again */
	w.values[sg_slot_misc(SG_MISC_LOAD5)] = INFINITY;
	cap = sg_metrics_capacity(&w.cfg, &w.tab);
	buf = malloc(cap);
	assert_non_null(buf);
	struct sg_metrics_input in = input(&w);
	n = sg_metrics_format(&in, buf, cap);
	assert_true(n > 0 && (size_t)n == strlen(buf));
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(line, sizeof(line), "# HELP %s ", families[i][0]);
		assert_non_null(strstr(buf, line));
		snprintf(line, sizeof(line), "\n# TYPE %s %s\n", families[i][0], families[i][1]);
		assert_non_null(strstr(buf, line));
	}
	assert_non_null(strstr(buf, "\nstallguard_rule_level{rule=\"storm\"} 1\n"));
	assert_non_null(strstr(buf, "\nstallguard_rule_level{rule=\"quiet\"} 0\n"));
	assert_non_null(strstr(buf, "\nstallguard_rule_holding{rule=\"storm\"} 1\n"));
	/* The step written twice is one series, its counts summed. */
	assert_non_null(strstr(buf, "\nstallguard_actions_total{rule=\"storm\",step=\"capture\"} 5\n"));
	assert_non_null(strstr(buf, "\nstallguard_actions_total{rule=\"storm\",step=\"io.max wbps=50M riops=2000\"} 1\n"));
	assert_null(strstr(strstr(buf, "step=\"capture\"} 5") + 1, "{rule=\"storm\",step=\"capture\"}"));
	assert_non_null(strstr(buf, "\nstallguard_captures_total 7\n"));
	assert_non_null(strstr(buf, "\nstallguard_ticks_total 1234\n"));
	assert_non_null(strstr(buf, "\nstallguard_tick_seconds 2.1e-05\n"));
	assert_non_null(strstr(buf, "\nstallguard_signal{name=\"load.1\"} 2\n"));
	assert_non_null(strstr(buf, "\nstallguard_signal{name=\"load.5\"} +Inf\n"));
	assert_non_null(strstr(buf, "\nstallguard_signal{name=\"load.15\"} NaN\n"));
	assert_non_null(strstr(buf, "\nstallguard_signal{name=\"disk.vda.util\"} NaN\n"));
	assert_non_null(strstr(buf, "\nstallguard_signal{name=\"disk.any.util\"} NaN\n"));
	assert_int_equal(buf[n - 1], '\n');
	/* Too small a buffer says so, and stays a C string. */
	assert_int_equal(sg_metrics_format(&in, buf, (size_t)n), -ENOSPC);
	assert_true(strlen(buf) < (size_t)n);
	assert_int_equal(sg_metrics_format(&in, buf, (size_t)n + 1), n);
	free(buf);
	world_free(&w);
}

static void test_summary(void **state)
{
	struct world w;
	char line[256], small[24];

	(void)state;
	world_init(&w, false);
	sg_summary_line(&w.cfg, w.policy, line, sizeof(line));
	assert_string_equal(line, "watching: 2 rules at rest");
	world_tick(&w, USEC_PER_SEC, 2.0);
	world_tick(&w, 2 * USEC_PER_SEC, 2.0);
	sg_summary_line(&w.cfg, w.policy, line, sizeof(line));
	assert_string_equal(line, "storm: level 2/3 \"io.max wbps=50M riops=2000\" on job backup; 1 rule at rest");
	sg_summary_line(&w.cfg, w.policy, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_true(strncmp(small, line, sizeof(small) - 1) == 0);
	world_free(&w);

	world_init(&w, true);
	sg_summary_line(&w.cfg, w.policy, line, sizeof(line));
	assert_string_equal(line, "watching: 2 rules at rest (dry run)");
	world_tick(&w, USEC_PER_SEC, 2.0);
	sg_summary_line(&w.cfg, w.policy, line, sizeof(line));
	assert_string_equal(line, "storm: level 1/3 \"capture\" on job backup (dry run); 1 rule at rest");
	world_free(&w);
}

static bool read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return true;
}

/* The writer thread puts the newest text on disk, atomically, and leaves
 * no temp file; a directory that is not there only logs. */
static void test_writer(void **state)
{
	char dir[] = "/tmp/sg-metrics-XXXXXX", path[128], expect[65536], got[65536];
	struct sg_metrics *m;
	struct world w;
	int n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/stallguard.prom", dir);
	world_init(&w, false);
	assert_int_equal(sg_metrics_new(&m, path), 0);
	assert_int_equal(sg_metrics_reserve(m, path, sg_metrics_capacity(&w.cfg, &w.tab)), 0);
	struct sg_metrics_input in = input(&w);
	sg_metrics_publish(m, &in);
	in.ticks = 99999;
	sg_metrics_publish(m, &in);
	n = sg_metrics_format(&in, expect, sizeof(expect));
	assert_true(n > 0);
	for (int i = 0; i < 200; i++) {
		if (read_file(path, got, sizeof(got)) && strcmp(got, expect) == 0)
			break;
		usleep(10000);
	}
	assert_string_equal(got, expect);
	/* Another path, in a directory that does not exist: nothing is written there. */
	snprintf(path, sizeof(path), "%s/missing/stallguard.prom", dir);
	assert_int_equal(sg_metrics_reserve(m, path, sg_metrics_capacity(&w.cfg, &w.tab)), 0);
	sg_metrics_publish(m, &in);
	usleep(200000);
	assert_int_equal(access(path, F_OK), -1);
	sg_metrics_free(m);
	usleep(100000); /* the writer frees itself */
	snprintf(path, sizeof(path), "%s/stallguard.prom", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0); /* empty: no temp file left */
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
