/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The BPF flight recorder on this machine's kernel, with real programs:
 * the mmap_lock freeze (tests/progs/mmap_freeze), a /dev/zero reader, a
 * task in D state. Kernel frames are named through /proc/kallsyms. A host
 * where the recorder cannot load fails every test with its reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dstate.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "recorder.h"

#define WINDOW_USEC (10ULL * 1000 * 1000)

/* ---- /proc/kallsyms ---- */

struct ksym {
	uint64_t addr;
	char *name;
};

static struct ksym *ksyms;
static size_t nksyms;

static int by_addr(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Text symbols, sorted; 0 or -1 (none, or addresses hidden). */
static int ksyms_load(void)
{
	FILE *fp = fopen("/proc/kallsyms", "r");
	char name[256], type;
	unsigned long long addr;
	size_t cap = 0;

	if (!fp)
		return -1;
	while (fscanf(fp, "%llx %c %255s%*[^\n]", &addr, &type, name) == 3) {
		if (type != 't' && type != 'T')
			continue;
		if (nksyms == cap) {
			cap = cap ? cap * 2 : 65536;
			ksyms = realloc(ksyms, cap * sizeof(*ksyms));
			if (!ksyms)
				break;
		}
		ksyms[nksyms++] = (struct ksym){ .addr = addr, .name = strdup(name) };
	}
	fclose(fp);
	if (!ksyms || nksyms == 0 || ksyms[nksyms - 1].addr == 0)
		return -1;
	qsort(ksyms, nksyms, sizeof(*ksyms), by_addr);
	return 0;
}

static const char *ksym_name(uint64_t ip)
{
	size_t lo = 0, hi = nksyms;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (ksyms[mid].addr <= ip)
			lo = mid;
		else
			hi = mid;
	}
	return nksyms && ksyms[lo].addr <= ip ? ksyms[lo].name : "?";
}

/* Does the trace hold a frame whose function name starts with one of names? */
static bool trace_has(const struct sg_stack_set *set, int32_t trace, const char *const *names)
{
	if (trace < 0)
		return false;
	const struct sg_trace *t = &set->traces[trace];
	for (uint16_t i = 0; i < t->depth; i++) {
		const char *fn = ksym_name(set->ips[t->offset + i]);
		for (const char *const *n = names; *n; n++)
			if (strncmp(fn, *n, strlen(*n)) == 0)
				return true;
	}
	return false;
}

static void print_trace(const struct sg_stack_set *set, int32_t trace)
{
	if (trace < 0)
		return;
	const struct sg_trace *t = &set->traces[trace];
	for (uint16_t i = 0; i < t->depth && i < 16; i++)
		print_message("      %s\n", ksym_name(set->ips[t->offset + i]));
}

/* On a failed assertion: what the set holds for tgid. */
static void dump(const struct sg_stack_set *set, pid_t tgid)
{
	size_t shown = 0;

	print_message("  %s set: %zu samples, %zu traces, %zu lost; for tgid %d:\n",
		      set->kind == SG_STACKS_OFFCPU ? "off-CPU" : "on-CPU", set->nsamples, set->ntraces,
		      (size_t)set->lost, (int)tgid);
	for (size_t i = 0; i < set->nsamples && shown < 8; i++) {
		const struct sg_stack_sample *s = &set->samples[i];
		if ((pid_t)s->tgid != tgid)
			continue;
		shown++;
		print_message("    tid %u %s value %llu%s\n", s->tid, s->comm, (unsigned long long)s->value,
			      s->in_progress ? " in progress" : "");
		print_trace(set, s->kernel_trace);
	}
}

/* ---- fixture ---- */

static struct sg_recorder *rec;
static char why[256] = "not opened";

struct fix {
	struct sg_stack_set off, on;
	pid_t child; /* leads its own process group; killed with it at teardown */
	pid_t other; /* a second one, when a test needs one */
};

static int group_setup(void **state)
{
	struct sg_recorder_opts opts = { .oncpu_hz = 99, .window_usec = WINDOW_USEC };
	int err;

	(void)state;
	if (ksyms_load() < 0)
		snprintf(why, sizeof(why), "cannot read text symbols with addresses from /proc/kallsyms");
	else if ((err = sg_recorder_open(&opts, &rec, why, sizeof(why))) == 0 && (err = sg_recorder_attach(rec)) < 0)
		snprintf(why, sizeof(why), "cannot attach the recorder: %s", strerror(-err));
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sg_recorder_close(rec);
	for (size_t i = 0; i < nksyms; i++)
		free(ksyms[i].name);
	free(ksyms);
	return 0;
}

static int setup(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof(f));
	*state = &f;
	if (sg_stack_set_init(&f.off, SG_STACKS_OFFCPU, 65536, 16384, 1 << 20) < 0 ||
	    sg_stack_set_init(&f.on, SG_STACKS_ONCPU, 65536, 16384, 1 << 20) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	dstate_helper_stop(f->child);
	dstate_helper_stop(f->other);
	f->child = f->other = 0;
	sg_stack_set_free(&f->off);
	sg_stack_set_free(&f->on);
	return 0;
}

/* Every test starts here: a host without the recorder fails with its reason. */
static void need_recorder(void)
{
	if (!rec || nksyms == 0)
		fail_msg("the BPF recorder is not available here: %s", why);
	assert_int_equal(sg_recorder_attach(rec), 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Forks a child in its own process group that reads /dev/zero forever as "sg-zero-reader". */
static pid_t start_zero_reader(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_NAME, "sg-zero-reader");
		int fd = open("/dev/zero", O_RDONLY);
		char *buf = malloc(1 << 20);
		if (fd < 0 || !buf)
			_exit(3);
		for (;;)
			if (read(fd, buf, 1 << 20) < 0)
				_exit(4);
	}
	if (pid > 0)
		setpgid(pid, pid);
	return pid;
}

/* Runs PROGS/mmap_freeze in its own process group and waits for its "ready". */
static pid_t start_mmap_freeze(void)
{
	int fds[2];
	char line[16] = "";
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		dup2(fds[1], STDOUT_FILENO);
		execl(PROGS "/mmap_freeze", "mmap_freeze", (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid);
	close(fds[1]);
	struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
	if (pid > 0 && (poll(&pfd, 1, 5000) != 1 || read(fds[0], line, sizeof(line) - 1) <= 0 ||
			strncmp(line, "ready", 5) != 0)) {
		dstate_helper_stop(pid);
		pid = -1;
	}
	close(fds[0]);
	return pid;
}

static uint64_t sum_for(const struct sg_stack_set *set, pid_t tgid)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < set->nsamples; i++)
		if ((pid_t)set->samples[i].tgid == tgid)
			sum += set->samples[i].value;
	return sum;
}

static const char *const mmap_lock_frames[] = { "rwsem_down_read_slowpath", "rwsem_down_write_slowpath",
						"down_read", "down_write", "lock_mm_and_find_vma",
						"__mmap_lock", "mmap_read_lock", "mmap_write_lock", NULL };

/* A sample of tgid blocked in the mmap_lock path; in progress if asked. */
static bool has_mmap_lock_block(const struct sg_stack_set *set, pid_t tgid, bool in_progress)
{
	for (size_t i = 0; i < set->nsamples; i++) {
		const struct sg_stack_sample *s = &set->samples[i];
		if ((pid_t)s->tgid == tgid && (!in_progress || s->in_progress) && s->value > 0 &&
		    trace_has(set, s->kernel_trace, mmap_lock_frames))
			return true;
	}
	return false;
}

/* ---- tests ---- */

static void test_mmap_lock_freeze(void **state)
{
	struct fix *f = *state;
	bool now_blocked = false;

	need_recorder();
	f->child = start_mmap_freeze();
	assert_true(f->child > 0);
	sleep_ms(3000);

	assert_int_equal(sg_recorder_snapshot(rec, &f->off, NULL), 0);
	if (!has_mmap_lock_block(&f->off, f->child, false))
		dump(&f->off, f->child);
	assert_true(has_mmap_lock_block(&f->off, f->child, false));
	assert_true(f->off.window_usec > 0 && f->off.window_usec <= WINDOW_USEC * 4 / 3 + 1);

	/* At some instant while it runs, one of its threads is blocked on the lock. */
	for (int i = 0; i < 50 && !now_blocked; i++) {
		assert_int_equal(sg_recorder_snapshot(rec, &f->off, NULL), 0);
		now_blocked = has_mmap_lock_block(&f->off, f->child, true);
		if (!now_blocked)
			sleep_ms(20);
	}
	if (!now_blocked)
		dump(&f->off, f->child);
	assert_true(now_blocked);
}

static void test_oncpu_dev_zero(void **state)
{
	static const char *const read_zero_frames[] = { "read_zero", "read_iter_zero", "iov_iter_zero",
							 "clear_user", "__clear_user", "rep_stos_alternative",
							 NULL };
	struct fix *f = *state;
	uint64_t samples = 0, in_read_zero = 0;

	need_recorder();
	f->child = start_zero_reader();
	assert_true(f->child > 0);
	sleep_ms(2000);

	assert_int_equal(sg_recorder_snapshot(rec, NULL, &f->on), 0);
	for (size_t i = 0; i < f->on.nsamples; i++) {
		const struct sg_stack_sample *s = &f->on.samples[i];
		if ((pid_t)s->tgid != f->child)
			continue;
		assert_string_equal(s->comm, "sg-zero-reader");
		samples += s->value;
		if (trace_has(&f->on, s->kernel_trace, read_zero_frames))
			in_read_zero += s->value;
	}
	print_message("  sg-zero-reader: %llu samples, %llu in the /dev/zero read path\n",
		      (unsigned long long)samples, (unsigned long long)in_read_zero);
	if (in_read_zero == 0)
		dump(&f->on, f->child);
	/* 2 s at 99 Hz of a task that never sleeps: about 200 samples. */
	assert_true(samples >= 50);
	assert_true(in_read_zero >= samples / 2);
}

static void test_dstate_in_progress(void **state)
{
	struct fix *f = *state;
	uint64_t first = 0, second = 0;

	need_recorder();
	f->child = dstate_helper_start();
	assert_true(f->child > 0);
	for (int i = 0; i < 200 && task_state(f->child) != 'D'; i++)
		sleep_ms(10);
	assert_int_equal(task_state(f->child), 'D');

	assert_int_equal(sg_recorder_snapshot(rec, &f->off, NULL), 0);
	for (size_t i = 0; i < f->off.nsamples; i++)
		if ((pid_t)f->off.samples[i].tid == f->child && f->off.samples[i].in_progress)
			first = f->off.samples[i].value;
	sleep_ms(300);
	assert_int_equal(sg_recorder_snapshot(rec, &f->off, NULL), 0);
	for (size_t i = 0; i < f->off.nsamples; i++) {
		const struct sg_stack_sample *s = &f->off.samples[i];
		if ((pid_t)s->tid == f->child && s->in_progress) {
			assert_int_equal(s->tgid, f->child);
			assert_int_not_equal(s->kernel_trace, SG_STACK_NONE);
			second = s->value;
		}
	}
	if (second == 0)
		dump(&f->off, f->child);
	/* Blocked since before the first snapshot, and still counting. */
	assert_true(first > 0);
	assert_true(second >= first + 250000);
}

/* The raw_tp program (the fallback where tp_btf does not load) records
 * the same: a second recorder forced onto it, attached beside the first. */
static void test_raw_tp_fallback(void **state)
{
	struct sg_recorder_opts opts = { .window_usec = WINDOW_USEC, .raw_tp = true };
	struct sg_recorder *raw = NULL;
	struct fix *f = *state;
	char raw_why[256];
	bool found = false;

	need_recorder();
	assert_string_equal(sg_recorder_switch_kind(rec), "tp_btf"); /* this kernel has tp_btf */
	if (sg_recorder_open(&opts, &raw, raw_why, sizeof(raw_why)) < 0)
		fail_msg("raw_tp recorder: %s", raw_why);
	assert_string_equal(sg_recorder_switch_kind(raw), "raw_tp");
	if (sg_recorder_attach(raw) < 0) {
		sg_recorder_close(raw);
		fail_msg("cannot attach the raw_tp recorder");
	}
	f->child = dstate_helper_start();
	for (int i = 0; f->child > 0 && i < 200 && task_state(f->child) != 'D'; i++)
		sleep_ms(10);
	int err = sg_recorder_snapshot(raw, &f->off, NULL);
	sg_recorder_close(raw);
	assert_true(f->child > 0);
	assert_int_equal(err, 0);
	for (size_t i = 0; i < f->off.nsamples; i++) {
		const struct sg_stack_sample *s = &f->off.samples[i];
		if ((pid_t)s->tid == f->child && s->in_progress && s->kernel_trace != SG_STACK_NONE)
			found = true;
	}
	if (!found)
		dump(&f->off, f->child);
	assert_true(found);
}

/* Old windows age out in the kernel: with the shortest window, a reader
 * killed a second ago has left the on-CPU set of a recorder that keeps
 * running, which held it while it ran. */
static void test_window_ages_out(void **state)
{
	struct sg_recorder_opts opts = { .oncpu_hz = 99, .window_usec = SG_RECORDER_WINDOW_USEC_MIN };
	struct sg_recorder *short_rec = NULL;
	struct fix *f = *state;
	char short_why[256];
	uint64_t running, gone;
	pid_t reader;

	need_recorder();
	if (sg_recorder_open(&opts, &short_rec, short_why, sizeof(short_why)) < 0)
		fail_msg("short-window recorder: %s", short_why);
	f->other = start_zero_reader(); /* goes on running: the window still holds it */
	f->child = start_zero_reader();
	int err = f->child > 0 ? sg_recorder_attach(short_rec) : -ECHILD;
	sleep_ms(1000);
	if (err == 0)
		err = sg_recorder_snapshot(short_rec, NULL, &f->on);
	running = sum_for(&f->on, f->child);
	uint64_t reach = f->on.window_usec;
	reader = f->child;
	dstate_helper_stop(f->child);
	f->child = 0;
	sleep_ms(1000);
	if (err == 0)
		err = sg_recorder_snapshot(short_rec, NULL, &f->on);
	gone = sum_for(&f->on, reader);
	uint64_t other = sum_for(&f->on, f->other);
	sg_recorder_close(short_rec);
	assert_int_equal(err, 0);
	assert_true(reach >= SG_RECORDER_WINDOW_USEC_MIN && reach <= SG_RECORDER_WINDOW_USEC_MIN * 4 / 3 + 1);
	print_message("  reader's on-CPU samples in a 300 ms window: %llu while it ran, %llu a second after\n",
		      (unsigned long long)running, (unsigned long long)gone);
	assert_true(running >= 10); /* 300-400 ms at 99 Hz: about 35 */
	assert_int_equal(gone, 0);
	assert_true(other > 0); /* a reader still running is still recorded */
}

static void test_detach_stops(void **state)
{
	struct fix *f = *state;
	uint64_t a, b, c, d;

	need_recorder();
	f->child = start_zero_reader();
	assert_true(f->child > 0);
	sleep_ms(1000);
	assert_int_equal(sg_recorder_snapshot(rec, &f->off, &f->on), 0);
	a = sum_for(&f->on, f->child);
	sleep_ms(1000);
	assert_int_equal(sg_recorder_snapshot(rec, &f->off, &f->on), 0);
	b = sum_for(&f->on, f->child);
	assert_true(b > a + 20); /* attached: about 99 more */

	sg_recorder_detach(rec);
	sg_recorder_detach(rec);
	assert_int_equal(sg_recorder_snapshot(rec, &f->off, &f->on), 0);
	c = sum_for(&f->on, f->child);
	sleep_ms(1000);
	assert_int_equal(sg_recorder_snapshot(rec, &f->off, &f->on), 0);
	d = sum_for(&f->on, f->child);
	for (size_t i = 0; i < f->off.nsamples; i++)
		assert_false(f->off.samples[i].in_progress);
	assert_int_equal(sg_recorder_attach(rec), 0);
	assert_int_equal(sg_recorder_attach(rec), 0);
	print_message("  on-CPU samples of the reader: %llu, %llu attached; %llu, %llu detached\n",
		      (unsigned long long)a, (unsigned long long)b, (unsigned long long)c, (unsigned long long)d);
	assert_true(c >= b);
	assert_true(d <= c);
}

#define CANARY 0xa5

static bool canary_intact(const void *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (((const unsigned char *)p)[i] != CANARY)
			return false;
	return true;
}

static void test_small_sets(void **state)
{
	struct fix *f = *state;
	struct sg_stack_sample samples[2 + 4];
	struct sg_trace traces[1 + 4];
	uint64_t ips[8 + 4];
	struct sg_stack_set small = { .kind = SG_STACKS_ONCPU, .samples = samples, .samples_cap = 2,
				      .traces = traces, .traces_cap = 1, .ips = ips, .ips_cap = 8 };

	need_recorder();
	assert_int_equal(sg_stack_set_init(&(struct sg_stack_set){ 0 }, SG_STACKS_ONCPU, 0, 1, 1), -EINVAL);
	assert_int_equal(sg_recorder_snapshot(rec, &f->on, NULL), -EINVAL); /* an on-CPU set as off-CPU */
	assert_int_equal(sg_recorder_snapshot(rec, NULL, NULL), -EINVAL);

	f->child = start_zero_reader();
	assert_true(f->child > 0);
	sleep_ms(1000);
	memset(samples, CANARY, sizeof(samples));
	memset(traces, CANARY, sizeof(traces));
	memset(ips, CANARY, sizeof(ips));
	assert_int_equal(sg_recorder_snapshot(rec, NULL, &f->on), 0);
	assert_true(f->on.nsamples > 2);
	assert_int_equal(sg_recorder_snapshot(rec, NULL, &small), 0);

	assert_true(small.nsamples <= 2);
	assert_true(small.ntraces <= 1);
	assert_true(small.nips <= 8);
	assert_true(small.lost >= f->on.nsamples - 2);
	assert_true(canary_intact(samples + 2, sizeof(samples) - 2 * sizeof(samples[0])));
	assert_true(canary_intact(traces + 1, sizeof(traces) - sizeof(traces[0])));
	assert_true(canary_intact(ips + 8, sizeof(ips) - 8 * sizeof(ips[0])));
	for (size_t i = 0; i < small.nsamples; i++) {
		assert_true(small.samples[i].kernel_trace < (int32_t)small.ntraces);
		assert_true(small.samples[i].user_trace < (int32_t)small.ntraces);
	}
	for (size_t i = 0; i < small.ntraces; i++)
		assert_true(small.traces[i].offset + small.traces[i].depth <= small.nips);
}

static void test_bad_options(void **state)
{
	char reason[256] = "";
	struct sg_recorder *other = (struct sg_recorder *)reason; /* stale: open must clear it */

	(void)state;
	assert_int_equal(sg_recorder_open(&(struct sg_recorder_opts){ .oncpu_hz = 100 }, &other, reason,
					  sizeof(reason)), -EINVAL);
	assert_null(other);
	assert_non_null(strstr(reason, "100 Hz is outside 49..99"));
	assert_int_equal(sg_recorder_open(&(struct sg_recorder_opts){ .window_usec = 1000 }, &other, reason,
					  sizeof(reason)), -EINVAL);
	assert_null(other);
	assert_non_null(strstr(reason, "window 1000 us"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mmap_lock_freeze, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oncpu_dev_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dstate_in_progress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_tp_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_ages_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_sets, setup, teardown),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
