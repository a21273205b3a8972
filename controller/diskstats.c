// SPDX-License-Identifier: GPL-2.0-or-later
/* /proc/diskstats to iostat's extended figures.
 *
 * The figures follow sysstat 12's iostat -dx (rd_stats.c compute_ext_disk_stats,
 * iostat.c write_ext_stat / write_plain_ext_stat), with await over reads and
 * writes only (see diskstats.h). Parsing scans by hand: no allocation. */
#include "diskstats.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define MAX_TOKENS 21 /* one more than the widest valid line, to reject longer ones */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

int sg_diskstats_parse_line(const char *line, size_t len, struct sg_diskstats_entry *out)
{
	const char *tok[MAX_TOKENS];
	size_t tlen[MAX_TOKENS];
	size_t ntok = 0, i = 0;
	uint64_t v[17], major, minor;

	/* One line: stop at the first newline. */
	const char *nl = memchr(line, '\n', len);
	if (nl)
		len = (size_t)(nl - line);

	while (i < len) {
		size_t start;

		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			break;
		if (ntok == MAX_TOKENS)
			return -EINVAL;
		start = i;
		while (i < len && !is_blank(line[i]))
			i++;
		tok[ntok] = line + start;
		tlen[ntok] = i - start;
		ntok++;
	}
	if (ntok != 14 && ntok != 18 && ntok != 20)
		return -EINVAL;
	if (!parse_u64(tok[0], tlen[0], &major) || major > UINT32_MAX ||
	    !parse_u64(tok[1], tlen[1], &minor) || minor > UINT32_MAX)
		return -EINVAL;
	if (tlen[2] >= SG_DISK_NAME_MAX || memchr(tok[2], '\0', tlen[2]))
		return -EINVAL;
	for (size_t k = 3; k < ntok; k++)
		if (!parse_u64(tok[k], tlen[k], &v[k - 3]))
			return -EINVAL;

	memset(out, 0, sizeof(*out));
	out->major = (unsigned)major;
	out->minor = (unsigned)minor;
	memcpy(out->name, tok[2], tlen[2]);
	out->rd_ios = v[0];
	out->rd_merges = v[1];
	out->rd_sectors = v[2];
	out->rd_ticks = v[3];
	out->wr_ios = v[4];
	out->wr_merges = v[5];
	out->wr_sectors = v[6];
	out->wr_ticks = v[7];
	out->in_flight = v[8];
	out->io_ticks = v[9];
	out->time_in_queue = v[10];
	if (ntok >= 18) {
		out->dc_ios = v[11];
		out->dc_merges = v[12];
		out->dc_sectors = v[13];
		out->dc_ticks = v[14];
	}
	if (ntok == 20) {
		out->fl_ios = v[15];
		out->fl_ticks = v[16];
	}
	return 0;
}

size_t sg_diskstats_parse(const char *buf, size_t len, const char (*names)[SG_DISK_NAME_MAX],
			  size_t n, struct sg_diskstats_entry *out, bool *found)
{
	size_t skipped = 0, pos = 0;

	for (size_t i = 0; i < n; i++)
		found[i] = false;
	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		struct sg_diskstats_entry e;
		bool blank = true;

		pos += llen + (nl ? 1 : 0);
		for (size_t k = 0; k < llen && blank; k++)
			blank = is_blank(line[k]);
		if (blank)
			continue;
		if (sg_diskstats_parse_line(line, llen, &e) < 0) {
			skipped++;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (!found[i] && strncmp(names[i], e.name, SG_DISK_NAME_MAX) == 0) {
				out[i] = e;
				found[i] = true;
			}
		}
	}
	return skipped;
}

uint64_t sg_counter_delta(uint64_t prev, uint64_t now)
{
	if (now >= prev)
		return now - prev;
	if (prev <= UINT32_MAX) /* a 32-bit counter (unsigned long on 32-bit, or ms) wrapped */
		return now + (1ULL << 32) - prev;
	return now - prev; /* 64-bit wrap, modulo 2^64 */
}

void sg_iostat_compute(const struct sg_diskstats_entry *prev, const struct sg_diskstats_entry *now,
		       double elapsed_ms, struct sg_iostat *out)
{
	double rd_ios, wr_ios, rd_ticks, wr_ticks, secs;

	if (!(elapsed_ms > 0) || isinf(elapsed_ms)) {
		out->util = out->await = out->r_await = out->w_await = NAN;
		out->aqu = out->iops = out->rmbps = out->wmbps = NAN;
		return;
	}
	secs = elapsed_ms / 1000.0;
	rd_ios = (double)sg_counter_delta(prev->rd_ios, now->rd_ios);
	wr_ios = (double)sg_counter_delta(prev->wr_ios, now->wr_ios);
	rd_ticks = (double)sg_counter_delta(prev->rd_ticks, now->rd_ticks);
	wr_ticks = (double)sg_counter_delta(prev->wr_ticks, now->wr_ticks);

	/* r/s + w/s; discards and flushes are not counted. */
	out->iops = rd_ios / secs + wr_ios / secs;
	/* rMB/s, wMB/s as iostat -m: sectors/s / 2048. */
	out->rmbps = (double)sg_counter_delta(prev->rd_sectors, now->rd_sectors) * 512.0 /
		     1048576.0 / secs;
	out->wmbps = (double)sg_counter_delta(prev->wr_sectors, now->wr_sectors) * 512.0 /
		     1048576.0 / secs;
	out->r_await = rd_ios > 0 ? rd_ticks / rd_ios : 0.0;
	out->w_await = wr_ios > 0 ? wr_ticks / wr_ios : 0.0;
	out->await = rd_ios + wr_ios > 0 ? (rd_ticks + wr_ticks) / (rd_ios + wr_ios) : 0.0;
	/* aqu-sz: weighted ms in queue per ms elapsed. */
	out->aqu = (double)sg_counter_delta(prev->time_in_queue, now->time_in_queue) / elapsed_ms;
	/* %util: ms with I/O in flight per ms elapsed. */
	out->util = (double)sg_counter_delta(prev->io_ticks, now->io_ticks) / elapsed_ms * 100.0;
	if (out->util > 100.0)
		out->util = 100.0;
}

/* Inserts name into the sorted names[0..*n) holding at most max; the
 * greatest name falls off when it is full. */
static void insert_sorted(char (*names)[SG_DISK_NAME_MAX], size_t *n, size_t max, const char *name)
{
	size_t at = *n;

	while (at > 0 && strcmp(names[at - 1], name) > 0)
		at--;
	if (at == max)
		return;
	if (*n < max)
		(*n)++;
	memmove(names[at + 1], names[at], (*n - 1 - at) * sizeof(names[0]));
	memcpy(names[at], name, strlen(name) + 1);
}

size_t sg_disks_discover(const char *sysblock, char (*names)[SG_DISK_NAME_MAX], size_t max)
{
	DIR *d = opendir(sysblock);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char target[4096];
		ssize_t r;

		if (de->d_name[0] == '.')
			continue;
		if (strlen(de->d_name) >= SG_DISK_NAME_MAX)
			continue;
		r = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (r < 0)
			continue; /* not a symlink: not a block device entry */
		target[r] = '\0';
		if (strstr(target, "/devices/virtual/"))
			continue;
		insert_sorted(names, &n, max, de->d_name);
	}
	closedir(d);
	return n;
}
