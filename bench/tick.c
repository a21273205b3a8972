/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The cost of one guardian tick on the real code path, and its heap calls.
 *
 *   tick CONFIG NJOBS...
 *
 * For each NJOBS: 0 is CONFIG as it is (sg_config_load on its path); N > 0 is
 * CONFIG's text plus N [job benchI] sections, each with `cgroup =` naming a
 * real cgroup made here under the cgroup2 mount (stallguard-bench-I, holding
 * one idle process), and rules testing every job's psi.io.some.avg10 and
 * io.wbps, so every job's files are read at every tick. Each is built the
 * way loop.c builds a generation, then ticked: sg_kmsg_drain on /dev/kmsg,
 * sg_sampler_read, sg_policy_tick, sg_log_decision for each decision. The
 * daemon drains /dev/kmsg only when it is readable; here every tick does, so
 * the figure is an upper bound.
 *
 * After WARMUP_TICKS, ticks are timed one by one with CLOCK_THREAD_CPUTIME_ID
 * in two runs. Warm: WARM_TICKS ticks WARM_PACE_NSEC apart, the cost of the
 * work itself: the targets apply to it. Cold: COLD_TICKS ticks
 * COLD_PACE_NSEC apart, as cold as at the daemon's 250 ms (caches, TLBs and
 * predictors have gone cold); on the VM this was written on, every system
 * call path pays a large first-use price then, so the jobs=0 line also gives
 * floor_us, one pread of a PSI file after the same sleep. malloc and friends
 * are defined here and count every call made during both runs. One line per
 * NJOBS:
 *
 *   jobs=N ticks=T median_us=X p99_us=Y warm_median_us=W warm_p99_us=V
 *   heap_calls=H jobs_read=R job_io=SOURCE floor_us=F
 *
 * (one line) where T, X and Y are the cold run's, then, when H > 0,
 * "jobs=N frame=MODULE+0xOFFSET SYMBOL" lines for the first of those calls,
 * innermost first. jobs_read counts jobs whose psi and io signals had values at
 * the last tick. The cgroups and their processes are removed at exit, also
 * on a fatal signal. Exit 0, or 1 when something could not be set up. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "decision_log.h"
#include "generation.h"
#include "kmsg.h"
#include "signals.h"
#include "units.h"

#define WARMUP_TICKS 5
#define COLD_TICKS 1000
#define COLD_PACE_NSEC (20 * 1000 * 1000)
#define WARM_TICKS 500
#define FLOOR_TICKS 200
#define WARM_PACE_NSEC (2 * 1000 * 1000)
#define JOBS_PER_RULE (SG_COND_MAX / 2)
#define FRAMES_MAX 12

/* ---- heap calls ---- */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t size);

static bool counting;     /* set around the timed ticks; the bench is one thread */
static uint64_t heap_calls;
static void *frames[FRAMES_MAX];
static int nframes;       /* of the first counted call; 0 = none yet */

static void count(void)
{
	if (!counting)
		return;
	heap_calls++;
	if (nframes)
		return;
	/* backtrace() was loaded in main, so it does not allocate; the flag
	 * keeps a heap call it might make anyway from recursing. */
	counting = false;
	nframes = backtrace(frames, FRAMES_MAX);
	counting = true;
}

void *malloc(size_t size)
{
	count();
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	count();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	count();
	return __libc_realloc(p, size);
}

void free(void *p)
{
	count();
	__libc_free(p);
}

void *memalign(size_t align, size_t size)
{
	count();
	return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	count();
	return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	count();
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = __libc_memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void print_frames(size_t njobs)
{
	for (int i = 0; i < nframes; i++) {
		Dl_info info;

		if (!dladdr(frames[i], &info) || !info.dli_fname)
			continue;
		printf("jobs=%zu frame=%s+0x%lx %s\n", njobs, info.dli_fname,
		       (unsigned long)((uintptr_t)frames[i] - (uintptr_t)info.dli_fbase),
		       info.dli_sname ? info.dli_sname : "?");
	}
}

/* ---- job cgroups, removed at exit and on a fatal signal ---- */

static pid_t bench_pid;
static char cgroup_root[SG_PATH_MAX];
static char job_dir[SG_JOB_MAX][SG_PATH_MAX + 32];
static pid_t job_pid[SG_JOB_MAX];
static size_t njob_dirs;

/* Async-signal-safe: kill, waitpid, rmdir, nanosleep. */
static void remove_jobs(void)
{
	if (getpid() != bench_pid)
		return;
	for (size_t i = 0; i < njob_dirs; i++) {
		if (job_pid[i] > 0) {
			kill(job_pid[i], SIGKILL);
			waitpid(job_pid[i], NULL, 0);
			job_pid[i] = 0;
		}
	}
	for (size_t i = 0; i < njob_dirs; i++) {
		/* An exited task may take a moment to leave its cgroup. */
		for (int tries = 0; rmdir(job_dir[i]) < 0 && errno == EBUSY && tries < 100; tries++)
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	njob_dirs = 0;
}

static const int fatal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
				     SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };

static void on_fatal_signal(int sig)
{
	remove_jobs();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void idle_job_process(void)
{
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		signal(fatal_signals[i], SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != bench_pid)
		_exit(0);
	for (;;)
		pause();
}

static int write_pid(const char *dir, pid_t pid)
{
	char path[SG_PATH_MAX + 64], text[32];
	int len = snprintf(text, sizeof(text), "%d\n", (int)pid);
	int fd, r = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len)
		r = -errno;
	close(fd);
	return r;
}

/* stallguard-bench-1..n under the cgroup2 mount, one idle process in each. */
static int make_jobs(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(job_dir[i], sizeof(job_dir[i]), "%s/stallguard-bench-%zu", cgroup_root, i + 1);
		if (mkdir(job_dir[i], 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "tick: cannot make cgroup %s: %m\n", job_dir[i]);
			return -1;
		}
		njob_dirs = i + 1;
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "tick: fork: %m\n");
			return -1;
		}
		if (pid == 0)
			idle_job_process();
		job_pid[i] = pid;
		int r = write_pid(job_dir[i], pid);
		if (r < 0) {
			fprintf(stderr, "tick: cannot move process %d into %s: %s\n", (int)pid, job_dir[i],
				strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* ---- configs ---- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* CONFIG's text, then one [job] per cgroup and rules testing each job's
 * PSI and I/O rate (JOBS_PER_RULE jobs per rule: two lines each). The
 * thresholds are out of reach, so no rule climbs. */
static char *config_with_jobs(const char *base, size_t njobs)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "%s\n", base);
	for (size_t i = 1; i <= njobs; i++)
		fprintf(f, "[job bench%zu]\ncgroup = /stallguard-bench-%zu\n", i, i);
	for (size_t first = 1; first <= njobs; first += JOBS_PER_RULE) {
		fprintf(f, "[rule bench-jobs-%zu]\n", first);
		for (size_t i = first; i < first + JOBS_PER_RULE && i <= njobs; i++)
			fprintf(f, "when = job.bench%zu.psi.io.some.avg10 >= 99\nwhen = job.bench%zu.io.wbps >= 1e15\n",
				i, i);
		fprintf(f, "match = any\nstep = capture\n");
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int load_config(const char *path, const char *base, size_t njobs, struct sg_config *cfg)
{
	struct sg_config_errors errors = { 0 };
	char name[SG_PATH_MAX];
	char *text = NULL;
	int r;

	if (njobs == 0) {
		r = sg_config_load(path, cfg, &errors);
	} else {
		/* The name keeps CONFIG's directory: relative hook paths resolve as in CONFIG. */
		snprintf(name, sizeof(name), "%s + %zu jobs", path, njobs);
		text = config_with_jobs(base, njobs);
		r = text ? sg_config_load_string(name, text, cfg, &errors) : -ENOMEM;
	}
	for (size_t i = 0; i < errors.count; i++)
		fprintf(stderr, "%s\n", errors.lines[i]);
	sg_config_errors_free(&errors);
	free(text);
	return r;
}

/* ---- the tick ---- */

static uint64_t thread_cpu_nsec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void on_kernel_event(const struct sg_kmsg_event_info *ev, const struct sg_kmsg_record *rec,
			    void *userdata)
{
	(void)userdata;
	sg_log_kernel_event(ev, rec);
}

/* The loop's generation, plus the kernel log the loop owns itself. */
struct generation {
	struct sg_generation core;
	struct sg_kmsg_reader kmsg;
	uint32_t pending_events[SG_EV_COUNT];
};

/* loop.c's tick, with the kernel log drained unconditionally. */
static void tick(struct generation *gen)
{
	if (gen->kmsg.fd >= 0)
		sg_kmsg_drain(&gen->kmsg, sg_uptime_seconds(), gen->pending_events, on_kernel_event, NULL);
	size_t n = sg_generation_tick(&gen->core, sg_now_usec(), 0, gen->pending_events);
	for (size_t i = 0; i < n; i++)
		sg_log_decision(&gen->core.cfg, &gen->core.decisions[i]);
}

static int generation_init(struct generation *gen, const char *path, const char *base, size_t njobs)
{
	int r;

	memset(gen, 0, sizeof(*gen));
	gen->kmsg.fd = -1;
	r = load_config(path, base, njobs, &gen->core.cfg);
	if (r < 0)
		return r;
	r = sg_generation_build(&gen->core, cgroup_root);
	if (r < 0)
		return r;
	r = sg_kmsg_open(&gen->kmsg, gen->core.cfg.kmsg);
	if (r < 0)
		fprintf(stderr, "tick: cannot open %s (%s): ticks run without the kernel log\n", gen->core.cfg.kmsg,
			strerror(-r));
	return 0;
}

static void generation_fini(struct generation *gen)
{
	sg_kmsg_close(&gen->kmsg);
	sg_generation_release(&gen->core);
}

/* Jobs whose io.some.avg10 and io.wbps both have a value in the last sample. */
static size_t jobs_read(const struct generation *gen)
{
	size_t n = 0;

	for (size_t j = 0; j < gen->core.cfg.njobs; j++) {
		size_t psi = sg_slot_job_psi(&gen->core.tab, j, SG_PSI_IO, SG_PSI_SOME, SG_PSI_AVG10);
		size_t wbps = sg_slot_job_io(&gen->core.tab, j, SG_IO_WRITE);

		n += !isnan(gen->core.sample.values[psi]) && !isnan(gen->core.sample.values[wbps]);
	}
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t cpu_nsec[COLD_TICKS > WARM_TICKS ? COLD_TICKS : WARM_TICKS];

struct timing {
	double median_us, p99_us;
};

/* n ticks, pace_nsec apart, each timed alone; their heap calls are counted
 * (not qsort's: it may allocate). */
static struct timing time_ticks(struct generation *gen, int n, long pace_nsec)
{
	const struct timespec pace = { .tv_nsec = pace_nsec };

	counting = true;
	for (int i = 0; i < n; i++) {
		nanosleep(&pace, NULL);
		uint64_t start = thread_cpu_nsec();
		tick(gen);
		cpu_nsec[i] = thread_cpu_nsec() - start;
	}
	counting = false;
	qsort(cpu_nsec, (size_t)n, sizeof(cpu_nsec[0]), cmp_u64);
	return (struct timing){ .median_us = (double)cpu_nsec[n / 2] / 1000.0,
				.p99_us = (double)cpu_nsec[n * 99 / 100] / 1000.0 };
}

/* What this machine charges for any wake-up: one pread of a PSI file after
 * the same sleep as a cold tick. On a VM the first system call after a
 * sleep can cost several times a warm one, whatever the code does. */
static double cold_floor_us(void)
{
	const struct timespec pace = { .tv_nsec = COLD_PACE_NSEC };
	char buf[256];
	int fd = open("/proc/pressure/io", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	for (int i = 0; i < FLOOR_TICKS; i++) {
		nanosleep(&pace, NULL);
		uint64_t start = thread_cpu_nsec();
		if (pread(fd, buf, sizeof(buf), 0) < 0)
			break;
		cpu_nsec[i] = thread_cpu_nsec() - start;
	}
	close(fd);
	qsort(cpu_nsec, FLOOR_TICKS, sizeof(cpu_nsec[0]), cmp_u64);
	return (double)cpu_nsec[FLOOR_TICKS / 2] / 1000.0;
}

static int run(const char *path, const char *base, size_t njobs)
{
	struct generation gen;
	char iostat[SG_PATH_MAX + 64];
	int r = generation_init(&gen, path, base, njobs);

	if (r < 0) {
		fprintf(stderr, "tick: %s with %zu jobs: cannot set up: %s\n", path, njobs, strerror(-r));
		generation_fini(&gen);
		return -1;
	}
	for (int i = 0; i < WARMUP_TICKS; i++)
		tick(&gen);
	heap_calls = 0;
	nframes = 0;
	struct timing warm = time_ticks(&gen, WARM_TICKS, WARM_PACE_NSEC);
	struct timing cold = time_ticks(&gen, COLD_TICKS, COLD_PACE_NSEC);
	snprintf(iostat, sizeof(iostat), "%s/stallguard-bench-1/io.stat", cgroup_root);
	printf("jobs=%zu ticks=%d median_us=%.1f p99_us=%.1f warm_median_us=%.1f warm_p99_us=%.1f heap_calls=%llu "
	       "jobs_read=%zu job_io=%s floor_us=%.1f\n", njobs, COLD_TICKS, cold.median_us, cold.p99_us,
	       warm.median_us, warm.p99_us, (unsigned long long)heap_calls, jobs_read(&gen),
	       njobs == 0 ? "-" : access(iostat, R_OK) == 0 ? "io.stat" : "cgroup.procs+/proc/PID/io",
	       njobs == 0 ? cold_floor_us() : 0.0);
	if (heap_calls)
		print_frames(njobs);
	fflush(stdout);
	generation_fini(&gen);
	return 0;
}

int main(int argc, char **argv)
{
	enum sg_cgroup_layout layout;
	size_t njobs[8], max_jobs = 0;
	int nruns = argc - 2;
	void *warm[1];

	if (argc < 3 || nruns > (int)(sizeof(njobs) / sizeof(njobs[0]))) {
		fprintf(stderr, "usage: tick CONFIG NJOBS... (at most %zu of them)\n",
			sizeof(njobs) / sizeof(njobs[0]));
		return 1;
	}
	for (int i = 0; i < nruns; i++) {
		char *end;
		unsigned long n = strtoul(argv[i + 2], &end, 10);

		if (end == argv[i + 2] || *end || n > SG_JOB_MAX) {
			fprintf(stderr, "tick: NJOBS is 0 to %d, not '%s'\n", SG_JOB_MAX, argv[i + 2]);
			return 1;
		}
		njobs[i] = n;
		max_jobs = n > max_jobs ? n : max_jobs;
	}
	char *base = read_file(argv[1]);
	if (!base) {
		fprintf(stderr, "tick: cannot read %s: %m\n", argv[1]);
		return 1;
	}
	/* The first backtrace() loads the unwinder, which allocates. */
	backtrace(warm, 1);

	bench_pid = getpid();
	atexit(remove_jobs);
	struct sigaction sa = { .sa_handler = on_fatal_signal };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaction(fatal_signals[i], &sa, NULL);

	sg_cgroup_detect("/sys/fs/cgroup", &layout, cgroup_root, sizeof(cgroup_root));
	if (max_jobs && !cgroup_root[0]) {
		fprintf(stderr, "tick: no cgroup2 mount under /sys/fs/cgroup: jobs cannot be watched here\n");
		free(base);
		return 1;
	}
	int status = max_jobs && make_jobs(max_jobs) < 0 ? 1 : 0;
	for (int i = 0; !status && i < nruns; i++)
		status = run(argv[1], base, njobs[i]) < 0 ? 1 : 0;
	free(base);
	return status;
}
