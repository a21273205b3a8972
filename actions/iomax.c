/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The io.max step: bandwidth and IOPS limits on a job's cgroup for one whole disk.
 *
 * cgroup v2: the job's io.max, one line "MAJ:MIN rbps=N wbps=N riops=N wiops=N"
 * per limited disk, "max" for no limit; a write names only the keys it
 * changes. Used when the job has a unified cgroup whose parent enables io.
 *
 * cgroup v1 (hybrid and legacy hosts): blkio.throttle.{read,write}_{bps,iops}_device
 * in the job's blkio cgroup, one "MAJ:MIN VALUE" line per limited disk;
 * writing 0 removes the limit.
 *
 * What each can hold back: buffered writeback is
 * throttled only on v2 with cgroup writeback, where the flusher's I/O is
 * charged to the cgroup that dirtied the pages. v1 blkio throttles the I/O a
 * task issues itself: direct I/O and (synchronous) reads. A job that writes
 * through the page cache is barely slowed on v1; its pages are written by
 * the flusher threads, outside the job's cgroup.
 *
 * Undo data, kept so revert needs nothing but the journal:
 *   v2  the disk's io.max line as it was, exactly ("254:0 rbps=max wbps=1000
 *       riops=max wiops=max"), or the bare "MAJ:MIN" when io.max had no line
 *       for the disk (all four were max); path is the io.max file.
 *   v1  "v1 MAJ:MIN rbps=N wbps=N riops=N wiops=N", each file's value as it
 *       was (0 = no limit, also when the file had no line); path is the
 *       blkio cgroup directory.
 *   systemd  "systemd DEVICE rbps=V wbps=V riops=V wiops=V", the unit's
 *       IOReadBandwidthMax, IOWriteBandwidthMax, IOReadIOPSMax and
 *       IOWriteIOPSMax for DEVICE as they were (V a number, or "max" where
 *       the unit listed no limit); path is the unit.
 * Revert writes back only the keys the step set (read from undo->step), so a
 * limit that someone else (another rule, an operator) put on another key in
 * the meantime is left alone.
 *
 * A target owned by a systemd unit is limited through systemd:
 * SetUnitProperties(runtime=true) with the IO*Max property of each key the
 * step sets, on the whole disk's device node. DEVICE is the path the unit
 * already lists for that disk (/dev/NAME, or any path whose device number
 * is the disk's), else /dev/NAME, so a limit the unit has is changed in place rather than
 * doubled under another name. The unit's four properties are read first and
 * journaled; revert sets the previous values back, "max" as no limit. */
#include "action.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "sdbus.h"
#include "units.h"

#define NKEYS 4
#define ALL_KEYS ((1u << NKEYS) - 1)
#define FILE_MAX (16 * 1024) /* one io.max or blkio.throttle file */
#define VALUE_MAX 24         /* a u64 in decimal, or "max" */
#define DEV_MAX 24           /* "MAJ:MIN" */

static const char *const keys[NKEYS] = { "rbps", "wbps", "riops", "wiops" };
static const char *const v1_files[NKEYS] = {
	"blkio.throttle.read_bps_device",
	"blkio.throttle.write_bps_device",
	"blkio.throttle.read_iops_device",
	"blkio.throttle.write_iops_device",
};
static const char v1_tag[] = "v1 ";
static const char unit_tag[] = "systemd ";
static const char *const unit_properties[NKEYS] = {
	"IOReadBandwidthMax",
	"IOWriteBandwidthMax",
	"IOReadIOPSMax",
	"IOWriteIOPSMax",
};

static int read_text(const char *path, char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	int err = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got = read(fd, buf + n, size - 1 - n);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n == size - 1) {
			err = -EFBIG;
			break;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return err;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The line of buf (len bytes) that starts with the word dev; its length in *n. */
static const char *find_dev_line(const char *buf, size_t len, const char *dev, size_t *n)
{
	size_t dlen = strlen(dev);
	const char *end = buf + len;

	for (const char *p = buf; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - p) >= dlen && memcmp(p, dev, dlen) == 0 &&
		    (p + dlen == eol || is_blank(p[dlen]))) {
			*n = (size_t)(eol - p);
			return p;
		}
		p = eol + 1;
	}
	return NULL;
}

/* The i-th blank-separated word of line (n bytes) into word; false when there is none. */
static bool nth_word(const char *line, size_t n, unsigned i, char *word, size_t size)
{
	const char *end = line + n, *p = line;

	for (;;) {
		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			return false;
		const char *w = p;

		while (p < end && !is_blank(*p))
			p++;
		if (i-- == 0) {
			if ((size_t)(p - w) >= size)
				return false;
			memcpy(word, w, (size_t)(p - w));
			word[p - w] = '\0';
			return true;
		}
	}
}

/* The value of the word KEY=VALUE in line (n bytes); false when absent. */
static bool key_value(const char *line, size_t n, const char *key, char *val, size_t size)
{
	char word[VALUE_MAX + 8];
	size_t klen = strlen(key);

	for (unsigned i = 0; nth_word(line, n, i, word, sizeof(word)); i++) {
		if (strncmp(word, key, klen) == 0 && word[klen] == '=') {
			if (strlen(word + klen + 1) >= size)
				return false;
			strcpy(val, word + klen + 1);
			return true;
		}
	}
	return false;
}

/* "MAJ:MIN", both decimal */
static bool dev_ok(const char *dev)
{
	const char *colon = strchr(dev, ':');

	if (!colon || colon == dev)
		return false;
	for (const char *p = dev; p < colon; p++)
		if (*p < '0' || *p > '9')
			return false;
	return sg_all_digits(colon + 1);
}

/* 0 when MAJ:MIN is a whole disk; -ENODEV for a partition or no device at all
 * (io.max and blkio.throttle take whole disks only). */
static int whole_disk(unsigned maj, unsigned min)
{
	char path[80];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", maj, min);
	if (stat(path, &st) < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition", maj, min);
	if (stat(path, &st) == 0)
		return -ENODEV;
	return errno == ENOENT ? 0 : -errno;
}

/* Which keys a step text ("io.max wbps=50M riops=2000") sets, as bits of keys[]. */
static unsigned step_keys(const char *text)
{
	char word[64];
	unsigned mask = 0;

	for (unsigned i = 1; nth_word(text, strlen(text), i, word, sizeof(word)); i++)
		for (unsigned k = 0; k < NKEYS; k++)
			if (strncmp(word, keys[k], strlen(keys[k])) == 0 &&
			    word[strlen(keys[k])] == '=')
				mask |= 1u << k;
	/* A journal whose step text names no key (written by something else): put
	 * back all four; the undo data holds every one. */
	return mask ? mask : ALL_KEYS;
}

static void step_values(const struct sg_step *step, uint64_t v[NKEYS])
{
	v[0] = step->rbps;
	v[1] = step->wbps;
	v[2] = step->riops;
	v[3] = step->wiops;
}

/* Appends " KEY=VALUE" to buf (used bytes so far); -ENAMETOOLONG when it does not fit. */
static int append(char *buf, size_t size, size_t *used, const char *key, const char *value)
{
	int n = snprintf(buf + *used, size - *used, " %s=%s", key, value);

	if (n < 0 || (size_t)n >= size - *used)
		return -ENAMETOOLONG;
	*used += (size_t)n;
	return 0;
}

static void format_value(uint64_t value, bool v1, char *buf, size_t size)
{
	if (value == SG_IOMAX_MAX)
		snprintf(buf, size, "%s", v1 ? "0" : "max");
	else
		snprintf(buf, size, "%" PRIu64, value);
}

static int apply_v2(const struct sg_step *step, const char *dev, struct sg_undo *undo,
		    sg_journal_fn journal, void *userdata)
{
	char buf[FILE_MAX], cmd[160], val[VALUE_MAX];
	uint64_t v[NKEYS];
	size_t len, n, used;
	const char *line;
	int r;

	r = read_text(undo->path, buf, sizeof(buf), &len);
	if (r < 0)
		return r;
	line = find_dev_line(buf, len, dev, &n);
	if (line) {
		if (n >= sizeof(undo->data))
			return -EFBIG;
		memcpy(undo->data, line, n);
		undo->data[n] = '\0';
	} else {
		sg_strlcpy(undo->data, dev, sizeof(undo->data));
	}
	r = journal(undo, userdata);
	if (r < 0)
		return r;

	step_values(step, v);
	used = (size_t)snprintf(cmd, sizeof(cmd), "%s", dev);
	for (unsigned k = 0; k < NKEYS; k++) {
		if (v[k] == SG_IOMAX_UNSET)
			continue;
		format_value(v[k], false, val, sizeof(val));
		r = append(cmd, sizeof(cmd), &used, keys[k], val);
		if (r < 0)
			return r;
	}
	return sg_cgroup_write(AT_FDCWD, undo->path, cmd);
}

static int v1_path(const char *dir, unsigned k, char *path, size_t size)
{
	int n = snprintf(path, size, "%s/%s", dir, v1_files[k]);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Writes "DEV VALUE" to the v1 file of key k in dir. */
static int v1_write(const char *dir, unsigned k, const char *dev, const char *value)
{
	char path[SG_PATH_MAX * 2 + 48], cmd[64];
	int r = v1_path(dir, k, path, sizeof(path));

	if (r < 0)
		return r;
	snprintf(cmd, sizeof(cmd), "%s %s", dev, value);
	return sg_cgroup_write(AT_FDCWD, path, cmd);
}

static int apply_v1(const struct sg_step *step, const char *dev, struct sg_undo *undo,
		    sg_journal_fn journal, void *userdata)
{
	char buf[FILE_MAX], path[SG_PATH_MAX * 2 + 48], prev[NKEYS][VALUE_MAX], val[VALUE_MAX];
	uint64_t v[NKEYS];
	size_t len, n, used;
	int r;

	for (unsigned k = 0; k < NKEYS; k++) {
		const char *line;

		r = v1_path(undo->path, k, path, sizeof(path));
		if (r < 0)
			return r;
		r = read_text(path, buf, sizeof(buf), &len);
		if (r < 0)
			return r;
		line = find_dev_line(buf, len, dev, &n);
		if (!line) {
			snprintf(prev[k], sizeof(prev[k]), "0");
		} else if (!nth_word(line, n, 1, prev[k], sizeof(prev[k])) ||
			   !sg_all_digits(prev[k])) {
			return -EINVAL;
		}
	}
	used = (size_t)snprintf(undo->data, sizeof(undo->data), "%s%s", v1_tag, dev);
	for (unsigned k = 0; k < NKEYS; k++) {
		r = append(undo->data, sizeof(undo->data), &used, keys[k], prev[k]);
		if (r < 0)
			return r;
	}
	r = journal(undo, userdata);
	if (r < 0)
		return r;

	step_values(step, v);
	for (unsigned k = 0; k < NKEYS; k++) {
		if (v[k] == SG_IOMAX_UNSET)
			continue;
		format_value(v[k], true, val, sizeof(val));
		r = v1_write(undo->path, k, dev, val);
		if (r < 0) {
			/* Four files are not one write: put back those already changed so a
			 * failed step leaves nothing behind. */
			for (unsigned j = 0; j < k; j++)
				if (v[j] != SG_IOMAX_UNSET)
					v1_write(undo->path, j, dev, prev[j]);
			return r;
		}
	}
	return 0;
}

static bool file_exists(const char *dir, const char *name)
{
	char path[SG_PATH_MAX * 2 + 48];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	return n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) == 0;
}

/* What the unit lists for the disk: the path it names it by, and the limits. */
struct unit_limits {
	dev_t disk;
	char node[SG_PATH_MAX];        /* /dev/NAME */
	unsigned key;                  /* the property being read */
	char device[SG_PATH_MAX];      /* "" until a listed path is the disk */
	uint64_t prev[NKEYS];
};

/* Whether a path the unit lists is the disk: /dev/NAME itself (which a
 * guardian with a private /dev, PrivateDevices=yes, cannot stat), or any
 * path to a block device with the disk's number. */
static bool is_the_disk(const struct unit_limits *l, const char *device)
{
	struct stat st;

	return strcmp(device, l->node) == 0 ||
	       (stat(device, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == l->disk);
}

static int note_limit(const char *device, uint64_t value, void *userdata)
{
	struct unit_limits *l = userdata;

	if (!l->device[0] && strlen(device) < sizeof(l->device) && !strpbrk(device, " \t\n") &&
	    is_the_disk(l, device))
		sg_strlcpy(l->device, device, sizeof(l->device));
	if (strcmp(device, l->device) == 0)
		l->prev[l->key] = value;
	return 0;
}

static void format_limit(uint64_t value, char *buf, size_t size)
{
	if (value == SG_SDBUS_LIMIT_MAX)
		snprintf(buf, size, "max");
	else
		snprintf(buf, size, "%" PRIu64, value);
}

static int apply_unit(const struct sg_action_env *env, const struct sg_target *target, struct sg_undo *undo,
		      sg_journal_fn journal, void *userdata)
{
	struct unit_limits l = { .disk = makedev(target->dev_major, target->dev_minor) };
	const char *props[NKEYS];
	uint64_t v[NKEYS], values[NKEYS];
	char sys[64], link[256], val[VALUE_MAX];
	struct sg_sdbus sd;
	size_t n = 0, used;
	ssize_t len;
	int r;

	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", target->dev_major, target->dev_minor);
	len = readlink(sys, link, sizeof(link) - 1);
	if (len <= 0)
		return -ENODEV;
	link[len] = '\0';
	const char *name = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	if ((size_t)snprintf(l.node, sizeof(l.node), "/dev/%s", name) >= sizeof(l.node))
		return -ENAMETOOLONG;
	for (unsigned k = 0; k < NKEYS; k++)
		l.prev[k] = SG_SDBUS_LIMIT_MAX;
	r = sg_sdbus_open(&sd);
	for (unsigned k = 0; r == 0 && k < NKEYS; k++) {
		l.key = k;
		r = sg_sdbus_io_limits(&sd, target->unit, unit_properties[k], note_limit, &l);
	}
	if (r == 0 && !l.device[0])
		sg_strlcpy(l.device, l.node, sizeof(l.device));
	if (r == 0) {
		sg_strlcpy(undo->path, target->unit, sizeof(undo->path));
		used = (size_t)snprintf(undo->data, sizeof(undo->data), "%s%s", unit_tag, l.device);
		for (unsigned k = 0; r == 0 && k < NKEYS; k++) {
			format_limit(l.prev[k], val, sizeof(val));
			r = append(undo->data, sizeof(undo->data), &used, keys[k], val);
		}
	}
	if (r == 0)
		r = sg_action_journal(journal, userdata, undo);
	step_values(env->step, v);
	for (unsigned k = 0; k < NKEYS; k++) {
		if (v[k] == SG_IOMAX_UNSET)
			continue;
		props[n] = unit_properties[k];
		values[n++] = v[k] == SG_IOMAX_MAX ? SG_SDBUS_LIMIT_MAX : v[k];
	}
	if (r == 0)
		r = sg_sdbus_set_io_limits(&sd, target->unit, l.device, props, values, n);
	if (r < 0 && sd.error[0])
		sg_action_detail(env, sd.error);
	sg_sdbus_close(&sd);
	return r;
}

static int iomax_apply(const struct sg_action_env *env, const struct sg_target *target,
		       struct sg_undo *undo, sg_journal_fn journal, void *userdata)
{
	const struct sg_step *step = env->step;
	char dev[DEV_MAX];
	bool v2;
	int r;

	if (!step || step->kind != SG_STEP_IOMAX)
		return -EINVAL;
	if (target->unit[0]) {
		r = whole_disk(target->dev_major, target->dev_minor);
		return r < 0 ? r : apply_unit(env, target, undo, journal, userdata);
	}
	if (target->cgroup2[0] && file_exists(target->cgroup2, "io.max"))
		v2 = true;
	else if (target->blkio[0] && file_exists(target->blkio, v1_files[1]))
		v2 = false;
	else
		return -EOPNOTSUPP;
	r = whole_disk(target->dev_major, target->dev_minor);
	if (r < 0)
		return r;
	snprintf(dev, sizeof(dev), "%u:%u", target->dev_major, target->dev_minor);

	if (v2) {
		int n = snprintf(undo->path, sizeof(undo->path), "%s/io.max", target->cgroup2);

		if (n < 0 || (size_t)n >= sizeof(undo->path))
			return -ENAMETOOLONG;
		return apply_v2(step, dev, undo, journal, userdata);
	}
	if (sg_strlcpy(undo->path, target->blkio, sizeof(undo->path)) >= sizeof(undo->path))
		return -ENAMETOOLONG;
	return apply_v1(step, dev, undo, journal, userdata);
}

static int revert_v2(const struct sg_undo *undo, unsigned mask)
{
	const char *data = undo->data;
	char dev[DEV_MAX], cmd[160], val[VALUE_MAX];
	size_t n = strlen(data), used;
	int r;

	if (!nth_word(data, n, 0, dev, sizeof(dev)) || !dev_ok(dev))
		return -EINVAL;
	used = (size_t)snprintf(cmd, sizeof(cmd), "%s", dev);
	for (unsigned k = 0; k < NKEYS; k++) {
		if (!(mask & (1u << k)))
			continue;
		/* no line, or no such key in it: that limit was max */
		if (!key_value(data, n, keys[k], val, sizeof(val)))
			snprintf(val, sizeof(val), "max");
		else if (strcmp(val, "max") != 0 && !sg_all_digits(val))
			return -EINVAL;
		r = append(cmd, sizeof(cmd), &used, keys[k], val);
		if (r < 0)
			return r;
	}
	r = sg_cgroup_write(AT_FDCWD, undo->path, cmd);
	return r == -ENOENT ? 0 : r; /* the cgroup is gone: nothing is left to undo */
}

static int revert_v1(const struct sg_undo *undo, unsigned mask)
{
	const char *data = undo->data + strlen(v1_tag);
	char dev[DEV_MAX], prev[NKEYS][VALUE_MAX];
	size_t n = strlen(data);
	int err = 0;

	if (!nth_word(data, n, 0, dev, sizeof(dev)) || !dev_ok(dev))
		return -EINVAL;
	for (unsigned k = 0; k < NKEYS; k++) {
		if (!(mask & (1u << k)))
			continue;
		if (!key_value(data, n, keys[k], prev[k], sizeof(prev[k])) ||
		    !sg_all_digits(prev[k]))
			return -EINVAL;
	}
	for (unsigned k = 0; k < NKEYS; k++) {
		if (!(mask & (1u << k)))
			continue;
		int r = v1_write(undo->path, k, dev, prev[k]);

		if (r == -ENOENT)
			return 0; /* the cgroup is gone: nothing is left to undo */
		if (r < 0 && err == 0)
			err = r;
	}
	return err;
}

static int revert_unit(const struct sg_action_env *env, const struct sg_undo *undo, unsigned mask)
{
	const char *data = undo->data + strlen(unit_tag);
	char device[SG_PATH_MAX], val[VALUE_MAX];
	const char *props[NKEYS];
	uint64_t values[NKEYS];
	size_t len = strlen(data), n = 0;
	struct sg_sdbus sd;
	int r;

	if (!nth_word(data, len, 0, device, sizeof(device)) || device[0] != '/')
		return -EINVAL;
	for (unsigned k = 0; k < NKEYS; k++) {
		if (!(mask & (1u << k)))
			continue;
		if (!key_value(data, len, keys[k], val, sizeof(val)))
			return -EINVAL;
		if (strcmp(val, "max") == 0)
			values[n] = SG_SDBUS_LIMIT_MAX;
		else if (!sg_all_digits(val) || sscanf(val, "%" SCNu64, &values[n]) != 1)
			return -EINVAL;
		props[n++] = unit_properties[k];
	}
	r = sg_sdbus_open(&sd);
	if (r == 0)
		r = sg_sdbus_set_io_limits(&sd, undo->path, device, props, values, n);
	if (r == -ENOENT)
		r = 0; /* the unit is gone: nothing is left to undo */
	if (r < 0 && sd.error[0])
		sg_action_detail(env, sd.error);
	sg_sdbus_close(&sd);
	return r;
}

static int iomax_revert(const struct sg_action_env *env, const struct sg_undo *undo)
{
	unsigned mask = step_keys(undo->step);

	if (strncmp(undo->data, unit_tag, strlen(unit_tag)) == 0)
		return revert_unit(env, undo, mask);
	if (strncmp(undo->data, v1_tag, strlen(v1_tag)) == 0)
		return revert_v1(undo, mask);
	return revert_v2(undo, mask);
}

static void iomax_describe(const struct sg_undo *undo, char *buf, size_t len)
{
	if (strncmp(undo->data, unit_tag, strlen(unit_tag)) == 0) {
		char device[SG_PATH_MAX];
		const char *data = undo->data + strlen(unit_tag);

		if (!nth_word(data, strlen(data), 0, device, sizeof(device)))
			device[0] = '\0';
		snprintf(buf, len, "%s on job %s, %s (systemd unit %s, IO*Max)", undo->step, undo->job, device,
			 undo->path);
		return;
	}

	bool v1 = strncmp(undo->data, v1_tag, strlen(v1_tag)) == 0;
	const char *data = v1 ? undo->data + strlen(v1_tag) : undo->data;
	char dev[DEV_MAX], link[512], sys[64];
	const char *name = "";
	ssize_t n;

	if (!nth_word(data, strlen(data), 0, dev, sizeof(dev)) || !dev_ok(dev)) {
		/* not applied yet (dry run): no disk recorded */
		snprintf(buf, len, "%s on job %s", undo->step, undo->job);
		return;
	}
	snprintf(sys, sizeof(sys), "/sys/dev/block/%s", dev);
	n = readlink(sys, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		name = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	}
	snprintf(buf, len, "%s on job %s, %s%s%s (%s)", undo->step, undo->job, name,
		 name[0] ? " " : "", dev, v1 ? "v1 blkio.throttle" : "cgroup v2 io.max");
}

const struct sg_action sg_action_iomax = {
	.kind = SG_STEP_IOMAX,
	.apply = iomax_apply,
	.revert = iomax_revert,
	.describe = iomax_describe,
};
