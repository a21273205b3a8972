// SPDX-License-Identifier: GPL-2.0-or-later
/* PSI: parsing fixtures, stall percent, and triggers on the real kernel files. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "psi.h"

/* Parses a fixture from a buffer of exactly its length (no NUL after it), so
 * a read past len shows under ASan or valgrind. */
static int parse_fixture(const char *name, struct sg_psi *out)
{
	size_t len;
	char *text = fixture_read(name, &len);
	char *buf = malloc(len ? len : 1);
	int r;

	assert_non_null(buf);
	memcpy(buf, text, len);
	free(text);
	r = sg_psi_parse(buf, len, out);
	free(buf);
	return r;
}

static void test_parse_some_and_full(void **state)
{
	struct sg_psi p;

	(void)state;
	assert_int_equal(parse_fixture("psi/io.pressure", &p), 0);
	assert_true(p.some.present);
	assert_near(p.some.avg10, 0.47, 1e-9);
	assert_near(p.some.avg60, 0.41, 1e-9);
	assert_near(p.some.avg300, 0.11, 1e-9);
	assert_true(p.some.total == 460279);
	assert_true(p.full.present);
	assert_near(p.full.avg10, 0.20, 1e-9);
	assert_near(p.full.avg60, 0.18, 1e-9);
	assert_near(p.full.avg300, 0.05, 1e-9);
	assert_true(p.full.total == 301134);
}

static void test_parse_some_only(void **state)
{
	struct sg_psi p;

	(void)state;
	assert_int_equal(parse_fixture("psi/cpu-some-only.pressure", &p), 0);
	assert_true(p.some.present);
	assert_near(p.some.avg10, 12.5, 1e-9);
	assert_near(p.some.avg60, 3.07, 1e-9);
	assert_near(p.some.avg300, 0.90, 1e-9);
	assert_true(p.some.total == 98765432);
	assert_false(p.full.present);
}

static void test_parse_extremes(void **state)
{
	struct sg_psi p;

	(void)state;
	assert_int_equal(parse_fixture("psi/max.pressure", &p), 0);
	assert_near(p.some.avg10, 100.0, 1e-9);
	assert_true(p.some.total == UINT64_MAX);
	assert_near(p.full.avg10, 99.99, 1e-9);
	assert_true(p.full.total == 0);
	/* total one past UINT64_MAX */
	assert_int_equal(parse_fixture("psi/overflow.pressure", &p), -EINVAL);
}

static void test_parse_rejects_bad_text(void **state)
{
	static const char *const bad[] = {
		"psi/truncated.pressure",       /* cut inside the some line */
		"psi/truncated-total.pressure", /* cut inside total's digits: no '\n' */
		"psi/truncated-full.pressure",  /* some whole, full cut */
		"psi/garbled.pressure",         /* avg10=zero */
		"psi/no-some.pressure",         /* only full */
	};
	struct sg_psi p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_fixture(bad[i], &p) != -EINVAL)
			fail_msg("%s: parsed as valid", bad[i]);
	}
	assert_int_equal(sg_psi_parse("", 0, &p), -EINVAL);
}

static void test_parse_never_reads_past_len(void **state)
{
	/* A valid file followed by bytes that are not part of the buffer: with
	 * len stopping before the '\n', the line is incomplete. */
	static const char text[] = "some avg10=1.00 avg60=2.00 avg300=3.00 total=5\nXX";
	struct sg_psi p;

	(void)state;
	assert_int_equal(sg_psi_parse(text, strlen("some avg10=1.00 avg60=2.00 avg300=3.00 total=5"),
				      &p), -EINVAL);
	assert_int_equal(sg_psi_parse(text, strlen(text) - 2, &p), 0);
	assert_true(p.some.total == 5);
	assert_near(p.some.avg300, 3.0, 1e-9);
}

static void test_read_fd_fixture_file(void **state)
{
	char path[] = "/tmp/sg-psi-XXXXXX";
	size_t len;
	char *buf = fixture_read("psi/io.pressure", &len);
	struct sg_psi p;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	free(buf);
	/* The file offset is at the end: read_fd must pread from 0. */
	assert_int_equal(sg_psi_read_fd(fd, &p), 0);
	assert_true(p.some.total == 460279);
	assert_true(p.full.total == 301134);
	assert_int_equal(sg_psi_read_fd(-1, &p), -EBADF);
	close(fd);
}

static void require_proc_pressure(void)
{
	struct stat st;

	if (stat("/proc/pressure/io", &st) != 0)
		fail_msg("/proc/pressure/io is missing: this kernel runs without PSI "
			 "(psi=0 or CONFIG_PSI off); stallguard's PSI tests need it");
}

static void test_read_fd_real(void **state)
{
	static const char *const files[] = { "/proc/pressure/cpu", "/proc/pressure/io",
					     "/proc/pressure/memory" };
	struct sg_psi p;

	(void)state;
	require_proc_pressure();
	for (size_t i = 0; i < 3; i++) {
		int fd = open(files[i], O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(sg_psi_read_fd(fd, &p), 0);
		assert_true(p.some.present);
		assert_true(p.some.avg10 >= 0 && p.some.avg10 <= 100);
		/* Twice on the same fd: pread from 0 each time. */
		assert_int_equal(sg_psi_read_fd(fd, &p), 0);
		close(fd);
	}
	{
		int fd = open("/proc/pressure/io", O_RDONLY | O_CLOEXEC);

		assert_int_equal(sg_psi_read_fd(fd, &p), 0);
		assert_true(p.full.present); /* io always has full */
		close(fd);
	}
}

static void test_stall_percent(void **state)
{
	(void)state;
	/* 250 ms stalled of 1 s */
	assert_near(sg_psi_stall_percent(1000, 251000, 1000000), 25.0, 1e-9);
	assert_near(sg_psi_stall_percent(7, 7, 250000), 0.0, 1e-12);
	/* more stall than time (two CPUs' worth, rounding): clamped */
	assert_near(sg_psi_stall_percent(0, 2000000, 1000000), 100.0, 1e-12);
	/* counter went backwards (file reopened for a new cgroup) */
	assert_true(isnan(sg_psi_stall_percent(5000, 4999, 1000000)));
	/* no time elapsed */
	assert_true(isnan(sg_psi_stall_percent(1000, 2000, 0)));
}

/* What the kernel accepts for a fresh trigger on path with this window. */
static bool kernel_accepts(const char *path, uint64_t window)
{
	char msg[64];
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int len;
	bool ok;

	assert_true(fd >= 0);
	len = snprintf(msg, sizeof(msg), "some %llu %llu", (unsigned long long)(window / 10),
		       (unsigned long long)window);
	ok = write(fd, msg, (size_t)len + 1) == len + 1;
	close(fd);
	return ok;
}

static void assert_armed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLPRI };

	assert_true(poll(&pfd, 1, 0) >= 0);
	if (pfd.revents & (POLLERR | POLLNVAL))
		fail_msg("trigger fd %d not armed: revents 0x%x", fd, pfd.revents);
}

static void check_trigger(const char *path, bool full)
{
	uint64_t window = 0;
	uint64_t expect = kernel_accepts(path, SG_PSI_WINDOW_FAST_USEC) ? SG_PSI_WINDOW_FAST_USEC
									: SG_PSI_WINDOW_SLOW_USEC;
	int fd = sg_psi_trigger_arm(path, full, 10.0, &window);

	if (fd < 0)
		fail_msg("arming %s on %s: %s", full ? "full" : "some", path, strerror(-fd));
	assert_true(window == SG_PSI_WINDOW_FAST_USEC || window == SG_PSI_WINDOW_SLOW_USEC);
	assert_true(window == expect);
	assert_armed(fd);
	/* One trigger per fd: the kernel refuses a second one on the same fd. */
	assert_true(write(fd, "some 200000 2000000", 20) < 0);
	close(fd);
}

static void test_trigger_system(void **state)
{
	uint64_t window = 0;
	int fd;

	(void)state;
	require_proc_pressure();
	check_trigger("/proc/pressure/io", false);
	check_trigger("/proc/pressure/io", true);
	check_trigger("/proc/pressure/memory", false);
	/* Thresholds outside (0, 100] are clamped into [1 us, window], not refused. */
	fd = sg_psi_trigger_arm("/proc/pressure/cpu", false, 0.0, &window);
	assert_true(fd >= 0);
	close(fd);
	fd = sg_psi_trigger_arm("/proc/pressure/cpu", false, 250.0, &window);
	assert_true(fd >= 0);
	close(fd);
}

static void test_trigger_errors(void **state)
{
	uint64_t window = 7;

	(void)state;
	assert_int_equal(sg_psi_trigger_arm("/proc/pressure/nonexistent", false, 10, &window),
			 -ENOENT);
	assert_int_equal(sg_psi_trigger_arm("/proc/pressure", false, 10, &window), -EISDIR);
	/* Opens, but every write fails (ENOSPC): triggers refused. */
	assert_int_equal(sg_psi_trigger_arm("/dev/full", false, 10, &window), -EOPNOTSUPP);
	assert_true(window == 7);
}

/* A cgroup of our own under the unified (cgroup2) mount. */
struct cg_state {
	char path[128];
	bool made;
	int err; /* why it could not be made */
};

static int cg_setup(void **state)
{
	static struct cg_state cg;
	struct stat st;

	memset(&cg, 0, sizeof(cg));
	*state = &cg;
	if (stat("/sys/fs/cgroup/unified/cgroup.procs", &st) != 0 &&
	    stat("/sys/fs/cgroup/cgroup.procs", &st) != 0) {
		snprintf(cg.path, sizeof(cg.path), "/sys/fs/cgroup/unified");
		cg.err = ENOENT; /* the test fails with the reason */
		return 0;
	}
	snprintf(cg.path, sizeof(cg.path), "%s/stallguard-test-XXXXXX",
		 stat("/sys/fs/cgroup/unified/cgroup.procs", &st) == 0 ? "/sys/fs/cgroup/unified"
								     : "/sys/fs/cgroup");
	if (!mkdtemp(cg.path)) {
		cg.err = errno;
		return 0;
	}
	cg.made = true;
	return 0;
}

static int cg_teardown(void **state)
{
	struct cg_state *cg = *state;

	if (cg->made && rmdir(cg->path) != 0 && errno != ENOENT)
		return -1;
	cg->made = false;
	return 0;
}

static void test_trigger_cgroup_removed(void **state)
{
	struct cg_state *cg = *state;
	char file[192];
	struct pollfd pfd;
	uint64_t window = 0;
	int fd;

	if (!cg->made)
		fail_msg("cannot create a cgroup2 group (%s): %s", cg->path, strerror(cg->err));
	snprintf(file, sizeof(file), "%s/io.pressure", cg->path);
	fd = sg_psi_trigger_arm(file, false, 5.0, &window);
	if (fd < 0)
		fail_msg("arming %s: %s", file, strerror(-fd));
	assert_true(window == (kernel_accepts(file, SG_PSI_WINDOW_FAST_USEC) ?
			       SG_PSI_WINDOW_FAST_USEC : SG_PSI_WINDOW_SLOW_USEC));
	assert_armed(fd);

	/* A cgroup file that is not a pressure file refuses both windows with
	 * EINVAL. */
	snprintf(file, sizeof(file), "%s/cgroup.max.depth", cg->path);
	assert_int_equal(sg_psi_trigger_arm(file, false, 5.0, &window), -EOPNOTSUPP);

	assert_int_equal(rmdir(cg->path), 0);
	cg->made = false;
	pfd = (struct pollfd){ .fd = fd, .events = POLLPRI };
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	if (!(pfd.revents & POLLERR))
		fail_msg("poll after rmdir: revents 0x%x, expected POLLERR", pfd.revents);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_some_and_full),
		cmocka_unit_test(test_parse_some_only),
		cmocka_unit_test(test_parse_extremes),
		cmocka_unit_test(test_parse_rejects_bad_text),
		cmocka_unit_test(test_parse_never_reads_past_len),
		cmocka_unit_test(test_read_fd_fixture_file),
		cmocka_unit_test(test_read_fd_real),
		cmocka_unit_test(test_stall_percent),
		cmocka_unit_test(test_trigger_system),
		cmocka_unit_test(test_trigger_errors),
		cmocka_unit_test_setup_teardown(test_trigger_cgroup_removed, cg_setup, cg_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
