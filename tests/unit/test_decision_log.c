/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one line each decision is logged as. */
#include "fixture.h"

#include "config.h"
#include "decision_log.h"

static const char ini[] =
	"[job backup]\n"
	"cgroup = /backup\n"
	"[rule io-storm]\n"
	"when = psi.io.full.avg10 >= 20 for 5s\n"
	"job = backup\n"
	"step = ionice idle\n"
	"step = kill\n"
	"[rule top]\n"
	"when = disk.any.util >= 90\n"
	"job = top-io\n"
	"step = io.max wbps=50M riops=2000\n"
	"[rule lockup]\n"
	"when = kmsg.soft_lockup within 2m\n"
	"step = capture\n";

static void test_lines(void **state)
{
	struct sg_config cfg;
	char line[512];

	(void)state;
	assert_int_equal(sg_config_load_string("d.ini", ini, &cfg, NULL), 0);
	struct sg_decision d = { .rule = 0, .step = 0, .kind = SG_DECISION_APPLY, .dry_run = true, .level = 1 };
	snprintf(d.reason, sizeof(d.reason), "psi.io.full.avg10=34.2>=20 for 5.0s");
	sg_format_decision(&cfg, &d, line, sizeof(line));
	assert_string_equal(line,
			    "io-storm: would apply \"ionice idle\" to job backup: psi.io.full.avg10=34.2>=20 for 5.0s");

	d.dry_run = false;
	d.kind = SG_DECISION_REVERT;
	snprintf(d.reason, sizeof(d.reason), "clear for 60.0s");
	sg_format_decision(&cfg, &d, line, sizeof(line));
	assert_string_equal(line, "io-storm: revert \"ionice idle\" on job backup: clear for 60.0s");

	d.kind = SG_DECISION_BLOCKED;
	d.step = 1;
	d.dry_run = true;
	snprintf(d.reason, sizeof(d.reason), "kill_limit 3/1h reached");
	sg_format_decision(&cfg, &d, line, sizeof(line));
	assert_string_equal(line, "io-storm: would not apply \"kill\" to job backup: kill_limit 3/1h reached");

	struct sg_decision top = { .rule = 1, .step = 0, .kind = SG_DECISION_APPLY, .dry_run = true };
	snprintf(top.reason, sizeof(top.reason), "disk.any.util=95.0>=90");
	sg_format_decision(&cfg, &top, line, sizeof(line));
	assert_string_equal(line, "top: would apply \"io.max wbps=50M riops=2000\" to the top I/O process: "
				  "disk.any.util=95.0>=90");

	struct sg_decision host = { .rule = 2, .step = 0, .kind = SG_DECISION_APPLY, .dry_run = true };
	snprintf(host.reason, sizeof(host.reason), "kmsg.soft_lockup 0.0s ago (within 2m)");
	sg_format_decision(&cfg, &host, line, sizeof(line));
	assert_string_equal(line, "lockup: would apply \"capture\" to the host: kmsg.soft_lockup 0.0s ago (within 2m)");

	/* A short buffer is cut, never overrun. */
	char small[16];
	sg_format_decision(&cfg, &host, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	sg_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
