/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel log: /dev/kmsg records, event classification, and the reader.
 *
 * A record is "prio,seq,usec,flag[,more];text" and, after a newline, any
 * number of " KEY=value" lines. The events are recognised in the wording of
 * every kernel era:
 *
 *   soft lockup   [NMI watchdog: |watchdog: ]BUG: soft lockup - CPU#6 stuck for 67s! [comm:pid]
 *                 BUG: soft lockup detected on CPU#0! [comm:pid]          (2.6.1x)
 *   hard lockup   ...Watchdog detected hard LOCKUP on cpu 3...             (WARN/panic text too)
 *                 NMI Watchdog detected LOCKUP on CPU1, ...                (2.6.x x86)
 *   hung task     INFO: task NAME:PID blocked for more than 120 seconds.
 *   rcu stall     [rcu: ]INFO: rcu_NAME [self-]detected [expedited ]stall(s) ...
 *                 INFO: RCU detected CPU 1 stall (t=...)                   (2.6.2x)
 *   workqueue     BUG: workqueue lockup - pool cpus=2 ... stuck for 72s!
 *   I/O error     [blk_update_request: |print_req_error: |end_request: ]I/O error, dev sda, ...
 *                 (also "critical medium error"), Buffer I/O error on dev[ice] sda1, ...
 *   OOM kill      [... out of memory: ]Killed process PID (comm) ...
 *
 * Before 5.1 the OOM killer printed "Out of memory: Kill process PID (comm)
 * score N or sacrifice child" and then "Killed process PID (comm) ..." for
 * the victim actually killed (maybe a child), so only the "Killed process"
 * line is a kill: counting both would count every kill twice.
 *
 * Everything works on (pointer, length): kernel buffers are not
 * NUL-terminated, and nothing here allocates. */
#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A drain stops after this many read() calls even if more is readable, so a
 * flood of records cannot hold up the tick; the rest is read next time. */
#include "scan.h"

#define DRAIN_MAX_READS 4096

/* A whole span of digits as an int (pid, cpu); -1 when it is not one. */
static int span_to_int(const char *p, const char *end)
{
	struct sg_cursor c = { p, end };
	uint64_t v;

	if (!sg_eat_u64(&c, &v) || c.p != end || v > INT_MAX)
		return -1;
	return (int)v;
}

static const char *find(const char *p, const char *end, const char *needle)
{
	if (p >= end)
		return NULL;
	return memmem(p, (size_t)(end - p), needle, strlen(needle));
}

static const char *find_last(const char *p, const char *end, const char *needle)
{
	const char *last = NULL;

	for (const char *q = find(p, end, needle); q; q = find(q + 1, end, needle))
		last = q;
	return last;
}

static const char *find_last_char(const char *p, const char *end, char ch)
{
	if (p >= end)
		return NULL;
	return memrchr(p, ch, (size_t)(end - p));
}

static void copy_span(char *dst, size_t size, const char *p, const char *end)
{
	size_t n = (size_t)(end - p);

	if (n >= size)
		n = size - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* "NAME:PID": the pid follows the last colon, the name may hold colons. */
static void task_name_pid(const char *p, const char *end, struct sg_kmsg_event_info *out)
{
	const char *colon = find_last_char(p, end, ':');
	int pid;

	if (!colon || (pid = span_to_int(colon + 1, end)) < 0)
		return;
	out->pid = pid;
	copy_span(out->comm, sizeof(out->comm), p, colon);
}

int sg_kmsg_parse_record(const char *buf, size_t len, struct sg_kmsg_record *out)
{
	if (!buf || len == 0 || len > SG_KMSG_RECORD_MAX)
		return -EINVAL;

	const char *end = buf + len;
	const char *semi = memchr(buf, ';', len);
	if (!semi)
		return -EINVAL;
	size_t head_len = (size_t)(semi - buf);
	if (memchr(buf, '\0', head_len) || memchr(buf, '\n', head_len))
		return -EINVAL;

	struct sg_cursor c = { buf, semi };
	uint64_t prio, seq, usec;
	if (!sg_eat_u64(&c, &prio) || prio > UINT_MAX || !sg_eat_word(&c, ",") || !sg_eat_u64(&c, &seq) ||
	    seq == UINT64_MAX || !sg_eat_word(&c, ",") || !sg_eat_u64(&c, &usec) || usec == UINT64_MAX ||
	    !sg_eat_word(&c, ","))
		return -EINVAL;
	if (c.p == c.end || !strchr("-c+", *c.p))
		return -EINVAL;
	char flag = *c.p++;
	/* Further fields (",caller=T123") are allowed and ignored. */
	if (c.p != c.end && *c.p != ',')
		return -EINVAL;

	const char *text = semi + 1;
	const char *nl = memchr(text, '\n', (size_t)(end - text));
	/* Every line after the text is a " KEY=value" line. */
	for (const char *line = nl ? nl + 1 : end; line < end;) {
		if (*line != ' ')
			return -EINVAL;
		const char *next = memchr(line, '\n', (size_t)(end - line));
		line = next ? next + 1 : end;
	}

	out->facility = (unsigned)prio >> 3;
	out->level = (unsigned)prio & 7;
	out->seq = seq;
	out->ts_usec = usec;
	out->flag = flag;
	out->text = text;
	out->text_len = (size_t)((nl ? nl : end) - text);
	return 0;
}

static bool match_soft_lockup(const char *p, const char *end, double uptime_s,
			      struct sg_kmsg_event_info *out)
{
	/* No prefix before 4.x, "NMI watchdog: " in 4.x, "watchdog: " since. */
	static const char *const prefixes[] = { "", "NMI watchdog: ", "watchdog: " };
	struct sg_cursor c;
	uint64_t cpu;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(prefixes); i++) {
		c = (struct sg_cursor){ p, end };
		if (sg_eat_word(&c, prefixes[i]) && sg_eat_word(&c, "BUG: soft lockup "))
			break;
	}
	if (i == ARRAY_SIZE(prefixes))
		return false;
	if (sg_eat_word(&c, "- CPU#")) {
		if (!sg_eat_u64(&c, &cpu) || !sg_eat_word(&c, " stuck for ") ||
		    !sg_eat_u64_saturating(&c, &out->seconds) || !sg_eat_word(&c, "s!"))
			return false;
	} else if (sg_eat_word(&c, "detected on CPU#")) {
		if (!sg_eat_u64(&c, &cpu) || !sg_eat_word(&c, "!"))
			return false;
	} else {
		return false;
	}
	out->cpu = cpu > INT_MAX ? -1 : (int)cpu;
	/* "[comm:pid]": the comm may hold spaces, colons, slashes, brackets. */
	if (sg_eat_word(&c, " [")) {
		const char *close = find_last_char(c.p, c.end, ']');
		if (close)
			task_name_pid(c.p, close, out);
	}
	out->kind = SG_EV_SOFT_LOCKUP;
	/* uptime_s <= 0 means unknown: no clock bug can be told then. */
	if (uptime_s > 0 && (double)out->seconds > uptime_s)
		out->kind = SG_EV_CLOCK_BUG;
	return true;
}

static bool match_hard_lockup(const char *p, const char *end, struct sg_kmsg_event_info *out)
{
	/* The first also appears after "NMI watchdog: ", "CPU2: ", "Kernel
	 * panic - not syncing: ", and glued to "Modules linked in:" by WARN. */
	static const char *const marks[] = {
		"Watchdog detected hard LOCKUP on cpu",
		"NMI Watchdog detected LOCKUP on CPU",
		"NMI Watchdog detected LOCKUP on cpu",
	};

	for (size_t i = 0; i < ARRAY_SIZE(marks); i++) {
		const char *q = find(p, end, marks[i]);
		if (!q)
			continue;
		struct sg_cursor c = { q + strlen(marks[i]), end };
		uint64_t cpu;
		sg_eat_word(&c, " ");
		if (!sg_eat_u64(&c, &cpu))
			continue;
		out->cpu = cpu > INT_MAX ? -1 : (int)cpu;
		out->kind = SG_EV_HARD_LOCKUP;
		return true;
	}
	return false;
}

static bool match_hung_task(const char *p, const char *end, struct sg_kmsg_event_info *out)
{
	static const char blocked[] = " blocked for more than ";
	struct sg_cursor c = { p, end };

	if (!sg_eat_word(&c, "INFO: task "))
		return false;
	const char *b = find_last(c.p, end, blocked);
	if (!b)
		return false;
	struct sg_cursor s = { b + strlen(blocked), end };
	if (!sg_eat_u64(&s, &out->seconds) || !sg_eat_word(&s, " seconds"))
		return false;
	task_name_pid(c.p, b, out);
	out->kind = SG_EV_HUNG_TASK;
	return true;
}

static bool match_rcu_stall(const char *p, const char *end, struct sg_kmsg_event_info *out)
{
	struct sg_cursor c = { p, end };

	sg_eat_word(&c, "rcu: ");
	if (!sg_eat_word(&c, "INFO: ") || !(sg_eat_word(&c, "rcu") || sg_eat_word(&c, "RCU")))
		return false;
	/* The flavour: rcu_sched, rcu_preempt, rcu_bh, rcu_sched_state, RCU... */
	const char *space = memchr(c.p, ' ', (size_t)(c.end - c.p));
	if (!space)
		return false;
	c.p = space + 1;
	if (!sg_eat_word(&c, "detected ") && !sg_eat_word(&c, "self-detected "))
		return false;
	if (!find(c.p, end, "stall"))
		return false;
	const char *on = find(c.p, end, "stall on CPU ");
	if (on) {
		struct sg_cursor n = { on + strlen("stall on CPU "), end };
		uint64_t cpu;
		if (sg_eat_u64(&n, &cpu) && cpu <= INT_MAX)
			out->cpu = (int)cpu;
	}
	out->kind = SG_EV_RCU_STALL;
	return true;
}

static bool match_workqueue(const char *p, const char *end, struct sg_kmsg_event_info *out)
{
	static const char mark[] = "BUG: workqueue lockup - pool";
	const char *q = find(p, end, mark);

	if (!q)
		return false;
	q += strlen(mark);
	/* The rest may be missing: it is printed with pr_cont. */
	const char *f = find(q, end, " cpus=");
	if (f) {
		struct sg_cursor c = { f + strlen(" cpus="), end };
		uint64_t cpu;
		if (sg_eat_u64(&c, &cpu) && cpu <= INT_MAX && (c.p == c.end || *c.p == ' '))
			out->cpu = (int)cpu;
	}
	f = find(q, end, " stuck for ");
	if (f) {
		struct sg_cursor c = { f + strlen(" stuck for "), end };
		uint64_t s;
		if (sg_eat_u64(&c, &s) && sg_eat_word(&c, "s"))
			out->seconds = s;
	}
	out->kind = SG_EV_WORKQUEUE_LOCKUP;
	return true;
}

/* The device name up to ',' or ' '; false when empty. */
static bool take_device(struct sg_cursor *c, struct sg_kmsg_event_info *out)
{
	const char *d = c->p;

	while (c->p < c->end && *c->p != ',' && *c->p != ' ')
		c->p++;
	if (c->p == d)
		return false;
	copy_span(out->device, sizeof(out->device), d, c->p);
	return true;
}

static bool match_io_error(const char *p, const char *end, struct sg_kmsg_event_info *out)
{
	static const char *const prefixes[] = {
		"",
		"blk_update_request: ",
		"print_req_error: ",
		"end_request: ",
	};
	static const char *const statuses[] = { "I/O error, dev ", "critical medium error, dev " };
	struct sg_cursor c = { p, end };

	if (sg_eat_word(&c, "Buffer I/O error on dev")) {
		if (!sg_eat_word(&c, "ice ") && !sg_eat_word(&c, " "))
			return false;
		if (!take_device(&c, out))
			return false;
		out->kind = SG_EV_IO_ERROR;
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(statuses); j++) {
			c = (struct sg_cursor){ p, end };
			if (sg_eat_word(&c, prefixes[i]) && sg_eat_word(&c, statuses[j]) && take_device(&c, out)) {
				out->kind = SG_EV_IO_ERROR;
				return true;
			}
		}
	}
	return false;
}

static bool has_out_of_memory(const char *p, const char *end)
{
	return find(p, end, "ut of memory") || find(p, end, "ut of Memory");
}

static bool match_oom_kill(const char *p, const char *end, struct sg_kmsg_event_info *out)
{
	static const char killed[] = "Killed process ";
	struct sg_cursor c = { p, end };

	/* "Killed process" alone (before 5.1) or after "Out of memory: ",
	 * "Memory cgroup out of memory: ", "Out of memory (oom_kill_allocating_task): ". */
	if (!sg_eat_word(&c, killed)) {
		const char *k = find(p, end, ": Killed process ");
		if (!k || !has_out_of_memory(p, k))
			return false;
		c.p = k + strlen(": ") + strlen(killed);
	}
	uint64_t pid;
	if (!sg_eat_u64(&c, &pid) || pid > INT_MAX || !sg_eat_word(&c, " ("))
		return false;
	/* The comm may hold ')': it ends at the ") " before "total-vm:", or
	 * without that tail at the last ')'. */
	const char *close = find_last(c.p, end, ") total-vm:");
	if (!close)
		close = find_last_char(c.p, end, ')');
	if (!close)
		return false;
	out->pid = (int)pid;
	copy_span(out->comm, sizeof(out->comm), c.p, close);
	out->kind = SG_EV_OOM_KILL;
	return true;
}

bool sg_kmsg_classify(const char *text, size_t len, double uptime_s, struct sg_kmsg_event_info *out)
{
	memset(out, 0, sizeof(*out));
	out->cpu = -1;
	out->pid = -1;
	if (!text || len == 0)
		return false;

	const char *end = text + len;
	return match_soft_lockup(text, end, uptime_s, out) || match_hard_lockup(text, end, out) ||
	       match_hung_task(text, end, out) || match_rcu_stall(text, end, out) ||
	       match_workqueue(text, end, out) || match_io_error(text, end, out) ||
	       match_oom_kill(text, end, out);
}

int sg_kmsg_open(struct sg_kmsg_reader *reader, const char *path)
{
	struct stat st;
	int fd, err;

	memset(reader, 0, sizeof(*reader));
	reader->fd = -1;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		goto fail_errno;
	if (S_ISCHR(st.st_mode)) {
		reader->is_kmsg = true;
		if (lseek(fd, 0, SEEK_END) < 0)
			goto fail_errno;
	} else if (S_ISREG(st.st_mode)) {
		reader->is_regular = true;
	} else if (S_ISFIFO(st.st_mode)) {
		/* Hold a writer end ourselves: otherwise, once the last writer
		 * closes, the FIFO polls as hung up forever and the loop spins. */
		int rw = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (rw < 0)
			goto fail_errno;
		close(fd);
		fd = rw;
	} else {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto fail;
	}
	reader->fd = fd;
	return 0;

fail_errno:
	err = -errno;
fail:
	close(fd);
	return err;
}

void sg_kmsg_close(struct sg_kmsg_reader *reader)
{
	if (reader->fd >= 0)
		close(reader->fd);
	reader->fd = -1;
	reader->buf_len = 0;
	reader->skip_line = false;
	reader->pending_len = 0;
	reader->pending_active = false;
}

struct drain {
	struct sg_kmsg_reader *r;
	double uptime_s;
	uint32_t *counts;
	sg_kmsg_event_fn fn;
	void *userdata;
	int records;
};

static void emit(struct drain *d, const struct sg_kmsg_record *rec)
{
	struct sg_kmsg_event_info ev;

	if (d->r->on_record)
		d->r->on_record(rec, d->r->record_userdata);
	if (!sg_kmsg_classify(rec->text, rec->text_len, d->uptime_s, &ev))
		return;
	if (d->counts)
		d->counts[ev.kind]++;
	if (d->fn)
		d->fn(&ev, rec, d->userdata);
}

/* pending holds the record that started a continuation, header and all,
 * with the text of each '+' record appended: it parses as one record. */
static void flush_pending(struct drain *d)
{
	struct sg_kmsg_reader *r = d->r;
	struct sg_kmsg_record rec;

	r->pending_active = false;
	if (sg_kmsg_parse_record(r->pending, r->pending_len, &rec) == 0)
		emit(d, &rec);
	r->pending_len = 0;
}

static void start_pending(struct drain *d, const char *raw, const struct sg_kmsg_record *rec)
{
	struct sg_kmsg_reader *r = d->r;
	size_t head = (size_t)(rec->text - raw);
	size_t n = head + rec->text_len;

	if (head >= sizeof(r->pending)) {
		emit(d, rec);
		return;
	}
	if (n > sizeof(r->pending))
		n = sizeof(r->pending);
	memcpy(r->pending, raw, n);
	r->pending_len = n;
	r->pending_active = true;
}

static void append_pending(struct drain *d, const struct sg_kmsg_record *rec)
{
	struct sg_kmsg_reader *r = d->r;
	size_t n = sizeof(r->pending) - r->pending_len;

	if (n > rec->text_len)
		n = rec->text_len;
	memcpy(r->pending + r->pending_len, rec->text, n);
	r->pending_len += n;
}

static void handle_record(struct drain *d, const char *raw, size_t len)
{
	struct sg_kmsg_reader *r = d->r;
	struct sg_kmsg_record rec;

	if (sg_kmsg_parse_record(raw, len, &rec) < 0) {
		r->skipped++;
		return;
	}
	if (r->have_seq && rec.seq > r->last_seq + 1)
		r->lost += rec.seq - r->last_seq - 1;
	r->have_seq = true;
	r->last_seq = rec.seq;
	if (rec.facility != 0)
		return;
	r->records++;
	d->records++;
	switch (rec.flag) {
	case 'c':
		if (r->pending_active)
			flush_pending(d);
		start_pending(d, raw, &rec);
		break;
	case '+':
		if (r->pending_active)
			append_pending(d, &rec);
		else
			start_pending(d, raw, &rec);
		break;
	default:
		if (r->pending_active)
			flush_pending(d);
		emit(d, &rec);
		break;
	}
}

/* /dev/kmsg: one record per read(). */
static int drain_kmsg(struct drain *d)
{
	struct sg_kmsg_reader *r = d->r;

	for (int reads = 0; reads < DRAIN_MAX_READS; reads++) {
		ssize_t n = read(r->fd, r->buf, SG_KMSG_RECORD_MAX);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			/* Overwritten: the next read gives the oldest record and
			 * the seq gap counts the loss; with no seq yet, at least one. */
			if (errno == EPIPE) {
				if (!r->have_seq)
					r->lost++;
				continue;
			}
			return -errno;
		}
		if (n == 0)
			return 0;
		handle_record(d, r->buf, (size_t)n);
	}
	return 0;
}

/* Splits buf into lines and handles each complete one. */
static void split_lines(struct drain *d)
{
	struct sg_kmsg_reader *r = d->r;
	char *p = r->buf, *end = r->buf + r->buf_len;

	if (r->skip_line) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			r->buf_len = 0;
			return;
		}
		p = nl + 1;
		r->skip_line = false;
	}
	for (char *nl; (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
		/* Empty lines and " KEY=value" continuation lines are no records. */
		if (nl > p && *p != ' ')
			handle_record(d, p, (size_t)(nl - p));
	}
	size_t left = (size_t)(end - p);
	if (left == sizeof(r->buf)) {
		/* A full buffer and no newline: longer than any record. */
		if (*p != ' ')
			r->skipped++;
		r->skip_line = true;
		left = 0;
	}
	memmove(r->buf, p, left);
	r->buf_len = left;
}

/* A FIFO or file: chunks of lines; a partial last line waits for the rest. */
static int drain_stream(struct drain *d)
{
	struct sg_kmsg_reader *r = d->r;

	for (int reads = 0; reads < DRAIN_MAX_READS; reads++) {
		ssize_t n = read(r->fd, r->buf + r->buf_len, sizeof(r->buf) - r->buf_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		if (n == 0)
			return 0;
		r->buf_len += (size_t)n;
		split_lines(d);
	}
	return 0;
}

int sg_kmsg_drain(struct sg_kmsg_reader *reader, double uptime_s, uint32_t *counts,
		  sg_kmsg_event_fn fn, void *userdata)
{
	struct drain d = { reader, uptime_s, counts, fn, userdata, 0 };
	int err;

	if (reader->fd < 0)
		return -EBADF;
	err = reader->is_kmsg ? drain_kmsg(&d) : drain_stream(&d);
	if (reader->pending_active)
		flush_pending(&d);
	return err < 0 ? err : d.records;
}
