/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Capture bundles in memory (memfds) and their store; the contract is bundle.h. */
#include "bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_values.h"
#include "log.h"
#include "units.h"

#define BUNDLE_BASE_MAX (SG_BUNDLE_STAMP_LEN + 1 + SG_NAME_MAX) /* STAMP-RULE */
#define BUNDLE_NAME_MAX (BUNDLE_BASE_MAX + 12)                  /* STAMP-RULE-N */

struct bundle_file {
	char name[32];
	int fd; /* memfd */
};

struct sg_bundle {
	char capture_dir[SG_PATH_MAX];
	char name[BUNDLE_NAME_MAX];
	char path[SG_PATH_MAX + BUNDLE_NAME_MAX + 1];
	unsigned keep;
	size_t nfiles;
	struct bundle_file files[SG_BUNDLE_FILES];
	sg_bundle_finish_fn finish;
	void *finish_data;
};

/* The last name this process gave a bundle, so that two bundles of one rule
 * in one second are told apart without looking at the disk. */
static char last_name[BUNDLE_BASE_MAX];
static unsigned last_count;

int sg_bundle_new(const char *capture_dir, const char *rule, time_t now, unsigned keep, struct sg_bundle **out)
{
	char stamp[SG_BUNDLE_STAMP_LEN + 1], base[BUNDLE_BASE_MAX];
	struct sg_bundle *b;
	struct tm tm;

	*out = NULL;
	if (!capture_dir || capture_dir[0] != '/' || !rule || !sg_cfg_name_ok(rule))
		return -EINVAL;
	if (!(b = calloc(1, sizeof(*b))))
		return -ENOMEM;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(base, sizeof(base), "%s-%s", stamp, rule);
	if (strcmp(base, last_name) == 0) {
		snprintf(b->name, sizeof(b->name), "%s-%u", base, ++last_count);
	} else {
		sg_strlcpy(last_name, base, sizeof(last_name));
		last_count = 1;
		sg_strlcpy(b->name, base, sizeof(b->name));
	}
	if (sg_strlcpy(b->capture_dir, capture_dir, sizeof(b->capture_dir)) >= sizeof(b->capture_dir)) {
		free(b);
		return -ENAMETOOLONG;
	}
	snprintf(b->path, sizeof(b->path), "%s/%s", b->capture_dir, b->name);
	b->keep = keep;
	*out = b;
	return 0;
}

const char *sg_bundle_path(const struct sg_bundle *b)
{
	return b->path;
}

int sg_bundle_fd(struct sg_bundle *b, const char *name)
{
	struct bundle_file *file;
	int fd;

	if (b->nfiles == SG_BUNDLE_FILES)
		return -ENOSPC;
	file = &b->files[b->nfiles];
	if (sg_strlcpy(file->name, name, sizeof(file->name)) >= sizeof(file->name) || strchr(name, '/'))
		return -EINVAL;
	file->fd = memfd_create(name, MFD_CLOEXEC);
	if (file->fd < 0)
		return -errno;
	fd = fcntl(file->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		int err = -errno;
		close(file->fd);
		return err;
	}
	b->nfiles++;
	return fd;
}

void sg_bundle_defer(struct sg_bundle *b, sg_bundle_finish_fn finish, void *data)
{
	b->finish = finish;
	b->finish_data = data;
}

void sg_bundle_free(struct sg_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nfiles; i++)
		close(b->files[i].fd);
	if (b->finish)
		b->finish(-1, b->finish_data);
	free(b);
}

static bool bundle_name(const char *name)
{
	size_t n = strlen(name);

	if (n <= SG_BUNDLE_STAMP_LEN + 1)
		return false;
	for (size_t i = 0; i < SG_BUNDLE_STAMP_LEN; i++) {
		char c = name[i];
		bool ok = i == 8 ? c == 'T' : i == 15 ? c == 'Z' : c >= '0' && c <= '9';
		if (!ok)
			return false;
	}
	const char *rest = name + SG_BUNDLE_STAMP_LEN;
	return rest[0] == '-' &&
	       strspn(rest + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
		       strlen(rest + 1);
}

/* mkdir -p: the last component 0700, parents 0755. */
static int make_dirs(const char *dir)
{
	char path[SG_PATH_MAX];

	if (sg_strlcpy(path, dir, sizeof(path)) >= sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int remove_bundle(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err = 0;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, e->d_name, 0) < 0 && !err)
			err = -errno;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && !err)
		err = -errno;
	return err;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sg_capture_rotate(const char *dir, unsigned keep)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int removed = 0, err = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	if (keep == 0)
		keep = 1;
	for (struct dirent *e; (e = readdir(d));) {
		if (!bundle_name(e->d_name))
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **more = realloc(names, cap * sizeof(*names));
			if (!more) {
				err = -ENOMEM;
				goto out;
			}
			names = more;
		}
		if (!(names[n] = strdup(e->d_name))) {
			err = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n > keep) {
		qsort(names, n, sizeof(*names), cmp_names);
		for (size_t i = 0; i < n - keep; i++) {
			int r = remove_bundle(dirfd(d), names[i]);
			if (r < 0 && !err)
				err = r;
			else if (r == 0)
				removed++;
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return err < 0 ? err : removed;
}

/* Creates capture_dir/NAME 0700, NAME-2, NAME-3, ... when taken; updates
 * b->name and b->path. Returns an O_DIRECTORY fd or -errno. */
static int make_bundle_dir(struct sg_bundle *b)
{
	char base[BUNDLE_BASE_MAX];
	int capfd, fd = -EEXIST;

	capfd = open(b->capture_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (capfd < 0)
		return -errno;
	sg_strlcpy(base, b->name, sizeof(base));
	for (int i = 1; i < 100 && fd == -EEXIST; i++) {
		if (i > 1)
			snprintf(b->name, sizeof(b->name), "%s-%d", base, i);
		if (mkdirat(capfd, b->name, 0700) < 0) {
			fd = -errno;
			continue;
		}
		fd = openat(capfd, b->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchmod(fd, 0700) < 0) {
			int err = -errno;
			if (fd >= 0)
				close(fd);
			fd = err;
		}
	}
	close(capfd);
	snprintf(b->path, sizeof(b->path), "%s/%s", b->capture_dir, b->name);
	return fd;
}

/* Copies a memfd into a new file name in dirfd, 0600 whatever the umask. */
static int store_file(int dirfd, const struct bundle_file *file)
{
	int fd = openat(dirfd, file->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	off_t offset = 0;
	int err = 0;
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0 || fstat(file->fd, &st) < 0)
		err = -errno;
	while (!err && offset < st.st_size) {
		ssize_t n = sendfile(fd, file->fd, &offset, (size_t)(st.st_size - offset));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err = n < 0 ? -errno : -EIO;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

int sg_bundle_store(struct sg_bundle *b, char *dir_out, size_t dir_len)
{
	int dirfd, err, r;

	if (dir_out && dir_len)
		sg_strlcpy(dir_out, b->path, dir_len);
	err = make_dirs(b->capture_dir);
	dirfd = err < 0 ? err : make_bundle_dir(b);
	if (dirfd < 0) {
		sg_bundle_free(b);
		return dirfd;
	}
	if (dir_out && dir_len)
		sg_strlcpy(dir_out, b->path, dir_len);
	for (size_t i = 0; i < b->nfiles; i++) {
		r = store_file(dirfd, &b->files[i]);
		err = err ? err : r;
	}
	if (b->finish) {
		r = b->finish(dirfd, b->finish_data);
		err = err ? err : r;
		b->finish = NULL;
	}
	close(dirfd);
	r = sg_capture_rotate(b->capture_dir, b->keep);
	if (r < 0)
		sg_log(LOG_WARNING, "%s: removing old capture bundles: %s", b->capture_dir, strerror(-r));
	sg_bundle_free(b);
	return err;
}
