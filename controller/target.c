/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Target resolution. Runs when a step applies, never in a steady tick, so it
 * may scan /proc and use stdio. */
#include "target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "jobio.h"
#include "sdbus.h"
#include "units.h"

#define OWN_CGROUP "stallguard.jobs"

static int why_fail(char *why, size_t why_len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return err;
}

bool sg_target_matches(const struct sg_match *match, const char *proc, pid_t pid)
{
	char path[64], buf[4096];
	ssize_t n;

	switch (match->kind) {
	case SG_MATCH_COMM:
		snprintf(path, sizeof(path), "%s/%d/comm", proc, (int)pid);
		if (sg_read_small(path, buf, sizeof(buf)) <= 0)
			return false;
		buf[strcspn(buf, "\n")] = '\0';
		return strcmp(buf, match->value) == 0;
	case SG_MATCH_EXE:
		snprintf(path, sizeof(path), "%s/%d/exe", proc, (int)pid);
		n = readlink(path, buf, sizeof(buf) - 1);
		if (n <= 0)
			return false;
		buf[n] = '\0';
		return strcmp(buf, match->value) == 0;
	case SG_MATCH_CMDLINE:
		snprintf(path, sizeof(path), "%s/%d/cmdline", proc, (int)pid);
		n = sg_read_small(path, buf, sizeof(buf));
		if (n <= 0)
			return false;
		/* Arguments are NUL-separated: match them joined by spaces. */
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		while (n > 0 && buf[n - 1] == ' ')
			buf[--n] = '\0';
		return regexec(&match->regex, buf, 0, NULL, 0) == 0;
	}
	return false;
}

bool sg_target_protected(const struct sg_config *cfg, const char *proc, pid_t pid)
{
	char state;
	bool kthread;

	if (pid <= 1 || pid == getpid() ||
	    (sg_proc_stat(proc, pid, &state, &kthread) == 0 && kthread))
		return true;
	for (size_t i = 0; i < cfg->nprotect; i++)
		if (sg_target_matches(&cfg->protect[i], proc, pid))
			return true;
	return false;
}

/* Calls fn for every process under proc. */
static void each_process(const char *proc, void (*fn)(pid_t pid, void *userdata), void *userdata)
{
	DIR *dir = opendir(proc);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end == '\0' && pid > 0)
			fn((pid_t)pid, userdata);
	}
	closedir(dir);
}

struct io_reading {
	pid_t pid[4096];
	uint64_t bytes[4096];
	size_t count;
	const char *proc;
};

static void read_process_io(pid_t pid, void *userdata)
{
	struct io_reading *reading = userdata;
	char path[64], buf[512];
	uint64_t r, w;
	ssize_t n;

	if (reading->count == sizeof(reading->pid) / sizeof(reading->pid[0]))
		return;
	snprintf(path, sizeof(path), "%s/%d/io", reading->proc, (int)pid);
	n = sg_read_small(path, buf, sizeof(buf));
	if (n <= 0 || sg_proc_io_parse(buf, (size_t)n, &r, &w) < 0)
		return;
	reading->pid[reading->count] = pid;
	reading->bytes[reading->count++] = r + w;
}

pid_t sg_target_top_io(const struct sg_config *cfg, const char *proc, unsigned sample_usec)
{
	struct io_reading *before = calloc(1, sizeof(*before)), *after = calloc(1, sizeof(*after));
	pid_t best = -ESRCH;
	uint64_t best_bytes = 0;

	if (!before || !after)
		goto out;
	before->proc = after->proc = proc;
	each_process(proc, read_process_io, before);
	struct timespec pause = { .tv_sec = sample_usec / 1000000, .tv_nsec = (long)(sample_usec % 1000000) * 1000 };
	nanosleep(&pause, NULL);
	each_process(proc, read_process_io, after);
	for (size_t i = 0, j = 0; i < after->count; i++) {
		/* both readings are in /proc order: pids ascend */
		while (j < before->count && before->pid[j] < after->pid[i])
			j++;
		if (j == before->count || before->pid[j] != after->pid[i] || after->bytes[i] <= before->bytes[j])
			continue;
		uint64_t bytes = after->bytes[i] - before->bytes[j];
		if (bytes > best_bytes && !sg_target_protected(cfg, proc, after->pid[i])) {
			best_bytes = bytes;
			best = after->pid[i];
		}
	}
out:
	free(before);
	free(after);
	return best;
}

int sg_target_disk(const struct sg_target_paths *paths, const char *device, unsigned *major, unsigned *minor,
		   char *why, size_t why_len)
{
	char path[PATH_MAX], buf[64];
	struct stat st;

	if (device[0]) {
		snprintf(path, sizeof(path), "%s/block/%s/dev", paths->sys, device);
		if (sg_read_small(path, buf, sizeof(buf)) <= 0 || sscanf(buf, "%u:%u", major, minor) != 2)
			return why_fail(why, why_len, -ENODEV, "device %s is not a whole disk here (%s)", device, path);
		return 0;
	}
	if (stat("/", &st) < 0)
		return why_fail(why, why_len, -ENODEV, "cannot stat /: %s", strerror(errno));
	*major = major(st.st_dev);
	*minor = minor(st.st_dev);
	/* A partition's parent directory in sysfs is its disk. */
	snprintf(path, sizeof(path), "%s/dev/block/%u:%u/partition", paths->sys, *major, *minor);
	if (access(path, F_OK) == 0) {
		snprintf(path, sizeof(path), "%s/dev/block/%u:%u/../dev", paths->sys, *major, *minor);
		if (sg_read_small(path, buf, sizeof(buf)) <= 0 || sscanf(buf, "%u:%u", major, minor) != 2)
			return why_fail(why, why_len, -ENODEV, "cannot find the disk of the partition under /");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/dev/block/%u:%u", paths->sys, *major, *minor);
	if (access(path, F_OK) < 0)
		return why_fail(why, why_len, -ENODEV,
				"/ is not on a block device (%u:%u): set `device =` in the job", *major, *minor);
	return 0;
}

struct pid_list {
	pid_t *pids;
	size_t max, count;
};

static int add_pid(pid_t pid, void *userdata)
{
	struct pid_list *list = userdata;

	if (list->count == list->max)
		return 1; /* full: stop reading */
	list->pids[list->count++] = pid;
	return 0;
}

/* The pids listed in DIR/cgroup.procs, at most max. */
static int cgroup_pids(const char *dir, pid_t *pids, size_t max, size_t *count)
{
	struct pid_list list = { pids, max, 0 };
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	*count = 0;
	if (dirfd < 0)
		return -errno;
	r = sg_cgroup_each_id(dirfd, "cgroup.procs", add_pid, &list);
	close(dirfd);
	*count = list.count;
	return r < 0 ? r : 0;
}

/* Moves pids into DIR (created when missing). Processes gone meanwhile are skipped. */
static int move_into(const char *dir, const pid_t *pids, size_t count)
{
	char path[PATH_MAX], text[24];

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < count; i++) {
		int len = snprintf(text, sizeof(text), "%d", (int)pids[i]);
		if (write(fd, text, (size_t)len) < 0 && errno != ESRCH) {
			int err = -errno;
			close(fd);
			return err;
		}
	}
	close(fd);
	return 0;
}

struct match_scan {
	const struct sg_config *cfg;
	const struct sg_job *job;
	const char *proc;
	struct sg_target *target;
};

static void match_process(pid_t pid, void *userdata)
{
	struct match_scan *scan = userdata;

	if (scan->target->npids == SG_TARGET_PIDS_MAX)
		return;
	for (size_t m = 0; m < scan->job->nmatches; m++) {
		if (!sg_target_matches(&scan->job->matches[m], scan->proc, pid))
			continue;
		if (!sg_target_protected(scan->cfg, scan->proc, pid))
			scan->target->pids[scan->target->npids++] = pid;
		return;
	}
}

static bool needs_cgroup(enum sg_step_kind kind)
{
	return kind == SG_STEP_IOMAX || kind == SG_STEP_FREEZE || kind == SG_STEP_KILL;
}

/* The first protected process in a cgroup, or 0. */
struct protected_scan {
	const struct sg_config *cfg;
	const char *proc;
};

static int stop_at_protected(pid_t pid, void *userdata)
{
	const struct protected_scan *scan = userdata;

	return sg_target_protected(scan->cfg, scan->proc, pid) ? (int)pid : 0;
}

/* The first protected process in a cgroup or any cgroup below it (a cgroup
 * step acts on the whole subtree), or 0. */
static pid_t protected_member(const struct sg_target_paths *paths, const struct sg_config *cfg, const char *dir)
{
	struct protected_scan scan = { cfg, paths->proc };
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0)
		return 0;
	int r = sg_cgroup_walk(dirfd, stop_at_protected, &scan);
	close(dirfd);
	return r > 0 ? (pid_t)r : 0;
}

/* On hybrid and legacy hosts the v1 controller cgroup at the same path must
 * hold the job's processes: created when missing, joined by every process of
 * the job (a process keeps its place in the other hierarchies). */
static int v1_twin(const struct sg_target_paths *paths, const char *controller, const char *rel,
		   const pid_t *pids, size_t count, char *out, size_t out_len)
{
	snprintf(out, out_len, "%s/%s%s", paths->cgroup_root, controller, rel);
	return move_into(out, pids, count);
}

/* Makes unit the target: target->unit, and its cgroup, asked of systemd
 * (sd open), as target->cgroup2 on the unified mount; on a legacy host the
 * unit's processes, from systemd's own v1 hierarchy, go to target->pids
 * (for ionice). A cgroup that holds a protected process is refused. */
static int take_unit(const struct sg_target_paths *paths, const struct sg_config *cfg, struct sg_sdbus *sd,
		     const char *unit, struct sg_target *target, char *why, size_t why_len)
{
	char cgroup[SG_PATH_MAX], dir[SG_PATH_MAX * 2];
	int r = sg_sdbus_control_group(sd, unit, cgroup, sizeof(cgroup));

	if (r == -ENOENT)
		return why_fail(why, why_len, -ESRCH, "job %s: systemd has no unit %s (%s)", target->job, unit,
				sd->error);
	if (r < 0)
		return why_fail(why, why_len, r, "job %s: cannot ask systemd for the cgroup of %s: %s", target->job,
				unit, sd->error);
	if (!cgroup[0])
		return why_fail(why, why_len, -ESRCH, "job %s: unit %s runs nothing (it has no cgroup)", target->job,
				unit);
	if (paths->unified[0])
		snprintf(dir, sizeof(dir), "%s%s", paths->unified, cgroup);
	else
		snprintf(dir, sizeof(dir), "%s/systemd%s", paths->cgroup_root, cgroup);
	if (access(dir, F_OK) < 0)
		return why_fail(why, why_len, -ESRCH, "job %s: unit %s has no cgroup %s", target->job, unit, dir);
	pid_t protected_pid = protected_member(paths, cfg, dir);
	if (protected_pid)
		return why_fail(why, why_len, -EPERM, "job %s: its cgroup holds protected process %d", target->job,
				(int)protected_pid);
	sg_strlcpy(target->unit, unit, sizeof(target->unit));
	if (paths->unified[0]) {
		sg_strlcpy(target->cgroup2, dir, sizeof(target->cgroup2));
		target->npids = 0;
		return 0;
	}
	r = cgroup_pids(dir, target->pids, SG_TARGET_PIDS_MAX, &target->npids);
	return r < 0 ? why_fail(why, why_len, r, "job %s: cannot list %s: %s", target->job, dir, strerror(-r)) : 0;
}

/* A job found by `unit =` where systemd runs the host: that unit. */
static int resolve_unit(const struct sg_target_paths *paths, const struct sg_config *cfg, const char *unit,
			struct sg_target *target, char *why, size_t why_len)
{
	struct sg_sdbus sd;
	int r = sg_sdbus_open(&sd);

	if (r < 0)
		r = why_fail(why, why_len, r, "job %s: %s", target->job, sd.error);
	else
		r = take_unit(paths, cfg, &sd, unit, target, why, why_len);
	sg_sdbus_close(&sd);
	return r;
}

/* Loose processes where systemd runs the host: into the transient scope
 * stallguard-JOB.scope (made, or joined when it exists), which is then the
 * target. */
static int into_scope(const struct sg_target_paths *paths, const struct sg_config *cfg, struct sg_target *target,
		      char *why, size_t why_len)
{
	char scope[SG_NAME_MAX + 32], description[SG_NAME_MAX + 64];
	struct sg_sdbus sd;
	int r;

	snprintf(scope, sizeof(scope), "stallguard-%s.scope", target->job);
	snprintf(description, sizeof(description), "stallguard: the processes of job %s", target->job);
	r = sg_sdbus_open(&sd);
	if (r == 0)
		r = sg_sdbus_scope(&sd, scope, description, target->pids, target->npids);
	if (r < 0)
		r = why_fail(why, why_len, r, "cannot put %s's processes in %s: %s", target->job, scope, sd.error);
	else
		r = take_unit(paths, cfg, &sd, scope, target, why, why_len);
	sg_sdbus_close(&sd);
	return r;
}

int sg_target_resolve(const struct sg_target_paths *paths, const struct sg_config *cfg, const struct sg_rule *rule,
		      enum sg_step_kind kind, struct sg_target *target, char *why, size_t why_len)
{
	static pid_t members[SG_TARGET_PIDS_MAX];
	const struct sg_job *job = rule->target == SG_TARGET_JOB ? &cfg->jobs[rule->job] : NULL;
	char rel[SG_PATH_MAX + 32];
	size_t nmembers = 0;
	int r;

	memset(target, 0, sizeof(*target));
	if (rule->target == SG_TARGET_NONE)
		return 0;
	sg_strlcpy(target->job, job ? job->name : "top-io", sizeof(target->job));

	if (kind == SG_STEP_IOMAX) {
		r = sg_target_disk(paths, job ? job->device : "", &target->dev_major, &target->dev_minor, why,
				   why_len);
		if (r < 0)
			return r;
	}

	if (job && job->unit[0] && paths->systemd)
		return resolve_unit(paths, cfg, job->unit, target, why, why_len);
	if (job && job->cgroup[0] && paths->layout == SG_CGROUP_LEGACY) {
		/* v1 only: the job's cgroup is the same path in each controller. */
		sg_strlcpy(rel, job->cgroup, sizeof(rel));
		snprintf(target->freezer, sizeof(target->freezer), "%s/freezer%s", paths->cgroup_root, rel);
		snprintf(target->blkio, sizeof(target->blkio), "%s/blkio%s", paths->cgroup_root, rel);
		const char *dir = access(target->freezer, F_OK) == 0 ? target->freezer : target->blkio;
		r = cgroup_pids(dir, members, SG_TARGET_PIDS_MAX, &nmembers);
		if (r < 0)
			return why_fail(why, why_len, -ESRCH, "job %s: no cgroup %s", job->name, dir);
		pid_t protected_pid = protected_member(paths, cfg, dir);
		if (protected_pid)
			return why_fail(why, why_len, -EPERM, "job %s: its cgroup holds protected process %d",
					job->name, (int)protected_pid);
	} else if (job && job->cgroup[0]) {
		/* A job with its own cgroup. */
		if (!paths->unified[0])
			return why_fail(why, why_len, -ESRCH, "job %s: no cgroup2 mount to find %s in", job->name,
					job->cgroup);
		snprintf(target->cgroup2, sizeof(target->cgroup2), "%s%s", paths->unified, job->cgroup);
		if (access(target->cgroup2, F_OK) < 0)
			return why_fail(why, why_len, -ESRCH, "job %s: no cgroup %s", job->name, target->cgroup2);
		pid_t protected_pid = protected_member(paths, cfg, target->cgroup2);
		if (protected_pid)
			return why_fail(why, why_len, -EPERM, "job %s: its cgroup holds protected process %d",
					job->name, (int)protected_pid);
		sg_strlcpy(rel, job->cgroup, sizeof(rel));
		r = cgroup_pids(target->cgroup2, members, SG_TARGET_PIDS_MAX, &nmembers);
		if (r < 0)
			return why_fail(why, why_len, r, "job %s: cannot list %s: %s", job->name, target->cgroup2,
					strerror(-r));
	} else {
		/* A job found by match, or top-io: its processes. */
		if (job) {
			struct match_scan scan = { cfg, job, paths->proc, target };
			each_process(paths->proc, match_process, &scan);
		} else {
			pid_t top = sg_target_top_io(cfg, paths->proc, 100000);
			if (top > 0)
				target->pids[target->npids++] = top;
		}
		if (target->npids == 0 && job && job->unit[0] && !job->nmatches)
			return why_fail(why, why_len, -EOPNOTSUPP,
					"job %s: a job found by `unit =` alone needs systemd, which does not run this "
					"host: give it `cgroup =` or `match =`",
					job->name);
		if (target->npids == 0)
			return why_fail(why, why_len, -ESRCH, "%s: no process to act on", target->job);
		if (!needs_cgroup(kind))
			return 0;
		if (paths->systemd)
			return into_scope(paths, cfg, target, why, why_len);
		if (!paths->unified[0])
			return 0;
		/* Before a cgroup step: into a cgroup of stallguard's own. */
		snprintf(rel, sizeof(rel), "/%s", OWN_CGROUP);
		snprintf(target->cgroup2, sizeof(target->cgroup2), "%s%s", paths->unified, rel);
		if (mkdir(target->cgroup2, 0755) < 0 && errno != EEXIST)
			return why_fail(why, why_len, -errno, "cannot create %s: %s", target->cgroup2, strerror(errno));
		snprintf(rel, sizeof(rel), "/%s/%s", OWN_CGROUP, target->job);
		snprintf(target->cgroup2, sizeof(target->cgroup2), "%s%s", paths->unified, rel);
		r = move_into(target->cgroup2, target->pids, target->npids);
		if (r < 0)
			return why_fail(why, why_len, r, "cannot move %s's processes into %s: %s", target->job,
					target->cgroup2, strerror(-r));
		memcpy(members, target->pids, target->npids * sizeof(pid_t));
		nmembers = target->npids;
		target->npids = 0;
	}

	if (kind == SG_STEP_IOMAX && paths->layout != SG_CGROUP_UNIFIED) {
		char parent[PATH_MAX];
		if (strncmp(rel, "/" OWN_CGROUP "/", strlen(OWN_CGROUP) + 2) == 0) {
			snprintf(parent, sizeof(parent), "%s/blkio/%s", paths->cgroup_root, OWN_CGROUP);
			mkdir(parent, 0755);
		}
		r = v1_twin(paths, "blkio", rel, members, nmembers, target->blkio, sizeof(target->blkio));
		if (r < 0)
			return why_fail(why, why_len, r, "cannot place %s in %s: %s", target->job, target->blkio,
					strerror(-r));
	}
	if ((kind == SG_STEP_FREEZE || kind == SG_STEP_KILL) && paths->layout == SG_CGROUP_LEGACY) {
		r = v1_twin(paths, "freezer", rel, members, nmembers, target->freezer, sizeof(target->freezer));
		if (r < 0)
			return why_fail(why, why_len, r, "cannot place %s in %s: %s", target->job, target->freezer,
					strerror(-r));
	}
	return 0;
}
