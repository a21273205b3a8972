// SPDX-License-Identifier: GPL-2.0-or-later
/* `stallguard doctor`: checks the host's safety net (PSI, lockup and hung task
 * detectors, the kernel log) and what the guardian can do here (PSI trigger
 * windows, cgroup layout, BTF, disk schedulers). Every file is read below a
 * root so fixture trees can stand in for a host. Not a tick path: plain
 * open/scandir are fine. */
#include "doctor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "cgroup.h"
#include "psi.h"
#include "recorder.h"
#include "sdbus.h"
#include "units.h"

#define CAP_SYS_RESOURCE_BIT 24

struct doctor {
	const char *root;  /* without trailing slashes: "" for "/" */
	size_t root_len;
	struct sg_doctor_report *report;
	size_t dropped;    /* findings that did not fit */
	enum sg_severity dropped_worst;
};

static void add(struct doctor *d, enum sg_severity sev, const char *area, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add(struct doctor *d, enum sg_severity sev, const char *area, const char *fmt, ...)
{
	struct sg_doctor_report *r = d->report;
	struct sg_finding *f;
	va_list ap;

	if (r->count == SG_DOCTOR_MAX_FINDINGS) {
		d->dropped++;
		if (sev > d->dropped_worst)
			d->dropped_worst = sev;
		return;
	}
	f = &r->findings[r->count++];
	f->severity = sev;
	sg_strlcpy(f->area, area, sizeof(f->area));
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
}

/* The last slot gives way to a count of what was left out, so a severe
 * finding among the dropped ones still makes the report severe. */
static void finish(struct doctor *d)
{
	struct sg_finding *last;

	if (!d->dropped)
		return;
	last = &d->report->findings[SG_DOCTOR_MAX_FINDINGS - 1];
	if (last->severity > d->dropped_worst)
		d->dropped_worst = last->severity;
	last->severity = d->dropped_worst;
	sg_strlcpy(last->area, "doctor", sizeof(last->area));
	snprintf(last->text, sizeof(last->text),
		 "%zu more findings not shown (the worst of them is %s)", d->dropped + 1,
		 sg_severity_name(d->dropped_worst));
}

/* base + "/" + rel into buf (PATH_MAX). Returns 0 or -ENAMETOOLONG. */
static int path_join(char *buf, const char *base, size_t base_len, const char *rel)
{
	int n = snprintf(buf, PATH_MAX, "%.*s/%s", (int)base_len, base, rel);

	return n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* root + "/" + rel. */
static int join(const struct doctor *d, const char *rel, char *buf)
{
	return path_join(buf, d->root, d->root_len, rel);
}

/* Reads at most size-1 bytes of a small file, NUL-terminates and cuts
 * trailing whitespace. Returns the length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (n < size - 1) {
		ssize_t r = read(fd, buf + n, size - 1 - n);

		if (r < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			close(fd);
			return -err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	return (ssize_t)n;
}

static ssize_t read_rel(const struct doctor *d, const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX];
	int err = join(d, rel, path);

	return err < 0 ? err : read_small(path, buf, size);
}

/* A sysctl holding one integer. Returns 0, -errno, or -EINVAL if it is not one. */
static int read_long(const struct doctor *d, const char *rel, long *value)
{
	char buf[64], *end;
	ssize_t n = read_rel(d, rel, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	errno = 0;
	*value = strtol(buf, &end, 10);
	if (end == buf || *end != '\0' || errno)
		return -EINVAL;
	return 0;
}

/* Reads proc/sys/kernel/NAME; on an error other than absence, reports it as
 * a warning. Returns 0 when *value holds the knob, -ENOENT when it is
 * absent, another -errno when it was reported. */
static int knob(struct doctor *d, const char *area, const char *name, long *value)
{
	char rel[128];
	int err;

	snprintf(rel, sizeof(rel), "proc/sys/kernel/%s", name);
	err = read_long(d, rel, value);
	if (err < 0 && err != -ENOENT)
		add(d, SG_SEV_WARNING, area, "cannot read kernel.%s: %s", name, strerror(-err));
	return err;
}

static void check_psi(struct doctor *d)
{
	static const char *const resources[] = { "cpu", "io", "memory" };
	int errs[3];
	bool was_read[3];
	size_t missing = 0, bad = 0;

	for (size_t i = 0; i < 3; i++) {
		char rel[64], buf[512];
		struct sg_psi psi;
		ssize_t n;

		snprintf(rel, sizeof(rel), "proc/pressure/%s", resources[i]);
		n = read_rel(d, rel, buf, sizeof(buf));
		was_read[i] = n >= 0;
		if (n >= 0) {
			/* read_small cut the final newline the parser wants. */
			buf[n] = '\n';
			n = sg_psi_parse(buf, (size_t)n + 1, &psi);
		}
		errs[i] = n < 0 ? (int)n : 0;
		missing += errs[i] == -ENOENT;
		bad += errs[i] != 0;
	}
	if (missing == 3) {
		add(d, SG_SEV_SEVERE, "psi",
		    "PSI is off: boot with psi=1 (CONFIG_PSI_DEFAULT_DISABLED); without it "
		    "no psi.* signal exists and no trigger wakes the guardian");
		return;
	}
	if (!bad) {
		add(d, SG_SEV_OK, "psi", "PSI is on: cpu, io and memory pressure are readable");
		return;
	}
	for (size_t i = 0; i < 3; i++) {
		if (errs[i] == -ENOENT)
			add(d, SG_SEV_SEVERE, "psi",
			    "proc/pressure/%s is missing: psi.%s signals do not exist on this "
			    "kernel", resources[i], resources[i]);
		else if (errs[i] < 0 && was_read[i])
			add(d, SG_SEV_WARNING, "psi",
			    "proc/pressure/%s holds text that is not PSI: psi.%s signals will fail",
			    resources[i], resources[i]);
		else if (errs[i] < 0)
			add(d, SG_SEV_WARNING, "psi",
			    "proc/pressure/%s is unreadable (%s): psi.%s signals will fail",
			    resources[i], strerror(-errs[i]), resources[i]);
	}
}

/* Whether the CapEff line of a /proc/PID/status text has bit cap set.
 * Returns 1, 0, or -EINVAL when there is no valid CapEff line. */
static int capeff_has(const char *buf, size_t len, unsigned cap)
{
	static const char key[] = "CapEff:";
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - p) > sizeof(key) - 1 && memcmp(p, key, sizeof(key) - 1) == 0) {
			unsigned long long mask = 0;
			size_t digits = 0;

			p += sizeof(key) - 1;
			while (p < eol && (*p == ' ' || *p == '\t'))
				p++;
			for (; p < eol; p++, digits++) {
				int v;

				if (*p >= '0' && *p <= '9')
					v = *p - '0';
				else if (*p >= 'a' && *p <= 'f')
					v = *p - 'a' + 10;
				else
					return -EINVAL;
				if (digits == 16)
					return -EINVAL;
				mask = mask << 4 | (unsigned)v;
			}
			if (!digits)
				return -EINVAL;
			return (int)(mask >> cap & 1);
		}
		p = eol + 1;
	}
	return -EINVAL;
}

static void check_triggers(struct doctor *d)
{
	char path[PATH_MAX], status[4096];
	uint64_t window = 0;
	ssize_t n;
	int fd, cap;

	if (join(d, "proc/pressure/io", path) < 0) {
		add(d, SG_SEV_WARNING, "psi-trigger", "PSI triggers unavailable (%s): "
		    "the guardian polls every interval", strerror(ENAMETOOLONG));
		return;
	}
	fd = sg_psi_trigger_arm(path, false, 10.0, &window);
	if (fd < 0) {
		add(d, SG_SEV_WARNING, "psi-trigger",
		    "PSI triggers unavailable (%s): the guardian polls every interval",
		    strerror(-fd));
		return;
	}
	close(fd);
	if (window == SG_PSI_WINDOW_FAST_USEC) {
		add(d, SG_SEV_OK, "psi-trigger", "PSI triggers armed with 500 ms windows");
		return;
	}
	/* The capability belongs to this process, whatever root is. */
	n = read_small("/proc/self/status", status, sizeof(status));
	cap = n < 0 ? (int)n : capeff_has(status, (size_t)n, CAP_SYS_RESOURCE_BIT);
	if (cap == 0)
		add(d, SG_SEV_WARNING, "psi-trigger",
		    "this process lacks CAP_SYS_RESOURCE: PSI triggers use 2 s windows (a stall "
		    "wakes the guardian within 2 s, not 500 ms); give the guardian CAP_SYS_RESOURCE "
		    "(a root service has it)");
	else if (cap == 1)
		add(d, SG_SEV_WARNING, "psi-trigger",
		    "PSI triggers use 2 s windows although this process holds CAP_SYS_RESOURCE: "
		    "the kernel refused 500 ms, so a stall wakes the guardian within 2 s");
	else
		add(d, SG_SEV_WARNING, "psi-trigger",
		    "PSI triggers use 2 s windows (a stall wakes the guardian within 2 s, not "
		    "500 ms); CapEff in /proc/self/status unreadable: %s", strerror(-cap));
}

/* Whether the space-separated list has word. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

static void check_cgroup(struct doctor *d)
{
	char root[PATH_MAX], unified[PATH_MAX], path[PATH_MAX], ctrl[512];
	enum sg_cgroup_layout layout;
	struct stat st;
	bool io, blkio;
	int err;

	if (join(d, "sys/fs/cgroup", root) < 0 || join(d, "sys/fs/cgroup/blkio", path) < 0) {
		add(d, SG_SEV_SEVERE, "cgroup", "cannot inspect cgroups: %s",
		    strerror(ENAMETOOLONG));
		return;
	}
	blkio = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	err = sg_cgroup_detect(root, &layout, unified, sizeof(unified));
	if (err < 0) {
		add(d, SG_SEV_SEVERE, "cgroup", "cannot inspect %s: %s: freeze, io.max and "
		    "per-job PSI are unknown", root, strerror(-err));
		return;
	}
	switch (layout) {
	case SG_CGROUP_NONE:
		add(d, SG_SEV_SEVERE, "cgroup",
		    "layout none: no cgroup hierarchy at %s: no io.max, no per-job PSI, freeze "
		    "falls back to SIGSTOP; mount cgroup2 there", root);
		return;
	case SG_CGROUP_LEGACY:
		add(d, SG_SEV_WARNING, "cgroup",
		    "layout legacy (cgroup v1 only): no per-job PSI and no cgroup.kill; freeze "
		    "via the v1 freezer, throttling via v1 blkio; boot with "
		    "systemd.unified_cgroup_hierarchy=1");
		return;
	case SG_CGROUP_UNIFIED:
	case SG_CGROUP_HYBRID:
		break;
	}
	if (path_join(path, unified, strlen(unified), "cgroup.controllers") < 0 ||
	    read_small(path, ctrl, sizeof(ctrl)) <= 0)
		sg_strlcpy(ctrl, "none", sizeof(ctrl));
	io = has_word(ctrl, "io");
	if (layout == SG_CGROUP_UNIFIED) {
		if (io)
			add(d, SG_SEV_OK, "cgroup",
			    "layout unified at %s (controllers: %s): freeze, kill, per-job PSI "
			    "and io.max all work", unified, ctrl);
		else
			add(d, SG_SEV_WARNING, "cgroup", "layout unified at %s (controllers: %s): "
			    "freeze, kill and per-job PSI work; io.max does not: enable the io "
			    "controller", unified, ctrl);
		return;
	}
	if (io)
		add(d, SG_SEV_INFO, "cgroup", "layout hybrid, cgroup2 at %s (controllers: %s): "
		    "freeze, kill, per-job PSI and io.max work through it", unified, ctrl);
	else if (blkio)
		add(d, SG_SEV_INFO, "cgroup", "layout hybrid, cgroup2 at %s (controllers: %s): "
		    "freeze, kill and per-job PSI work through it but io.max does not; throttling "
		    "uses v1 blkio", unified, ctrl);
	else
		add(d, SG_SEV_WARNING, "cgroup", "layout hybrid, cgroup2 at %s (controllers: %s): "
		    "freeze, kill and per-job PSI work through it; no io controller and no v1 "
		    "blkio: io.max steps cannot work", unified, ctrl);
}

static void check_btf(struct doctor *d)
{
	char path[PATH_MAX];
	struct stat st;

	if (join(d, "sys/kernel/btf/vmlinux", path) == 0 && stat(path, &st) == 0)
		add(d, SG_SEV_OK, "btf", "kernel BTF present: the BPF flight recorder can run");
	else
		add(d, SG_SEV_WARNING, "btf", "no kernel BTF: the BPF flight recorder cannot run; "
		    "captures will lack off-CPU stacks");
}

static void check_lockup(struct doctor *d)
{
	long value;
	int err = knob(d, "lockup", "watchdog", &value);

	if (err == -ENOENT)
		add(d, SG_SEV_WARNING, "lockup", "no kernel.watchdog: this kernel has no lockup "
		    "detector (CONFIG_SOFTLOCKUP_DETECTOR), so kmsg.soft_lockup never fires");
	else if (err == 0 && value == 0)
		add(d, SG_SEV_WARNING, "lockup", "soft and hard lockup detectors are off: "
		    "`sysctl kernel.watchdog=1`");
	else if (err == 0)
		add(d, SG_SEV_OK, "lockup",
		    "soft and hard lockup detectors are on (kernel.watchdog=1)");

	if (knob(d, "lockup", "soft_watchdog", &value) == 0 && value == 0)
		add(d, SG_SEV_WARNING, "lockup", "soft lockup detector is off: "
		    "`sysctl kernel.soft_watchdog=1`");

	if (knob(d, "lockup", "watchdog_thresh", &value) == 0) {
		if (value > 0)
			add(d, SG_SEV_INFO, "lockup", "soft lockups reported after %ld s "
			    "(2 x kernel.watchdog_thresh %ld)", 2 * value, value);
		else
			add(d, SG_SEV_WARNING, "lockup", "kernel.watchdog_thresh is 0: lockup "
			    "detectors are off; `sysctl kernel.watchdog_thresh=10`");
	}

	if (knob(d, "lockup", "softlockup_panic", &value) == 0) {
		if (value)
			add(d, SG_SEV_WARNING, "lockup", "kernel.softlockup_panic=1: a soft lockup "
			    "panics the host before the guardian can act or capture; "
			    "`sysctl kernel.softlockup_panic=0` unless a panic is the policy");
		else
			add(d, SG_SEV_OK, "lockup", "a soft lockup is reported, not a panic");
	}
}

static void check_hung_task(struct doctor *d)
{
	long value;
	int err = knob(d, "hung-task", "hung_task_timeout_secs", &value);

	if (err == -ENOENT) {
		add(d, SG_SEV_INFO, "hung-task", "hung task detector not built "
		    "(CONFIG_DETECT_HUNG_TASK): kmsg.hung_task never fires");
		return;
	}
	if (err == 0) {
		if (value == 0)
			add(d, SG_SEV_WARNING, "hung-task", "hung task detector off: "
			    "`sysctl kernel.hung_task_timeout_secs=120`");
		else
			add(d, SG_SEV_OK, "hung-task", "tasks blocked for %ld s are reported",
			    value);
	}

	if (knob(d, "hung-task", "hung_task_warnings", &value) < 0)
		return;
	if (value == 0)
		add(d, SG_SEV_SEVERE, "hung-task", "hung task reports exhausted: the kernel has "
		    "stopped reporting hung tasks; `sysctl kernel.hung_task_warnings=-1`");
	else if (value < 0)
		add(d, SG_SEV_OK, "hung-task", "hung task reports are unlimited "
		    "(kernel.hung_task_warnings=-1)");
	else
		add(d, SG_SEV_INFO, "hung-task",
		    "%ld more hung task reports before the kernel goes silent; consider "
		    "`sysctl kernel.hung_task_warnings=-1`", value);
}

static void check_kmsg(struct doctor *d)
{
	char path[PATH_MAX];
	int fd = join(d, "dev/kmsg", path);

	if (fd == 0) {
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0) {
		add(d, SG_SEV_WARNING, "kmsg",
		    "cannot read %.*s/dev/kmsg (%s): kmsg.* events never fire; run as root "
		    "(CAP_SYSLOG)", (int)d->root_len, d->root, strerror(-fd));
		return;
	}
	close(fd);
	add(d, SG_SEV_OK, "kmsg", "kernel log readable at %s", path);
}

static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* A /sys/block entry is a symlink into sys/devices; loop, ram, zram, dm
 * and md devices live under devices/virtual. */
static bool is_virtual(const char *path)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return false;
	target[n] = '\0';
	return strstr(target, "devices/virtual/") != NULL;
}

/* The scheduler in use: the bracketed word, or the only word when the
 * queue cannot have one ("none"). Returns false when there is neither. */
static bool active_scheduler(const char *text, char *out, size_t len)
{
	const char *open_br = strchr(text, '['), *close_br;

	if (open_br) {
		close_br = strchr(open_br, ']');
		if (!close_br || close_br == open_br + 1 || (size_t)(close_br - open_br) > len)
			return false;
		memcpy(out, open_br + 1, (size_t)(close_br - open_br - 1));
		out[close_br - open_br - 1] = '\0';
		return true;
	}
	if (!*text || strchr(text, ' ') || strlen(text) >= len)
		return false;
	sg_strlcpy(out, text, len);
	return true;
}

/* entry is root/sys/block/DEV. */
static void check_disk(struct doctor *d, const char *entry, const char *dev)
{
	char path[PATH_MAX], text[256], sched[64];
	ssize_t n = path_join(path, entry, strlen(entry), "queue/scheduler");

	if (n == 0)
		n = read_small(path, text, sizeof(text));
	if (n < 0) {
		add(d, SG_SEV_INFO, "disk",
		    "%s: no I/O scheduler to read (%s): ionice effect unknown",
		    dev, strerror((int)-n));
		return;
	}
	if (!active_scheduler(text, sched, sizeof(sched))) {
		add(d, SG_SEV_INFO, "disk",
		    "%s: unrecognised queue/scheduler \"%s\": ionice effect unknown", dev, text);
		return;
	}
	if (!strcmp(sched, "none") || !strcmp(sched, "kyber") || !strcmp(sched, "noop"))
		add(d, SG_SEV_WARNING, "disk", "ionice steps mean nothing on %s (scheduler %s); "
		    "use io.max or switch to bfq", dev, sched);
	else if (!strcmp(sched, "mq-deadline"))
		add(d, SG_SEV_INFO, "disk", "%s: mq-deadline honours ionice classes, not levels; "
		    "buffered writeback is issued by flusher threads so ionice barely slows a "
		    "buffered writer", dev);
	else if (!strcmp(sched, "bfq") || !strcmp(sched, "cfq"))
		add(d, SG_SEV_OK, "disk", "%s: %s honours ionice classes and levels", dev, sched);
	else
		add(d, SG_SEV_INFO, "disk", "%s: scheduler %s: ionice effect unknown; bfq honours "
		    "it", dev, sched);
}

static void check_disks(struct doctor *d)
{
	char block[PATH_MAX], path[PATH_MAX];
	struct dirent **names;
	size_t disks = 0;
	int n;

	if (join(d, "sys/block", block) < 0) {
		add(d, SG_SEV_WARNING, "disk", "cannot list sys/block: %s", strerror(ENAMETOOLONG));
		return;
	}
	n = scandir(block, &names, not_dot, versionsort);
	if (n < 0) {
		add(d, SG_SEV_WARNING, "disk", "cannot list %s (%s): disk schedulers unchecked",
		    block, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		if (path_join(path, block, strlen(block), names[i]->d_name) < 0) {
			add(d, SG_SEV_INFO, "disk", "%s: path too long: ionice effect unknown",
			    names[i]->d_name);
			disks++;
		} else if (!is_virtual(path)) {
			check_disk(d, path, names[i]->d_name);
			disks++;
		}
		free(names[i]);
	}
	free(names);
	if (!disks)
		add(d, SG_SEV_INFO, "disk",
		    "no physical disks under %s: ionice and io.max steps have nothing to act on",
		    block);
}

/* ---- capabilities (of this process: root/proc/self/status), sched_clock, ZFS ---- */

/* The capabilities the guardian uses, what each is for (docs/service.md). */
static const struct {
	unsigned bit;
	const char *name, *lost;
} wanted_caps[] = {
	{ 5, "CAP_KILL", "freeze (SIGSTOP) and kill of other users' processes fail" },
	{ 23, "CAP_SYS_NICE", "ionice of other users' threads fails, its own priority stays" },
	{ 24, "CAP_SYS_RESOURCE", "PSI triggers need 2 s windows" },
	{ 14, "CAP_IPC_LOCK", "its memory may not be locked (mlockall)" },
	{ 34, "CAP_SYSLOG", "/dev/kmsg may be unreadable (kernel.dmesg_restrict)" },
	{ 1, "CAP_DAC_OVERRIDE", "other users' /proc files and delegated cgroups are out of reach" },
	{ 19, "CAP_SYS_PTRACE", "other users' /proc/PID/io and exe are unreadable (top-io, match)" },
	{ 21, "CAP_SYS_ADMIN", "captures lack kernel stacks (/proc/PID/stack)" },
	/* CAP_BPF and CAP_PERFMON: check_bpf_caps */
};

/* Reads root/proc/self/status into buf. Returns its length or -errno. */
static ssize_t self_status(const struct doctor *d, char *buf, size_t size)
{
	return read_rel(d, "proc/self/status", buf, size);
}

static void check_capabilities(struct doctor *d)
{
	char status[4096];
	ssize_t n = self_status(d, status, sizeof(status));
	size_t missing = 0;

	if (n < 0 || capeff_has(status, (size_t)n, 0) < 0) {
		add(d, SG_SEV_WARNING, "capabilities", "cannot read CapEff in proc/self/status (%s): capabilities "
		    "unknown", n < 0 ? strerror((int)-n) : "no valid CapEff line");
		return;
	}
	for (size_t i = 0; i < sizeof(wanted_caps) / sizeof(wanted_caps[0]); i++) {
		if (capeff_has(status, (size_t)n, wanted_caps[i].bit) == 1)
			continue;
		missing++;
		add(d, SG_SEV_WARNING, "capabilities", "lacks %s: %s; grant it (etc/stallguard.service does)",
		    wanted_caps[i].name, wanted_caps[i].lost);
	}
	if (!missing)
		add(d, SG_SEV_OK, "capabilities", "holds every capability the guardian uses");
}

static void check_bpf_caps(struct doctor *d)
{
	char status[4096];
	ssize_t n = self_status(d, status, sizeof(status));
	int bpf = n < 0 ? -EINVAL : capeff_has(status, (size_t)n, 39);
	int perfmon = n < 0 ? -EINVAL : capeff_has(status, (size_t)n, 38);

	if (bpf == 1 && perfmon == 1)
		add(d, SG_SEV_OK, "bpf", "CAP_BPF and CAP_PERFMON held: BPF programs can load and sample");
	else if (bpf < 0 || perfmon < 0)
		add(d, SG_SEV_WARNING, "bpf", "CAP_BPF and CAP_PERFMON unknown: proc/self/status has no valid CapEff");
	else
		add(d, SG_SEV_WARNING, "bpf", "%s%s%s missing: the BPF flight recorder cannot run; captures lack "
		    "off-CPU and on-CPU stacks", bpf ? "" : "CAP_BPF", bpf || perfmon ? "" : " and ",
		    perfmon ? "" : "CAP_PERFMON");
}

/* Loads the recorder's programs for real (attaching nothing). */
static void check_recorder(struct doctor *d)
{
	struct sg_recorder_opts opts = { 0 };
	struct sg_recorder *rec = NULL;
	char why[200] = "";
	int r = sg_recorder_open(&opts, &rec, why, sizeof(why));

	if (r < 0) {
		add(d, SG_SEV_WARNING, "recorder", "the BPF flight recorder cannot run here: %s; captures lack "
		    "off-CPU and on-CPU stacks", why);
		return;
	}
	add(d, SG_SEV_OK, "recorder", "the BPF flight recorder loads (sched_switch via %s, cpu-clock sampling): "
	    "captures get off-CPU and on-CPU stacks", sg_recorder_switch_kind(rec));
	sg_recorder_close(rec);
}

/* The kernel's architecture: proc/sys/kernel/arch, else this host's. */
static void kernel_arch(const struct doctor *d, char *buf, size_t len)
{
	struct utsname u;

	if (read_rel(d, "proc/sys/kernel/arch", buf, len) > 0)
		return;
	sg_strlcpy(buf, uname(&u) == 0 ? u.machine : "", len);
}

#define SCHED_CLOCK_WRAP_DAYS 208.5

/* x86 kernels before 3.2 (and 2.6.32/3.0 without the stable fix) wrapped
 * sched_clock after 208.5 days of uptime: bogus soft lockups with "stuck
 * for" larger than the uptime, and on some, hangs. */
static void check_sched_clock(struct doctor *d)
{
	char release[128], arch[64], uptime[128];
	unsigned major = 0, minor = 0;
	double days;

	if (read_rel(d, "proc/sys/kernel/osrelease", release, sizeof(release)) <= 0 ||
	    sscanf(release, "%u.%u", &major, &minor) != 2) {
		add(d, SG_SEV_INFO, "sched-clock", "kernel release unreadable: exposure to the 208.5-day sched_clock "
		    "overflow unknown");
		return;
	}
	kernel_arch(d, arch, sizeof(arch));
	if (!(strcmp(arch, "x86_64") == 0 || (arch[0] == 'i' && strstr(arch, "86"))) ||
	    major > 3 || (major == 3 && minor >= 2)) {
		add(d, SG_SEV_OK, "sched-clock", "kernel %s (%s) is past the 208.5-day sched_clock overflow (fixed "
		    "in 3.2)", release, arch);
		return;
	}
	if (read_rel(d, "proc/uptime", uptime, sizeof(uptime)) <= 0 || sscanf(uptime, "%lf", &days) != 1) {
		add(d, SG_SEV_WARNING, "sched-clock", "x86 kernel %s may wrap sched_clock after 208.5 days; uptime "
		    "unreadable: check your vendor's fix or reboot within 208 days", release);
		return;
	}
	days /= 86400;
	if (days >= SCHED_CLOCK_WRAP_DAYS - 8)
		add(d, SG_SEV_SEVERE, "sched-clock", "x86 kernel %s up %.1f days: at or past the 208.5-day "
		    "sched_clock overflow unless your vendor fixed it; expect bogus soft lockups (kmsg.clock_bug) "
		    "and hangs: reboot", release, days);
	else
		add(d, SG_SEV_WARNING, "sched-clock", "x86 kernel %s up %.1f days may wrap sched_clock at 208.5 "
		    "days (in %.0f days) unless your vendor fixed it: reboot before then or upgrade", release,
		    days, SCHED_CLOCK_WRAP_DAYS - days);
}

/* Whether the first "flags" line of a /proc/cpuinfo text has flag. */
static bool cpu_has_flag(const char *cpuinfo, const char *flag)
{
	char line[4096];
	const char *p = strstr(cpuinfo, "\nflags"), *colon, *eol;

	p = !strncmp(cpuinfo, "flags", 5) ? cpuinfo : p ? p + 1 : NULL;
	if (!p || !(colon = strchr(p, ':')))
		return false;
	eol = strchrnul(colon, '\n');
	snprintf(line, sizeof(line), "%.*s", (int)(eol - colon - 1), colon + 1);
	return has_word(line, flag);
}

/* ZFS native encryption without SIMD AES-GCM burns CPU in the I/O path
 * (seen as long stalls), e.g. on kernels where ZFS cannot use the FPU. */
static void check_zfs_gcm(struct doctor *d)
{
	char impl[256], cpuinfo[8192];
	ssize_t n = read_rel(d, "sys/module/icp/parameters/icp_gcm_imp", impl, sizeof(impl));
	bool avx;

	if (n == -ENOENT) {
		add(d, SG_SEV_OK, "zfs", "no ZFS icp module: no ZFS encryption to check");
		return;
	}
	if (n <= 0) {
		add(d, SG_SEV_INFO, "zfs", "sys/module/icp/parameters/icp_gcm_imp unreadable (%s): ZFS AES-GCM "
		    "unchecked", n < 0 ? strerror((int)-n) : "empty");
		return;
	}
	n = read_rel(d, "proc/cpuinfo", cpuinfo, sizeof(cpuinfo));
	if (n < 0) {
		add(d, SG_SEV_INFO, "zfs", "proc/cpuinfo unreadable (%s): ZFS AES-GCM unchecked", strerror((int)-n));
		return;
	}
	avx = cpu_has_flag(cpuinfo, "avx");
	if (!avx) {
		add(d, SG_SEV_INFO, "zfs", "the CPU has no AVX: ZFS AES-GCM (%s) cannot be faster here", impl);
		return;
	}
	if (!has_word(impl, "avx") && !has_word(impl, "[avx]"))
		add(d, SG_SEV_WARNING, "zfs", "ZFS AES-GCM has no AVX implementation (icp_gcm_imp: %s) although "
		    "the CPU has AVX: encrypted datasets burn CPU in the I/O path; use a ZFS release that can use "
		    "the FPU on this kernel", impl);
	else if (has_word(impl, "[generic]"))
		add(d, SG_SEV_WARNING, "zfs", "ZFS AES-GCM is set to generic although AVX is available (icp_gcm_imp: "
		    "%s): `echo avx > /sys/module/icp/parameters/icp_gcm_imp`", impl);
	else
		add(d, SG_SEV_OK, "zfs", "ZFS AES-GCM can use AVX (icp_gcm_imp: %s)", impl);
}

/* Where systemd runs the host, units and scopes are changed through its
 * D-Bus API: say whether it answers (GetUnit of init.scope, PID 1's own). */
static void check_systemd(struct doctor *d)
{
	struct sg_sdbus sd;
	char cgroup[64];

	if (sd_booted() <= 0) {
		add(d, SG_SEV_INFO, "systemd", "systemd does not run this host: a job found by `unit =` alone "
			       "cannot be acted on; match jobs go into stallguard.jobs/JOB");
		return;
	}
	int r = sg_sdbus_open(&sd);
	if (r == 0)
		r = sg_sdbus_control_group(&sd, "init.scope", cgroup, sizeof(cgroup));
	if (r < 0)
		add(d, SG_SEV_SEVERE, "systemd", "systemd runs this host but its D-Bus API does not answer (%.120s): "
			       "steps on units and match jobs will fail", sd.error);
	else
		add(d, SG_SEV_OK, "systemd", "systemd runs this host and answers on the system bus: units and "
			    "scopes are changed through it");
	sg_sdbus_close(&sd);
}

void sg_doctor_run(const char *root, bool live, struct sg_doctor_report *report)
{
	struct doctor d = { .root = root, .root_len = strlen(root), .report = report };

	while (d.root_len > 0 && root[d.root_len - 1] == '/')
		d.root_len--;
	report->count = 0;
	check_psi(&d);
	if (live)
		check_triggers(&d);
	check_cgroup(&d);
	check_btf(&d);
	check_bpf_caps(&d);
	if (live)
		check_recorder(&d);
	check_capabilities(&d);
	check_lockup(&d);
	check_hung_task(&d);
	check_sched_clock(&d);
	check_kmsg(&d);
	check_disks(&d);
	check_zfs_gcm(&d);
	if (live)
		check_systemd(&d);
	finish(&d);
}

const char *sg_severity_name(enum sg_severity severity)
{
	switch (severity) {
	case SG_SEV_OK: return "ok";
	case SG_SEV_INFO: return "info";
	case SG_SEV_WARNING: return "warning";
	case SG_SEV_SEVERE: break;
	}
	return "severe";
}

void sg_doctor_print(const struct sg_doctor_report *report, FILE *out)
{
	for (size_t i = 0; i < report->count; i++) {
		const struct sg_finding *f = &report->findings[i];

		fprintf(out, "%-8s %s: %s\n", sg_severity_name(f->severity), f->area, f->text);
	}
}

bool sg_doctor_severe(const struct sg_doctor_report *report)
{
	for (size_t i = 0; i < report->count; i++)
		if (report->findings[i].severity == SG_SEV_SEVERE)
			return true;
	return false;
}
