/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Target resolution on this host's real /proc, cgroups and disks. */
#include "fixture.h"
#include "config_text.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "target.h"

struct world {
	struct sg_target_paths paths;
	char unified[256];
	pid_t children[4];
	size_t nchildren;
	char cgroups[6][700];
	size_t ncgroups;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->paths.proc = "/proc";
	w->paths.cgroup_root = "/sys/fs/cgroup";
	w->paths.sys = "/sys";
	assert_int_equal(sg_cgroup_detect("/sys/fs/cgroup", &w->paths.layout, w->unified, sizeof(w->unified)), 0);
	w->paths.unified = w->unified;
	if (!w->unified[0])
		fail_msg("this host has no cgroup2 mount: these tests need one");
	*state = w;
	return 0;
}

/* Kills the children, then removes the cgroups (deepest first). */
static int teardown(void **state)
{
	struct world *w = *state;

	for (size_t i = 0; i < w->nchildren; i++) {
		kill(w->children[i], SIGKILL);
		waitpid(w->children[i], NULL, 0);
	}
	for (size_t i = w->ncgroups; i-- > 0;)
		for (int tries = 0; tries < 50 && rmdir(w->cgroups[i]) < 0 && errno == EBUSY; tries++)
			usleep(20000);
	free(w);
	return 0;
}

static void remember_cgroup(struct world *w, const char *path)
{
	snprintf(w->cgroups[w->ncgroups++], sizeof(w->cgroups[0]), "%s", path);
}

/* A child named comm that sleeps, or writes with O_DIRECT when busy. */
static pid_t spawn(struct world *w, const char *comm, bool busy)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_NAME, comm);
		if (busy) {
			char path[] = "/var/tmp/sg-target.XXXXXX";
			int fd = mkstemp(path);
			unlink(path);
			fd = fd >= 0 ? fd : 1;
			void *buf;
			if (posix_memalign(&buf, 4096, 1 << 20) != 0)
				_exit(1);
			memset(buf, 1, 1 << 20);
			for (;;) {
				if (pwrite(fd, buf, 1 << 20, 0) < 0)
					_exit(1);
				fsync(fd);
			}
		}
		for (;;)
			pause();
	}
	w->children[w->nchildren++] = pid;
	usleep(20000); /* let it take its name */
	return pid;
}

static void test_matches_and_protection(void **state)
{
	struct world *w = *state;
	struct sg_config cfg;
	pid_t sleeper = spawn(w, "sgtest-sleep", false);

	load(&cfg, "[guardian]\nprotect = comm:sgtest-sleep\n[job j]\nmatch = comm:sgtest-other\n"
		   "[rule r]\nwhen = load.1 >= 1000\njob = j\nstep = freeze\n");
	struct sg_match comm = { .kind = SG_MATCH_COMM };
	snprintf(comm.value, sizeof(comm.value), "sgtest-sleep");
	assert_true(sg_target_matches(&comm, "/proc", sleeper));
	snprintf(comm.value, sizeof(comm.value), "sgtest-slee");
	assert_false(sg_target_matches(&comm, "/proc", sleeper));
	struct sg_match exe = { .kind = SG_MATCH_EXE };
	assert_true(readlink("/proc/self/exe", exe.value, sizeof(exe.value) - 1) > 0);
	assert_true(sg_target_matches(&exe, "/proc", sleeper)); /* a fork runs the same binary */
	struct sg_match cmdline = { .kind = SG_MATCH_CMDLINE };
	assert_int_equal(regcomp(&cmdline.regex, "test_target$", REG_EXTENDED | REG_NOSUB), 0);
	assert_true(sg_target_matches(&cmdline, "/proc", getpid()));
	regfree(&cmdline.regex);

	assert_true(sg_target_protected(&cfg, "/proc", 1));
	assert_true(sg_target_protected(&cfg, "/proc", getpid()));
	assert_true(sg_target_protected(&cfg, "/proc", 2)); /* kthreadd */
	assert_true(sg_target_protected(&cfg, "/proc", sleeper));
	pid_t other = spawn(w, "sgtest-other", false);
	assert_false(sg_target_protected(&cfg, "/proc", other));
	sg_config_free(&cfg);
}

static void test_top_io_finds_the_writer(void **state)
{
	struct world *w = *state;
	struct sg_config cfg;

	load(&cfg, "");
	pid_t writer = spawn(w, "sgtest-writer", true);
	usleep(200000);
	assert_int_equal(sg_target_top_io(&cfg, "/proc", 300000), writer);
	sg_config_free(&cfg);
	/* Protected, it is never the top. */
	load(&cfg, "[guardian]\nprotect = comm:sgtest-writer\n");
	assert_true(sg_target_top_io(&cfg, "/proc", 300000) != writer);
	sg_config_free(&cfg);
}

static void test_disk(void **state)
{
	struct world *w = *state;
	unsigned major, minor;
	char why[256], want[32], got[32];
	struct stat st;

	assert_int_equal(sg_target_disk(&w->paths, "", &major, &minor, why, sizeof(why)), 0);
	/* It is a whole disk: /sys/dev/block/M:m exists and is not a partition. */
	snprintf(got, sizeof(got), "%u:%u", major, minor);
	char path[128];
	snprintf(path, sizeof(path), "/sys/dev/block/%s/partition", got);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "/sys/dev/block/%s", got);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(sg_target_disk(&w->paths, "vda", &major, &minor, why, sizeof(why)), 0);
	FILE *f = fopen("/sys/block/vda/dev", "r");
	assert_non_null(f);
	assert_non_null(fgets(want, sizeof(want), f));
	fclose(f);
	want[strcspn(want, "\n")] = '\0';
	snprintf(got, sizeof(got), "%u:%u", major, minor);
	assert_string_equal(got, want);
	assert_int_equal(sg_target_disk(&w->paths, "nosuchdisk", &major, &minor, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "nosuchdisk"));
}

/* A job with `cgroup =`: its cgroup; for io.max on a hybrid host, a v1 blkio
 * cgroup at the same path holding the same processes. */
static void test_resolve_cgroup_job(void **state)
{
	struct world *w = *state;
	struct sg_config cfg;
	struct sg_target *target = calloc(1, sizeof(*target));
	char dir[512], rel[64], ini[512], why[256], procs[64];

	assert_non_null(target);
	snprintf(rel, sizeof(rel), "/stallguard-test-%d", (int)getpid());
	snprintf(dir, sizeof(dir), "%s%s", w->unified, rel);
	assert_int_equal(mkdir(dir, 0755), 0);
	remember_cgroup(w, dir);
	pid_t member = spawn(w, "sgtest-member", false);
	snprintf(procs, sizeof(procs), "%d", (int)member);
	char path[700];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(procs, f);
	assert_int_equal(fclose(f), 0);

	snprintf(ini, sizeof(ini), "[job j]\ncgroup = %s\ndevice = vda\n[rule r]\nwhen = load.1 >= 1000\njob = j\n"
		 "step = io.max wbps=10M\nstep = freeze\n", rel);
	load(&cfg, ini);
	assert_int_equal(sg_target_resolve(&w->paths, &cfg, &cfg.rules[0], SG_STEP_FREEZE, target, why, sizeof(why)), 0);
	assert_string_equal(target->cgroup2, dir);
	assert_int_equal(target->npids, 0);
	assert_string_equal(target->job, "j");

	assert_int_equal(sg_target_resolve(&w->paths, &cfg, &cfg.rules[0], SG_STEP_IOMAX, target, why, sizeof(why)), 0);
	if (w->paths.layout == SG_CGROUP_HYBRID) {
		char blkio[512];
		snprintf(blkio, sizeof(blkio), "/sys/fs/cgroup/blkio%s", rel);
		remember_cgroup(w, blkio);
		assert_string_equal(target->blkio, blkio);
		snprintf(path, sizeof(path), "%s/cgroup.procs", blkio);
		f = fopen(path, "r");
		assert_non_null(f);
		long pid = 0;
		assert_int_equal(fscanf(f, "%ld", &pid), 1);
		fclose(f);
		assert_int_equal(pid, member);
	}
	assert_true(target->dev_major > 0);
	sg_config_free(&cfg);

	/* A protected process inside: refused. */
	snprintf(ini, sizeof(ini), "[guardian]\nprotect = comm:sgtest-member\n[job j]\ncgroup = %s\n[rule r]\n"
		 "when = load.1 >= 1000\njob = j\nstep = freeze\n", rel);
	load(&cfg, ini);
	assert_int_equal(sg_target_resolve(&w->paths, &cfg, &cfg.rules[0], SG_STEP_FREEZE, target, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "protected"));
	sg_config_free(&cfg);

	/* A protected process in a cgroup below the job's: refused too, since a
	 * cgroup step acts on the whole subtree. */
	char kid_dir[580];
	snprintf(kid_dir, sizeof(kid_dir), "%s/kid", dir);
	assert_int_equal(mkdir(kid_dir, 0755), 0);
	remember_cgroup(w, kid_dir);
	pid_t kid = spawn(w, "sgtest-kid", false);
	snprintf(path, sizeof(path), "%s/cgroup.procs", kid_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%d", (int)kid);
	assert_int_equal(fclose(f), 0);
	snprintf(ini, sizeof(ini), "[guardian]\nprotect = comm:sgtest-kid\n[job j]\ncgroup = %s\n[rule r]\n"
		 "when = load.1 >= 1000\njob = j\nstep = freeze\n", rel);
	load(&cfg, ini);
	assert_int_equal(sg_target_resolve(&w->paths, &cfg, &cfg.rules[0], SG_STEP_FREEZE, target, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "protected"));
	sg_config_free(&cfg);
	free(target);
	/* Let the teardown remove the cgroups: their members must leave first. */
	kill(kid, SIGKILL);
	kill(member, SIGKILL);
}

/* A job found by match: its processes, moved into stallguard's own cgroup
 * before a cgroup step; a protected process that also matches stays out. */
static void test_resolve_match_job(void **state)
{
	struct world *w = *state;
	struct sg_config cfg;
	struct sg_target *target = calloc(1, sizeof(*target));
	char why[256], own[600], parent[512];

	assert_non_null(target);
	/* Names of this run only: another run's processes never match. */
	char match_name[16], keep_name[16], ini[512];
	snprintf(match_name, sizeof(match_name), "sgm%d", (int)getpid());
	snprintf(keep_name, sizeof(keep_name), "sgk%d", (int)getpid());
	pid_t a = spawn(w, match_name, false);
	pid_t b = spawn(w, match_name, false);
	pid_t keep = spawn(w, keep_name, false);
	snprintf(ini, sizeof(ini), "[guardian]\nprotect = comm:%s\n[job loose]\nmatch = comm:%s\nmatch = comm:%s\n"
		 "[rule r]\nwhen = load.1 >= 1000\njob = loose\nstep = ionice idle\nstep = freeze\n",
		 keep_name, match_name, keep_name);
	load(&cfg, ini);
	assert_int_equal(sg_target_resolve(&w->paths, &cfg, &cfg.rules[0], SG_STEP_IONICE, target, why, sizeof(why)), 0);
	assert_int_equal(target->npids, 2);
	assert_true((target->pids[0] == a && target->pids[1] == b) || (target->pids[0] == b && target->pids[1] == a));
	assert_string_equal(target->cgroup2, "");

	snprintf(parent, sizeof(parent), "%s/stallguard.jobs", w->unified);
	snprintf(own, sizeof(own), "%s/loose", parent);
	remember_cgroup(w, parent);
	remember_cgroup(w, own);
	assert_int_equal(sg_target_resolve(&w->paths, &cfg, &cfg.rules[0], SG_STEP_FREEZE, target, why, sizeof(why)), 0);
	assert_string_equal(target->cgroup2, own);
	char path[700], line[64];
	snprintf(path, sizeof(path), "%s/cgroup.procs", own);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = 0;
	bool saw_keep = false;
	while (fgets(line, sizeof(line), f)) {
		n++;
		saw_keep |= atoi(line) == keep;
	}
	fclose(f);
	assert_int_equal(n, 2);
	assert_false(saw_keep);
	sg_config_free(&cfg);

	/* A job known only by its systemd unit: not without systemd's API. */
	load(&cfg, "[job svc]\nunit = backup.service\n[rule r]\nwhen = load.1 >= 1000\njob = svc\nstep = freeze\n");
	assert_int_equal(sg_target_resolve(&w->paths, &cfg, &cfg.rules[0], SG_STEP_FREEZE, target, why, sizeof(why)),
			 -EOPNOTSUPP);
	assert_non_null(strstr(why, "systemd"));
	sg_config_free(&cfg);

	/* Nothing matches: nothing to act on. */
	load(&cfg, "[job none]\nmatch = comm:sgtest-absent\n[rule r]\nwhen = load.1 >= 1000\njob = none\n"
		   "step = freeze\n");
	assert_int_equal(sg_target_resolve(&w->paths, &cfg, &cfg.rules[0], SG_STEP_FREEZE, target, why, sizeof(why)),
			 -ESRCH);
	sg_config_free(&cfg);
	free(target);
	kill(a, SIGKILL);
	kill(b, SIGKILL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_matches_and_protection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_io_finds_the_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_cgroup_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_match_job, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
