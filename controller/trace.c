/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kmsg_event.h"
#include "units.h"

int sg_trace_write_header(FILE *out, const struct sg_signal_table *tab, const struct sg_config *cfg,
			  uint64_t interval_usec)
{
	char name[SG_SIGNAL_NAME_MAX];
	struct utsname uts;

	if (uname(&uts) < 0)
		memset(&uts, 0, sizeof(uts));
	fprintf(out, "%s\n# host %s kernel %s interval_ms %llu\nt_ms", SG_TRACE_MAGIC, uts.nodename, uts.release,
		(unsigned long long)(interval_usec / 1000));
	for (size_t slot = 0; slot < tab->nslots; slot++) {
		sg_signal_slot_name(tab, cfg, slot, name, sizeof(name));
		fprintf(out, ",%s", name);
	}
	for (int e = 0; e < SG_EV_COUNT; e++)
		fprintf(out, ",kmsg.%s", sg_kmsg_event_name((enum sg_kmsg_event)e));
	fputc('\n', out);
	return ferror(out) ? -EIO : 0;
}

int sg_trace_write_row(FILE *out, uint64_t t_usec, const struct sg_sample *sample)
{
	fprintf(out, "%llu", (unsigned long long)(t_usec / 1000));
	for (size_t slot = 0; slot < sample->nvalues; slot++) {
		if (isnan(sample->values[slot]))
			fputc(',', out);
		else
			fprintf(out, ",%.3f", sample->values[slot]);
	}
	for (int e = 0; e < SG_EV_COUNT; e++)
		fprintf(out, ",%u", sample->events[e]);
	fputc('\n', out);
	return ferror(out) ? -EIO : 0;
}

void sg_trace_free(struct sg_trace_data *trace)
{
	free(trace->names);
	free(trace->t_usec);
	free(trace->values);
	memset(trace, 0, sizeof(*trace));
}

/* The header: t_ms, then unique names of the signal grammar's characters. */
static int parse_header(const char *line, size_t len, struct sg_trace_data *trace, const char **why)
{
	size_t n = 0;

	if (len < 4 || memcmp(line, "t_ms", 4) != 0 || (len > 4 && line[4] != ',')) {
		*why = "the column header must start with t_ms";
		return -EINVAL;
	}
	for (size_t i = 4; i < len; i++)
		n += line[i] == ',';
	if (n == 0 || n > SG_TRACE_COLUMNS_MAX) {
		*why = n ? "too many columns" : "no signal columns";
		return -EINVAL;
	}
	trace->names = calloc(n, sizeof(*trace->names));
	if (!trace->names)
		return -ENOMEM;
	const char *p = line + 5, *end = line + len;
	for (size_t c = 0; c < n; c++) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t l = comma ? (size_t)(comma - p) : (size_t)(end - p);
		if (l == 0 || l >= SG_SIGNAL_NAME_MAX ||
		    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") < l) {
			*why = "a column name is empty, too long, or not a signal name";
			return -EINVAL;
		}
		memcpy(trace->names[c], p, l);
		for (size_t k = 0; k < c; k++)
			if (strcmp(trace->names[k], trace->names[c]) == 0) {
				*why = "a column appears twice";
				return -EINVAL;
			}
		p += l + 1;
	}
	trace->ncolumns = n;
	return 0;
}

static int grow_rows(struct sg_trace_data *trace, size_t *cap)
{
	size_t want = *cap ? *cap * 2 : 256;
	uint64_t *t = realloc(trace->t_usec, want * sizeof(*t));
	if (!t)
		return -ENOMEM;
	trace->t_usec = t;
	double *v = realloc(trace->values, want * trace->ncolumns * sizeof(*v));
	if (!v)
		return -ENOMEM;
	trace->values = v;
	*cap = want;
	return 0;
}

/* One row: a time no earlier than the last, then exactly ncolumns fields. */
static int parse_row(const char *line, size_t len, struct sg_trace_data *trace, const char **why)
{
	char field[64];
	const char *p = line, *end = line + len;
	double *row = trace->values + trace->nrows * trace->ncolumns;

	for (size_t c = 0; c <= trace->ncolumns; c++) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t l = comma ? (size_t)(comma - p) : (size_t)(end - p);
		if ((c < trace->ncolumns) != (comma != NULL)) {
			*why = comma ? "more fields than columns" : "fewer fields than columns";
			return -EINVAL;
		}
		if (l >= sizeof(field)) {
			*why = "a field is too long";
			return -EINVAL;
		}
		memcpy(field, p, l);
		field[l] = '\0';
		char *fend;
		double v = l ? strtod(field, &fend) : NAN;
		if (l && (*fend || !isfinite(v))) {
			*why = "a field is not a number";
			return -EINVAL;
		}
		if (c == 0) {
			if (!l || v < 0 || v > 1e15 || (trace->nrows && v * 1000 < (double)trace->t_usec[trace->nrows - 1])) {
				*why = "t_ms must be a number of milliseconds, never decreasing";
				return -EINVAL;
			}
			trace->t_usec[trace->nrows] = (uint64_t)(v * 1000);
		} else {
			row[c - 1] = v;
		}
		p += l + 1;
	}
	trace->nrows++;
	return 0;
}

int sg_trace_parse(const char *buf, size_t len, struct sg_trace_data *trace, char *err, size_t err_len)
{
	const char *why = NULL;
	size_t cap = 0, lineno = 0;
	bool magic = false;
	int r = 0;

	memset(trace, 0, sizeof(*trace));
	for (size_t pos = 0; pos < len && r == 0;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			break; /* a last line cut short */
		const char *line = buf + pos;
		size_t l = (size_t)(nl - line);
		if (l && line[l - 1] == '\r')
			l--;
		pos += (size_t)(nl - line) + 1;
		lineno++;
		if (lineno == 1) {
			magic = l == strlen(SG_TRACE_MAGIC) && memcmp(line, SG_TRACE_MAGIC, l) == 0;
			if (!magic) {
				why = "not a stallguard trace (no \"" SG_TRACE_MAGIC "\" line)";
				r = -EINVAL;
			}
		} else if (l == 0 || line[0] == '#') {
			continue;
		} else if (!trace->ncolumns) {
			r = parse_header(line, l, trace, &why);
		} else {
			if (trace->nrows == cap && (r = grow_rows(trace, &cap)) < 0)
				break;
			r = parse_row(line, l, trace, &why);
		}
	}
	if (r == 0 && !magic) {
		why = "empty";
		r = -EINVAL;
	}
	if (r == 0 && !trace->ncolumns) {
		why = "no column header";
		r = -EINVAL;
	}
	if (r < 0) {
		if (why)
			snprintf(err, err_len, "%zu: %s", lineno ? lineno : 1, why);
		else
			snprintf(err, err_len, "%zu: %s", lineno, strerror(-r));
		sg_trace_free(trace);
	}
	return r;
}

#define TRACE_FILE_MAX (1ULL << 30)

int sg_trace_load(const char *path, struct sg_trace_data *trace, char *err, size_t err_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap;
	struct stat st;
	char *buf;
	int r;

	memset(trace, 0, sizeof(*trace));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > TRACE_FILE_MAX) {
		r = st.st_size > 0 ? -EFBIG : -errno;
		close(fd);
		return r;
	}
	cap = (size_t)st.st_size + 4096;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
		if (len == cap) {
			r = -EFBIG; /* grew while being read */
			break;
		}
	}
	close(fd);
	if (r == 0)
		r = sg_trace_parse(buf, len, trace, err, err_len);
	free(buf);
	return r;
}
