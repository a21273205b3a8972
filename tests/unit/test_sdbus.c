/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The systemd paths against a mock systemd (tests/fixtures/sdbus/mock_systemd.py)
 * on a private dbus-daemon, DBUS_SYSTEM_BUS_ADDRESS pointed at it. The mock
 * acts on cgroups and processes these tests made (it freezes their cgroup,
 * signals their processes, makes their scope's cgroup) and logs every call;
 * the tests compare that log with the exact calls and arguments expected.
 * Each test starts its own bus and mock and stops them, with every worker
 * and cgroup, in its teardown, even when it fails. */
#include "fixture.h"
#include "config_text.h"
#include "proctree.h"

#include <ftw.h>
#include <sched.h>
#include <sys/mount.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "actuator.h"
#include "cgroup.h"
#include "config.h"
#include "sdbus.h"
#include "target.h"

extern const struct sg_action sg_action_freeze;
extern const struct sg_action sg_action_kill;
extern const struct sg_action sg_action_iomax;

#define UNIFIED "/sys/fs/cgroup/unified"
#define MOCK FIXTURES "/sdbus/mock_systemd.py"
#define BUS_CONF FIXTURES "/sdbus/bus.conf"
#define PYTHON "/usr/bin/python3"

/* The bus and mock of the running test. */
static struct {
	char dir[64];       /* its temporary directory */
	char calls[128];    /* the mock's call log */
	pid_t daemon, mock;
	char rel[128];      /* the test's cgroup, relative to UNIFIED */
	char journaled[4096]; /* the call log when the journal callback ran */
	int journal_calls;
	struct sg_undo last;  /* what the journal callback was given */
} bw;

static pid_t start(const char *const *argv, int out_fd)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out_fd, 1);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* The first line child writes on fd within timeout_ms, "" when none. */
static void read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	size_t n = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	buf[0] = '\0';
	while (n + 1 < len && poll(&pfd, 1, timeout_ms) > 0) {
		ssize_t got = read(fd, buf + n, len - 1 - n);
		if (got <= 0)
			break;
		n += (size_t)got;
		buf[n] = '\0';
		if (strchr(buf, '\n'))
			break;
	}
	buf[strcspn(buf, "\n")] = '\0';
}

static void start_bus(void)
{
	char address[256], listen[128];
	int out[2];

	snprintf(bw.dir, sizeof(bw.dir), "/tmp/sg-sdbus.XXXXXX");
	assert_non_null(mkdtemp(bw.dir));
	snprintf(bw.calls, sizeof(bw.calls), "%s/calls", bw.dir);
	snprintf(listen, sizeof(listen), "--address=unix:path=%s/bus", bw.dir);
	if (access("/usr/bin/dbus-daemon", X_OK) < 0)
		fail_msg("no /usr/bin/dbus-daemon: install the dbus-daemon package (scripts/install-deps)");
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	const char *argv[] = { "/usr/bin/dbus-daemon", "--config-file=" BUS_CONF, "--nofork", "--print-address=1",
			       listen, NULL };
	bw.daemon = start(argv, out[1]);
	close(out[1]);
	read_line(out[0], address, sizeof(address), 5000);
	close(out[0]);
	if (strncmp(address, "unix:", 5) != 0)
		fail_msg("dbus-daemon did not start");
	setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
}

/* Starts the mock with extra options, after the bus; NULL-terminated. */
static void start_mock(const char *first, ...)
{
	const char *argv[32] = { PYTHON, MOCK, "--log", bw.calls, "--unified", UNIFIED };
	size_t n = 6;
	char ready[64];
	int out[2];
	va_list ap;

	va_start(ap, first);
	for (const char *arg = first; arg && n < 31; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	bw.mock = start(argv, out[1]);
	close(out[1]);
	read_line(out[0], ready, sizeof(ready), 10000);
	close(out[0]);
	if (strcmp(ready, "ready") != 0)
		fail_msg("the mock systemd did not start: it needs " PYTHON " with python3-dbus and python3-gi "
			 "(scripts/install-deps)");
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		for (int t = 0; t < 200 && waitpid(*pid, NULL, WNOHANG) == 0; t++)
			pt_msleep(10);
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static int remove_cgroup(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	if (flag == FTW_DP && ftw->level > 0)
		for (int t = 0; t < 100 && rmdir(path) < 0 && errno == EBUSY; t++)
			pt_msleep(10);
	return 0;
}

/* A worker in the test's cgroup (two, counting in slots 0 and 1), the
 * cgroup relative to UNIFIED in bw.rel, and the bus. */
static int setup(void **state)
{
	int r = pt_setup(state);
	struct proctree *fx = *state;

	memset(&bw, 0, sizeof(bw));
	if (r == 0 && pt_make_cgroup(fx->cg2, sizeof(fx->cg2), UNIFIED) < 0)
		fail_msg("cannot make a cgroup under " UNIFIED ": %s", strerror(errno));
	snprintf(bw.rel, sizeof(bw.rel), "%s", fx->cg2 + strlen(UNIFIED));
	start_bus();
	return r;
}

static int teardown(void **state)
{
	struct proctree *fx = *state;
	char path[256];

	stop(&bw.mock);
	stop(&bw.daemon);
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	if (bw.dir[0])
		nftw(bw.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	/* kill the subtree (scopes the mock made below it), then remove it */
	if (fx->cg2[0]) {
		pt_write_file(pt_cg_file(fx->cg2, "cgroup.freeze", path, sizeof(path)), "0");
		pt_write_file(pt_cg_file(fx->cg2, "cgroup.kill", path, sizeof(path)), "1");
		for (int t = 0; t < 100 && !pt_events_has(fx->cg2, "populated 0"); t++)
			pt_msleep(10);
		nftw(fx->cg2, remove_cgroup, 8, FTW_DEPTH | FTW_PHYS);
	}
	return pt_teardown(state);
}

/* The mock's calls so far, and clears them. */
static const char *take_calls(char *buf, size_t len)
{
	pt_read_text(bw.calls, buf, len);
	assert_int_equal(truncate(bw.calls, 0), 0);
	return buf;
}

static void expect_calls(const char *want)
{
	char got[8192];

	take_calls(got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("the mock systemd was called\n%s\nexpected\n%s", got, want);
}

/* The journal callback: notes the calls made before it and the record. */
static int journal(const struct sg_undo *undo, void *userdata)
{
	(void)userdata;
	pt_read_text(bw.calls, bw.journaled, sizeof(bw.journaled));
	bw.journal_calls++;
	memcpy(&bw.last, undo, sizeof(bw.last));
	return 0;
}

static struct sg_target *unit_target(struct proctree *fx, const char *unit)
{
	struct sg_target *t = pt_new_target();

	sg_strlcpy(t->unit, unit, sizeof(t->unit));
	sg_strlcpy(t->cgroup2, fx->cg2, sizeof(t->cgroup2));
	return t;
}

static void spawn_workers(struct proctree *fx)
{
	char procs[256];

	pt_spawn(fx, pt_cg_file(fx->cg2, "cgroup.procs", procs, sizeof(procs)), 0, 1);
}

/* FreezeUnit, confirmed by FreezerState, journaled first; ThawUnit back. */
static void test_freeze_thaw(void **state)
{
	struct proctree *fx = *state;
	char unit_arg[192], what[256], detail[SG_SDBUS_ERROR_MAX] = "";
	struct sg_action_env env = { .detail = detail, .detail_len = sizeof(detail) };

	snprintf(unit_arg, sizeof(unit_arg), "--unit=backup.service=%s", bw.rel);
	start_mock(unit_arg, NULL);
	spawn_workers(fx);
	struct sg_target *t = unit_target(fx, "backup.service");
	struct sg_undo *undo = pt_new_undo(SG_STEP_FREEZE, "freeze", 3);

	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal, NULL), 0);
	assert_int_equal(bw.journal_calls, 1);
	assert_string_equal(bw.journaled, ""); /* nothing asked of systemd before the journal */
	assert_string_equal(undo->path, "backup.service");
	assert_string_equal(undo->data, "systemd");
	expect_calls("FreezeUnit backup.service\n"
		     "GetUnit backup.service\n"
		     "Get backup.service org.freedesktop.systemd1.Unit FreezerState\n");
	assert_true(pt_events_has(fx->cg2, "frozen 1"));
	assert_int_equal(pt_advancing(fx, 0, 1, 150), 0);
	sg_action_freeze.describe(undo, what, sizeof(what));
	assert_string_equal(what, "freeze job backup (FreezeUnit backup.service)");

	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);
	expect_calls("ThawUnit backup.service\n"
		     "GetUnit backup.service\n"
		     "Get backup.service org.freedesktop.systemd1.Unit FreezerState\n");
	assert_true(pt_events_has(fx->cg2, "frozen 0"));
	assert_int_equal(pt_advancing(fx, 0, 1, 150), 2);

	/* A unit that is gone has nothing left frozen. */
	sg_strlcpy(undo->path, "gone.service", sizeof(undo->path));
	assert_int_equal(sg_action_freeze.revert(&env, undo), 0);
	expect_calls("ThawUnit gone.service\n");
	free(undo);
	free(t);
}

static void __attribute__((noreturn)) ignore_term(struct pt_shared *sh, int slot)
{
	signal(SIGTERM, SIG_IGN);
	pt_count_loop(sh, slot);
}

/* KillUnit SIGTERM, then SIGKILL after kill_grace to a unit whose processes
 * ignore SIGTERM; done when its cgroup is empty. */
static void test_kill(void **state)
{
	struct proctree *fx = *state;
	struct sg_config *cfg = calloc(1, sizeof(*cfg));
	char unit_arg[192], what[256];

	assert_non_null(cfg);
	cfg->kill_grace_usec = 300 * USEC_PER_MSEC;
	struct sg_action_env env = { .cfg = cfg };
	snprintf(unit_arg, sizeof(unit_arg), "--unit=backup.service=%s", bw.rel);
	start_mock(unit_arg, NULL);
	fx->worker = ignore_term;
	spawn_workers(fx);
	pid_t pids[2] = { fx->sh->pid[0], fx->sh->pid[1] };
	struct sg_target *t = unit_target(fx, "backup.service");
	struct sg_undo *undo = pt_new_undo(SG_STEP_KILL, "kill", 4);

	assert_int_equal(sg_action_kill.apply(&env, t, undo, journal, NULL), 0);
	assert_int_equal(bw.journal_calls, 1);
	assert_null(strstr(bw.journaled, "KillUnit"));
	assert_string_equal(undo->data, "systemd sigterm 300ms");
	expect_calls("GetUnit backup.service\n"
		     "Get backup.service org.freedesktop.systemd1.Unit FreezerState\n"
		     "KillUnit backup.service all 15\n"
		     "KillUnit backup.service all 9\n");
	assert_true(pt_events_has(fx->cg2, "populated 0"));
	for (int i = 0; i < 2; i++)
		assert_true(pt_proc_state(pids[i]) == 0 || pt_proc_state(pids[i]) == 'Z');
	sg_action_kill.describe(undo, what, sizeof(what));
	assert_string_equal(what, "kill job backup (KillUnit backup.service: SIGTERM, SIGKILL after 300ms)");
	free(undo);
	free(t);
	free(cfg);
}

/* The whole disk under /, and its /dev node. */
static void root_disk(struct sg_target *t, char *node, size_t len)
{
	struct sg_target_paths paths = { .proc = "/proc", .cgroup_root = "/sys/fs/cgroup", .unified = UNIFIED,
					 .sys = "/sys" };
	char why[128], sys[64], link[256];

	assert_int_equal(sg_target_disk(&paths, "", &t->dev_major, &t->dev_minor, why, sizeof(why)), 0);
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", t->dev_major, t->dev_minor);
	ssize_t n = readlink(sys, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	snprintf(node, len, "/dev/%s", strrchr(link, '/') + 1);
	struct stat st;
	if (stat(node, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != makedev(t->dev_major, t->dev_minor))
		fail_msg("%s is not the device node of the disk under / here", node);
}

/* SetUnitProperties(runtime) with the step's keys; the unit's previous
 * values read first and journaled, and set back on revert. */
static void test_iomax(void **state)
{
	struct proctree *fx = *state;
	struct sg_config cfg;
	char unit_arg[192], io_arg[256], want[2048], what[512], node[64], alias[128], text_calls[4096];

	struct sg_target *t = unit_target(fx, "backup.service");
	root_disk(t, node, sizeof(node));
	/* The unit names the disk by another path: that entry is changed. */
	snprintf(alias, sizeof(alias), "%s/disk-alias", bw.dir);
	assert_int_equal(symlink(node, alias), 0);
	snprintf(unit_arg, sizeof(unit_arg), "--unit=backup.service=%s", bw.rel);
	snprintf(io_arg, sizeof(io_arg), "--io=backup.service=IOWriteBandwidthMax:%s:1048576", alias);
	start_mock(unit_arg, io_arg, "--io=backup.service=IOReadBandwidthMax:/dev/sg-no-such-disk:5", NULL);
	load(&cfg, "[job backup]\nunit = backup.service\n[rule io-storm]\nwhen = load.1 >= 1000\njob = backup\n"
		   "step = io.max wbps=50M riops=2000\n");
	const struct sg_step *step = &cfg.rules[0].steps[0];
	struct sg_action_env env = { .cfg = &cfg, .rule = &cfg.rules[0], .step = step };
	struct sg_undo *undo = pt_new_undo(SG_STEP_IOMAX, step->text, 2);

	assert_int_equal(sg_action_iomax.apply(&env, t, undo, journal, NULL), 0);
	assert_null(strstr(bw.journaled, "SetUnitProperties"));
	assert_non_null(strstr(bw.journaled, "IOWriteIOPSMax")); /* all four read before */
	snprintf(want, sizeof(want), "systemd %s rbps=max wbps=1048576 riops=max wiops=max", alias);
	assert_string_equal(undo->data, want);
	assert_string_equal(undo->path, "backup.service");
	snprintf(want, sizeof(want),
		 "GetUnit backup.service\nGet backup.service org.freedesktop.systemd1.Service IOReadBandwidthMax\n"
		 "GetUnit backup.service\nGet backup.service org.freedesktop.systemd1.Service IOWriteBandwidthMax\n"
		 "GetUnit backup.service\nGet backup.service org.freedesktop.systemd1.Service IOReadIOPSMax\n"
		 "GetUnit backup.service\nGet backup.service org.freedesktop.systemd1.Service IOWriteIOPSMax\n"
		 "SetUnitProperties backup.service true IOWriteBandwidthMax=%s:52428800 "
		 "IOReadIOPSMax=%s:2000\n", alias, alias);
	expect_calls(want);
	sg_action_iomax.describe(undo, what, sizeof(what));
	snprintf(want, sizeof(want), "io.max wbps=50M riops=2000 on job backup, %s (systemd unit backup.service, "
		 "IO*Max)", alias);
	assert_string_equal(what, want);

	assert_int_equal(sg_action_iomax.revert(&env, undo), 0);
	snprintf(want, sizeof(want), "SetUnitProperties backup.service true IOWriteBandwidthMax=%s:1048576 "
		 "IOReadIOPSMax=%s:18446744073709551615\n", alias, alias);
	expect_calls(want);

	/* No limit on the disk before: /dev/NAME, and every previous value max. */
	struct sg_undo *undo2 = pt_new_undo(SG_STEP_IOMAX, step->text, 2);
	unlink(alias);
	stop(&bw.mock);
	start_mock(unit_arg, NULL);
	take_calls(want, sizeof(want));
	assert_int_equal(sg_action_iomax.apply(&env, t, undo2, journal, NULL), 0);
	snprintf(want, sizeof(want), "systemd %s rbps=max wbps=max riops=max wiops=max", node);
	assert_string_equal(undo2->data, want);
	/* The unit lists /dev/NAME and the guardian has a /dev of its own
	 * without it (PrivateDevices=yes): still that entry, by its name. */
	stop(&bw.mock);
	snprintf(io_arg, sizeof(io_arg), "--io=backup.service=IOWriteBandwidthMax:%s:1048576", node);
	start_mock(unit_arg, io_arg, NULL);
	int out[2];
	assert_int_equal(pipe(out), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct sg_undo *u = pt_new_undo(SG_STEP_IOMAX, step->text, 2);
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", "/dev", "tmpfs", 0, NULL) < 0 || access(node, F_OK) == 0)
			_exit(2);
		int r = sg_action_iomax.apply(&env, t, u, journal, NULL);
		dprintf(out[1], "%d %s", r, u->data);
		_exit(0);
	}
	close(out[1]);
	char got[512] = "";
	read_line(out[0], got, sizeof(got), 10000);
	close(out[0]);
	int status;
	waitpid(child, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(want, sizeof(want), "0 systemd %s rbps=max wbps=1048576 riops=max wiops=max", node);
	assert_string_equal(got, want);
	snprintf(want, sizeof(want), "SetUnitProperties backup.service true IOWriteBandwidthMax=%s:52428800 "
		 "IOReadIOPSMax=%s:2000\n", node, node);
	take_calls(text_calls, sizeof(text_calls));
	assert_non_null(strstr(text_calls, want));

	/* A unit gone since: nothing is left to undo. */
	sg_strlcpy(undo2->path, "gone.service", sizeof(undo2->path));
	take_calls(want, sizeof(want));
	assert_int_equal(sg_action_iomax.revert(&env, undo2), 0);
	snprintf(want, sizeof(want), "SetUnitProperties gone.service true IOWriteBandwidthMax=%s:18446744073709551615 "
		 "IOReadIOPSMax=%s:18446744073709551615\n", node, node);
	expect_calls(want);
	sg_config_free(&cfg);
	free(undo2);
	free(undo);
	free(t);
}

static const char *worker_comm;

static void __attribute__((noreturn)) named_worker(struct pt_shared *sh, int slot)
{
	prctl(PR_SET_NAME, worker_comm);
	pt_count_loop(sh, slot);
}

static bool procs_hold(const char *dir, pid_t pid)
{
	char path[512], text[4096];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	pt_read_text(path, text, sizeof(text));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (atoi(line) == pid)
			return true;
	return false;
}

/* A match job where systemd runs the host: its processes go into the
 * transient scope stallguard-JOB.scope (StartTransientUnit with their
 * PIDs, then the JobRemoved of its job), joined by AttachProcessesToUnit
 * once it exists; the scope is then the target. ionice moves nothing. */
static void test_scope(void **state)
{
	struct proctree *fx = *state;
	struct sg_config cfg;
	struct sg_target *t = pt_new_target();
	char comm[16], ini[256], base_arg[192], want[2048], why[512], scope_dir[512];
	struct sg_target_paths paths = { .proc = "/proc", .cgroup_root = "/sys/fs/cgroup", .unified = UNIFIED,
					 .sys = "/sys", .layout = SG_CGROUP_HYBRID, .systemd = true };

	snprintf(comm, sizeof(comm), "sgsd%d", (int)getpid());
	worker_comm = comm;
	fx->worker = named_worker;
	pt_spawn(fx, NULL, 0, 1);
	pid_t a = fx->sh->pid[0] < fx->sh->pid[1] ? fx->sh->pid[0] : fx->sh->pid[1];
	pid_t b = fx->sh->pid[0] < fx->sh->pid[1] ? fx->sh->pid[1] : fx->sh->pid[0];
	pt_msleep(20); /* let them take their name */
	snprintf(base_arg, sizeof(base_arg), "--scope-base=%s", bw.rel);
	start_mock(base_arg, NULL);
	snprintf(ini, sizeof(ini), "[job loose]\nmatch = comm:%s\n[rule r]\nwhen = load.1 >= 1000\njob = loose\n"
		 "step = ionice idle\nstep = freeze\n", comm);
	load(&cfg, ini);

	assert_int_equal(sg_target_resolve(&paths, &cfg, &cfg.rules[0], SG_STEP_IONICE, t, why, sizeof(why)), 0);
	assert_int_equal(t->npids, 2);
	assert_string_equal(t->unit, "");
	expect_calls("");

	assert_int_equal(sg_target_resolve(&paths, &cfg, &cfg.rules[0], SG_STEP_FREEZE, t, why, sizeof(why)), 0);
	snprintf(want, sizeof(want),
		 "StartTransientUnit stallguard-loose.scope fail PIDs=%d,%d Slice=stallguard.slice "
		 "Description=stallguard: the processes of job loose Delegate=true CollectMode=inactive-or-failed aux=0\n"
		 "GetUnit stallguard-loose.scope\n"
		 "Get stallguard-loose.scope org.freedesktop.systemd1.Scope ControlGroup\n", (int)a, (int)b);
	expect_calls(want);
	snprintf(scope_dir, sizeof(scope_dir), "%s/stallguard.slice/stallguard-loose.scope", fx->cg2);
	assert_string_equal(t->unit, "stallguard-loose.scope");
	assert_string_equal(t->cgroup2, scope_dir);
	assert_int_equal(t->npids, 0);
	assert_true(procs_hold(scope_dir, a));
	assert_true(procs_hold(scope_dir, b));

	/* The scope exists: the processes found again are attached to it. */
	assert_int_equal(sg_target_resolve(&paths, &cfg, &cfg.rules[0], SG_STEP_KILL, t, why, sizeof(why)), 0);
	snprintf(want, sizeof(want),
		 "StartTransientUnit stallguard-loose.scope fail PIDs=%d,%d Slice=stallguard.slice "
		 "Description=stallguard: the processes of job loose Delegate=true CollectMode=inactive-or-failed aux=0\n"
		 "AttachProcessesToUnit stallguard-loose.scope - %d,%d\n"
		 "GetUnit stallguard-loose.scope\n"
		 "Get stallguard-loose.scope org.freedesktop.systemd1.Scope ControlGroup\n",
		 (int)a, (int)b, (int)a, (int)b);
	expect_calls(want);
	assert_string_equal(t->unit, "stallguard-loose.scope");
	sg_config_free(&cfg);
	free(t);
}

/* A job by `unit =` where systemd runs the host: its ControlGroup. */
static void test_unit_job(void **state)
{
	struct proctree *fx = *state;
	struct sg_config cfg;
	struct sg_target *t = pt_new_target();
	char unit_arg[192], why[512];
	struct sg_target_paths paths = { .proc = "/proc", .cgroup_root = "/sys/fs/cgroup", .unified = UNIFIED,
					 .sys = "/sys", .layout = SG_CGROUP_HYBRID, .systemd = true };

	snprintf(unit_arg, sizeof(unit_arg), "--unit=backup.service=%s", bw.rel);
	start_mock(unit_arg, "--unit=idle.service=", NULL);
	spawn_workers(fx);
	load(&cfg, "[job b]\nunit = backup.service\ncgroup = /elsewhere\n[job i]\nunit = idle.service\n"
		   "[job n]\nunit = absent.service\n"
		   "[rule r]\nwhen = load.1 >= 1000\njob = b\nstep = freeze\n"
		   "[rule s]\nwhen = load.1 >= 1000\njob = i\nstep = freeze\n"
		   "[rule t]\nwhen = load.1 >= 1000\njob = n\nstep = freeze\n");

	assert_int_equal(sg_target_resolve(&paths, &cfg, &cfg.rules[0], SG_STEP_FREEZE, t, why, sizeof(why)), 0);
	expect_calls("GetUnit backup.service\nGet backup.service org.freedesktop.systemd1.Service ControlGroup\n");
	assert_string_equal(t->unit, "backup.service");
	assert_string_equal(t->cgroup2, fx->cg2);

	assert_int_equal(sg_target_resolve(&paths, &cfg, &cfg.rules[1], SG_STEP_FREEZE, t, why, sizeof(why)), -ESRCH);
	assert_non_null(strstr(why, "idle.service runs nothing"));

	assert_int_equal(sg_target_resolve(&paths, &cfg, &cfg.rules[2], SG_STEP_FREEZE, t, why, sizeof(why)), -ESRCH);
	assert_non_null(strstr(why, "org.freedesktop.systemd1.NoSuchUnit: Unit absent.service not loaded."));

	/* Without systemd, a unit-only job cannot be found. */
	paths.systemd = false;
	assert_int_equal(sg_target_resolve(&paths, &cfg, &cfg.rules[1], SG_STEP_FREEZE, t, why, sizeof(why)),
			 -EOPNOTSUPP);
	assert_non_null(strstr(why, "needs systemd"));
	sg_config_free(&cfg);
	free(t);
}

/* A systemd that never answers: the call gives up after its timeout, with
 * the record already journaled (the freeze may have happened). A bus that
 * accepts the connection and never speaks: connecting gives up too. */
static void test_timeouts(void **state)
{
	struct proctree *fx = *state;
	char unit_arg[192], detail[SG_SDBUS_ERROR_MAX] = "", dead[128];
	struct sg_action_env env = { .detail = detail, .detail_len = sizeof(detail) };

	snprintf(unit_arg, sizeof(unit_arg), "--unit=backup.service=%s", bw.rel);
	start_mock(unit_arg, "--hang=FreezeUnit", NULL);
	struct sg_target *t = unit_target(fx, "backup.service");
	struct sg_undo *undo = pt_new_undo(SG_STEP_FREEZE, "freeze", 3);

	uint64_t start_usec = sg_now_usec();
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal, NULL), -ETIMEDOUT);
	uint64_t took = sg_now_usec() - start_usec;
	assert_true(took >= SG_SDBUS_TIMEOUT_USEC / 2 && took < 5 * SG_SDBUS_TIMEOUT_USEC);
	assert_int_equal(bw.journal_calls, 1);
	assert_non_null(strstr(detail, "FreezeUnit backup.service"));
	expect_calls("FreezeUnit backup.service\n");

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/dead", bw.dir);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 8), 0);
	snprintf(dead, sizeof(dead), "unix:path=%s", sun.sun_path);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", dead, 1);
	struct sg_sdbus sd;
	start_usec = sg_now_usec();
	assert_int_equal(sg_sdbus_open(&sd), -ETIMEDOUT);
	took = sg_now_usec() - start_usec;
	assert_true(took >= SG_SDBUS_TIMEOUT_USEC / 2 && took < 5 * SG_SDBUS_TIMEOUT_USEC);
	assert_non_null(strstr(sd.error, "cannot connect to the system bus"));
	sg_sdbus_close(&sd);
	/* nothing is journaled when systemd cannot even be reached */
	bw.journal_calls = 0;
	assert_int_equal(sg_action_freeze.apply(&env, t, undo, journal, NULL), -ETIMEDOUT);
	assert_int_equal(bw.journal_calls, 0);
	close(fd);

	/* No bus at all: a revert fails (its entry stays), never "unit gone". */
	snprintf(dead, sizeof(dead), "unix:path=%s/none", bw.dir);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", dead, 1);
	assert_int_equal(sg_action_freeze.revert(&env, undo), -ENOTCONN);
	assert_non_null(strstr(detail, "cannot connect to the system bus: No such file or directory"));
	sg_strlcpy(undo->data, "systemd /dev/vda rbps=max wbps=max riops=max wiops=max", sizeof(undo->data));
	sg_strlcpy(undo->step, "io.max wbps=2M", sizeof(undo->step));
	assert_int_equal(sg_action_iomax.revert(&env, undo), -ENOTCONN);
	free(undo);
	free(t);
}

/* A bus error fails the step, and the outcome line says its name and
 * message: the actuator at work on a unit job, with a real state journal. */
static void test_bus_error_fails_the_step(void **state)
{
	struct proctree *fx = *state;
	struct sg_config cfg;
	struct sg_actuator act;
	char unit_arg[192], ini[1024], log_path[128], text[8192];

	snprintf(unit_arg, sizeof(unit_arg), "--unit=backup.service=%s", bw.rel);
	start_mock(unit_arg, "--fail=FreezeUnit=org.freedesktop.systemd1.UnitBusy:Unit has a pending job.", NULL);
	spawn_workers(fx);
	snprintf(ini, sizeof(ini), "[guardian]\nstate_dir = %s/state\ncapture_dir = %s/captures\n"
		 "[job backup]\nunit = backup.service\n"
		 "[rule io-storm]\nwhen = load.1 >= 1000\njob = backup\nstep = freeze\n", bw.dir, bw.dir);
	load(&cfg, ini);
	assert_int_equal(sg_actuator_open(&act, &cfg), 0);
	act.paths.systemd = true;
	act.paths.unified = UNIFIED;
	struct sg_decision d = { .rule = 0, .step = 0, .kind = SG_DECISION_APPLY, .level = 1 };
	snprintf(d.reason, sizeof(d.reason), "load.1=2000>=1000");

	/* stderr to a file while the actuator logs */
	snprintf(log_path, sizeof(log_path), "%s/log", bw.dir);
	int saved = dup(2), logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && logfd >= 0);
	dup2(logfd, 2);
	sg_actuator_decide(&act, &cfg, &d);
	dup2(saved, 2);
	close(saved);
	close(logfd);
	pt_read_text(log_path, text, sizeof(text));
	print_message("%s", text);
	assert_non_null(strstr(text, "io-storm: freeze job backup (FreezeUnit backup.service) failed: "));
	assert_non_null(strstr(text, "(FreezeUnit backup.service: org.freedesktop.systemd1.UnitBusy: "
				     "Unit has a pending job.)"));
	/* the freeze may have half happened: its entry stays, to be thawed */
	const struct sg_state_entry *entry = sg_state_find(&act.state, "io-storm", 1);
	assert_non_null(entry);
	assert_false(entry->applied);
	assert_string_equal(entry->undo.path, "backup.service");
	assert_string_equal(entry->undo.data, "systemd");
	take_calls(text, sizeof(text));
	assert_int_equal(sg_actuator_revert_all(&act, &cfg, "stopping"), 0);
	expect_calls("ThawUnit backup.service\n"
		     "GetUnit backup.service\n"
		     "Get backup.service org.freedesktop.systemd1.Unit FreezerState\n");
	assert_int_equal(act.state.count, 0);
	sg_actuator_close(&act);
	sg_config_free(&cfg);
}

#define SDBUS_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SDBUS_TEST(test_freeze_thaw),
		SDBUS_TEST(test_kill),
		SDBUS_TEST(test_iomax),
		SDBUS_TEST(test_scope),
		SDBUS_TEST(test_unit_job),
		SDBUS_TEST(test_timeouts),
		SDBUS_TEST(test_bus_error_fails_the_step),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
