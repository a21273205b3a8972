// SPDX-License-Identifier: GPL-2.0-or-later
/* Pressure stall information: parsing *.pressure files and arming triggers.
 *
 * The kernel prints each line as
 *   "some avg10=%lu.%02lu avg60=%lu.%02lu avg300=%lu.%02lu total=%llu\n"
 * (and the same for "full"). Numbers are scanned by hand: no locale, no
 * allocation, never past len. */
#include "psi.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scan.h"

/* Parses " avg10=A avg60=B avg300=C total=T\n" after the some/full word. */
static int parse_fields(struct sg_cursor *c, struct sg_psi_line *l)
{
	if (!sg_eat_blanks(c) || !sg_eat_word(c, "avg10=") || !sg_eat_decimal(c, &l->avg10) ||
	    !sg_eat_blanks(c) || !sg_eat_word(c, "avg60=") || !sg_eat_decimal(c, &l->avg60) ||
	    !sg_eat_blanks(c) || !sg_eat_word(c, "avg300=") || !sg_eat_decimal(c, &l->avg300) ||
	    !sg_eat_blanks(c) || !sg_eat_word(c, "total=") || !sg_eat_u64(c, &l->total))
		return -EINVAL;
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	/* The kernel ends every line with '\n'; without it the text was cut. */
	if (c->p == c->end || *c->p != '\n')
		return -EINVAL;
	l->present = true;
	return 0;
}

int sg_psi_parse(const char *buf, size_t len, struct sg_psi *out)
{
	struct sg_cursor c = { buf, buf + len };

	memset(out, 0, sizeof(*out));
	while (c.p < c.end) {
		const char *nl = memchr(c.p, '\n', (size_t)(c.end - c.p));
		struct sg_psi_line *l = NULL;

		if (sg_eat_word(&c, "some"))
			l = &out->some;
		else if (sg_eat_word(&c, "full"))
			l = &out->full;
		if (l) {
			/* A repeated line or a garbled one means the text is not
			 * what the kernel wrote. */
			if (l->present || parse_fields(&c, l) < 0)
				return -EINVAL;
			c.p++; /* the '\n' parse_fields checked */
		} else {
			/* A line this parser does not know: skip it. */
			if (!nl)
				break;
			c.p = nl + 1;
		}
	}
	return out->some.present ? 0 : -EINVAL;
}

int sg_psi_read_fd(int fd, struct sg_psi *out)
{
	char buf[256];
	size_t n = 0;

	while (n < sizeof(buf)) {
		ssize_t r = pread(fd, buf + n, sizeof(buf) - n, (off_t)n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	/* Two lines of at most ~80 bytes each: a full buffer is not a PSI file. */
	if (n == sizeof(buf))
		return -EINVAL;
	return sg_psi_parse(buf, n, out);
}

double sg_psi_stall_percent(uint64_t total_prev, uint64_t total_now, uint64_t elapsed_usec)
{
	double pct;

	if (elapsed_usec == 0 || total_now < total_prev)
		return NAN;
	pct = (double)(total_now - total_prev) / (double)elapsed_usec * 100.0;
	return pct > 100.0 ? 100.0 : pct;
}

/* Opens path and writes one trigger. Returns the fd or -errno; *opened tells
 * whether the open succeeded (so a failure is the kernel refusing the trigger). */
static int arm_one(const char *path, bool full, double percent, uint64_t window, bool *opened)
{
	char msg[64];
	double want = percent / 100.0 * (double)window;
	uint64_t thresh;
	int fd, len;

	*opened = false;
	if (!(want >= 1.0)) /* also NaN */
		thresh = 1;
	else if (want >= (double)window)
		thresh = window;
	else
		thresh = (uint64_t)want;

	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*opened = true;
	len = snprintf(msg, sizeof(msg), "%s %llu %llu", full ? "full" : "some",
		       (unsigned long long)thresh, (unsigned long long)window);
	/* The kernel wants the terminating NUL written too. */
	if (write(fd, msg, (size_t)len + 1) != (ssize_t)len + 1) {
		int err = errno ? errno : EIO;

		close(fd);
		return -err;
	}
	return fd;
}

int sg_psi_trigger_arm(const char *path, bool full, double percent, uint64_t *window_usec)
{
	bool opened;
	int fd;

	errno = 0;
	fd = arm_one(path, full, percent, SG_PSI_WINDOW_FAST_USEC, &opened);
	if (fd >= 0) {
		*window_usec = SG_PSI_WINDOW_FAST_USEC;
		return fd;
	}
	if (!opened)
		return fd;
	/* Without CAP_SYS_RESOURCE only multiples of 2 s are accepted (EINVAL).
	 * One trigger per open file: retry on a fresh fd. */
	if (fd == -EINVAL) {
		errno = 0;
		fd = arm_one(path, full, percent, SG_PSI_WINDOW_SLOW_USEC, &opened);
		if (fd >= 0) {
			*window_usec = SG_PSI_WINDOW_SLOW_USEC;
			return fd;
		}
		if (!opened)
			return fd;
	}
	return -EOPNOTSUPP;
}
