// SPDX-License-Identifier: GPL-2.0-or-later
/* `stallguard doctor` over fixture trees (tests/fixtures/doctor/<case>/) and
 * over this host. A fixture's sys/fs/cgroup sits on the repository's own
 * filesystem, so its cgroup layout is "none" (severe) in every case. */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

#include <systemd/sd-daemon.h>
#include "doctor.h"

static void run_case(const char *name, struct sg_doctor_report *r)
{
	char root[512];

	snprintf(root, sizeof(root), "%s/doctor/%s", FIXTURES, name);
	memset(r, 0x5a, sizeof(*r)); /* run must not rely on a zeroed report */
	sg_doctor_run(root, false, r);
	assert_true(r->count > 0 && r->count <= SG_DOCTOR_MAX_FINDINGS);
}

/* The first finding of area whose text contains needle, or NULL. */
static const struct sg_finding *find(const struct sg_doctor_report *r, const char *area,
				     const char *needle)
{
	for (size_t i = 0; i < r->count; i++)
		if (!strcmp(r->findings[i].area, area) && strstr(r->findings[i].text, needle))
			return &r->findings[i];
	return NULL;
}

static const struct sg_finding *must_find(const struct sg_doctor_report *r, const char *area,
					  const char *needle, enum sg_severity sev)
{
	const struct sg_finding *f = find(r, area, needle);

	if (!f)
		fail_msg("no %s finding containing \"%s\"", area, needle);
	if (f->severity != sev)
		fail_msg("%s: \"%s\" is %s, expected %s", area, f->text,
			 sg_severity_name(f->severity), sg_severity_name(sev));
	return f;
}

static size_t count_area(const struct sg_doctor_report *r, const char *area)
{
	size_t n = 0;

	for (size_t i = 0; i < r->count; i++)
		n += !strcmp(r->findings[i].area, area);
	return n;
}

static size_t count_severity(const struct sg_doctor_report *r, enum sg_severity sev)
{
	size_t n = 0;

	for (size_t i = 0; i < r->count; i++)
		n += r->findings[i].severity == sev;
	return n;
}

static bool mentions(const struct sg_doctor_report *r, const char *needle)
{
	for (size_t i = 0; i < r->count; i++)
		if (strstr(r->findings[i].text, needle))
			return true;
	return false;
}

static void every_text_is_one_line(const struct sg_doctor_report *r)
{
	for (size_t i = 0; i < r->count; i++) {
		assert_null(strchr(r->findings[i].text, '\n'));
		assert_true(strlen(r->findings[i].text) > 0);
		assert_true(strlen(r->findings[i].text) <= 255);
	}
}

static void test_healthy(void **state)
{
	struct sg_doctor_report r;
	const struct sg_finding *f;

	(void)state;
	run_case("healthy", &r);
	every_text_is_one_line(&r);
	/* cpu has no `full` line in this fixture: still fine. */
	must_find(&r, "psi", "PSI is on", SG_SEV_OK);
	must_find(&r, "cgroup", "layout none", SG_SEV_SEVERE);
	must_find(&r, "btf", "BTF present", SG_SEV_OK);
	must_find(&r, "lockup", "lockup detectors are on", SG_SEV_OK);
	must_find(&r, "lockup", "soft lockups reported after 20 s", SG_SEV_INFO);
	must_find(&r, "lockup", "not a panic", SG_SEV_OK);
	must_find(&r, "hung-task", "blocked for 120 s", SG_SEV_OK);
	must_find(&r, "hung-task", "unlimited", SG_SEV_OK);
	must_find(&r, "kmsg", "healthy/dev/kmsg", SG_SEV_OK);
	must_find(&r, "disk", "vda: bfq honours", SG_SEV_OK);
	must_find(&r, "bpf", "CAP_BPF and CAP_PERFMON held", SG_SEV_OK);
	must_find(&r, "capabilities", "holds every capability the guardian uses", SG_SEV_OK);
	must_find(&r, "sched-clock", "kernel 6.1.0-18-amd64 (x86_64) is past the 208.5-day", SG_SEV_OK);
	must_find(&r, "zfs", "no ZFS icp module", SG_SEV_OK);
	/* loop0 links under devices/virtual: skipped. */
	assert_false(mentions(&r, "loop0"));
	assert_int_equal(count_area(&r, "disk"), 1);
	/* Only the fixture's cgroup layout is severe; nothing warns. */
	assert_int_equal(count_severity(&r, SG_SEV_SEVERE), 1);
	assert_int_equal(count_severity(&r, SG_SEV_WARNING), 0);
	assert_true(sg_doctor_severe(&r));
	/* Trailing slashes on root make no double slash. */
	{
		char root[512];
		struct sg_doctor_report r2;

		snprintf(root, sizeof(root), "%s/doctor/healthy//", FIXTURES);
		sg_doctor_run(root, false, &r2);
		assert_int_equal(r2.count, r.count);
		f = must_find(&r2, "kmsg", "/dev/kmsg", SG_SEV_OK);
		assert_null(strstr(f->text, "//"));
	}
}

static void test_no_psi(void **state)
{
	struct sg_doctor_report r;
	const struct sg_finding *f;

	(void)state;
	run_case("no-psi", &r);
	f = must_find(&r, "psi", "PSI is off", SG_SEV_SEVERE);
	assert_non_null(strstr(f->text, "psi=1"));
	assert_non_null(strstr(f->text, "CONFIG_PSI_DEFAULT_DISABLED"));
	/* One finding for the whole of PSI, not one per resource. */
	assert_int_equal(count_area(&r, "psi"), 1);
	assert_int_equal(count_severity(&r, SG_SEV_SEVERE), 2); /* psi and cgroup */
	assert_true(sg_doctor_severe(&r));
}

static void test_hung_task_warnings_exhausted(void **state)
{
	struct sg_doctor_report r;
	const struct sg_finding *f;

	(void)state;
	run_case("hung-exhausted", &r);
	f = must_find(&r, "hung-task", "exhausted", SG_SEV_SEVERE);
	assert_non_null(strstr(f->text, "`sysctl kernel.hung_task_warnings=-1`"));
	assert_null(find(&r, "hung-task", "unlimited"));
	assert_int_equal(count_severity(&r, SG_SEV_SEVERE), 2);
	assert_true(sg_doctor_severe(&r));
}

static void test_watchdog_off(void **state)
{
	struct sg_doctor_report r;
	const struct sg_finding *f;

	(void)state;
	run_case("watchdog-off", &r);
	f = must_find(&r, "lockup", "lockup detectors are off", SG_SEV_WARNING);
	assert_non_null(strstr(f->text, "`sysctl kernel.watchdog=1`"));
	assert_null(find(&r, "lockup", "lockup detectors are on"));
	assert_int_equal(count_severity(&r, SG_SEV_WARNING), 1);
}

static void test_softlockup_panic(void **state)
{
	struct sg_doctor_report r;

	(void)state;
	run_case("softlockup-panic", &r);
	must_find(&r, "lockup", "panics the host before the guardian can act or capture",
		  SG_SEV_WARNING);
	assert_null(find(&r, "lockup", "not a panic"));
	assert_int_equal(count_severity(&r, SG_SEV_WARNING), 1);
}

static void test_schedulers(void **state)
{
	static const char *const order[] = { "nvme0n1", "sda", "sdb", "vda" };
	struct sg_doctor_report r;
	size_t k = 0;

	(void)state;
	run_case("schedulers", &r);
	every_text_is_one_line(&r);
	must_find(&r, "disk", "ionice steps mean nothing on sda (scheduler none); use io.max or "
		  "switch to bfq", SG_SEV_WARNING);
	must_find(&r, "disk", "ionice steps mean nothing on nvme0n1 (scheduler kyber)",
		  SG_SEV_WARNING);
	must_find(&r, "disk", "sdb: bfq honours", SG_SEV_OK);
	must_find(&r, "disk", "vda: mq-deadline honours ionice classes, not levels; buffered "
		  "writeback is issued by flusher threads", SG_SEV_INFO);
	assert_false(mentions(&r, "zram0"));
	/* One finding per physical disk, in name order. */
	assert_int_equal(count_area(&r, "disk"), 4);
	for (size_t i = 0; i < r.count; i++) {
		if (strcmp(r.findings[i].area, "disk"))
			continue;
		assert_non_null(strstr(r.findings[i].text, order[k]));
		k++;
	}
	assert_int_equal(k, 4);
}

static void test_no_hung_task_detector(void **state)
{
	struct sg_doctor_report r;

	(void)state;
	run_case("no-hung-task", &r);
	must_find(&r, "hung-task", "hung task detector not built", SG_SEV_INFO);
	assert_int_equal(count_area(&r, "hung-task"), 1);
	assert_int_equal(count_severity(&r, SG_SEV_WARNING), 0);
}

static void test_degraded(void **state)
{
	struct sg_doctor_report r;
	const struct sg_finding *f;

	(void)state;
	run_case("degraded", &r);
	every_text_is_one_line(&r);
	must_find(&r, "psi", "proc/pressure/cpu is missing", SG_SEV_SEVERE);
	must_find(&r, "psi", "proc/pressure/memory holds text that is not PSI", SG_SEV_WARNING);
	assert_null(find(&r, "psi", "proc/pressure/io"));
	assert_null(find(&r, "psi", "PSI is on"));
	must_find(&r, "btf", "no kernel BTF: the BPF flight recorder cannot run; captures will "
		  "lack off-CPU stacks", SG_SEV_WARNING);
	f = must_find(&r, "kmsg", "cannot read", SG_SEV_WARNING);
	assert_non_null(strstr(f->text, strerror(ENOENT)));
	must_find(&r, "hung-task", "hung task detector off", SG_SEV_WARNING);
	must_find(&r, "hung-task", "3 more hung task reports before the kernel goes silent; "
		  "consider", SG_SEV_INFO);
	must_find(&r, "lockup", "soft lockup detector is off", SG_SEV_WARNING);
	must_find(&r, "lockup", "watchdog_thresh is 0", SG_SEV_WARNING);
	assert_null(find(&r, "lockup", "soft lockups reported after"));
}

/* Capabilities are read from root/proc/self/status: none at all, then a
 * kernel older than 5.8 (no CAP_PERFMON, CAP_BPF bits). */
static void test_capabilities(void **state)
{
	static const char *const needed[] = { "CAP_KILL", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_IPC_LOCK",
					       "CAP_SYSLOG", "CAP_DAC_OVERRIDE", "CAP_SYS_PTRACE", "CAP_SYS_ADMIN" };
	struct sg_doctor_report r;
	const struct sg_finding *f;
	char needle[64];

	(void)state;
	run_case("caps-none", &r);
	every_text_is_one_line(&r);
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		snprintf(needle, sizeof(needle), "lacks %s:", needed[i]);
		must_find(&r, "capabilities", needle, SG_SEV_WARNING);
	}
	assert_int_equal(count_area(&r, "capabilities"), 8);
	f = must_find(&r, "capabilities", "lacks CAP_SYS_ADMIN", SG_SEV_WARNING);
	assert_non_null(strstr(f->text, "kernel stacks"));
	must_find(&r, "bpf", "CAP_BPF and CAP_PERFMON missing", SG_SEV_WARNING);
	assert_null(find(&r, "capabilities", "holds every"));

	run_case("caps-pre-5.8", &r);
	must_find(&r, "capabilities", "holds every capability the guardian uses", SG_SEV_OK);
	f = must_find(&r, "bpf", "missing: the BPF flight recorder cannot run", SG_SEV_WARNING);
	assert_non_null(strstr(f->text, "CAP_BPF and CAP_PERFMON"));
	assert_int_equal(count_area(&r, "capabilities"), 1);

	/* No status file: said, not guessed. */
	run_case("degraded", &r);
	must_find(&r, "capabilities", "cannot read CapEff", SG_SEV_WARNING);
	must_find(&r, "bpf", "unknown", SG_SEV_WARNING);
}

/* The 208.5-day sched_clock overflow: old x86 kernels, by uptime. */
static void test_sched_clock(void **state)
{
	struct sg_doctor_report r;
	const struct sg_finding *f;

	(void)state;
	run_case("sched-clock-old", &r);
	f = must_find(&r, "sched-clock", "x86 kernel 2.6.32-220.el6.x86_64 up 10.0 days may wrap", SG_SEV_WARNING);
	assert_non_null(strstr(f->text, "(in 198 days)"));
	assert_int_equal(count_area(&r, "sched-clock"), 1);

	run_case("sched-clock-wrap", &r);
	f = must_find(&r, "sched-clock", "up 205.0 days: at or past the 208.5-day", SG_SEV_SEVERE);
	assert_non_null(strstr(f->text, "reboot"));
	assert_true(sg_doctor_severe(&r));

	run_case("sched-clock-arm", &r);
	must_find(&r, "sched-clock", "(armv5tel) is past", SG_SEV_OK);

	run_case("degraded", &r);
	must_find(&r, "sched-clock", "kernel release unreadable", SG_SEV_INFO);
}

/* ZFS native encryption and AES-GCM: icp_gcm_imp against the CPU's flags. */
static void test_zfs_gcm(void **state)
{
	struct sg_doctor_report r;
	const struct sg_finding *f;

	(void)state;
	run_case("zfs-no-avx-impl", &r);
	f = must_find(&r, "zfs", "has no AVX implementation", SG_SEV_WARNING);
	assert_non_null(strstr(f->text, "cycle [fastest] generic pclmulqdq"));

	run_case("zfs-generic", &r);
	f = must_find(&r, "zfs", "set to generic although AVX is available", SG_SEV_WARNING);
	assert_non_null(strstr(f->text, "echo avx > /sys/module/icp/parameters/icp_gcm_imp"));

	run_case("zfs-avx", &r);
	must_find(&r, "zfs", "can use AVX", SG_SEV_OK);

	/* avx512_bf16x is not avx. */
	run_case("zfs-cpu-without-avx", &r);
	must_find(&r, "zfs", "the CPU has no AVX", SG_SEV_INFO);
	assert_int_equal(count_area(&r, "zfs"), 1);
}

static void test_severe(void **state)
{
	struct sg_doctor_report r = { .count = 0 };

	(void)state;
	assert_false(sg_doctor_severe(&r));
	r.findings[0].severity = SG_SEV_OK;
	r.findings[1].severity = SG_SEV_INFO;
	r.findings[2].severity = SG_SEV_WARNING;
	r.findings[3].severity = SG_SEV_SEVERE;
	r.count = 3;
	assert_false(sg_doctor_severe(&r));
	r.count = 4;
	assert_true(sg_doctor_severe(&r));
}

static void test_print(void **state)
{
	struct sg_doctor_report r;
	char *buf = NULL, *line;
	size_t len = 0, lines = 0;
	FILE *out;

	(void)state;
	run_case("no-psi", &r);
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	sg_doctor_print(&r, out);
	assert_int_equal(fclose(out), 0);
	assert_true(!strncmp(buf, "severe   psi: PSI is off: boot with psi=1", 41));
	assert_non_null(strstr(buf, "\nok       btf: kernel BTF present"));
	assert_non_null(strstr(buf, "\ninfo     lockup: soft lockups reported after 20 s"));
	for (line = buf; (line = strchr(line, '\n')); line++)
		lines++;
	assert_int_equal(lines, r.count);
	free(buf);
}

/* More findings than fit: 70 disks with scheduler none, in a tree built here. */
static void test_truncated(void **state)
{
	char root[] = "/tmp/sg-doctor-XXXXXX", path[512];
	struct sg_doctor_report r;
	const struct sg_finding *last;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/sys", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sys/block", root);
	assert_int_equal(mkdir(path, 0755), 0);
	for (int i = 0; i < 70; i++) {
		snprintf(path, sizeof(path), "%s/sys/block/sd%d", root, i);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/sys/block/sd%d/queue", root, i);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/sys/block/sd%d/queue/scheduler", root, i);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs("[none] mq-deadline\n", f);
		assert_int_equal(fclose(f), 0);
	}
	sg_doctor_run(root, false, &r);
	assert_int_equal(fixture_remove_tree(root), 0);

	/* psi, cgroup, btf, bpf, capabilities, lockup, hung-task, sched-clock,
	 * kmsg: 9 findings, then 70 disks, then zfs: 80 in all, 63 shown. */
	assert_int_equal(r.count, SG_DOCTOR_MAX_FINDINGS);
	last = &r.findings[SG_DOCTOR_MAX_FINDINGS - 1];
	assert_string_equal(last->area, "doctor");
	assert_int_equal(last->severity, SG_SEV_WARNING);
	assert_non_null(strstr(last->text, "17 more findings not shown"));
	must_find(&r, "disk", "nothing on sd0 ", SG_SEV_WARNING);
	must_find(&r, "disk", "nothing on sd53 ", SG_SEV_WARNING);
	assert_null(find(&r, "disk", "nothing on sd54 "));
	assert_null(find(&r, "zfs", ""));
	assert_true(sg_doctor_severe(&r));
}

/* CAP_SYS_RESOURCE (bit 24) in this process's CapEff, read independently. */
static bool have_cap_sys_resource(void)
{
	char line[256];
	unsigned long long mask = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &mask) == 1)
			found = true;
	fclose(f);
	assert_true(found);
	return mask >> 24 & 1;
}

static void test_this_host(void **state)
{
	struct sg_doctor_report r;
	const struct sg_finding *f;
	char ctrl[256] = "", *tok, *save;
	FILE *cf;

	(void)state;
	sg_doctor_run("/", true, &r);
	every_text_is_one_line(&r);
	must_find(&r, "psi", "PSI is on", SG_SEV_OK);

	if (have_cap_sys_resource()) {
		must_find(&r, "psi-trigger", "PSI triggers armed with 500 ms windows", SG_SEV_OK);
	} else {
		f = must_find(&r, "psi-trigger", "lacks CAP_SYS_RESOURCE", SG_SEV_WARNING);
		assert_non_null(strstr(f->text, "2 s windows"));
		assert_null(find(&r, "psi-trigger", "armed with 500 ms"));
	}
	assert_int_equal(count_area(&r, "psi-trigger"), 1);

	/* No systemd as PID 1 here: said, not asked over a bus. */
	if (sd_booted() > 0)
		fail_msg("systemd runs this host: this test expects the sandbox without it");
	must_find(&r, "systemd", "systemd does not run this host", SG_SEV_INFO);
	assert_int_equal(count_area(&r, "systemd"), 1);

	/* Hybrid here: cgroup2 at /sys/fs/cgroup/unified, no io controller in it. */
	f = must_find(&r, "cgroup", "layout hybrid, cgroup2 at /sys/fs/cgroup/unified ",
		      SG_SEV_INFO);
	assert_non_null(strstr(f->text, "io.max does not; throttling uses v1 blkio"));
	cf = fopen("/sys/fs/cgroup/unified/cgroup.controllers", "r");
	assert_non_null(cf);
	if (!fgets(ctrl, sizeof(ctrl), cf))
		ctrl[0] = '\0';
	fclose(cf);
	ctrl[strcspn(ctrl, "\n")] = '\0';
	if (!ctrl[0])
		assert_non_null(strstr(f->text, "(controllers: none)"));
	for (tok = strtok_r(ctrl, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		assert_non_null(strstr(f->text, tok));

	must_find(&r, "btf", "BTF present", SG_SEV_OK);
	must_find(&r, "bpf", "CAP_BPF and CAP_PERFMON held", SG_SEV_OK);
	/* This host loads BPF: the recorder's programs pass the verifier. */
	must_find(&r, "recorder", "the BPF flight recorder loads (sched_switch via tp_btf", SG_SEV_OK);
	must_find(&r, "sched-clock", "is past the 208.5-day sched_clock overflow", SG_SEV_OK);
	if (access("/sys/module/icp/parameters/icp_gcm_imp", F_OK) < 0)
		must_find(&r, "zfs", "no ZFS icp module", SG_SEV_OK);
	if (!have_cap_sys_resource())
		must_find(&r, "capabilities", "lacks CAP_SYS_RESOURCE", SG_SEV_WARNING);
	must_find(&r, "kmsg", "kernel log readable at /dev/kmsg", SG_SEV_OK);
	must_find(&r, "disk", "vda: mq-deadline", SG_SEV_INFO);
	assert_false(mentions(&r, "loop0"));
	assert_false(mentions(&r, "zram0"));

	for (size_t i = 0; i < r.count; i++)
		if (r.findings[i].severity == SG_SEV_SEVERE)
			fail_msg("severe on this host: %s: %s", r.findings[i].area,
				 r.findings[i].text);
	assert_false(sg_doctor_severe(&r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy),
		cmocka_unit_test(test_no_psi),
		cmocka_unit_test(test_hung_task_warnings_exhausted),
		cmocka_unit_test(test_watchdog_off),
		cmocka_unit_test(test_softlockup_panic),
		cmocka_unit_test(test_schedulers),
		cmocka_unit_test(test_no_hung_task_detector),
		cmocka_unit_test(test_degraded),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_sched_clock),
		cmocka_unit_test(test_zfs_gcm),
		cmocka_unit_test(test_severe),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_this_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
