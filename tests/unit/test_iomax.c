/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The io.max step on real cgroups: a v1 blkio cgroup on this hybrid host
 * holding back a real O_DIRECT dd, the journal written before anything is
 * changed, previous limits put back exactly, a real partition refused.
 *
 * The v2 path is run here against a plain io.max file in a temporary
 * directory, which checks what is read, recorded and written; the kernel's
 * side of v2 (a real io.max, an io controller) is proven under qemu in the
 * test bed issue, since this host's unified mount has no io controller. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/blkpg.h>
#include <linux/loop.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "jobio.h"
#include "units.h"

extern const struct sg_action sg_action_iomax;

#define MIB (1024.0 * 1024.0)
#define LIMIT (10 * 1024 * 1024) /* the wbps the real dd is held to */
#define BLKIO "/sys/fs/cgroup/blkio"
#define UNIFIED "/sys/fs/cgroup/unified"

static const char *const v1_files[4] = {
	"blkio.throttle.read_bps_device",
	"blkio.throttle.write_bps_device",
	"blkio.throttle.read_iops_device",
	"blkio.throttle.write_iops_device",
};

/* The whole disk under /var/tmp, where the writer writes. */
static unsigned disk_major, disk_minor;
static char disk[24], disk_name[32];

/* Everything a test may leave behind; teardown removes whatever is set. */
static struct {
	char cgroup[128];  /* a v1 blkio cgroup */
	pid_t writer;
	char file[128];    /* the writer's output */
	char tmpdir[64];   /* a fake cgroup directory */
	int loop_fd;
	char part[24];     /* MAJ:MIN of the loop device's partition */
	char backing[128]; /* the loop device's file */
} fx;

static int counter;

/* --- small file helpers ------------------------------------------------ */

static void slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		fail_msg("read %s: %s", path, strerror(errno));
	buf[n] = '\0';
}

static int put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	int err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

static void in_dir(const char *dir, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", dir, name);
}

/* The value on dev's line of a v1 throttle file, or "" when it has none. */
static void v1_value(const char *cg, unsigned k, char *val, size_t size)
{
	char path[256], buf[4096], prefix[32];

	in_dir(cg, v1_files[k], path, sizeof(path));
	slurp(path, buf, sizeof(buf));
	snprintf(prefix, sizeof(prefix), "%s ", disk);
	val[0] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			snprintf(val, size, "%s", line + strlen(prefix));
}

static void assert_v1(const char *cg, unsigned k, const char *expected)
{
	char val[64];

	v1_value(cg, k, val, sizeof(val));
	if (strcmp(val, expected) != 0)
		fail_msg("%s: \"%s\" for %s, expected \"%s\"", v1_files[k], val, disk, expected);
}

/* --- fixtures ---------------------------------------------------------- */

static int group_setup(void **state)
{
	char path[96], buf[256];
	struct stat st;

	(void)state;
	fx.loop_fd = -1;
	if (stat("/var/tmp", &st) < 0 || major(st.st_dev) == 0)
		return 0; /* no disk under /var/tmp: the disk tests skip */
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition", major(st.st_dev),
		 minor(st.st_dev));
	if (access(path, F_OK) == 0) /* a partition: its disk is the parent directory */
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev", major(st.st_dev),
			 minor(st.st_dev));
	else
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/dev", major(st.st_dev),
			 minor(st.st_dev));
	slurp(path, buf, sizeof(buf));
	if (sscanf(buf, "%u:%u", &disk_major, &disk_minor) != 2)
		return -1;
	snprintf(disk, sizeof(disk), "%u:%u", disk_major, disk_minor);
	snprintf(path, sizeof(path), "/sys/dev/block/%s/uevent", disk);
	slurp(path, buf, sizeof(buf));
	char *name = strstr(buf, "DEVNAME=");
	if (!name)
		return -1;
	sscanf(name + 8, "%31s", disk_name);
	return 0;
}

static int setup_cgroup(void **state)
{
	(void)state;
	if (!disk[0] || access(BLKIO "/blkio.throttle.write_bps_device", F_OK) < 0)
		return 0;
	snprintf(fx.cgroup, sizeof(fx.cgroup), BLKIO "/stallguard-test-iomax-%d-%d", (int)getpid(),
		 ++counter);
	if (mkdir(fx.cgroup, 0755) < 0) {
		fx.cgroup[0] = '\0';
		return -1;
	}
	return 0;
}

static void need_cgroup(void)
{
	if (!fx.cgroup[0]) {
		fail_msg("this test needs v1 blkio throttling and a disk under /var/tmp; this host has not both");
	}
}

static int teardown(void **state)
{
	char path[256];

	(void)state;
	if (fx.writer > 0) {
		/* unthrottled first, so a dd waiting on a held-back write dies at once */
		for (unsigned k = 0; k < 4 && fx.cgroup[0]; k++) {
			char cmd[48];

			in_dir(fx.cgroup, v1_files[k], path, sizeof(path));
			snprintf(cmd, sizeof(cmd), "%s 0", disk);
			put(path, cmd);
		}
		kill(fx.writer, SIGKILL);
		waitpid(fx.writer, NULL, 0);
		fx.writer = 0;
	}
	if (fx.file[0]) {
		unlink(fx.file);
		fx.file[0] = '\0';
	}
	if (fx.cgroup[0]) {
		/* an exiting task may hold the cgroup for a moment */
		for (int i = 0; i < 200 && rmdir(fx.cgroup) < 0 && errno == EBUSY; i++)
			usleep(10000);
		fx.cgroup[0] = '\0';
	}
	if (fx.tmpdir[0]) {
		const char *names[] = { "io.max", v1_files[0], v1_files[1], v1_files[2],
					v1_files[3] };

		for (size_t i = 0; i < 5; i++) {
			in_dir(fx.tmpdir, names[i], path, sizeof(path));
			unlink(path);
		}
		rmdir(fx.tmpdir);
		fx.tmpdir[0] = '\0';
	}
	if (fx.loop_fd >= 0) {
		struct blkpg_partition part = { .pno = 1 };
		struct blkpg_ioctl_arg arg = { .op = BLKPG_DEL_PARTITION, .datalen = sizeof(part),
					       .data = &part };

		ioctl(fx.loop_fd, BLKPG, &arg);
		close(fx.loop_fd); /* LO_FLAGS_AUTOCLEAR: the last close detaches it */
		fx.loop_fd = -1;
		fx.part[0] = '\0';
	}
	if (fx.backing[0]) {
		unlink(fx.backing);
		fx.backing[0] = '\0';
	}
	return 0;
}

/* --- the action's surroundings ------------------------------------------ */

struct journal {
	int calls;
	int ret;               /* what the journal answers */
	bool line_when_called; /* write_bps_device had a line for the disk then */
	char data[256];
	char path[256];
};

static int journal_cb(const struct sg_undo *undo, void *userdata)
{
	struct journal *j = userdata;
	char val[64] = "";

	j->calls++;
	sg_strlcpy(j->data, undo->data, sizeof(j->data));
	sg_strlcpy(j->path, undo->path, sizeof(j->path));
	if (fx.cgroup[0])
		v1_value(fx.cgroup, 1, val, sizeof(val));
	j->line_when_called = val[0] != '\0';
	return j->ret;
}

static struct sg_step make_step(const char *text, uint64_t rbps, uint64_t wbps, uint64_t riops,
				uint64_t wiops)
{
	struct sg_step step = { .kind = SG_STEP_IOMAX, .rbps = rbps, .wbps = wbps, .riops = riops,
				.wiops = wiops };

	snprintf(step.text, sizeof(step.text), "%s", text);
	return step;
}

#define UNSET SG_IOMAX_UNSET

static struct sg_target target_for(const char *cgroup2, const char *blkio)
{
	struct sg_target t = { .dev_major = disk_major, .dev_minor = disk_minor };

	snprintf(t.job, sizeof(t.job), "backup");
	snprintf(t.cgroup2, sizeof(t.cgroup2), "%s", cgroup2);
	snprintf(t.blkio, sizeof(t.blkio), "%s", blkio);
	return t;
}

/* Applies step to t; the undo is left in *undo for revert. */
static int apply(const struct sg_step *step, const struct sg_target *t, struct sg_undo *undo,
		 struct journal *j)
{
	struct sg_action_env env = { .step = step, .level = 2, .reason = "test", .capture = "" };

	memset(undo, 0, sizeof(*undo));
	undo->kind = SG_STEP_IOMAX;
	snprintf(undo->rule, sizeof(undo->rule), "io-storm");
	snprintf(undo->job, sizeof(undo->job), "%s", t->job);
	snprintf(undo->step, sizeof(undo->step), "%s", step->text);
	undo->level = 2;
	return sg_action_iomax.apply(&env, t, undo, journal_cb, j);
}

static int revert(const struct sg_undo *undo)
{
	/* as after a crash: no rule, no step, only the journal's undo */
	struct sg_action_env env = { .level = undo->level, .reason = "", .capture = "" };

	return sg_action_iomax.revert(&env, undo);
}

/* --- the writer ------------------------------------------------------- */

static uint64_t written(pid_t pid)
{
	char path[64], buf[1024];
	uint64_t r, w;
	int status;

	if (waitpid(pid, &status, WNOHANG) != 0)
		fail_msg("the writer (dd) is gone");
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	slurp(path, buf, sizeof(buf));
	assert_int_equal(sg_proc_io_parse(buf, strlen(buf), &r, &w), 0);
	return w;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes per second the writer wrote over ms milliseconds. */
static double write_rate(pid_t pid, unsigned ms)
{
	uint64_t w0 = written(pid);
	double t0 = now();

	usleep(ms * 1000);
	uint64_t w1 = written(pid);
	double t1 = now();

	return (double)(w1 - w0) / (t1 - t0);
}

/* A dd writing with O_DIRECT, put into the test cgroup before it starts. */
static void start_writer(void)
{
	char path[256], pid_text[32], procs[4096], of[160];
	int gate[2];

	snprintf(fx.file, sizeof(fx.file), "/var/tmp/stallguard-test-iomax-%d.dat", (int)getpid());
	snprintf(of, sizeof(of), "of=%s", fx.file);
	unlink(fx.file); /* left by a killed run with the same pid */
	assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;

		close(gate[1]);
		/* dies with the test, even one killed without its teardown */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || read(gate[0], &c, 1) != 1)
			_exit(126);
		execlp("dd", "dd", "if=/dev/zero", of, "bs=1M", "count=100000", "oflag=direct",
		       "status=none", (char *)NULL);
		_exit(127);
	}
	fx.writer = pid;
	close(gate[0]);
	in_dir(fx.cgroup, "cgroup.procs", path, sizeof(path));
	snprintf(pid_text, sizeof(pid_text), "%d", (int)pid);
	assert_int_equal(put(path, pid_text), 0);
	slurp(path, procs, sizeof(procs));
	assert_int_equal(strtol(procs, NULL, 10), pid); /* the only member */
	assert_int_equal(write(gate[1], "x", 1), 1);
	close(gate[1]);
	/* once dd has it open, the file goes: its space is freed when dd ends, however it ends */
	for (int i = 0; i < 200 && written(pid) == 0; i++)
		usleep(5000);
	assert_int_equal(unlink(fx.file), 0);
	fx.file[0] = '\0';
}

/* --- tests -------------------------------------------------------------- */

/* On this hybrid host the v1 throttle holds a real O_DIRECT dd to the limit,
 * and revert lets it run free again. */
static void test_v1_throttles_a_real_writer(void **state)
{
	struct sg_step step = make_step("io.max wbps=10M", UNSET, LIMIT, UNSET, UNSET);
	struct journal j = { 0 };
	struct sg_undo undo;
	char expected[96];

	(void)state;
	need_cgroup();
	struct sg_target t = target_for(UNIFIED, fx.cgroup);

	start_writer();
	usleep(200000);
	double free_rate = write_rate(fx.writer, 1500);
	print_message("unthrottled: %.1f MiB/s\n", free_rate / MIB);
	assert_true(free_rate > 3.0 * LIMIT); /* else the test could not tell a throttle */

	assert_int_equal(apply(&step, &t, &undo, &j), 0);
	assert_int_equal(j.calls, 1);
	snprintf(expected, sizeof(expected), "v1 %s rbps=0 wbps=0 riops=0 wiops=0", disk);
	assert_string_equal(undo.data, expected);
	usleep(300000); /* the write in flight when the limit came */
	double held = write_rate(fx.writer, 2000);
	print_message("io.max wbps=10M (v1): %.2f MiB/s\n", held / MIB);
	assert_true(held <= 1.2 * LIMIT);
	assert_true(held >= 0.5 * LIMIT); /* held back, not stopped */

	assert_int_equal(revert(&undo), 0);
	assert_v1(fx.cgroup, 1, "");
	usleep(300000);
	double after = write_rate(fx.writer, 1000);
	print_message("reverted: %.1f MiB/s\n", after / MIB);
	assert_true(after > 3.0 * LIMIT);
}

/* The journal sees the undo before anything is written; a journal that fails
 * stops the action; a host with neither interface gets EOPNOTSUPP. */
static void test_journal_first(void **state)
{
	struct sg_step step = make_step("io.max wbps=10M", UNSET, LIMIT, UNSET, UNSET);
	struct journal j = { 0 };
	struct sg_undo undo;
	char expected[96];

	(void)state;
	need_cgroup();
	/* the unified root never has io.max: the v1 cgroup is used */
	struct sg_target t = target_for(UNIFIED, fx.cgroup);

	assert_int_equal(apply(&step, &t, &undo, &j), 0);
	assert_int_equal(j.calls, 1);
	assert_false(j.line_when_called);
	snprintf(expected, sizeof(expected), "v1 %s rbps=0 wbps=0 riops=0 wiops=0", disk);
	assert_string_equal(j.data, expected);
	assert_string_equal(j.path, fx.cgroup);
	assert_v1(fx.cgroup, 1, "10485760");
	assert_int_equal(revert(&undo), 0);
	assert_v1(fx.cgroup, 1, "");

	j = (struct journal){ .ret = -EIO };
	assert_int_equal(apply(&step, &t, &undo, &j), -EIO);
	assert_int_equal(j.calls, 1);
	for (unsigned k = 0; k < 4; k++)
		assert_v1(fx.cgroup, k, "");

	j = (struct journal){ 0 };
	t = target_for(UNIFIED, "");
	assert_int_equal(apply(&step, &t, &undo, &j), -EOPNOTSUPP);
	assert_int_equal(j.calls, 0);
}

/* Limits there before are put back exactly; max removes a v1 limit. */
static void test_v1_restores_previous_limits(void **state)
{
	struct sg_step step = make_step("io.max rbps=20M wbps=10M", 20 << 20, 10 << 20, UNSET,
					UNSET);
	struct journal j = { 0 };
	struct sg_undo undo;
	char path[256], cmd[48], expected[96];

	(void)state;
	need_cgroup();
	struct sg_target t = target_for("", fx.cgroup);

	in_dir(fx.cgroup, v1_files[0], path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "%s 1048576", disk);
	assert_int_equal(put(path, cmd), 0);
	assert_v1(fx.cgroup, 0, "1048576");

	assert_int_equal(apply(&step, &t, &undo, &j), 0);
	snprintf(expected, sizeof(expected), "v1 %s rbps=1048576 wbps=0 riops=0 wiops=0", disk);
	assert_string_equal(undo.data, expected);
	assert_v1(fx.cgroup, 0, "20971520");
	assert_v1(fx.cgroup, 1, "10485760");
	assert_int_equal(revert(&undo), 0);
	assert_v1(fx.cgroup, 0, "1048576");
	assert_v1(fx.cgroup, 1, "");

	step = make_step("io.max rbps=max", SG_IOMAX_MAX, UNSET, UNSET, UNSET);
	assert_int_equal(apply(&step, &t, &undo, &j), 0);
	assert_v1(fx.cgroup, 0, "");
	assert_int_equal(revert(&undo), 0);
	assert_v1(fx.cgroup, 0, "1048576");

	/* a cgroup that is gone (the job ended): nothing left to undo */
	snprintf(undo.path, sizeof(undo.path), BLKIO "/stallguard-test-iomax-gone");
	assert_int_equal(revert(&undo), 0);
}

/* When the second of two v1 files cannot be written, the first is put back. */
static void test_v1_failed_write_rolls_back(void **state)
{
	struct sg_step step = make_step("io.max wbps=10M wiops=100", UNSET, LIMIT, UNSET, 100);
	struct journal j = { 0 };
	struct sg_undo undo;
	char path[256], buf[256], expected[64];

	(void)state;
	if (!disk[0])
		fail_msg("this test needs a whole disk under /var/tmp; none was found");
	snprintf(fx.tmpdir, sizeof(fx.tmpdir), "/tmp/sg-iomax-v1.XXXXXX");
	assert_non_null(mkdtemp(fx.tmpdir));
	for (unsigned k = 0; k < 3; k++) {
		in_dir(fx.tmpdir, v1_files[k], path, sizeof(path));
		assert_int_equal(put(path, ""), 0);
	}
	/* readable, but not writable even by root: a sysfs attribute without a store */
	in_dir(fx.tmpdir, v1_files[3], path, sizeof(path));
	char attr[64];
	snprintf(attr, sizeof(attr), "/sys/dev/block/%s/size", disk);
	assert_int_equal(symlink(attr, path), 0);
	struct sg_target t = target_for("", fx.tmpdir);

	assert_int_equal(apply(&step, &t, &undo, &j), -EACCES);
	assert_int_equal(j.calls, 1);
	in_dir(fx.tmpdir, v1_files[1], path, sizeof(path));
	slurp(path, buf, sizeof(buf));
	snprintf(expected, sizeof(expected), "%s 0", disk);
	assert_string_equal(buf, expected);
}

/* The v2 logic against a plain io.max file (a plain file is replaced by each
 * write, where the kernel would merge: the text written is compared exactly). */
static void test_v2_io_max_file(void **state)
{
	struct sg_step step = make_step("io.max wbps=10M riops=max", UNSET, LIMIT, SG_IOMAX_MAX,
					UNSET);
	struct journal j = { 0 };
	struct sg_undo undo;
	char iomax[128], buf[512], text[256], expected[128];

	(void)state;
	need_cgroup();
	snprintf(fx.tmpdir, sizeof(fx.tmpdir), "/tmp/sg-iomax-v2.XXXXXX");
	assert_non_null(mkdtemp(fx.tmpdir));
	in_dir(fx.tmpdir, "io.max", iomax, sizeof(iomax));
	/* a v1 cgroup too: io.max wins */
	struct sg_target t = target_for(fx.tmpdir, fx.cgroup);

	snprintf(text, sizeof(text), "%s rbps=max wbps=1000 riops=max wiops=max\n"
		 "8:0 rbps=5 wbps=max riops=max wiops=max\n", disk);
	assert_int_equal(put(iomax, text), 0);
	assert_int_equal(apply(&step, &t, &undo, &j), 0);
	assert_int_equal(j.calls, 1);
	snprintf(expected, sizeof(expected), "%s rbps=max wbps=1000 riops=max wiops=max", disk);
	assert_string_equal(j.data, expected);
	assert_string_equal(j.path, iomax);
	slurp(iomax, buf, sizeof(buf));
	snprintf(expected, sizeof(expected), "%s wbps=10485760 riops=max", disk);
	assert_string_equal(buf, expected);
	assert_v1(fx.cgroup, 1, "");
	assert_int_equal(revert(&undo), 0);
	slurp(iomax, buf, sizeof(buf));
	snprintf(expected, sizeof(expected), "%s wbps=1000 riops=max", disk);
	assert_string_equal(buf, expected);

	/* no line for the disk: every limit was max */
	assert_int_equal(put(iomax, "8:0 rbps=5 wbps=max riops=max wiops=max\n"), 0);
	step = make_step("io.max rbps=20M", 20 << 20, UNSET, UNSET, UNSET);
	assert_int_equal(apply(&step, &t, &undo, &j), 0);
	assert_string_equal(undo.data, disk);
	slurp(iomax, buf, sizeof(buf));
	snprintf(expected, sizeof(expected), "%s rbps=20971520", disk);
	assert_string_equal(buf, expected);
	assert_int_equal(revert(&undo), 0);
	slurp(iomax, buf, sizeof(buf));
	snprintf(expected, sizeof(expected), "%s rbps=max", disk);
	assert_string_equal(buf, expected);

	/* the journal fails: io.max is not touched */
	assert_int_equal(put(iomax, text), 0);
	j = (struct journal){ .ret = -ENOSPC };
	assert_int_equal(apply(&step, &t, &undo, &j), -ENOSPC);
	slurp(iomax, buf, sizeof(buf));
	assert_string_equal(buf, text);

	/* a journal whose step names no key: all four go back */
	snprintf(undo.step, sizeof(undo.step), "io.max");
	snprintf(undo.data, sizeof(undo.data), "%s rbps=7 wbps=max riops=9 wiops=max", disk);
	assert_int_equal(revert(&undo), 0);
	slurp(iomax, buf, sizeof(buf));
	assert_string_equal(buf, undo.data);

	/* a damaged journal is refused, not written */
	sg_strlcpy(expected, undo.data, sizeof(expected));
	snprintf(undo.data, sizeof(undo.data), "%s rbps=lots", disk);
	assert_int_equal(revert(&undo), -EINVAL);
	snprintf(undo.data, sizeof(undo.data), "disk rbps=1");
	assert_int_equal(revert(&undo), -EINVAL);
	slurp(iomax, buf, sizeof(buf));
	assert_string_equal(buf, expected);

	/* the cgroup is gone: nothing left to undo */
	snprintf(undo.path, sizeof(undo.path), "%s/gone/io.max", fx.tmpdir);
	snprintf(undo.data, sizeof(undo.data), "%s", disk);
	assert_int_equal(revert(&undo), 0);
}

static void test_describe(void **state)
{
	struct sg_undo undo = { .kind = SG_STEP_IOMAX };
	char line[256], expected[256];

	(void)state;
	if (!disk[0])
		fail_msg("this test needs a whole disk under /var/tmp; none was found");
	assert_int_equal(sg_action_iomax.kind, SG_STEP_IOMAX);
	snprintf(undo.step, sizeof(undo.step), "io.max wbps=50M riops=2000");
	snprintf(undo.job, sizeof(undo.job), "backup");

	snprintf(undo.data, sizeof(undo.data), "%s rbps=max wbps=1000 riops=max wiops=max", disk);
	sg_action_iomax.describe(&undo, line, sizeof(line));
	snprintf(expected, sizeof(expected),
		 "io.max wbps=50M riops=2000 on job backup, %s %s (cgroup v2 io.max)", disk_name,
		 disk);
	assert_string_equal(line, expected);

	snprintf(undo.data, sizeof(undo.data), "v1 %s rbps=0 wbps=0 riops=0 wiops=0", disk);
	sg_action_iomax.describe(&undo, line, sizeof(line));
	snprintf(expected, sizeof(expected),
		 "io.max wbps=50M riops=2000 on job backup, %s %s (v1 blkio.throttle)", disk_name,
		 disk);
	assert_string_equal(line, expected);

	/* a disk that is no longer there has no name */
	snprintf(undo.data, sizeof(undo.data), "4095:4095");
	sg_action_iomax.describe(&undo, line, sizeof(line));
	assert_string_equal(line, "io.max wbps=50M riops=2000 on job backup, 4095:4095 "
			    "(cgroup v2 io.max)");

	/* not applied (dry run): no disk recorded yet */
	undo.data[0] = '\0';
	sg_action_iomax.describe(&undo, line, sizeof(line));
	assert_string_equal(line, "io.max wbps=50M riops=2000 on job backup");

	/* a short buffer is cut, not overrun */
	char small[12];
	memset(small, 'x', sizeof(small));
	sg_action_iomax.describe(&undo, small, 8);
	assert_string_equal(small, "io.max ");
	assert_int_equal(small[8], 'x');
}

/* A real partition: a loop device over a file with a partition added by
 * BLKPG (this kernel parses no partition tables). */
static int setup_partition(void **state)
{
	char path[128], buf[64];
	int ctl, backing, n = -1;

	if (setup_cgroup(state) < 0)
		return -1;
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return 0; /* no loop devices: the test skips */
	snprintf(fx.backing, sizeof(fx.backing), "/var/tmp/stallguard-test-iomax-%d.img",
		 (int)getpid());
	backing = open(fx.backing, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (backing < 0 || ftruncate(backing, 4 << 20) < 0)
		goto out;
	for (int tries = 0; tries < 5 && fx.loop_fd < 0; tries++) {
		struct loop_config cfg = { .fd = (unsigned)backing };

		cfg.info.lo_flags = LO_FLAGS_PARTSCAN | LO_FLAGS_AUTOCLEAR;
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			break;
		snprintf(path, sizeof(path), "/dev/loop%d", n);
		fx.loop_fd = open(path, O_RDWR | O_CLOEXEC);
		if (fx.loop_fd >= 0 && ioctl(fx.loop_fd, LOOP_CONFIGURE, &cfg) < 0) {
			close(fx.loop_fd); /* taken by someone else meanwhile */
			fx.loop_fd = -1;
		}
	}
	if (fx.loop_fd >= 0) {
		struct blkpg_partition part = { .start = 1 << 20, .length = 2 << 20, .pno = 1 };
		struct blkpg_ioctl_arg arg = { .op = BLKPG_ADD_PARTITION, .datalen = sizeof(part),
					       .data = &part };

		if (ioctl(fx.loop_fd, BLKPG, &arg) == 0) {
			snprintf(path, sizeof(path), "/sys/block/loop%d/loop%dp1/dev", n, n);
			slurp(path, buf, sizeof(buf));
			buf[strcspn(buf, "\n")] = '\0';
			sg_strlcpy(fx.part, buf, sizeof(fx.part));
		}
	}
out:
	if (backing >= 0)
		close(backing);
	close(ctl);
	return 0;
}

static void test_partition_refused(void **state)
{
	struct sg_step step = make_step("io.max wbps=10M", UNSET, LIMIT, UNSET, UNSET);
	struct journal j = { 0 };
	struct sg_undo undo;
	char path[256], cmd[48];

	(void)state;
	need_cgroup();
	if (!fx.part[0]) {
		fail_msg("this test needs a loop device with a partition (/dev/loop-control, BLKPG); none could be made");
	}
	struct sg_target t = target_for("", fx.cgroup);

	assert_int_equal(sscanf(fx.part, "%u:%u", &t.dev_major, &t.dev_minor), 2);
	/* the kernel itself refuses it: the fixture is a real partition */
	in_dir(fx.cgroup, v1_files[1], path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "%s 1000", fx.part);
	assert_int_equal(put(path, cmd), -ENODEV);

	assert_int_equal(apply(&step, &t, &undo, &j), -ENODEV);
	assert_int_equal(j.calls, 0);
	assert_v1(fx.cgroup, 1, "");

	/* no such device at all */
	t.dev_major = 4095;
	t.dev_minor = 4095;
	assert_int_equal(apply(&step, &t, &undo, &j), -ENODEV);
	assert_int_equal(j.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v1_throttles_a_real_writer, setup_cgroup,
						teardown),
		cmocka_unit_test_setup_teardown(test_journal_first, setup_cgroup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_restores_previous_limits, setup_cgroup,
						teardown),
		cmocka_unit_test_setup_teardown(test_v1_failed_write_rolls_back, NULL, teardown),
		cmocka_unit_test_setup_teardown(test_v2_io_max_file, setup_cgroup, teardown),
		cmocka_unit_test(test_describe),
		cmocka_unit_test_setup_teardown(test_partition_refused, setup_partition, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
