/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A job's bytes: io.stat and /proc/PID/io texts, good and bad. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	if (!f)
		fail_msg("cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* Processes' /proc/PID/io files stay open between readings and count only
 * what they do while in the job; a process that leaves is dropped. */
static void test_procs_io_cache(void **state)
{
	char dir[] = "/tmp/sg-jobio.XXXXXX", sub[300], scratch[256], cmd[64];
	struct sg_proc_io_cache cache;
	uint64_t r, w;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (int pid = 7; pid <= 9; pid++) {
		snprintf(sub, sizeof(sub), "%s/%d", dir, pid);
		assert_int_equal(mkdir(sub, 0755), 0);
		snprintf(sub, sizeof(sub), "%d/io", pid);
		write_file(dir, sub, "read_bytes: 10\nwrite_bytes: 100\n");
	}
	write_file(dir, "procs", "7\n8\n");
	int proc_fd = open(dir, O_RDONLY | O_DIRECTORY);
	snprintf(sub, sizeof(sub), "%s/procs", dir);
	int procs_fd = open(sub, O_RDONLY);
	assert_true(proc_fd >= 0 && procs_fd >= 0);
	sg_proc_io_cache_init(&cache);

	assert_int_equal(sg_proc_io_refresh(&cache, procs_fd, proc_fd, scratch, sizeof(scratch)), 0);
	assert_int_equal(cache.count, 2);
	sg_proc_io_delta(&cache, &r, &w);
	assert_true(r == 0 && w == 0); /* their history before joining is not counted */

	write_file(dir, "8/io", "read_bytes: 30\nwrite_bytes: 150\n"); /* rewritten in place */
	sg_proc_io_delta(&cache, &r, &w);
	assert_true(r == 20 && w == 50);

	/* 9 joins with 10/100 already done; 7 leaves. */
	write_file(dir, "procs", "8\n9\n12345\n");
	assert_int_equal(sg_proc_io_refresh(&cache, procs_fd, proc_fd, scratch, sizeof(scratch)), 0);
	assert_int_equal(cache.count, 2); /* 12345 is not there at all */
	write_file(dir, "9/io", "read_bytes: 11\nwrite_bytes: 104\n");
	sg_proc_io_delta(&cache, &r, &w);
	assert_true(r == 1 && w == 4);

	write_file(dir, "procs", "8\nx\n");
	assert_int_equal(sg_proc_io_refresh(&cache, procs_fd, proc_fd, scratch, sizeof(scratch)), -EINVAL);

	sg_proc_io_cache_clear(&cache);
	assert_int_equal(cache.count, 0);
	close(procs_fd);
	close(proc_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* On the real /proc: a child that exits leaves the cache by ESRCH. */
static void test_procs_io_real(void **state)
{
	char list[32], scratch[256], path[] = "/tmp/sg-jobio-procs.XXXXXX";
	struct sg_proc_io_cache cache;
	uint64_t r, w;

	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	snprintf(list, sizeof(list), "%d\n", (int)child);
	assert_int_equal(write(fd, list, strlen(list)), (ssize_t)strlen(list));
	int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY);
	sg_proc_io_cache_init(&cache);
	assert_int_equal(sg_proc_io_refresh(&cache, fd, proc_fd, scratch, sizeof(scratch)), 0);
	assert_int_equal(cache.count, 1);
	assert_int_equal(cache.pid[0], child);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	sg_proc_io_delta(&cache, &r, &w);
	assert_int_equal(cache.count, 0);
	sg_proc_io_cache_clear(&cache);
	close(proc_fd);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iostat_sums_devices),
		cmocka_unit_test(test_iostat_rejects_garbage),
		cmocka_unit_test(test_proc_io),
		cmocka_unit_test(test_procs_io_cache),
		cmocka_unit_test(test_procs_io_real),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
