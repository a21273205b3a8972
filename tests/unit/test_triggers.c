/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which PSI triggers a configuration arms, and arming them for real. */
#include "fixture.h"

#include <poll.h>
#include <unistd.h>

#include "config.h"
#include "triggers.h"

static const char ini[] =
	"[job web]\n"
	"cgroup = /web\n"
	"[job loose]\n"
	"match = comm:rsync\n"
	"[rule a]\n"
	"when = psi.io.full.avg10 >= 20 for 5s\n"
	"when = psi.io.full.stall >= 20 for 1s\n"       /* same file, kind, threshold: one trigger */
	"when = psi.memory.some.avg10 > 150\n"          /* clamped to 100 % */
	"when = psi.cpu.some.avg10 <= 5\n"              /* falling: no trigger */
	"when = psi.io.some.avg10 >= 0\n"               /* always true: no trigger */
	"when = job.web.psi.io.some.stall >= 30\n"
	"when = job.loose.psi.io.some.stall >= 30\n"    /* no cgroup: no trigger */
	"when = disk.any.util >= 90\n"
	"step = capture\n";

static void test_plan(void **state)
{
	struct sg_config cfg;
	struct sg_config_errors errors = { 0 };
	struct sg_triggers triggers;

	(void)state;
	int r = sg_config_load_string("t.ini", ini, &cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		print_message("%s\n", errors.lines[i]);
	assert_int_equal(r, 0);
	sg_triggers_plan(&cfg, "/proc", "/cg", &triggers);
	assert_int_equal(triggers.count, 3);
	assert_string_equal(triggers.items[0].path, "/proc/pressure/io");
	assert_true(triggers.items[0].full);
	assert_near(triggers.items[0].percent, 20, 1e-9);
	assert_string_equal(triggers.items[1].path, "/proc/pressure/memory");
	assert_false(triggers.items[1].full);
	assert_near(triggers.items[1].percent, 100, 1e-9);
	assert_string_equal(triggers.items[2].path, "/cg/web/io.pressure");
	assert_int_equal(triggers.items[2].fd, -1);

	/* Without a cgroup2 mount no job trigger is planned. */
	sg_triggers_plan(&cfg, "/proc", "", &triggers);
	assert_int_equal(triggers.count, 2);
	sg_config_free(&cfg);
}

/* The planned system triggers arm on this host's real PSI files. */
static void test_arm_real(void **state)
{
	struct sg_config cfg;
	struct sg_triggers triggers;

	(void)state;
	if (access("/proc/pressure/io", F_OK) != 0)
		fail_msg("this host has no /proc/pressure: PSI is off (boot with psi=1)");
	assert_int_equal(sg_config_load_string("t.ini", ini, &cfg, NULL), 0);
	sg_triggers_plan(&cfg, "/proc", "", &triggers);
	assert_int_equal(sg_triggers_arm(&triggers), 2);
	for (size_t i = 0; i < triggers.count; i++) {
		struct pollfd pfd = { .fd = triggers.items[i].fd, .events = POLLPRI };
		assert_true(pfd.fd >= 0);
		assert_true(triggers.items[i].window_usec == 500000 || triggers.items[i].window_usec == 2000000);
		assert_true(poll(&pfd, 1, 0) >= 0);
		assert_false(pfd.revents & POLLERR);
	}
	sg_triggers_close(&triggers);
	assert_int_equal(triggers.items[0].fd, -1);
	sg_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_arm_real),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
