/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The signal history ring and its CSV. */
#include "history.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t sg_history_rows(const struct sg_config *cfg)
{
	uint64_t rows = cfg->interval_usec ? cfg->history_usec / cfg->interval_usec + 1 : 1;

	return rows > SG_HISTORY_ROWS_MAX ? SG_HISTORY_ROWS_MAX : (size_t)rows;
}

int sg_history_init(struct sg_history *h, size_t nslots, size_t rows)
{
	memset(h, 0, sizeof(*h));
	if (rows == 0 || rows > SG_HISTORY_ROWS_MAX || nslots == 0)
		return -EINVAL;
	h->values = calloc(rows * nslots, sizeof(*h->values));
	h->times = calloc(rows, sizeof(*h->times));
	if (!h->values || !h->times) {
		sg_history_free(h);
		return -ENOMEM;
	}
	h->nslots = nslots;
	h->rows = rows;
	return 0;
}

void sg_history_free(struct sg_history *h)
{
	free(h->values);
	free(h->times);
	memset(h, 0, sizeof(*h));
}

void sg_history_push(struct sg_history *h, const struct sg_sample *sample)
{
	double *row = h->values + h->next * h->nslots;
	size_t n = sample->nvalues < h->nslots ? sample->nvalues : h->nslots;

	memcpy(row, sample->values, n * sizeof(*row));
	for (size_t i = n; i < h->nslots; i++)
		row[i] = NAN;
	h->times[h->next] = sample->now_usec;
	h->next = (h->next + 1) % h->rows;
	if (h->count < h->rows)
		h->count++;
}

/* Output through a fixed buffer, flushed with write(); the first error sticks. */
struct out {
	int fd;
	int err;
	size_t len;
	char buf[16384];
};

static void out_flush(struct out *o)
{
	size_t done = 0;

	while (!o->err && done < o->len) {
		ssize_t n = write(o->fd, o->buf + done, o->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->err = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	o->len = 0;
}

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sizeof(o->buf) - o->len < 512)
		out_flush(o);
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	/* Every piece written here is far shorter than the 512 bytes kept free. */
	if (n > 0)
		o->len += (size_t)n < sizeof(o->buf) - o->len ? (size_t)n : sizeof(o->buf) - o->len - 1;
}

int sg_history_write_csv(const struct sg_history *h, const struct sg_signal_table *tab,
			 const struct sg_config *cfg, int fd)
{
	struct out o = { .fd = fd };
	char name[SG_SIGNAL_NAME_MAX + SG_NAME_MAX];

	if (tab->nslots != h->nslots)
		return -EINVAL;
	out_printf(&o, "time_ms");
	for (size_t s = 0; s < h->nslots; s++) {
		sg_signal_slot_name(tab, cfg, s, name, sizeof(name));
		out_printf(&o, ",%s", name);
	}
	out_printf(&o, "\n");

	size_t first = (h->next + h->rows - h->count) % h->rows;
	uint64_t newest = h->count ? h->times[(h->next + h->rows - 1) % h->rows] : 0;
	for (size_t i = 0; i < h->count; i++) {
		size_t r = (first + i) % h->rows;
		const double *row = h->values + r * h->nslots;
		/* Monotonic times only grow; a sample from the future reads as 0. */
		uint64_t age = newest > h->times[r] ? newest - h->times[r] : 0;
		out_printf(&o, "%lld", -(long long)((age + 500) / 1000));
		for (size_t s = 0; s < h->nslots; s++) {
			if (isnan(row[s]))
				out_printf(&o, ",");
			else
				out_printf(&o, ",%.10g", row[s]);
		}
		out_printf(&o, "\n");
	}
	out_flush(&o);
	return o.err;
}
