// SPDX-License-Identifier: GPL-2.0-or-later
/* The kernel log: record parsing, classification of every era's wording, and
 * the reader over a regular file, a FIFO and the real /dev/kmsg. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmsg.h"

/* Parses from a buffer of exactly len bytes (no NUL after it), so a read
 * past len shows under ASan or valgrind. */
static int parse_exact(const char *text, size_t len, struct sg_kmsg_record *rec, char **keep)
{
	char *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	memcpy(buf, text, len);
	*keep = buf;
	return sg_kmsg_parse_record(buf, len, rec);
}

static bool classify_str(const char *text, double uptime_s, struct sg_kmsg_event_info *ev)
{
	return sg_kmsg_classify(text, strlen(text), uptime_s, ev);
}

/* ---- parse ---- */

static void test_parse_fields(void **state)
{
	static const char rec1[] =
		"0,361,14206553,-;watchdog: BUG: soft lockup - CPU#1 stuck for 11s! [insmod:89]";
	static const char rec2[] = "3,365,131000000,-,caller=C0;I/O error, dev vda, sector 123\n"
				   " SUBSYSTEM=block\n DEVICE=b254:0\n";
	static const char rec3[] = "14,9,5,c;hello";
	struct sg_kmsg_record r;
	char *keep;

	(void)state;
	assert_int_equal(parse_exact(rec1, strlen(rec1), &r, &keep), 0);
	assert_int_equal(r.facility, 0);
	assert_int_equal(r.level, 0);
	assert_true(r.seq == 361);
	assert_true(r.ts_usec == 14206553);
	assert_int_equal(r.flag, '-');
	assert_int_equal(r.text_len,
			 strlen("watchdog: BUG: soft lockup - CPU#1 stuck for 11s! [insmod:89]"));
	assert_memory_equal(r.text, "watchdog: BUG: soft lockup", 26);
	assert_ptr_equal(r.text, keep + strlen("0,361,14206553,-;"));
	free(keep);

	assert_int_equal(parse_exact(rec2, strlen(rec2), &r, &keep), 0);
	assert_int_equal(r.facility, 0);
	assert_int_equal(r.level, 3);
	assert_true(r.seq == 365);
	assert_int_equal(r.text_len, strlen("I/O error, dev vda, sector 123"));
	assert_memory_equal(r.text, "I/O error, dev vda, sector 123", r.text_len);
	free(keep);

	/* LOG_USER|LOG_INFO, the 'c' flag. */
	assert_int_equal(parse_exact(rec3, strlen(rec3), &r, &keep), 0);
	assert_int_equal(r.facility, 1);
	assert_int_equal(r.level, 6);
	assert_int_equal(r.flag, 'c');
	assert_int_equal(r.text_len, 5);
	free(keep);

	/* An empty message is a record. */
	assert_int_equal(parse_exact("6,1,2,+;", 8, &r, &keep), 0);
	assert_int_equal(r.flag, '+');
	assert_int_equal(r.text_len, 0);
	free(keep);

	/* len cuts the text: nothing after it is read. */
	assert_int_equal(parse_exact("6,1,2,-;hello world", 10, &r, &keep), 0);
	assert_int_equal(r.text_len, 2);
	free(keep);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"0,1,2,-", /* no ';' */
		"0,1,2;x", /* no flag */
		"a,1,2,-;x", /* non-digit prio */
		"0,,2,-;x", /* empty seq */
		"0,1,2x,-;x", /* junk in usec */
		"0,1,-;x", /* a field missing */
		"0,1,2,x;x", /* unknown flag */
		"0,1,2,--;x", /* two-character flag */
		" 0,1,2,-;x", /* leading space */
		"0,1,2,-;x\nno space", /* a second line that is no " KEY=value" */
		"0,99999999999999999999999,2,-;x",
		"99999999999,1,2,-;x",
		"0,50", /* truncated header */
		";x",
		"0,1,2,-,caller=T1\n;x", /* a newline in the header */
	};
	struct sg_kmsg_record r;
	char *keep;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_exact(bad[i], strlen(bad[i]), &r, &keep) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		free(keep);
	}
	assert_int_equal(parse_exact("", 0, &r, &keep), -EINVAL);
	free(keep);
	/* The ';' lies beyond len. */
	assert_int_equal(parse_exact("0,1,2,-;x", 7, &r, &keep), -EINVAL);
	free(keep);
	/* A NUL in the header. */
	assert_int_equal(parse_exact("0,1\0,2,-;x", 10, &r, &keep), -EINVAL);
	free(keep);
	assert_int_equal(parse_exact("0,1,2,-,caller=\0;x", 18, &r, &keep), -EINVAL);
	free(keep);

	/* 9000 bytes of junk, then a record longer than the kernel's maximum. */
	char *junk = malloc(9000);
	assert_non_null(junk);
	memset(junk, 'A', 9000);
	assert_int_equal(sg_kmsg_parse_record(junk, 9000, &r), -EINVAL);
	memcpy(junk, "0,1,2,-;", 8);
	assert_int_equal(sg_kmsg_parse_record(junk, SG_KMSG_RECORD_MAX + 1, &r), -EINVAL);
	assert_int_equal(sg_kmsg_parse_record(junk, SG_KMSG_RECORD_MAX, &r), 0);
	free(junk);
}

/* ---- classify: every line of every era fixture ---- */

struct expect {
	uint64_t seq;
	enum sg_kmsg_event kind;
	int cpu;
	uint64_t seconds;
	int pid;
	const char *comm;
	const char *device;
};

#define SOFT(seq, cpu, s, pid, comm) { seq, SG_EV_SOFT_LOCKUP, cpu, s, pid, comm, "" }
#define CLOCK(seq, cpu, s, pid, comm) { seq, SG_EV_CLOCK_BUG, cpu, s, pid, comm, "" }
#define HARD(seq, cpu) { seq, SG_EV_HARD_LOCKUP, cpu, 0, -1, "", "" }
#define HUNG(seq, s, pid, comm) { seq, SG_EV_HUNG_TASK, -1, s, pid, comm, "" }
#define RCU(seq, cpu) { seq, SG_EV_RCU_STALL, cpu, 0, -1, "", "" }
#define WQ(seq, cpu, s) { seq, SG_EV_WORKQUEUE_LOCKUP, cpu, s, -1, "", "" }
#define IO(seq, dev) { seq, SG_EV_IO_ERROR, -1, 0, -1, "", dev }
#define OOM(seq, pid, comm) { seq, SG_EV_OOM_KILL, -1, 0, pid, comm, "" }

/* Kernel-facility lines not listed here must not classify. */
static const struct expect era26[] = {
	SOFT(102, 6, 67, 5856, "z_wr_iss/6"),
	SOFT(104, 0, 0, 0, "swapper"),
	CLOCK(105, 20, 17163091968ULL, 10666, "kvm"),
	HUNG(106, 120, 412, "jbd2/sda1-8"),
	RCU(108, 0),
	RCU(109, -1),
	RCU(110, -1),
	IO(111, "sda"),
	IO(112, "sda1"),
	OOM(115, 1012, "java"),
	OOM(116, 2001, "httpd"),
	HARD(117, 1),
	HARD(118, 3),
};

static const struct expect era4[] = {
	SOFT(202, 2, 22, 8140, "name"),
	HARD(203, 3),
	HUNG(205, 120, 123, "kworker/u16:3"),
	RCU(206, -1),
	RCU(207, -1),
	WQ(209, 2, 72),
	IO(211, "sda"),
	IO(212, "nvme0n1"),
	IO(213, "sdb"),
	IO(214, "sda1"),
	OOM(217, 1012, "my name"),
};

static const struct expect era5[] = {
	SOFT(302, 29, 22, 14352, "mysqld"),
	HARD(304, 5),
	RCU(305, -1),
	RCU(307, -1),
	HUNG(309, 122, 5857, "my proc: x"),
	IO(311, "sdb"),
	OOM(313, 1012, "a) b) c"),
	OOM(314, 1020, "stress"),
};

static const struct expect era6[] = {
	SOFT(361, 1, 11, 89, "insmod"),
	HARD(363, 3),
	HUNG(364, 122, 123, "kworker/u16:3"),
	IO(365, "vda"),
	OOM(366, 1012, "my name"),
	RCU(367, -1),
	IO(368, "vda1"),
	WQ(369, 0, 31),
};

static const struct expect hostile[] = {
	SOFT(500, 3, 23, 5856, "my proc: x/1:2"),
	SOFT(501, 4, 24, 123, "kworker/u16:3"),
	SOFT(502, 5, 25, 77, "a]b [c]"),
	HUNG(505, 120, 9, "ok"),
};

/* An uptime of 208 days: the 17163091968 s lockup is a clock bug, the rest are real. */
#define UPTIME_208D 18000000.0

static void check_fixture(const char *name, const struct expect *exp, size_t n_exp,
			  size_t want_user, size_t want_bad)
{
	size_t len, seen = 0, user = 0, bad = 0;
	char *text = fixture_read(name, &len);

	for (char *line = text, *nl; line < text + len; line = nl + 1) {
		struct sg_kmsg_record r;
		struct sg_kmsg_event_info ev;
		char *keep;

		nl = memchr(line, '\n', (size_t)(text + len - line));
		if (!nl)
			fail_msg("%s: no newline at the end", name);
		if (line[0] == ' ')
			continue;
		if (parse_exact(line, (size_t)(nl - line), &r, &keep) < 0) {
			bad++;
			free(keep);
			continue;
		}
		bool is_event = sg_kmsg_classify(r.text, r.text_len, UPTIME_208D, &ev);
		if (r.facility != 0) {
			user++;
			free(keep);
			continue;
		}
		const struct expect *e = NULL;
		for (size_t i = 0; i < n_exp; i++)
			if (exp[i].seq == r.seq)
				e = &exp[i];
		if (!e) {
			if (is_event)
				fail_msg("%s seq %llu: \"%.*s\" classified as %s", name,
					 (unsigned long long)r.seq, (int)r.text_len, r.text,
					 sg_kmsg_event_name(ev.kind));
			free(keep);
			continue;
		}
		seen++;
		if (!is_event)
			fail_msg("%s seq %llu: \"%.*s\" not classified", name,
				 (unsigned long long)r.seq, (int)r.text_len, r.text);
		if (ev.kind != e->kind || ev.cpu != e->cpu || ev.seconds != e->seconds ||
		    ev.pid != e->pid || strcmp(ev.comm, e->comm) != 0 ||
		    strcmp(ev.device, e->device) != 0)
			fail_msg("%s seq %llu: got %s cpu %d seconds %llu pid %d comm \"%s\" "
				 "device \"%s\"",
				 name, (unsigned long long)r.seq, sg_kmsg_event_name(ev.kind),
				 ev.cpu, (unsigned long long)ev.seconds, ev.pid, ev.comm,
				 ev.device);
		free(keep);
	}
	free(text);
	assert_int_equal(seen, n_exp);
	assert_int_equal(user, want_user);
	assert_int_equal(bad, want_bad);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_classify_era_2_6(void **state)
{
	(void)state;
	check_fixture("kmsg/era-2.6.txt", era26, N(era26), 0, 0);
}

static void test_classify_era_4(void **state)
{
	(void)state;
	check_fixture("kmsg/era-4.x.txt", era4, N(era4), 0, 0);
}

static void test_classify_era_5(void **state)
{
	(void)state;
	check_fixture("kmsg/era-5.x.txt", era5, N(era5), 0, 0);
}

static void test_classify_era_6(void **state)
{
	(void)state;
	check_fixture("kmsg/era-6.x.txt", era6, N(era6), 2, 0);
}

static void test_classify_hostile(void **state)
{
	(void)state;
	/* Two user-facility records; the 9000-byte junk line and "0,50" are malformed. */
	check_fixture("kmsg/hostile.txt", hostile, N(hostile), 2, 2);
}

static void test_classify_clock_bug_by_uptime(void **state)
{
	static const char lockup[] = "BUG: soft lockup - CPU#6 stuck for 67s! [z_wr_iss/6:5856]";
	static const char overflow[] =
		"BUG: soft lockup - CPU#20 stuck for 17163091968s! [kvm:10666]";
	struct sg_kmsg_event_info ev;

	(void)state;
	assert_true(classify_str(lockup, 3600, &ev));
	assert_int_equal(ev.kind, SG_EV_SOFT_LOCKUP);
	assert_true(classify_str(lockup, 60, &ev));
	assert_int_equal(ev.kind, SG_EV_CLOCK_BUG);
	assert_int_equal(ev.pid, 5856);
	assert_true(ev.seconds == 67);
	/* Unknown uptime: never a clock bug. */
	assert_true(classify_str(lockup, 0, &ev));
	assert_int_equal(ev.kind, SG_EV_SOFT_LOCKUP);
	assert_true(classify_str(overflow, 120.5, &ev));
	assert_int_equal(ev.kind, SG_EV_CLOCK_BUG);
	assert_true(classify_str(overflow, 2e10, &ev));
	assert_int_equal(ev.kind, SG_EV_SOFT_LOCKUP);
	/* A "stuck for" too big for 64 bits is a clock bug, not an overflowed small number. */
	assert_true(classify_str(
		"BUG: soft lockup - CPU#1 stuck for 99999999999999999999999s! [a:1]", 1e9, &ev));
	assert_int_equal(ev.kind, SG_EV_CLOCK_BUG);
}

static void test_classify_fragments_and_bounds(void **state)
{
	static const char hung[] = "INFO: task a:1 blocked for more than 120 seconds.";
	static const char soft[] = "watchdog: BUG: soft lockup - CPU#1 stuck for 11s! [insmod:89]";
	struct sg_kmsg_event_info ev;
	char comm[200];

	(void)state;
	/* Only the start of a workqueue lockup arrived. */
	assert_true(classify_str("BUG: workqueue lockup - pool", 100, &ev));
	assert_int_equal(ev.kind, SG_EV_WORKQUEUE_LOCKUP);
	assert_int_equal(ev.cpu, -1);
	assert_true(ev.seconds == 0);
	/* A cpu list is not one cpu. */
	assert_true(classify_str(
		"BUG: workqueue lockup - pool cpus=0-3 flags=0x4 nice=0 stuck for 40s!", 100, &ev));
	assert_int_equal(ev.cpu, -1);
	assert_true(ev.seconds == 40);
	/* WARN glued the message to the next line. */
	assert_true(classify_str("Watchdog detected hard LOCKUP on cpu 3Modules linked in: x", 100,
				 &ev));
	assert_int_equal(ev.kind, SG_EV_HARD_LOCKUP);
	assert_int_equal(ev.cpu, 3);
	/* len ends the text: nothing after it is looked at. */
	assert_false(sg_kmsg_classify(hung, strlen(hung) - strlen(" seconds."), 100, &ev));
	assert_true(sg_kmsg_classify(hung, strlen(hung) - 1, 100, &ev));
	assert_false(sg_kmsg_classify(
		soft, strlen("watchdog: BUG: soft lockup - CPU#1 stuck for 11"), 100, &ev));
	assert_true(sg_kmsg_classify(soft, strlen(soft) - 1, 100, &ev));
	assert_int_equal(ev.kind, SG_EV_SOFT_LOCKUP);
	assert_int_equal(ev.pid, -1); /* the closing ']' was cut off */
	assert_string_equal(ev.comm, "");
	/* A comm longer than the buffer is cut, the pid still found. */
	snprintf(comm, sizeof(comm), "INFO: task %0150d:42 blocked for more than 9 seconds.", 7);
	assert_true(classify_str(comm, 100, &ev));
	assert_int_equal(ev.pid, 42);
	assert_int_equal(strlen(ev.comm), sizeof(ev.comm) - 1);
	assert_false(sg_kmsg_classify(NULL, 0, 100, &ev));
	assert_int_equal(ev.pid, -1);
}

static void test_classify_not_events(void **state)
{
	static const char *const lines[] = {
		"watchdog: soft lockup detector enabled",
		"NMI watchdog: Enabled. Permanently consumes one hw-PMU counter.",
		"NMI watchdog: disabled (cpu0): hardware events not enabled",
		"Hung task detector",
		"INFO: task foo:1 is blocked on a mutex likely owned by task bar:2.",
		"softlockup: hung tasks",
		"Kernel panic - not syncing: softlockup: hung tasks",
		"Kernel panic - not syncing: Hard LOCKUP",
		"BUG: soft lockup",
		"BUG: soft lockup - CPU#x stuck for 1s! [a:1]",
		"rcu: Hierarchical RCU implementation.",
		"rcu: \\x09RCU restricting CPUs from NR_CPUS=512 to nr_cpu_ids=2.",
		"INFO: Stall ended before state dump start",
		"rcu: INFO: rcu_preempt stall warnings are off",
		"rcu: rcu_sched kthread starved for 10502 jiffies!",
		"workqueue: round-robin CPU selection forced, expect performance impact",
		"I/O error",
		"I/O error, dev , sector 1",
		"XFS (sda1): metadata I/O error in \"xfs_trans_read_buf_map\" at daddr 0x2 len 1 "
		"error 5",
		"EXT4-fs warning (device sda1): ext4_end_bio:323: I/O error 10 writing to inode 12",
		"operation not supported error, dev loop0, sector 0 op 0x9:(WRITE_ZEROES)",
		"Out of memory: Kill process 1012 (java) score 900 or sacrifice child",
		"Kill process 1013 (java) sharing same memory",
		"oom_reaper: reaped process 1012 (java), now anon-rss:0kB, file-rss:0kB, "
		"shmem-rss:0kB",
		"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
		"global_oom,task_memcg=/,task=stress,pid=1020,uid=0",
		"java invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, "
		"oom_score_adj=0",
		"systemd[1]: Killed process 55 (sleep) with signal SIGKILL.",
		"Killed process x (y)",
		"",
	};
	struct sg_kmsg_event_info ev;

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (classify_str(lines[i], 1e6, &ev))
			fail_msg("\"%s\" classified as %s", lines[i], sg_kmsg_event_name(ev.kind));
}

static void test_event_names(void **state)
{
	static const char *const want[SG_EV_COUNT] = {
		"soft_lockup", "hard_lockup", "hung_task", "rcu_stall",
		"workqueue_lockup", "io_error", "oom_kill", "clock_bug",
	};

	(void)state;
	for (int i = 0; i < SG_EV_COUNT; i++) {
		assert_string_equal(sg_kmsg_event_name((enum sg_kmsg_event)i), want[i]);
		assert_int_equal(sg_kmsg_event_from_name(want[i]), i);
	}
	assert_null(sg_kmsg_event_name(SG_EV_COUNT));
	assert_int_equal(sg_kmsg_event_from_name("soft"), -1);
	assert_int_equal(sg_kmsg_event_from_name("kmsg.soft_lockup"), -1);
	assert_int_equal(sg_kmsg_event_from_name(NULL), -1);
}

/* ---- the reader ---- */

struct seen {
	int n;
	enum sg_kmsg_event kind[16];
	int cpu[16];
	uint64_t seconds[16];
	uint64_t seq[16];
};

static void collect(const struct sg_kmsg_event_info *ev, const struct sg_kmsg_record *rec,
		    void *userdata)
{
	struct seen *s = userdata;

	assert_true(s->n < 16);
	s->kind[s->n] = ev->kind;
	s->cpu[s->n] = ev->cpu;
	s->seconds[s->n] = ev->seconds;
	s->seq[s->n] = rec->seq;
	s->n++;
}

static struct sg_kmsg_reader *new_reader(void)
{
	struct sg_kmsg_reader *r = malloc(sizeof(*r));

	assert_non_null(r);
	return r;
}

static void test_reader_regular_files(void **state)
{
	static const struct {
		const char *name;
		uint32_t counts[SG_EV_COUNT];
		int records;
		uint64_t lost, skipped;
	} cases[] = {
		{ "era-2.6.txt",
		  { [SG_EV_SOFT_LOCKUP] = 2, [SG_EV_CLOCK_BUG] = 1, [SG_EV_HUNG_TASK] = 1,
		    [SG_EV_RCU_STALL] = 3, [SG_EV_IO_ERROR] = 2, [SG_EV_OOM_KILL] = 2,
		    [SG_EV_HARD_LOCKUP] = 2 },
		  20, 0, 0 },
		{ "era-4.x.txt",
		  { [SG_EV_SOFT_LOCKUP] = 1, [SG_EV_HARD_LOCKUP] = 1, [SG_EV_HUNG_TASK] = 1,
		    [SG_EV_RCU_STALL] = 2, [SG_EV_WORKQUEUE_LOCKUP] = 1, [SG_EV_IO_ERROR] = 4,
		    [SG_EV_OOM_KILL] = 1 },
		  20, 0, 0 },
		{ "era-5.x.txt",
		  { [SG_EV_SOFT_LOCKUP] = 1, [SG_EV_HARD_LOCKUP] = 1, [SG_EV_HUNG_TASK] = 1,
		    [SG_EV_RCU_STALL] = 2, [SG_EV_IO_ERROR] = 1, [SG_EV_OOM_KILL] = 2 },
		  15, 0, 0 },
		/* seq 359 and 360 are missing; the two user records count nothing. */
		{ "era-6.x.txt",
		  { [SG_EV_SOFT_LOCKUP] = 1, [SG_EV_HARD_LOCKUP] = 1, [SG_EV_HUNG_TASK] = 1,
		    [SG_EV_RCU_STALL] = 1, [SG_EV_WORKQUEUE_LOCKUP] = 1, [SG_EV_IO_ERROR] = 2,
		    [SG_EV_OOM_KILL] = 1 },
		  13, 2, 0 },
		/* The junk line and the truncated header are skipped, the next record counts. */
		{ "hostile.txt", { [SG_EV_SOFT_LOCKUP] = 3, [SG_EV_HUNG_TASK] = 1 }, 4, 0, 2 },
		{ "cont.txt", { [SG_EV_WORKQUEUE_LOCKUP] = 1 }, 4, 0, 0 },
	};
	struct sg_kmsg_reader *r = new_reader();
	char path[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t counts[SG_EV_COUNT] = { 0 };

		snprintf(path, sizeof(path), "%s/kmsg/%s", FIXTURES, cases[i].name);
		assert_int_equal(sg_kmsg_open(r, path), 0);
		assert_true(r->is_regular);
		assert_false(r->is_kmsg);
		int n = sg_kmsg_drain(r, UPTIME_208D, counts, NULL, NULL);
		if (n != cases[i].records)
			fail_msg("%s: %d records, expected %d", cases[i].name, n, cases[i].records);
		for (int ev = 0; ev < SG_EV_COUNT; ev++)
			if (counts[ev] != cases[i].counts[ev])
				fail_msg("%s: %s = %u, expected %u", cases[i].name,
					 sg_kmsg_event_name((enum sg_kmsg_event)ev), counts[ev],
					 cases[i].counts[ev]);
		assert_true(r->records == (uint64_t)cases[i].records);
		assert_true(r->lost == cases[i].lost);
		assert_true(r->skipped == cases[i].skipped);
		assert_int_equal(r->buf_len, 0);
		/* At the end of the file: nothing more. */
		assert_int_equal(sg_kmsg_drain(r, UPTIME_208D, counts, NULL, NULL), 0);
		sg_kmsg_close(r);
		assert_int_equal(r->fd, -1);
	}
	free(r);
}

/* A temporary directory for FIFOs and files; removed by the teardown. */
struct tmp {
	char dir[64];
	char path[128];
	int wfd;
	struct sg_kmsg_reader *r;
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/sg-kmsg-test.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/kmsg", t->dir);
	t->wfd = -1;
	t->r = malloc(sizeof(*t->r));
	if (!t->r)
		return -1;
	t->r->fd = -1;
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;

	if (t->wfd >= 0)
		close(t->wfd);
	sg_kmsg_close(t->r);
	free(t->r);
	unlink(t->path);
	int r = rmdir(t->dir);
	free(t);
	return r;
}

/* Makes a FIFO, opens the reader on it, then the writer end. */
static struct tmp *fifo_open(void **state)
{
	struct tmp *t = *state;

	assert_int_equal(mkfifo(t->path, 0600), 0);
	assert_int_equal(sg_kmsg_open(t->r, t->path), 0);
	assert_false(t->r->is_kmsg);
	assert_false(t->r->is_regular);
	t->wfd = open(t->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(t->wfd >= 0);
	return t;
}

static void put(int fd, const char *s, size_t len)
{
	assert_int_equal(write(fd, s, len), (ssize_t)len);
}

static void puts_fd(int fd, const char *s)
{
	put(fd, s, strlen(s));
}

static void test_reader_fifo(void **state)
{
	struct tmp *t = fifo_open(state);
	uint32_t counts[SG_EV_COUNT] = { 0 };
	struct seen seen = { 0 };
	size_t len;
	char *text = fixture_read("kmsg/era-6.x.txt", &len);

	/* Nothing written yet. */
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, collect, &seen), 0);

	put(t->wfd, text, len);
	free(text);
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, collect, &seen), 13);
	assert_int_equal(counts[SG_EV_SOFT_LOCKUP], 1);
	assert_int_equal(counts[SG_EV_HARD_LOCKUP], 1);
	assert_int_equal(counts[SG_EV_HUNG_TASK], 1);
	assert_int_equal(counts[SG_EV_IO_ERROR], 2);
	assert_int_equal(counts[SG_EV_OOM_KILL], 1);
	assert_int_equal(counts[SG_EV_RCU_STALL], 1);
	assert_int_equal(counts[SG_EV_WORKQUEUE_LOCKUP], 1);
	assert_int_equal(counts[SG_EV_CLOCK_BUG], 0);
	assert_int_equal(seen.n, 8);
	assert_int_equal(seen.kind[0], SG_EV_SOFT_LOCKUP);
	assert_true(seen.seq[0] == 361);

	/* A line split across two writes counts once, when complete. */
	puts_fd(t->wfd, "0,372,1,-;INFO: task a b:77 blocked for mo");
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, collect, &seen), 0);
	assert_int_equal(counts[SG_EV_HUNG_TASK], 1);
	assert_true(t->r->buf_len > 0);
	puts_fd(t->wfd, "re than 240 seconds.\n");
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, collect, &seen), 1);
	assert_int_equal(counts[SG_EV_HUNG_TASK], 2);
	assert_int_equal(seen.n, 9);
	assert_true(seen.seconds[8] == 240);

	/* 'c' then '+' records join into one workqueue lockup; the "stuck for"
	 * and the cpu come from the later records. */
	text = fixture_read("kmsg/cont.txt", &len);
	put(t->wfd, text, len);
	free(text);
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, collect, &seen), 4);
	assert_int_equal(counts[SG_EV_WORKQUEUE_LOCKUP], 2);
	assert_int_equal(seen.n, 10);
	assert_int_equal(seen.kind[9], SG_EV_WORKQUEUE_LOCKUP);
	assert_int_equal(seen.cpu[9], 2);
	assert_true(seen.seconds[9] == 72);
	assert_true(seen.seq[9] == 600);
	assert_true(t->r->lost == 2 + 227); /* 359-360, then 373-599 */
	assert_true(t->r->skipped == 0);

	/* The writer goes away: drained, nothing more. */
	close(t->wfd);
	t->wfd = -1;
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, collect, &seen), 0);
}

static void test_reader_continuation_order(void **state)
{
	struct tmp *t = fifo_open(state);
	uint32_t counts[SG_EV_COUNT] = { 0 };
	struct seen seen = { 0 };

	/* A '-' record flushes the pending continuation before it counts itself. */
	puts_fd(t->wfd, "0,1,1,c;BUG: workqueue lockup - pool\n"
			"0,2,2,+; cpus=1 flags=0x0 nice=0\n"
			"0,3,3,-;INFO: task a:1 blocked for more than 120 seconds.\n"
			"6,4,4,+; stuck for 5s!\n"); /* an orphan '+' stands alone */
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, collect, &seen), 4);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.kind[0], SG_EV_WORKQUEUE_LOCKUP);
	assert_int_equal(seen.cpu[0], 1);
	assert_true(seen.seconds[0] == 0);
	assert_int_equal(seen.kind[1], SG_EV_HUNG_TASK);

	/* A continuation still open when the drain ends is flushed then. */
	puts_fd(t->wfd, "0,5,5,c;BUG: workqueue lockup - pool\n");
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, collect, &seen), 1);
	assert_int_equal(seen.n, 3);
	assert_false(t->r->pending_active);

	/* 6.x: the start is a whole record, the rest arrives as 'c' fragments:
	 * still one event. */
	puts_fd(t->wfd, "0,6,6,-;BUG: workqueue lockup - pool\n"
			"0,7,7,c; cpus=3 node=0 flags=0x0 nice=0\n"
			"0,8,8,c; stuck for 31s!\n");
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, collect, &seen), 3);
	assert_int_equal(counts[SG_EV_WORKQUEUE_LOCKUP], 3);
	assert_int_equal(counts[SG_EV_HUNG_TASK], 1);
	assert_int_equal(seen.n, 4);
	assert_true(t->r->lost == 0);
}

static void test_reader_junk_across_drains(void **state)
{
	struct tmp *t = fifo_open(state);
	uint32_t counts[SG_EV_COUNT] = { 0 };
	char junk[5000];

	memset(junk, 'j', sizeof(junk));
	puts_fd(t->wfd, "0,1,1,-;INFO: task a:1 blocked for more than 120 seconds.\n");
	put(t->wfd, junk, sizeof(junk));
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, NULL, NULL), 1);
	assert_true(t->r->skipped == 0);
	/* 10000 bytes without a newline: longer than a record can be. */
	put(t->wfd, junk, sizeof(junk));
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, NULL, NULL), 0);
	assert_true(t->r->skipped == 1);
	assert_true(t->r->skip_line);
	/* The rest of the long line, then records: the long line counts once, a
	 * record that looks whole in its tail is not taken, the next line is. */
	put(t->wfd, junk, sizeof(junk));
	puts_fd(t->wfd, "0,2,2,-;INFO: task tail:2 blocked for more than 120 seconds.\n"
			"0,3,3,-;INFO: task b:3 blocked for more than 120 seconds.\n"
			"junk\n"
			"14,4,4,-;INFO: task user:4 blocked for more than 120 seconds.\n"
			"\n"
			" KEY=value\n"
			"0,5,5,-;Out of memory: Killed process 9 (x) total-vm:1kB\n");
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, NULL, NULL), 2);
	assert_true(t->r->skipped == 2);
	assert_false(t->r->skip_line);
	assert_int_equal(counts[SG_EV_HUNG_TASK], 2);
	assert_int_equal(counts[SG_EV_OOM_KILL], 1);
	assert_true(t->r->records == 3);
}

static void test_reader_seq_gaps(void **state)
{
	struct tmp *t = fifo_open(state);
	uint32_t counts[SG_EV_COUNT] = { 0 };

	/* Records overwritten before they were read show as gaps in seq, on
	 * every facility; the first record read sets the start. */
	puts_fd(t->wfd, "6,10,1,-;a\n"
			"6,11,2,-;b\n"
			"14,15,3,-;c\n"
			"6,16,4,-;d\n");
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, NULL, NULL), 3);
	assert_true(t->r->lost == 3);
	assert_true(t->r->last_seq == 16);
	/* Across drains too; a malformed record in between changes nothing; seq
	 * going back (a new log) loses nothing. */
	puts_fd(t->wfd, "6,x,5,-;e\n"
			"6,20,5,-;f\n"
			"6,3,6,-;g\n"
			"6,4,7,-;h\n");
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, NULL, NULL), 3);
	assert_true(t->r->lost == 6);
	assert_true(t->r->skipped == 1);
	assert_true(t->r->last_seq == 4);
}

static void test_reader_regular_file_grows(void **state)
{
	struct tmp *t = *state;
	uint32_t counts[SG_EV_COUNT] = { 0 };
	int fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	puts_fd(fd,
		"0,1,1,-;watchdog: BUG: soft lockup - CPU#0 stuck for 30s! [a:1]\n0,2,2,-;I/O err");
	assert_int_equal(sg_kmsg_open(t->r, t->path), 0);
	assert_true(t->r->is_regular);
	/* Read from the start, the partial line waits. */
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, NULL, NULL), 1);
	assert_int_equal(counts[SG_EV_SOFT_LOCKUP], 1);
	puts_fd(fd, "or, dev sdc, sector 1\n");
	assert_int_equal(sg_kmsg_drain(t->r, 1e6, counts, NULL, NULL), 1);
	assert_int_equal(counts[SG_EV_IO_ERROR], 1);
	close(fd);
}

static void test_reader_open_errors(void **state)
{
	struct tmp *t = *state;

	assert_int_equal(sg_kmsg_open(t->r, t->path), -ENOENT);
	assert_int_equal(t->r->fd, -1);
	assert_int_equal(sg_kmsg_open(t->r, t->dir), -EISDIR);
	assert_int_equal(t->r->fd, -1);
	assert_int_equal(sg_kmsg_drain(t->r, 1, NULL, NULL, NULL), -EBADF);
}

/* Kernel-facility records in the whole log now. */
static uint64_t count_kernel_records(void)
{
	struct sg_kmsg_record rec;
	uint64_t n = 0;
	char *buf = malloc(SG_KMSG_RECORD_MAX);
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	assert_non_null(buf);
	assert_true(fd >= 0);
	for (;;) {
		ssize_t got = read(fd, buf, SG_KMSG_RECORD_MAX);
		if (got < 0 && (errno == EPIPE || errno == EINTR))
			continue;
		if (got <= 0)
			break;
		if (sg_kmsg_parse_record(buf, (size_t)got, &rec) == 0 && rec.facility == 0)
			n++;
	}
	close(fd);
	free(buf);
	return n;
}

static void test_reader_dev_kmsg(void **state)
{
	static const char note[] = "<15>stallguard test_kmsg: reader check\n";
	struct sg_kmsg_reader *r = new_reader();
	uint32_t counts[SG_EV_COUNT] = { 0 };

	(void)state;
	if (access("/dev/kmsg", R_OK | W_OK) != 0)
		fail_msg("/dev/kmsg: %s (this test reads and writes the real kernel log, as root)",
			 strerror(errno));
	uint64_t before = count_kernel_records();
	assert_true(before > 0); /* the boot messages */

	assert_int_equal(sg_kmsg_open(r, "/dev/kmsg"), 0);
	assert_true(r->is_kmsg);
	assert_false(r->is_regular);
	/* Seeked to the end: the log's history is not read again. */
	int n = sg_kmsg_drain(r, 1e6, counts, NULL, NULL);
	assert_true(n >= 0);
	assert_true((uint64_t)n < before);

	/* A record written now (LOG_USER, as every userspace write is) is read
	 * and counts as nothing. */
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	puts_fd(fd, note);
	close(fd);
	n = sg_kmsg_drain(r, 1e6, counts, NULL, NULL);
	assert_true(n >= 0);
	assert_true(r->have_seq);
	assert_true(r->skipped == 0);
	assert_true(r->lost == 0);
	for (int ev = 0; ev < SG_EV_COUNT; ev++)
		assert_int_equal(counts[ev], 0);
	/* Nothing more now. */
	uint64_t seq = r->last_seq;
	assert_true(sg_kmsg_drain(r, 1e6, counts, NULL, NULL) >= 0);
	assert_true(r->last_seq >= seq);
	sg_kmsg_close(r);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_classify_era_2_6),
		cmocka_unit_test(test_classify_era_4),
		cmocka_unit_test(test_classify_era_5),
		cmocka_unit_test(test_classify_era_6),
		cmocka_unit_test(test_classify_hostile),
		cmocka_unit_test(test_classify_clock_bug_by_uptime),
		cmocka_unit_test(test_classify_fragments_and_bounds),
		cmocka_unit_test(test_classify_not_events),
		cmocka_unit_test(test_event_names),
		cmocka_unit_test(test_reader_regular_files),
		cmocka_unit_test_setup_teardown(test_reader_fifo, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_reader_continuation_order, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_reader_junk_across_drains, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_reader_seq_gaps, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_reader_regular_file_grows, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_reader_open_errors, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_reader_dev_kmsg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
