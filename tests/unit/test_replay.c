/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Traces (trace.h) and `replay` (replay.h): a trace parsed from text, bad
 * traces refused with their line, and a configuration's rules replayed over
 * a trace built here, each decision at the time the policy takes it. */
#include "fixture.h"

#include <errno.h>
#include <math.h>

#include "config.h"
#include "replay.h"
#include "trace.h"

static const char ini[] =
	"[guardian]\n"
	"interval = 250ms\n"
	"[rule storm]\n"
	"when = psi.io.some.avg10 >= 20 for 1s\n"
	"step = capture\n"
	"step = ionice idle\n"
	"job = top-io\n"
	"step_after = 2s\n"
	"recover_after = 3s\n"
	"[rule lockup]\n"
	"when = kmsg.soft_lockup within 5s\n"
	"step = capture\n"
	"recover_after = 1s\n";

/* A trace at 250 ms: psi.io.some.avg10 0 until 1 s, 50 until 7 s, then 0
 * until 20 s; one soft lockup at 3 s; an extra column no rule reads. */
static char *make_trace(size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	assert_non_null(f);
	fprintf(f, "# stallguard trace 1\n# host h kernel k interval_ms 250\n");
	fprintf(f, "t_ms,psi.io.some.avg10,disk.vda.util,kmsg.soft_lockup\r\n");
	for (unsigned t = 0; t <= 20000; t += 250)
		fprintf(f, "%u,%s,%.1f,%u\n", t, t >= 1000 && t < 7000 ? "50" : t == 500 ? "" : "0",
			(double)t / 1000.0, t == 3000);
	fprintf(f, "20250,0,1"); /* cut short: ignored */
	fclose(f);
	return text;
}

static void test_parse(void **state)
{
	(void)state;
	struct sg_trace_data trace;
	char err[128];
	size_t len;
	char *text = make_trace(&len);

	assert_int_equal(sg_trace_parse(text, len, &trace, err, sizeof(err)), 0);
	assert_int_equal(trace.ncolumns, 3);
	assert_string_equal(trace.names[0], "psi.io.some.avg10");
	assert_string_equal(trace.names[2], "kmsg.soft_lockup");
	assert_int_equal(trace.nrows, 81);
	assert_int_equal(trace.t_usec[4], 1000000);
	assert_near(trace.values[4 * 3 + 0], 50, 1e-9);
	assert_true(isnan(trace.values[2 * 3 + 0]));
	assert_near(trace.values[12 * 3 + 2], 1, 1e-9);
	sg_trace_free(&trace);
	free(text);
}

static void expect_error(const char *text, const char *want)
{
	struct sg_trace_data trace;
	char err[128] = "";

	assert_int_equal(sg_trace_parse(text, strlen(text), &trace, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
	assert_null(trace.names);
	assert_null(trace.values);
}

static void test_bad_traces(void **state)
{
	(void)state;
	expect_error("", "1: empty");
	expect_error("t_ms,a\n0,1\n", "1: not a stallguard trace");
	expect_error("# stallguard trace 1\n", "no column header");
	expect_error("# stallguard trace 1\ntime,a\n", "2: the column header must start with t_ms");
	expect_error("# stallguard trace 1\nt_ms,a,a\n", "2: a column appears twice");
	expect_error("# stallguard trace 1\nt_ms,a;b\n", "2: a column name");
	expect_error("# stallguard trace 1\nt_ms,a,b\n0,1\n", "3: fewer fields than columns");
	expect_error("# stallguard trace 1\nt_ms,a\n0,1,2\n", "3: more fields than columns");
	expect_error("# stallguard trace 1\nt_ms,a\n0,x\n", "3: a field is not a number");
	expect_error("# stallguard trace 1\nt_ms,a\n0,nan\n", "3: a field is not a number");
	expect_error("# stallguard trace 1\nt_ms,a\n500,1\n250,1\n", "4: t_ms must be");
	expect_error("# stallguard trace 1\nt_ms,a\n,1\n", "3: t_ms must be");
	/* 8 KiB of junk in one field. */
	char junk[8300];
	int n = snprintf(junk, sizeof(junk), "# stallguard trace 1\nt_ms,a\n0,");
	memset(junk + n, '7', 8192);
	strcpy(junk + n + 8192, "\n");
	expect_error(junk, "3: a field is too long");
}

/* config replayed over make_trace(): the lines printed, one string. */
static char *replay(const char *config, struct sg_replay_summary *sum, char **warnings)
{
	struct sg_config_errors errors = { 0 };
	struct sg_config cfg;
	struct sg_trace_data trace;
	char err[128], *out = NULL;
	size_t outlen, warnlen, len;
	char *trace_text = make_trace(&len);

	assert_int_equal(sg_config_load_string("test.ini", config, &cfg, &errors), 0);
	cfg.dry_run = true;
	assert_int_equal(sg_trace_parse(trace_text, len, &trace, err, sizeof(err)), 0);
	FILE *o = open_memstream(&out, &outlen), *w = open_memstream(warnings, &warnlen);
	assert_int_equal(sg_replay(&cfg, &trace, o, w, sum), 0);
	fclose(o);
	fclose(w);
	sg_trace_free(&trace);
	sg_config_free(&cfg);
	sg_config_errors_free(&errors);
	free(trace_text);
	return out;
}

static void expect_line(const char *out, const char *want)
{
	if (!strstr(out, want))
		fail_msg("no line with '%s' in:\n%s", want, out);
}

static void test_replay_decisions(void **state)
{
	(void)state;
	struct sg_replay_summary sum;
	char *warnings;
	char *out = replay(ini, &sum, &warnings);

	/* Held from 1 s: for 1s makes the first step at 2 s, the next 2 s later. */
	expect_line(out, "+2.000s storm: would apply \"capture\"");
	expect_line(out, "+4.000s storm: would apply \"ionice idle\"");
	/* Clear from 7 s: one step down every 3 s. */
	expect_line(out, "+10.000s storm: would revert \"ionice idle\"");
	/* The lockup at 3 s. */
	expect_line(out, "+3.000s lockup: would apply \"capture\"");
	assert_null(strstr(out, "+1.750s storm"));
	assert_int_equal(sum.rows, 81);
	assert_true(sum.decisions >= 4);
	assert_int_equal(sum.missing, 0);
	assert_string_equal(warnings, "");
	free(out);
	free(warnings);
}

static void test_replay_missing_signal(void **state)
{
	(void)state;
	static const char missing_ini[] =
		"[rule mem]\n"
		"when = psi.memory.full.avg10 >= 1\n"
		"when = psi.memory.full.avg10 >= 2\n"
		"step = capture\n";
	struct sg_replay_summary sum;
	char *warnings;
	char *out = replay(missing_ini, &sum, &warnings);

	assert_string_equal(out, "");
	assert_int_equal(sum.missing, 1);
	expect_line(warnings, "the trace has no column psi.memory.full.avg10 (rule mem, line 2)");
	free(out);
	free(warnings);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bad_traces),
		cmocka_unit_test(test_replay_decisions),
		cmocka_unit_test(test_replay_missing_signal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
