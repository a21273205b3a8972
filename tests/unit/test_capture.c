/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Capture bundles, written for real into a temporary capture_dir. */
#include "fixture.h"
#include "dstate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "capture.h"
#include "config.h"
#include "history.h"
#include "kmsg_ring.h"
#include "procfs.h"
#include "signals.h"
#include "units.h"

static const char *const bundle_files[] = {
	"incident.json", "history.csv", "kmsg.txt", "psi.txt",
	"meminfo.txt", "vmstat.txt", "diskstats.txt", "tasks.txt",
};
#define NFILES (sizeof(bundle_files) / sizeof(bundle_files[0]))

struct fix {
	char tmp[64];
	char capdir[128];
	pid_t helper; /* blocked in clone(CLONE_VFORK): a D-state task */
	struct sg_config cfg;
	struct sg_signal_table tab;
	struct sg_history hist;
	struct sg_kmsg_ring *ring;
};

static int setup(void **state)
{
	static struct fix f;
	double values[512];

	memset(&f, 0, sizeof(f));
	*state = &f;
	strcpy(f.tmp, "/tmp/sg-capture-XXXXXX");
	if (!mkdtemp(f.tmp))
		return -1;
	/* Below a directory that does not exist yet: the capture makes both. */
	snprintf(f.capdir, sizeof(f.capdir), "%s/lib/captures", f.tmp);

	f.helper = fork();
	if (f.helper < 0)
		return -1;
	if (f.helper == 0) {
		setpgid(0, 0);
		if (clone(vfork_child, vfork_stack + sizeof(vfork_stack), CLONE_VM | CLONE_VFORK | SIGCHLD,
			  NULL) < 0)
			_exit(3);
		_exit(0);
	}
	setpgid(f.helper, f.helper);

	sg_config_defaults(&f.cfg);
	sg_strlcpy(f.cfg.capture_dir, f.capdir, sizeof(f.cfg.capture_dir));
	f.cfg.capture_budget_usec = 30 * USEC_PER_SEC; /* the scan is never cut short here */
	if (sg_signal_table_init(&f.tab, &f.cfg, NULL, 0) < 0 || f.tab.nslots > 512 ||
	    sg_history_init(&f.hist, f.tab.nslots, sg_history_rows(&f.cfg)) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		for (size_t s = 0; s < f.tab.nslots; s++)
			values[s] = (double)(i * 1000 + (int)s);
		struct sg_sample sample = { .now_usec = (uint64_t)i * 250000, .values = values,
					    .nvalues = f.tab.nslots };
		sg_history_push(&f.hist, &sample);
	}
	f.ring = malloc(sizeof(*f.ring));
	if (!f.ring)
		return -1;
	sg_kmsg_ring_init(f.ring);
	static const char text[] = "INFO: task rsync:4242 blocked for more than 120 seconds.";
	struct sg_kmsg_record rec = { .ts_usec = 3000500, .text = text, .text_len = sizeof(text) - 1 };
	sg_kmsg_ring_add(f.ring, &rec);
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	if (f->helper > 0) {
		kill(-f->helper, SIGKILL);
		kill(f->helper, SIGKILL);
		waitpid(f->helper, NULL, 0);
	}
	free(f->ring);
	sg_history_free(&f->hist);
	sg_config_free(&f->cfg);
	if (f->tmp[0])
		fixture_remove_tree(f->tmp);
	return 0;
}

static char *read_all(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char *buf = malloc(1 << 22);
	assert_non_null(buf);
	size_t n = fread(buf, 1, (1 << 22) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static struct sg_capture_input input(struct fix *f, const char *rule, const char *reason)
{
	return (struct sg_capture_input){
		.cfg = &f->cfg, .rule = rule, .job = "backup", .step = "capture", .reason = reason,
		.decision = "io-storm: would apply \"capture\" to job backup", .dry_run = true,
		.history = &f->hist, .tab = &f->tab, .kmsg = f->ring, .proc_root = "/proc",
		.recorder_note = "off (recorder = off): no stacks",
	};
}

static void test_bundle(void **state)
{
	struct fix *f = *state;
	static const char reason[] = "psi.io.full.avg10=34.2>=20 \"quoted\" back\\slash\nline two \xe9";
	char dir[512];
	double ms = -1;
	struct stat st;

	/* Wait up to 2 s for the helper to block in clone(CLONE_VFORK). */
	for (int i = 0; i < 200 && task_state(f->helper) != 'D'; i++)
		usleep(10000);
	assert_int_equal(task_state(f->helper), 'D');

	struct sg_capture_input in = input(f, "io-storm_2", reason);
	assert_int_equal(sg_capture_write(&in, dir, sizeof(dir), &ms), 0);
	assert_true(ms >= 0);
	assert_true(strncmp(dir, f->capdir, strlen(f->capdir)) == 0);
	const char *name = dir + strlen(f->capdir) + 1;
	/* YYYYmmddTHHMMSSZ-io-storm_2 */
	assert_int_equal(strlen(name), 16 + 1 + strlen("io-storm_2"));
	assert_int_equal(name[8], 'T');
	assert_int_equal(name[15], 'Z');
	assert_string_equal(name + 16, "-io-storm_2");

	assert_int_equal(stat(f->capdir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	size_t entries = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		entries += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, NFILES);
	for (size_t i = 0; i < NFILES; i++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/%s", dir, bundle_files[i]);
		if (stat(path, &st) < 0)
			fail_msg("%s missing", bundle_files[i]);
		assert_true(S_ISREG(st.st_mode));
		if ((st.st_mode & 07777) != 0600)
			fail_msg("%s: mode %o", bundle_files[i], st.st_mode & 07777);
	}

	/* incident.json: ASCII, and every field round-trips. */
	char *text = read_all(dir, "incident.json");
	for (const char *p = text; *p; p++)
		assert_true((unsigned char)*p < 0x80);
	free(text);
	char path[600];
	json_error_t jerr;
	snprintf(path, sizeof(path), "%s/incident.json", dir);
	json_t *j = json_load_file(path, 0, &jerr);
	if (!j)
		fail_msg("incident.json: %s", jerr.text);
	assert_string_equal(json_string_value(json_object_get(j, "rule")), "io-storm_2");
	assert_string_equal(json_string_value(json_object_get(j, "job")), "backup");
	assert_string_equal(json_string_value(json_object_get(j, "step")), "capture");
	/* Byte 0xE9 is U+00E9, which jansson gives back as UTF-8. */
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
			    "psi.io.full.avg10=34.2>=20 \"quoted\" back\\slash\nline two \xc3\xa9");
	assert_string_equal(json_string_value(json_object_get(j, "decision")),
			    "io-storm: would apply \"capture\" to job backup");
	assert_true(json_is_true(json_object_get(j, "dry_run")));
	const char *when = json_string_value(json_object_get(j, "time"));
	assert_non_null(when);
	assert_int_equal(strlen(when), 20); /* 2024-11-23T00:35:12Z */
	assert_int_equal(when[10], 'T');
	assert_int_equal(when[19], 'Z');
	assert_true(strlen(json_string_value(json_object_get(j, "host"))) > 0);
	assert_true(strlen(json_string_value(json_object_get(j, "kernel"))) > 0);
	assert_true(json_real_value(json_object_get(j, "uptime")) > 0);
	assert_string_equal(json_string_value(json_object_get(j, "recorder")), "off (recorder = off): no stacks");
	json_decref(j);

	text = read_all(dir, "history.csv");
	assert_true(strncmp(text, "time_ms,", 8) == 0);
	assert_non_null(strstr(strtok(text, "\n"), ",psi.io.some.avg10,"));
	assert_non_null(strstr(text + strlen(text) + 1, "\n0,2000,2001,")); /* the newest row */
	free(text);

	text = read_all(dir, "kmsg.txt");
	assert_non_null(strstr(text, "\n[    3.000500] INFO: task rsync:4242 blocked for more than "
				     "120 seconds.\n"));
	free(text);

	text = read_all(dir, "meminfo.txt");
	assert_true(strncmp(text, "MemTotal:", 9) == 0);
	free(text);
	text = read_all(dir, "psi.txt");
	assert_non_null(strstr(text, "# /proc/pressure/io\n"));
	free(text);

	/* The helper is in tasks.txt, with its stack. */
	char want[128];
	text = read_all(dir, "tasks.txt");
	snprintf(want, sizeof(want), "\npid %d tid %d state D comm ", (int)f->helper, (int)f->helper);
	char *task = strstr(text, want);
	if (!task)
		fail_msg("no line \"%s\" in tasks.txt:\n%s", want + 1, text);
	char *next = strstr(task + 1, "\npid ");
	char *stack = strstr(task, "\n  stack:\n");
	assert_non_null(stack);
	assert_true(!next || stack < next);
	assert_non_null(strstr(task, "\n  wchan: "));
	assert_non_null(strstr(text, "\n# top 10 processes by CPU time since start"));
	assert_non_null(strstr(text, "\n# top 10 processes by I/O since start"));
	free(text);
}

static size_t count_bundles(const char *capdir, char names[][128], size_t max)
{
	size_t n = 0;
	DIR *d = opendir(capdir);

	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "notes") == 0)
			continue;
		assert_true(n < max);
		sg_strlcpy(names[n++], e->d_name, 128);
	}
	closedir(d);
	return n;
}

static void test_rotation(void **state)
{
	struct fix *f = *state;
	char dirs[3][512], names[8][128], path[600];
	struct stat st;

	f->cfg.capture_keep = 2;
	f->cfg.capture_budget_usec = 50 * USEC_PER_MSEC;
	/* Not a bundle name: never touched. */
	snprintf(path, sizeof(path), "%s/lib", f->tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(mkdir(f->capdir, 0700), 0);
	snprintf(path, sizeof(path), "%s/notes", f->capdir);
	assert_int_equal(mkdir(path, 0700), 0);

	time_t t0 = time(NULL);
	for (int i = 0; i < 3; i++) {
		struct sg_capture_input in = input(f, "lockup", "kmsg.hung_task 0.0s ago (within 2m)");
		in.job = NULL;
		assert_int_equal(sg_capture_write(&in, dirs[i], sizeof(dirs[i]), NULL), 0);
		assert_int_equal(stat(dirs[i], &st), 0);
	}
	size_t n = count_bundles(f->capdir, names, 8);
	assert_int_equal(n, 2);
	/* The oldest is gone, the two newest are left. */
	assert_int_equal(stat(dirs[0], &st), -1);
	assert_int_equal(stat(dirs[1], &st), 0);
	assert_int_equal(stat(dirs[2], &st), 0);
	assert_int_equal(stat(path, &st), 0);
	/* Within one second the names are made unique with -N. */
	if (time(NULL) == t0) {
		size_t len = strlen(dirs[0]);
		assert_string_equal(dirs[1] + len, "-2");
		assert_string_equal(dirs[2] + len, "-3");
	}
	/* A host-level rule: job is null. */
	snprintf(path, sizeof(path), "%s/incident.json", dirs[2]);
	json_t *j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "job")));
	json_decref(j);

	assert_int_equal(sg_capture_rotate(f->capdir, 1), 1);
	assert_int_equal(count_bundles(f->capdir, names, 8), 1);
	assert_int_equal(stat(dirs[2], &st), 0);
}

static void test_bad_input(void **state)
{
	struct fix *f = *state;
	char dir[512] = "x";

	struct sg_capture_input in = input(f, "../etc", "r");
	assert_int_equal(sg_capture_write(&in, dir, sizeof(dir), NULL), -EINVAL);
	assert_string_equal(dir, "");
	in = input(f, "", "r");
	assert_int_equal(sg_capture_write(&in, dir, sizeof(dir), NULL), -EINVAL);
	/* Nothing was created. */
	struct stat st;
	assert_int_equal(stat(f->capdir, &st), -1);

	/* Sources that cannot be read: the bundle is written, with a line saying why. */
	in = input(f, "r", "r");
	in.proc_root = "/nonexistent-proc";
	in.history = NULL;
	in.kmsg = NULL;
	assert_int_equal(sg_capture_write(&in, dir, sizeof(dir), NULL), 0);
	char *text = read_all(dir, "meminfo.txt");
	assert_string_equal(text, "# cannot read /nonexistent-proc/meminfo: No such file or directory\n");
	free(text);
	text = read_all(dir, "tasks.txt");
	assert_non_null(strstr(text, "# cannot read /nonexistent-proc: No such file or directory\n"));
	free(text);
	text = read_all(dir, "history.csv");
	assert_string_equal(text, "# no signal history was kept\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bundle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
