/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every sensor into one sample. Start-up opens the files and allocates the
 * buffers; a tick only preads, parses and computes. */
#include "sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diskstats.h"
#include "jobio.h"
#include "log.h"
#include "procfs.h"
#include "psi.h"
#include "units.h"

#define DISKSTATS_BUF (64 * 1024)
#define SCRATCH_BUF (64 * 1024)
#define SMALL_BUF 4096

#define JOB_REOPEN_USEC USEC_PER_SEC

/* One pressure file: its fd and the previous reading, for `stall`. */
struct psi_sensor {
	int fd;
	struct sg_psi prev;
	bool have_prev;
};
#define PROCS_REFRESH_USEC USEC_PER_SEC

struct job_sensors {
	char dir[SG_PATH_MAX * 2]; /* the job's cgroup directory, "" when it has none */
	bool lost;                 /* its files stopped reading: the cgroup went away */
	uint64_t reopen_at;        /* when to look for it again */
	struct psi_sensor psi[SG_PSI_NRES];
	int iostat_fd;   /* io.stat, when the io controller is enabled */
	int procs_fd;    /* cgroup.procs otherwise */
	struct sg_proc_io_cache io_cache; /* its processes' /proc/PID/io, with procs_fd */
	uint64_t procs_refresh_at; /* when to read cgroup.procs again */
	bool overflow_logged;
	bool want_psi[SG_PSI_NRES];
	bool want_io;
	bool have_io_prev;
	uint64_t rbytes_prev, wbytes_prev;
};

struct sg_sampler {
	const struct sg_config *cfg;
	const struct sg_signal_table *tab;
	/* What the rules test: only those files are read in a tick. */
	bool want_psi[SG_PSI_NRES], want_disks, want_stat, want_loadavg;
	int proc_fd;
	struct psi_sensor psi[SG_PSI_NRES];
	int diskstats_fd, stat_fd, loadavg_fd;
	char *diskstats_buf;
	char *scratch;
	struct sg_diskstats_entry *disk_prev, *disk_now;
	bool *disk_found_prev, *disk_found_now;
	bool dstate_last_nonzero;
	char proc_path[SG_PATH_MAX];
	uint64_t prev_usec;
	struct job_sensors *jobs;
};

static int open_ro(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* A file a rule reads: its absence is worth a warning. */
static int open_wanted(const char *path)
{
	int fd = open_ro(path);

	if (fd < 0)
		sg_log(LOG_WARNING, "cannot open %s (%m): the signals read from it are unavailable", path);
	return fd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* pread of a whole small file into buf; returns its length or -errno. */
static ssize_t read_whole(int fd, char *buf, size_t len)
{
	if (fd < 0)
		return -EBADF;
	ssize_t n = pread(fd, buf, len, 0);
	return n < 0 ? -errno : n;
}

/* Marks what cfg's conditions read; every_signal marks everything. */
static void compute_wants(struct sg_sampler *s, bool every_signal)
{
	const struct sg_config *cfg = s->cfg;

	if (every_signal) {
		s->want_disks = s->want_stat = s->want_loadavg = true;
		for (int r = 0; r < SG_PSI_NRES; r++)
			s->want_psi[r] = true;
		for (size_t j = 0; j < cfg->njobs; j++) {
			s->jobs[j].want_io = true;
			for (int r = 0; r < SG_PSI_NRES; r++)
				s->jobs[j].want_psi[r] = true;
		}
		return;
	}
	for (size_t i = 0; i < cfg->nrules; i++) {
		for (size_t c = 0; c < cfg->rules[i].nconds; c++) {
			struct sg_signal_ref ref;
			char why[128];
			if (sg_signal_parse(cfg->rules[i].conds[c].signal, &ref, why, sizeof(why)) < 0)
				continue;
			int job = sg_config_find_job(cfg, ref.job);
			switch (ref.family) {
			case SG_SIG_PSI: s->want_psi[ref.res] = true; break;
			case SG_SIG_DISK: s->want_disks = true; break;
			case SG_SIG_MISC:
				s->want_stat |= ref.misc == SG_MISC_TASKS_BLOCKED || ref.misc == SG_MISC_TASKS_DSTATE;
				s->want_loadavg |= ref.misc == SG_MISC_LOAD1 || ref.misc == SG_MISC_LOAD5 ||
						   ref.misc == SG_MISC_LOAD15;
				break;
			case SG_SIG_JOB_PSI:
				if (job >= 0)
					s->jobs[job].want_psi[ref.res] = true;
				break;
			case SG_SIG_JOB_IO:
				if (job >= 0)
					s->jobs[job].want_io = true;
				break;
			case SG_SIG_KMSG: break;
			}
		}
	}
}

static void close_job_files(struct job_sensors *js)
{
	for (int r = 0; r < SG_PSI_NRES; r++) {
		close_fd(&js->psi[r].fd);
		js->psi[r].have_prev = false;
	}
	close_fd(&js->iostat_fd);
	close_fd(&js->procs_fd);
	sg_proc_io_cache_clear(&js->io_cache);
	js->procs_refresh_at = 0;
	js->have_io_prev = false;
}

/* Opens the files of a job's cgroup; returns false when the cgroup is not
 * there. */
static bool open_job_files(struct job_sensors *js)
{
	char path[sizeof(js->dir) + 32];

	close_job_files(js);
	if (access(js->dir, F_OK) < 0)
		return false;
	for (int r = 0; r < SG_PSI_NRES; r++) {
		if (!js->want_psi[r])
			continue;
		snprintf(path, sizeof(path), "%s/%s.pressure", js->dir, sg_psi_resource_name((enum sg_psi_resource)r));
		js->psi[r].fd = open_ro(path);
	}
	if (js->want_io) {
		snprintf(path, sizeof(path), "%s/io.stat", js->dir);
		js->iostat_fd = open_ro(path);
		if (js->iostat_fd < 0) {
			snprintf(path, sizeof(path), "%s/cgroup.procs", js->dir);
			js->procs_fd = open_ro(path);
		}
	}
	return true;
}

static void init_job(struct sg_sampler *s, size_t j, const struct sg_sampler_paths *paths)
{
	const struct sg_job *job = &s->cfg->jobs[j];
	struct job_sensors *js = &s->jobs[j];

	for (int r = 0; r < SG_PSI_NRES; r++)
		js->psi[r].fd = -1;
	js->iostat_fd = js->procs_fd = -1;
	sg_proc_io_cache_init(&js->io_cache);
	if (!job->cgroup[0] || !paths->cgroup[0]) {
		sg_log(LOG_DEBUG, "job %s: no cgroup to read (%s): its psi and io signals are unavailable", job->name,
		       job->cgroup[0] ? "no cgroup2 mount" : "no cgroup =");
		return;
	}
	snprintf(js->dir, sizeof(js->dir), "%s%s", paths->cgroup, job->cgroup);
	if (!open_job_files(js)) {
		js->lost = true;
		sg_log(LOG_WARNING, "job %s: no cgroup at %s yet: its signals are unavailable until it appears",
		       job->name, js->dir);
	}
}

/* A job whose cgroup went away (a service restarted, say) is looked for
 * again once a second, and read again as soon as it is back. */
static void job_lost(struct sg_sampler *s, size_t j, uint64_t now_usec)
{
	struct job_sensors *js = &s->jobs[j];

	js->lost = true;
	js->reopen_at = now_usec + JOB_REOPEN_USEC;
	close_job_files(js);
	sg_log(LOG_WARNING, "job %s: its cgroup %s went away; its signals are unavailable until it is back",
	       s->cfg->jobs[j].name, js->dir);
}

static void job_look_again(struct sg_sampler *s, size_t j, uint64_t now_usec)
{
	struct job_sensors *js = &s->jobs[j];

	if (now_usec < js->reopen_at)
		return;
	js->reopen_at = now_usec + JOB_REOPEN_USEC;
	if (open_job_files(js)) {
		js->lost = false;
		sg_log(LOG_INFO, "job %s: its cgroup %s is there: watching it", s->cfg->jobs[j].name, js->dir);
	}
}

int sg_sampler_new(struct sg_sampler **out, const struct sg_config *cfg, const struct sg_signal_table *tab,
		   const struct sg_sampler_paths *paths, bool every_signal)
{
	struct sg_sampler *s = calloc(1, sizeof(*s));
	char path[SG_PATH_MAX + 32];
	size_t ndisk_slots = tab->ndisks ? tab->ndisks : 1;

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->tab = tab;
	s->diskstats_buf = malloc(DISKSTATS_BUF);
	s->scratch = malloc(SCRATCH_BUF);
	s->disk_prev = calloc(ndisk_slots, sizeof(*s->disk_prev));
	s->disk_now = calloc(ndisk_slots, sizeof(*s->disk_now));
	s->disk_found_prev = calloc(ndisk_slots, sizeof(bool));
	s->disk_found_now = calloc(ndisk_slots, sizeof(bool));
	s->jobs = calloc(cfg->njobs ? cfg->njobs : 1, sizeof(*s->jobs));
	if (!s->diskstats_buf || !s->scratch || !s->disk_prev || !s->disk_now || !s->disk_found_prev ||
	    !s->disk_found_now || !s->jobs) {
		sg_sampler_free(s);
		return -ENOMEM;
	}
	/* Pre-fault the buffers so the first ticks do not page-fault under mlock. */
	memset(s->diskstats_buf, 0, DISKSTATS_BUF);
	memset(s->scratch, 0, SCRATCH_BUF);

	sg_strlcpy(s->proc_path, paths->proc, sizeof(s->proc_path));
	compute_wants(s, every_signal);
	s->proc_fd = open(paths->proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int r = 0; r < SG_PSI_NRES; r++) {
		s->psi[r].fd = -1;
		if (!s->want_psi[r])
			continue;
		snprintf(path, sizeof(path), "%s/pressure/%s", paths->proc,
			 sg_psi_resource_name((enum sg_psi_resource)r));
		s->psi[r].fd = open_wanted(path);
	}
	snprintf(path, sizeof(path), "%s/diskstats", paths->proc);
	s->diskstats_fd = s->want_disks ? open_wanted(path) : -1;
	snprintf(path, sizeof(path), "%s/stat", paths->proc);
	s->stat_fd = s->want_stat ? open_wanted(path) : -1;
	snprintf(path, sizeof(path), "%s/loadavg", paths->proc);
	s->loadavg_fd = s->want_loadavg ? open_wanted(path) : -1;
	for (size_t j = 0; j < cfg->njobs; j++)
		init_job(s, j, paths);
	*out = s;
	return 0;
}

void sg_sampler_free(struct sg_sampler *s)
{
	if (!s)
		return;
	for (int r = 0; r < SG_PSI_NRES; r++)
		close_fd(&s->psi[r].fd);
	close_fd(&s->diskstats_fd);
	close_fd(&s->stat_fd);
	close_fd(&s->loadavg_fd);
	close_fd(&s->proc_fd);
	for (size_t j = 0; s->jobs && j < s->cfg->njobs; j++)
		close_job_files(&s->jobs[j]);
	free(s->jobs);
	free(s->diskstats_buf);
	free(s->scratch);
	free(s->disk_prev);
	free(s->disk_now);
	free(s->disk_found_prev);
	free(s->disk_found_now);
	free(s);
}

/* Reads one pressure file: figures[kind][metric] get its averages and the
 * stall over elapsed_usec (NaN where there is none). False when it cannot be
 * read. */
static bool read_psi(struct psi_sensor *sensor, double elapsed_usec,
		     double figures[SG_PSI_NKIND][SG_PSI_NMETRIC])
{
	struct sg_psi now;

	for (int k = 0; k < SG_PSI_NKIND; k++)
		for (int m = 0; m < SG_PSI_NMETRIC; m++)
			figures[k][m] = NAN;
	if (sensor->fd < 0 || sg_psi_read_fd(sensor->fd, &now) < 0) {
		sensor->have_prev = false;
		return false;
	}
	for (int k = 0; k < SG_PSI_NKIND; k++) {
		const struct sg_psi_line *line = k == SG_PSI_SOME ? &now.some : &now.full;
		const struct sg_psi_line *before = k == SG_PSI_SOME ? &sensor->prev.some : &sensor->prev.full;
		if (!line->present)
			continue;
		figures[k][SG_PSI_AVG10] = line->avg10;
		figures[k][SG_PSI_AVG60] = line->avg60;
		figures[k][SG_PSI_AVG300] = line->avg300;
		if (sensor->have_prev && before->present)
			figures[k][SG_PSI_STALL] =
				sg_psi_stall_percent(before->total, line->total, (uint64_t)elapsed_usec);
	}
	sensor->prev = now;
	sensor->have_prev = true;
	return true;
}

static void read_disks(struct sg_sampler *s, double elapsed_ms, double *values)
{
	const struct sg_signal_table *tab = s->tab;
	ssize_t n = read_whole(s->diskstats_fd, s->diskstats_buf, DISKSTATS_BUF);

	if (n <= 0 || tab->ndisks == 0)
		return;
	sg_diskstats_parse(s->diskstats_buf, (size_t)n, tab->disks, tab->ndisks, s->disk_now, s->disk_found_now);
	for (size_t d = 0; d < tab->ndisks; d++) {
		struct sg_iostat io;
		if (!s->disk_found_now[d] || !s->disk_found_prev[d] || elapsed_ms <= 0)
			continue;
		/* I/O counts are 64-bit: one going backwards is a disk removed and
		 * added again, not a wrap. Start over from this reading. */
		if (s->disk_now[d].rd_ios < s->disk_prev[d].rd_ios || s->disk_now[d].wr_ios < s->disk_prev[d].wr_ios)
			continue;
		sg_iostat_compute(&s->disk_prev[d], &s->disk_now[d], elapsed_ms, &io);
		const double figures[SG_DISK_NMETRIC] = {
			[SG_DISK_UTIL] = io.util, [SG_DISK_AWAIT] = io.await, [SG_DISK_R_AWAIT] = io.r_await,
			[SG_DISK_W_AWAIT] = io.w_await, [SG_DISK_AQU] = io.aqu, [SG_DISK_IOPS] = io.iops,
			[SG_DISK_RMBPS] = io.rmbps, [SG_DISK_WMBPS] = io.wmbps,
		};
		for (int m = 0; m < SG_DISK_NMETRIC; m++) {
			size_t any = sg_slot_disk(tab, tab->ndisks, (enum sg_disk_metric)m);
			values[sg_slot_disk(tab, d, (enum sg_disk_metric)m)] = figures[m];
			if (d < tab->nwhole && (isnan(values[any]) || figures[m] > values[any]))
				values[any] = figures[m];
		}
	}
	struct sg_diskstats_entry *swap = s->disk_prev;
	s->disk_prev = s->disk_now;
	s->disk_now = swap;
	bool *swap_found = s->disk_found_prev;
	s->disk_found_prev = s->disk_found_now;
	s->disk_found_now = swap_found;
}

static void read_tasks(struct sg_sampler *s, double *values)
{
	char buf[SMALL_BUF];
	unsigned blocked;
	double load[3];
	ssize_t n;

	n = read_whole(s->loadavg_fd, buf, sizeof(buf));
	if (n > 0 && sg_loadavg_parse(buf, (size_t)n, load) == 0) {
		values[sg_slot_misc(SG_MISC_LOAD1)] = load[0];
		values[sg_slot_misc(SG_MISC_LOAD5)] = load[1];
		values[sg_slot_misc(SG_MISC_LOAD15)] = load[2];
	}
	/* /proc/stat grows with the CPU count; its procs_blocked line is near
	 * the end, so read it into the large scratch buffer. */
	n = read_whole(s->stat_fd, s->scratch, SCRATCH_BUF);
	if (n <= 0 || sg_procstat_parse_blocked(s->scratch, (size_t)n, &blocked) < 0)
		return;
	values[sg_slot_misc(SG_MISC_TASKS_BLOCKED)] = blocked;
	/* The task scan costs a walk of every thread: only when something is
	 * blocked now or was in D state at the last scan. */
	if (blocked == 0 && !s->dstate_last_nonzero) {
		values[sg_slot_misc(SG_MISC_TASKS_DSTATE)] = 0;
		return;
	}
	int dstate = sg_tasks_count_dstate(s->proc_path, s->scratch, SCRATCH_BUF);
	if (dstate >= 0) {
		values[sg_slot_misc(SG_MISC_TASKS_DSTATE)] = dstate;
		s->dstate_last_nonzero = dstate > 0;
	}
}

/* Returns whether a file was read (false also when the job has none open). */
static bool read_job_io(struct sg_sampler *s, size_t j, uint64_t now_usec, double elapsed_s, double *values)
{
	struct job_sensors *js = &s->jobs[j];
	uint64_t rbytes, wbytes;

	if (!js->want_io)
		return false;
	if (js->iostat_fd >= 0) {
		/* io.stat is cumulative for the whole cgroup, children included. */
		ssize_t n = read_whole(js->iostat_fd, s->scratch, SCRATCH_BUF);
		if (n < 0 || sg_cgroup_iostat_parse(s->scratch, (size_t)n, &rbytes, &wbytes) < 0) {
			js->have_io_prev = false;
			return false;
		}
		if (js->have_io_prev && elapsed_s > 0) {
			values[sg_slot_job_io(s->tab, j, SG_IO_READ)] =
				(double)sg_counter_delta(js->rbytes_prev, rbytes) / elapsed_s;
			values[sg_slot_job_io(s->tab, j, SG_IO_WRITE)] =
				(double)sg_counter_delta(js->wbytes_prev, wbytes) / elapsed_s;
		}
		js->rbytes_prev = rbytes;
		js->wbytes_prev = wbytes;
		js->have_io_prev = true;
		return true;
	}
	if (js->procs_fd < 0 || s->proc_fd < 0)
		return false;
	/* Without the io controller: each process's own bytes. Membership is
	 * read again once a second; between, the processes known are read. */
	if (now_usec >= js->procs_refresh_at) {
		if (sg_proc_io_refresh(&js->io_cache, js->procs_fd, s->proc_fd, s->scratch, SCRATCH_BUF) < 0) {
			js->have_io_prev = false;
			return false;
		}
		js->procs_refresh_at = now_usec + PROCS_REFRESH_USEC;
		if (js->io_cache.overflow && !js->overflow_logged) {
			js->overflow_logged = true;
			sg_log(LOG_WARNING, "job %s: more than %d processes: job.%s.io counts the first %d only "
					    "(enable the io controller for whole-cgroup figures)",
			       s->cfg->jobs[j].name, SG_PROC_IO_CACHE, s->cfg->jobs[j].name, SG_PROC_IO_CACHE);
		}
	}
	sg_proc_io_delta(&js->io_cache, &rbytes, &wbytes);
	if (js->have_io_prev && elapsed_s > 0) {
		values[sg_slot_job_io(s->tab, j, SG_IO_READ)] = (double)rbytes / elapsed_s;
		values[sg_slot_job_io(s->tab, j, SG_IO_WRITE)] = (double)wbytes / elapsed_s;
	}
	js->have_io_prev = true;
	return true;
}

void sg_sampler_read(struct sg_sampler *s, uint64_t now_usec, double lag_ms, struct sg_sample *sample)
{
	double *values = sample->values;
	double elapsed_usec = s->prev_usec && now_usec > s->prev_usec ? (double)(now_usec - s->prev_usec) : 0;

	for (size_t i = 0; i < sample->nvalues; i++)
		values[i] = NAN;
	sample->now_usec = now_usec;
	values[sg_slot_misc(SG_MISC_LOOP_LAG)] = lag_ms;
	double psi[SG_PSI_NKIND][SG_PSI_NMETRIC];
	for (int r = 0; r < SG_PSI_NRES; r++) {
		read_psi(&s->psi[r], elapsed_usec, psi);
		for (int k = 0; k < SG_PSI_NKIND; k++)
			for (int m = 0; m < SG_PSI_NMETRIC; m++)
				values[sg_slot_psi(r, k, m)] = psi[k][m];
	}
	read_disks(s, elapsed_usec / 1000.0, values);
	read_tasks(s, values);
	for (size_t j = 0; j < s->cfg->njobs; j++) {
		struct job_sensors *js = &s->jobs[j];
		bool io_open, psi_open = false, psi_read = false, io_read;

		if (js->lost)
			job_look_again(s, j, now_usec);
		io_open = js->iostat_fd >= 0 || js->procs_fd >= 0;
		io_read = read_job_io(s, j, now_usec, elapsed_usec / 1e6, values);
		for (int r = 0; r < SG_PSI_NRES; r++) {
			psi_open |= js->psi[r].fd >= 0;
			psi_read |= read_psi(&js->psi[r], elapsed_usec, psi);
			/* A job's PSI signals are avg10 and stall. */
			for (int k = 0; k < SG_PSI_NKIND; k++) {
				values[sg_slot_job_psi(s->tab, j, r, k, SG_PSI_AVG10)] = psi[k][SG_PSI_AVG10];
				values[sg_slot_job_psi(s->tab, j, r, k, SG_PSI_STALL)] = psi[k][SG_PSI_STALL];
			}
		}
		/* A removed cgroup's open files fail to read (ENODEV). Its pressure
		 * files tell at once; cgroup.procs only when it is read again. */
		if (!js->lost && (psi_open ? !psi_read : io_open && !io_read))
			job_lost(s, j, now_usec);
	}
	s->prev_usec = now_usec;
}
