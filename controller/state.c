/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The state journal, state_dir/state.json, read and written with jansson:
 *
 *   {"version": 1, "pid": 1234, "entries": [
 *     {"rule": "io-storm", "job": "backup", "step": "ionice idle", "kind": "ionice", "level": 2,
 *      "path": "/sys/fs/cgroup/unified/backup", "data": "123:16388 124:16388",
 *      "applied": true, "since": 1732300000}
 *   ]}
 *
 * version  1; any other value makes the file invalid.
 * pid      the pid of the guardian that wrote it, a positive integer; informational (for
 *          `status`), not kept when loading.
 * entries  in the order they were first recorded; (rule, level) is unique in the file.
 *   rule, job, step, path, data  the sg_undo members; rule is not empty.
 *   kind     sg_step_kind_name() of the kind; a name that is no kind makes the file invalid.
 *   level    an integer 0..UINT_MAX.
 *   applied  true or false (false: journaled before acting).
 *   since    CLOCK_REALTIME seconds of the last record of this entry, an integer.
 * Every key is required and no other key is allowed, at the top and in each entry.
 *
 * Strings are byte strings: a path or data may hold any byte but NUL, UTF-8 or not. Each byte
 * is written as the code point of the same value (U+0001..U+00FF) and the file is pure ASCII
 * (JSON_ENSURE_ASCII): byte 0xE9 is written "\u00E9"; quotes, backslashes and control bytes are
 * escaped by jansson. When reading, a NUL or a code point above U+00FF in a string, or a string
 * longer than its sg_undo member holds (data: SG_UNDO_DATA_MAX - 1 bytes), makes the file
 * invalid: nothing is truncated.
 *
 * A file larger than 64 MiB, or with more than SG_RULE_MAX * SG_STEP_MAX entries (the most
 * distinct (rule, level) pairs a configuration has), is invalid too; sg_state_record refuses
 * an entry past that count with -ENOSPC.
 *
 * sg_state_record and sg_state_remove change the journal in memory only when the write
 * succeeds: on an error the entries are as they were. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "jsonbytes.h"

#include "log.h"
#include "units.h"

#define STATE_FILE "state.json"
#define STATE_FILE_MAX ((size_t)64 << 20)
#define STATE_ENTRIES_MAX ((size_t)SG_RULE_MAX * SG_STEP_MAX)
#define STATE_VERSION 1

#define WHY_MAX 256

/* Why a text is invalid, for the log, in why: NULL or WHY_MAX bytes. Returns -EINVAL. */
static int invalid(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int invalid(char *why, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		vsnprintf(why, WHY_MAX, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* The kinds are 0, 1, ... and sg_step_kind_name() is "?" past the last one. */
static int kind_from_name(const char *name, enum sg_step_kind *kind)
{
	for (int k = 0; strcmp(sg_step_kind_name((enum sg_step_kind)k), "?") != 0; k++) {
		if (strcmp(sg_step_kind_name((enum sg_step_kind)k), name) == 0) {
			*kind = (enum sg_step_kind)k;
			return 0;
		}
	}
	return -EINVAL;
}

static bool kind_known(enum sg_step_kind kind)
{
	return strcmp(sg_step_kind_name(kind), "?") != 0;
}

static int get_bytes(const json_t *obj, const char *key, char *dst, size_t size, size_t index,
		     char *why)
{
	const json_t *value = json_object_get(obj, key);

	if (!json_is_string(value))
		return invalid(why, "entries[%zu].%s: missing or not a string", index, key);
	switch (sg_json_to_bytes(value, dst, size)) {
	case 0:
		return 0;
	case -E2BIG:
		return invalid(why, "entries[%zu].%s: longer than %zu bytes", index, key, size - 1);
	default:
		return invalid(why, "entries[%zu].%s: NUL or a character above U+00FF", index, key);
	}
}

#define ENTRY_KEYS 9

static int entry_from_json(const json_t *obj, size_t index, struct sg_state_entry *e, char *why)
{
	struct sg_undo *u = &e->undo;
	const json_t *kind, *level, *applied, *since;
	int r;

	if (!json_is_object(obj))
		return invalid(why, "entries[%zu]: not an object", index);
	if ((r = get_bytes(obj, "rule", u->rule, sizeof(u->rule), index, why)) < 0 ||
	    (r = get_bytes(obj, "job", u->job, sizeof(u->job), index, why)) < 0 ||
	    (r = get_bytes(obj, "step", u->step, sizeof(u->step), index, why)) < 0 ||
	    (r = get_bytes(obj, "path", u->path, sizeof(u->path), index, why)) < 0 ||
	    (r = get_bytes(obj, "data", u->data, sizeof(u->data), index, why)) < 0)
		return r;
	if (!u->rule[0])
		return invalid(why, "entries[%zu].rule: empty", index);

	kind = json_object_get(obj, "kind");
	if (!json_is_string(kind))
		return invalid(why, "entries[%zu].kind: missing or not a string", index);
	if (kind_from_name(json_string_value(kind), &u->kind) < 0)
		return invalid(why, "entries[%zu].kind: unknown step kind \"%.64s\"", index,
			       json_string_value(kind));

	level = json_object_get(obj, "level");
	if (!json_is_integer(level) || json_integer_value(level) < 0 ||
	    json_integer_value(level) > UINT_MAX)
		return invalid(why, "entries[%zu].level: missing or not an integer 0..%u", index,
			       UINT_MAX);
	u->level = (unsigned)json_integer_value(level);

	applied = json_object_get(obj, "applied");
	if (!json_is_boolean(applied))
		return invalid(why, "entries[%zu].applied: missing or not true/false", index);
	e->applied = json_is_true(applied);

	since = json_object_get(obj, "since");
	if (!json_is_integer(since))
		return invalid(why, "entries[%zu].since: missing or not an integer", index);
	e->since = json_integer_value(since);

	/* All ENTRY_KEYS keys are there and keys are unique: any more is an unknown one. */
	if (json_object_size(obj) != ENTRY_KEYS)
		return invalid(why, "entries[%zu]: unknown keys", index);
	return 0;
}

static size_t find_index(const struct sg_state *state, const char *rule, unsigned level)
{
	size_t i;

	for (i = 0; i < state->count; i++) {
		const struct sg_undo *u = &state->entries[i].undo;
		if (u->level == level && strcmp(u->rule, rule) == 0)
			break;
	}
	return i;
}

/* The entries of a parsed state.json into new (zeroed; its entries are freed by the caller). */
static int entries_from_json(const json_t *root, struct sg_state *new, char *why)
{
	const json_t *version = json_object_get(root, "version");
	const json_t *pid = json_object_get(root, "pid");
	const json_t *entries = json_object_get(root, "entries");

	if (!json_is_object(root))
		return invalid(why, "not a JSON object");
	if (!json_is_integer(version) || json_integer_value(version) != STATE_VERSION)
		return invalid(why, "version: missing or not %d", STATE_VERSION);
	if (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
	    json_integer_value(pid) > INT_MAX)
		return invalid(why, "pid: missing or not a pid");
	if (!json_is_array(entries))
		return invalid(why, "entries: missing or not an array");
	if (json_object_size(root) != 3)
		return invalid(why, "unknown keys");
	if (json_array_size(entries) > STATE_ENTRIES_MAX)
		return invalid(why, "more than %zu entries", STATE_ENTRIES_MAX);
	new->cap = json_array_size(entries);
	if (new->cap == 0)
		return 0;
	new->entries = calloc(new->cap, sizeof(*new->entries));
	if (!new->entries)
		return -ENOMEM;
	for (size_t i = 0; i < new->cap; i++) {
		struct sg_state_entry *e = &new->entries[i];
		int r = entry_from_json(json_array_get(entries, i), i, e, why);

		if (r < 0)
			return r;
		if (find_index(new, e->undo.rule, e->undo.level) < new->count)
			return invalid(why, "entries[%zu]: rule %s level %u again", i, e->undo.rule,
				       e->undo.level);
		new->count++;
	}
	return 0;
}

/* sg_state_parse, with why the file is invalid in why (may be NULL). On an error state is
 * left as it was. */
static int parse(const char *text, size_t len, struct sg_state *state, char *why)
{
	struct sg_state new = { 0 };
	json_error_t err;
	json_t *root;
	int r;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		if (json_error_code(&err) == json_error_out_of_memory)
			return -ENOMEM;
		return invalid(why, "line %d column %d: %s", err.line, err.column, err.text);
	}
	r = entries_from_json(root, &new, why);
	json_decref(root);
	if (r < 0) {
		free(new.entries);
		return r;
	}
	free(state->entries);
	state->entries = new.entries;
	state->count = new.count;
	state->cap = new.cap;
	return 0;
}

int sg_state_parse(const char *text, size_t len, struct sg_state *state)
{
	return parse(text, len, state, NULL);
}

static int set_new(json_t *obj, const char *key, json_t *value)
{
	/* json_object_set_new takes value even when it fails, and fails on NULL. */
	return json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

static int set_bytes(json_t *obj, const char *key, const char *s, size_t size)
{
	json_t *value;
	int r = sg_json_from_bytes(s, size, &value);

	return r < 0 ? r : set_new(obj, key, value);
}

static int entry_to_json(const struct sg_state_entry *e, json_t **out)
{
	const struct sg_undo *u = &e->undo;
	json_t *obj;
	int r;

	if (!kind_known(u->kind))
		return -EINVAL;
	obj = json_object();
	if (!obj)
		return -ENOMEM;
	if ((r = set_bytes(obj, "rule", u->rule, sizeof(u->rule))) < 0 ||
	    (r = set_bytes(obj, "job", u->job, sizeof(u->job))) < 0 ||
	    (r = set_bytes(obj, "step", u->step, sizeof(u->step))) < 0 ||
	    (r = set_new(obj, "kind", json_string(sg_step_kind_name(u->kind)))) < 0 ||
	    (r = set_new(obj, "level", json_integer(u->level))) < 0 ||
	    (r = set_bytes(obj, "path", u->path, sizeof(u->path))) < 0 ||
	    (r = set_bytes(obj, "data", u->data, sizeof(u->data))) < 0 ||
	    (r = set_new(obj, "applied", json_boolean(e->applied))) < 0 ||
	    (r = set_new(obj, "since", json_integer(e->since))) < 0) {
		json_decref(obj);
		return r;
	}
	*out = obj;
	return 0;
}

/* *text is malloc'd, NUL-terminated and ends with a newline; free() it. */
int sg_state_to_json(const struct sg_state *state, char **text)
{
	json_t *root = json_object(), *entries = json_array();
	int r = 0;

	if (!root || !entries) {
		json_decref(entries);
		r = -ENOMEM;
		goto out;
	}
	if ((r = set_new(root, "version", json_integer(STATE_VERSION))) < 0 ||
	    (r = set_new(root, "pid", json_integer(getpid()))) < 0 ||
	    (r = set_new(root, "entries", entries)) < 0)
		goto out;
	for (size_t i = 0; i < state->count; i++) {
		json_t *obj;
		if ((r = entry_to_json(&state->entries[i], &obj)) < 0)
			goto out;
		if (json_array_append_new(entries, obj) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	char *dump = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	if (!dump) {
		r = -ENOMEM;
		goto out;
	}
	size_t len = strlen(dump);
	char *withnl = realloc(dump, len + 2);
	if (!withnl) {
		free(dump);
		r = -ENOMEM;
		goto out;
	}
	withnl[len] = '\n';
	withnl[len + 1] = '\0';
	*text = withnl;
out:
	json_decref(root);
	return r;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int sg_state_write(const struct sg_state *state)
{
	const size_t suffix = strlen("/" STATE_FILE);
	char dir[sizeof(state->path)], tmp[sizeof(STATE_FILE) + 32];
	size_t len = strnlen(state->path, sizeof(state->path));
	char *text = NULL;
	int dfd = -1, fd, r;

	if (len <= suffix || len == sizeof(state->path) ||
	    strcmp(state->path + len - suffix, "/" STATE_FILE) != 0)
		return -EINVAL;
	memcpy(dir, state->path, len - suffix);
	dir[len - suffix] = '\0';
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", STATE_FILE, (int)getpid());

	r = sg_state_to_json(state, &text);
	if (r < 0)
		return r;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		goto out;
	}
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, STATE_FILE) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		goto out;
	}
	if (fsync(dfd) < 0)
		r = -errno;
out:
	if (dfd >= 0)
		close(dfd);
	free(text);
	return r;
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int make_dirs(const char *dir)
{
	char buf[SG_PATH_MAX + 16];

	if (sg_strlcpy(buf, dir, sizeof(buf)) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

/* Reads the whole file, at most STATE_FILE_MAX bytes (-EFBIG past that). */
static int read_all(int fd, char **out, size_t *outlen)
{
	struct stat st;
	size_t cap, n = 0;
	char *buf;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > STATE_FILE_MAX)
		return -EFBIG;
	cap = (size_t)st.st_size + 1; /* one more byte shows a file that grew */
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap > STATE_FILE_MAX) {
				free(buf);
				return -EFBIG;
			}
			cap = cap * 2 > STATE_FILE_MAX + 1 ? STATE_FILE_MAX + 1 : cap * 2;
			char *bigger = realloc(buf, cap);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			int err = -errno;
			free(buf);
			return err;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* Renames an invalid state.json to state.json.corrupt-<time> (.1, .2 ... when that exists). */
static int set_aside(const struct sg_state *state, const char *why)
{
	char aside[sizeof(state->path) + 48];
	long long now = (long long)time(NULL);

	for (unsigned i = 0;; i++) {
		if (i == 0)
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld", state->path, now);
		else
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld.%u", state->path, now, i);
		if (renameat2(AT_FDCWD, state->path, AT_FDCWD, aside, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST || i == 100)
			return sg_log_errno(LOG_ERR, errno,
					    "%s: invalid (%s) and cannot be renamed to %s",
					    state->path, why, aside);
	}
	sg_log(LOG_ERR, "%s: invalid (%s); renamed to %s, starting with an empty state journal",
	       state->path, why, aside);
	return 0;
}

static int load(struct sg_state *state)
{
	char why[WHY_MAX] = "";
	char *text = NULL;
	size_t len = 0;
	int fd, r;

	fd = open(state->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = read_all(fd, &text, &len);
	close(fd);
	if (r == -EFBIG) {
		snprintf(why, sizeof(why), "larger than %zu MiB", STATE_FILE_MAX >> 20);
		return set_aside(state, why);
	}
	if (r < 0)
		return r;
	r = parse(text, len, state, why);
	free(text);
	if (r == -EINVAL)
		return set_aside(state, why);
	return r;
}

int sg_state_open(struct sg_state *state, const char *state_dir)
{
	struct stat st;
	int r;

	memset(state, 0, sizeof(*state));
	if (!state_dir[0])
		return -EINVAL;
	if ((size_t)snprintf(state->path, sizeof(state->path), "%s/" STATE_FILE, state_dir) >=
	    sizeof(state->path))
		return -ENAMETOOLONG;
	r = make_dirs(state_dir);
	if (r < 0)
		return r;
	if (stat(state_dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) || st.st_uid != 0)
		sg_log(LOG_WARNING,
		       "%s: state_dir is writable by group or others or not owned by root "
		       "(mode %04o, uid %u)",
		       state_dir, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
	return load(state);
}

static int undo_check(const struct sg_undo *u)
{
	if (!terminated(u->rule, sizeof(u->rule)) || !u->rule[0] ||
	    !terminated(u->job, sizeof(u->job)) || !terminated(u->step, sizeof(u->step)) ||
	    !terminated(u->path, sizeof(u->path)) || !terminated(u->data, sizeof(u->data)) ||
	    !kind_known(u->kind))
		return -EINVAL;
	return 0;
}

int sg_state_record(struct sg_state *state, const struct sg_undo *undo, bool applied)
{
	struct sg_state_entry *old = NULL;
	size_t i;
	int r;

	r = undo_check(undo);
	if (r < 0)
		return r;
	i = find_index(state, undo->rule, undo->level);
	if (i < state->count) {
		old = malloc(sizeof(*old));
		if (!old)
			return -ENOMEM;
		*old = state->entries[i];
	} else {
		if (state->count >= STATE_ENTRIES_MAX)
			return -ENOSPC;
		if (state->count == state->cap) {
			size_t cap = state->cap ? state->cap * 2 : 4;
			struct sg_state_entry *bigger;

			bigger = realloc(state->entries, cap * sizeof(*bigger));
			if (!bigger)
				return -ENOMEM;
			state->entries = bigger;
			state->cap = cap;
		}
		state->count++;
	}
	/* undo may be an entry's own: memmove. */
	memmove(&state->entries[i].undo, undo, sizeof(*undo));
	state->entries[i].applied = applied;
	state->entries[i].since = (int64_t)time(NULL);

	r = sg_state_write(state);
	if (r < 0) {
		if (old)
			state->entries[i] = *old;
		else
			state->count--;
	}
	free(old);
	return r;
}

int sg_state_remove(struct sg_state *state, const char *rule, unsigned level)
{
	size_t i = find_index(state, rule, level);
	struct sg_state_entry *old;
	int r;

	if (i == state->count)
		return -ENOENT;
	old = malloc(sizeof(*old));
	if (!old)
		return -ENOMEM;
	*old = state->entries[i];
	memmove(&state->entries[i], &state->entries[i + 1], (state->count - i - 1) * sizeof(*old));
	state->count--;

	r = sg_state_write(state);
	if (r < 0) {
		memmove(&state->entries[i + 1], &state->entries[i],
			(state->count - i) * sizeof(*old));
		state->entries[i] = *old;
		state->count++;
	}
	free(old);
	return r;
}

const struct sg_state_entry *sg_state_find(const struct sg_state *state, const char *rule,
					   unsigned level)
{
	size_t i = find_index(state, rule, level);

	return i < state->count ? &state->entries[i] : NULL;
}

void sg_state_free(struct sg_state *state)
{
	free(state->entries);
	memset(state, 0, sizeof(*state));
}

#define LOCK_FILE "lock"

/* The pid written in an open lock file, or 0. */
static pid_t lock_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 && pid < INT32_MAX ? (pid_t)pid : 0;
}

int sg_state_lock(const char *state_dir, pid_t *holder)
{
	char path[SG_PATH_MAX + 16], text[32];
	int fd, n;

	*holder = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/" LOCK_FILE, state_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		*holder = lock_pid(fd);
		close(fd);
		return err;
	}
	n = snprintf(text, sizeof(text), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

pid_t sg_state_lock_holder(const char *state_dir)
{
	char path[SG_PATH_MAX + 16];
	pid_t pid = 0;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/" LOCK_FILE, state_dir) >= sizeof(path))
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		pid = lock_pid(fd);
	close(fd);
	return pid;
}
