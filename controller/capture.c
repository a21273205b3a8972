/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Capture bundles; the layout is described in capture.h.
 *
 * incident.json strings are byte strings written as state.c writes them: each byte as the
 * code point of the same value, the file pure ASCII (JSON_ENSURE_ASCII), so a comm or
 * reason with quotes, backslashes, control bytes or invalid UTF-8 is escaped, never lost. */
#include "capture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bundle.h"
#include "capture_stacks.h"
#include "cgroupfs.h"
#include "config_values.h"
#include "jobio.h"
#include "jsonbytes.h"
#include "log.h"
#include "procfs.h"
#include "units.h"

#define TOP_N 10

static int set_bytes(json_t *obj, const char *key, const char *value)
{
	json_t *v = json_null();

	if (value && sg_json_from_bytes(value, strlen(value) + 1, &v) < 0)
		return -ENOMEM;
	return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

/* A file of the bundle, kept in memory (a memfd) until the bundle is stored.
 * Returns a FILE on a duplicate of the memfd, or NULL with errno. */
static FILE *bundle_file(struct sg_bundle *b, const char *name)
{
	int fd = sg_bundle_fd(b, name);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	if (!(f = fdopen(fd, "w"))) {
		int err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	return f;
}

/* Closes f; returns 0 or -errno of any write error. */
static int finish_file(FILE *f)
{
	int err = ferror(f) ? -EIO : 0;

	if (fclose(f) != 0 && !err)
		err = errno ? -errno : -EIO;
	return err;
}

/* Copies path into f, or a line saying why it cannot be read. */
static void copy_into(FILE *f, const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(f, "# cannot read %s: %s\n", path, strerror(errno));
		return;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(f, "\n# cannot read %s: %s\n", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		fwrite(buf, 1, (size_t)n, f);
	}
	close(fd);
}

static int write_copy(struct sg_bundle *b, const char *name, const char *proc_root, const char *rel)
{
	char path[SG_PATH_MAX + 64];
	FILE *f = bundle_file(b, name);

	if (!f)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", proc_root, rel);
	copy_into(f, path);
	return finish_file(f);
}

static int write_psi(struct sg_bundle *b, const char *proc_root)
{
	static const char *const res[] = { "cpu", "io", "memory" };
	char path[SG_PATH_MAX + 64];
	FILE *f = bundle_file(b, "psi.txt");

	if (!f)
		return -errno;
	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		snprintf(path, sizeof(path), "%s/pressure/%s", proc_root, res[i]);
		fprintf(f, "# %s\n", path);
		copy_into(f, path);
	}
	return finish_file(f);
}

static int write_incident(struct sg_bundle *b, const struct sg_capture_input *in, time_t now,
			  const char *recorder_note)
{
	char stamp[32], path[SG_PATH_MAX + 16], buf[128];
	struct utsname uts;
	struct tm tm;
	json_t *obj = json_object();
	int err = 0;

	if (!obj)
		return -ENOMEM;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (uname(&uts) < 0)
		memset(&uts, 0, sizeof(uts));
	snprintf(path, sizeof(path), "%s/uptime", in->proc_root);
	json_t *uptime = sg_read_small(path, buf, sizeof(buf)) > 0 ? json_real(strtod(buf, NULL))
							       : json_null();

	if (set_bytes(obj, "rule", in->rule) || set_bytes(obj, "job", in->job) ||
	    set_bytes(obj, "step", in->step) || set_bytes(obj, "reason", in->reason) ||
	    set_bytes(obj, "decision", in->decision) ||
	    json_object_set_new(obj, "dry_run", json_boolean(in->dry_run)) ||
	    set_bytes(obj, "time", stamp) ||
	    json_object_set_new(obj, "unix_time", json_integer((json_int_t)now)) ||
	    set_bytes(obj, "host", uts.nodename) || set_bytes(obj, "kernel", uts.release) ||
	    json_object_set_new(obj, "uptime", uptime) ||
	    set_bytes(obj, "stallguard", SG_VERSION) || set_bytes(obj, "recorder", recorder_note)) {
		json_decref(obj);
		return -ENOMEM;
	}
	char *text = json_dumps(obj, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER |
					     JSON_REAL_PRECISION(12));
	json_decref(obj);
	if (!text)
		return -ENOMEM;
	FILE *f = bundle_file(b, "incident.json");
	if (!f) {
		err = -errno;
	} else {
		fprintf(f, "%s\n", text);
		err = finish_file(f);
	}
	free(text);
	return err;
}

static int write_fd_file(struct sg_bundle *b, const char *name, const struct sg_capture_input *in,
			 bool history)
{
	int fd = sg_bundle_fd(b, name);
	int err = 0;

	if (fd < 0)
		return fd;
	if (history) {
		if (in->history && in->tab)
			err = sg_history_write_csv(in->history, in->tab, in->cfg, fd);
		else
			err = dprintf(fd, "# no signal history was kept\n") < 0 ? -EIO : 0;
	} else {
		if (in->kmsg)
			err = sg_kmsg_ring_write(in->kmsg, fd);
		else
			err = dprintf(fd, "# the kernel log is not being read\n") < 0 ? -EIO : 0;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

/* ---- tasks.txt ---- */

struct proc_top {
	int pid;
	char state;
	unsigned long long a, b; /* utime, stime ticks; or read, write bytes */
	char comm[64];
};

/* Inserts p into the top list (sorted by a + b, largest first) when it belongs there. */
static void top_insert(struct proc_top *top, size_t *n, const struct proc_top *p)
{
	unsigned long long key = p->a + p->b;
	size_t i = *n < TOP_N ? (*n)++ : TOP_N;

	if (i == TOP_N) {
		if (key <= top[TOP_N - 1].a + top[TOP_N - 1].b)
			return;
		i = TOP_N - 1;
	}
	while (i > 0 && top[i - 1].a + top[i - 1].b < key) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = *p;
}

/* utime and stime (fields 14 and 15) from a NUL-terminated /proc/PID/stat. */
static bool stat_cpu(const char *buf, unsigned long long *utime, unsigned long long *stime)
{
	const char *p = strrchr(buf, ')');

	if (!p)
		return false;
	p++;
	/* After ") ": state is field 3; utime is 11 fields further on. */
	for (int field = 3; field < 14; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return false;
	}
	return sscanf(p, " %llu %llu", utime, stime) == 2;
}

static void put_comm(FILE *f, const char *comm)
{
	char esc[64 * 4 + 1];

	sg_escape_bytes(esc, sizeof(esc), comm, strlen(comm));
	fprintf(f, " comm %s\n", esc);
}

/* The first line of PATH's "0::" entry, or its first line. */
static void put_cgroup(FILE *f, const char *path)
{
	char buf[4096], esc[4096];
	ssize_t n = sg_read_small(path, buf, sizeof(buf));

	if (n < 0) {
		fprintf(f, "  cgroup: (cannot read %s: %s)\n", path, strerror((int)-n));
		return;
	}
	char *line = strncmp(buf, "0::", 3) == 0 ? buf : strstr(buf, "\n0::");
	line = line ? (line == buf ? buf : line + 1) : buf;
	char *nl = strchr(line, '\n');
	size_t len = nl ? (size_t)(nl - line) : strlen(line);
	sg_escape_bytes(esc, sizeof(esc), line, len);
	fprintf(f, "  cgroup: %s\n", esc);
}

/* The cgroup, wchan and kernel stack of one thread, indented under its line. */
static void put_task_detail(FILE *f, const char *proc_root, int pid, int tid)
{
	char path[SG_PATH_MAX + 96], buf[16384];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, pid);
	put_cgroup(f, path);
	snprintf(path, sizeof(path), "%s/%d/task/%d/wchan", proc_root, pid, tid);
	n = sg_read_small(path, buf, 256);
	if (n < 0)
		fprintf(f, "  wchan: (cannot read %s: %s)\n", path, strerror((int)-n));
	else
		fprintf(f, "  wchan: %s\n", n == 0 || strcmp(buf, "0") == 0 ? "-" : buf);
	snprintf(path, sizeof(path), "%s/%d/task/%d/stack", proc_root, pid, tid);
	n = sg_read_small(path, buf, sizeof(buf));
	fprintf(f, "  stack:\n");
	if (n < 0) {
		fprintf(f, "    (cannot read %s: %s)\n", path, strerror((int)-n));
		return;
	}
	for (char *line = buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl) {
			fprintf(f, "    %s\n", line);
			break;
		}
		fprintf(f, "    %.*s\n", (int)(nl - line), line);
	}
}

/* The D-state tasks of one process; returns how many. */
static size_t scan_threads(FILE *f, const char *proc_root, int pid)
{
	char path[SG_PATH_MAX + 64], buf[1024];
	struct sg_task_stat st;
	size_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%d/task", proc_root, pid);
	d = opendir(path);
	if (!d)
		return 0; /* exited */
	for (struct dirent *e; (e = readdir(d));) {
		if (!sg_all_digits(e->d_name))
			continue;
		int tid = atoi(e->d_name);
		snprintf(path, sizeof(path), "%s/%d/task/%d/stat", proc_root, pid, tid);
		ssize_t n = sg_read_small(path, buf, sizeof(buf));
		if (n <= 0 || sg_task_stat_parse(buf, (size_t)n, &st) < 0 || st.state != 'D')
			continue;
		fprintf(f, "pid %d tid %d state %c", pid, tid, st.state);
		put_comm(f, st.comm);
		put_task_detail(f, proc_root, pid, tid);
		found++;
	}
	closedir(d);
	return found;
}

static int write_tasks(struct sg_bundle *b, const char *proc_root, uint64_t deadline, uint64_t budget_usec)
{
	struct proc_top cpu[TOP_N], io[TOP_N];
	size_t ncpu = 0, nio = 0, ndstate = 0, nprocs = 0;
	char path[SG_PATH_MAX + 64], buf[4096], dur[32];
	bool stopped = false;
	size_t io_denied = 0;
	FILE *f = bundle_file(b, "tasks.txt");
	DIR *d;

	if (!f)
		return -errno;
	fprintf(f, "# tasks in D state (uninterruptible sleep)\n");
	d = opendir(proc_root);
	if (!d) {
		fprintf(f, "# cannot read %s: %s\n", proc_root, strerror(errno));
		return finish_file(f);
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (!sg_all_digits(e->d_name))
			continue;
		if (sg_now_usec() > deadline) {
			stopped = true;
			break;
		}
		int pid = atoi(e->d_name);
		struct proc_top p = { .pid = pid };
		struct sg_task_stat st;

		nprocs++;
		ndstate += scan_threads(f, proc_root, pid);
		snprintf(path, sizeof(path), "%s/%d/stat", proc_root, pid);
		ssize_t n = sg_read_small(path, buf, sizeof(buf));
		if (n <= 0 || sg_task_stat_parse(buf, (size_t)n, &st) < 0)
			continue;
		p.state = st.state;
		sg_strlcpy(p.comm, st.comm, sizeof(p.comm));
		if (stat_cpu(buf, &p.a, &p.b))
			top_insert(cpu, &ncpu, &p);
		snprintf(path, sizeof(path), "%s/%d/io", proc_root, pid);
		n = sg_read_small(path, buf, sizeof(buf));
		if (n == -EACCES || n == -EPERM)
			io_denied++;
		uint64_t rd, wr;
		if (n > 0 && sg_proc_io_parse(buf, (size_t)n, &rd, &wr) == 0) {
			p.a = rd;
			p.b = wr;
			top_insert(io, &nio, &p);
		}
	}
	closedir(d);
	fprintf(f, "# %zu tasks in D state in %zu processes\n", ndstate, nprocs);
	if (stopped)
		fprintf(f, "# scan stopped: capture_budget (%s) spent after %zu processes\n",
			sg_format_duration(budget_usec, dur, sizeof(dur)), nprocs);

	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	fprintf(f, "\n# top %d processes by CPU time since start (utime+stime, seconds)\n", TOP_N);
	for (size_t i = 0; i < ncpu; i++) {
		fprintf(f, "pid %d state %c cpu_s %.2f user_s %.2f sys_s %.2f", cpu[i].pid, cpu[i].state,
			(double)(cpu[i].a + cpu[i].b) / (double)hz, (double)cpu[i].a / (double)hz,
			(double)cpu[i].b / (double)hz);
		put_comm(f, cpu[i].comm);
		put_task_detail(f, proc_root, cpu[i].pid, cpu[i].pid);
	}
	fprintf(f, "\n# top %d processes by I/O since start (read_bytes+write_bytes)\n", TOP_N);
	if (io_denied)
		fprintf(f, "# %zu processes' %s/PID/io could not be read: permission denied\n", io_denied,
			proc_root);
	for (size_t i = 0; i < nio; i++) {
		fprintf(f, "pid %d state %c io_bytes %llu read_bytes %llu write_bytes %llu", io[i].pid,
			io[i].state, io[i].a + io[i].b, io[i].a, io[i].b);
		put_comm(f, io[i].comm);
		put_task_detail(f, proc_root, io[i].pid, io[i].pid);
	}
	return finish_file(f);
}

int sg_capture_take(const struct sg_capture_input *in, struct sg_bundle **out, double *elapsed_ms)
{
	uint64_t start = sg_now_usec();
	time_t now = time(NULL);
	struct sg_bundle *b;
	int err = 0, r;

	*out = NULL;
	if (elapsed_ms)
		*elapsed_ms = 0;
	if (!in->cfg || !in->rule || !in->step || !in->reason || !in->decision || !in->proc_root)
		return -EINVAL;
	r = sg_bundle_new(in->cfg->capture_dir, in->rule, now, in->cfg->capture_keep, &b);
	if (r < 0)
		return r;
	/* The recorder first: what the kernel was doing at the trigger. Its
	 * symbols are read while the files below are made. */
	struct sg_capture_stacks *stacks = NULL;
	char note[256];
	snprintf(note, sizeof(note), "%s", in->recorder_note ? in->recorder_note : "off");
	if (in->recorder) {
		r = sg_capture_stacks_take(in->recorder, &stacks);
		if (r < 0) {
			sg_log_errno(LOG_WARNING, r, "capture: cannot read the BPF recorder: no stacks in this bundle");
			snprintf(note, sizeof(note), "the recorder could not be read: %s", strerror(-r));
		}
	}
	/* Cheapest and most telling first, the /proc scan last (it has the budget). A
	 * failed file does not stop the others; the first error is returned. */
	r = write_incident(b, in, now, note);
	err = err ? err : r;
	r = write_fd_file(b, "history.csv", in, true);
	err = err ? err : r;
	r = write_fd_file(b, "kmsg.txt", in, false);
	err = err ? err : r;
	r = write_psi(b, in->proc_root);
	err = err ? err : r;
	r = write_copy(b, "meminfo.txt", in->proc_root, "meminfo");
	err = err ? err : r;
	r = write_copy(b, "vmstat.txt", in->proc_root, "vmstat");
	err = err ? err : r;
	r = write_copy(b, "diskstats.txt", in->proc_root, "diskstats");
	err = err ? err : r;
	r = write_tasks(b, in->proc_root, start + in->cfg->capture_budget_usec, in->cfg->capture_budget_usec);
	err = err ? err : r;
	if (stacks) {
		/* Symbols are waited for until 9/10 of the budget: a process
		 * frozen on its mmap lock holds them up that long, no longer. */
		sg_capture_stacks_wait(stacks, start + in->cfg->capture_budget_usec * 9 / 10);
		sg_bundle_defer(b, sg_capture_stacks_finish, stacks);
	}
	*out = b;
	if (elapsed_ms)
		*elapsed_ms = (double)(sg_now_usec() - start) / 1000.0;
	return err;
}

int sg_capture_write(const struct sg_capture_input *in, char *dir_out, size_t dir_len, double *elapsed_ms)
{
	uint64_t start = sg_now_usec();
	struct sg_bundle *b;
	int err, r;

	if (dir_len)
		dir_out[0] = '\0';
	err = sg_capture_take(in, &b, NULL);
	if (!b)
		return err;
	r = sg_bundle_store(b, dir_out, dir_len);
	if (elapsed_ms)
		*elapsed_ms = (double)(sg_now_usec() - start) / 1000.0;
	return err ? err : r;
}
