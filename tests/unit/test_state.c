/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The state journal: state.json written atomically, read back, set aside when invalid. */
#include "fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

/* A temp dir per test; state_dir is two levels below it and does not exist at first. */
struct ctx {
	char base[64];
	char dir[128];
	char file[160];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	strcpy(c->base, "/tmp/sg-test-state-XXXXXX");
	assert_non_null(mkdtemp(c->base));
	snprintf(c->dir, sizeof(c->dir), "%s/run/stallguard", c->base);
	snprintf(c->file, sizeof(c->file), "%s/state.json", c->dir);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	chmod(c->base, 0700);
	fixture_remove_tree(c->base);
	free(c);
	return 0;
}

static struct sg_undo *undo_new(enum sg_step_kind kind, const char *rule, const char *job,
				const char *step, unsigned level, const char *path,
				const char *data)
{
	struct sg_undo *u = calloc(1, sizeof(*u));

	assert_non_null(u);
	u->kind = kind;
	assert_true(strlen(rule) < sizeof(u->rule) && strlen(job) < sizeof(u->job));
	assert_true(strlen(step) < sizeof(u->step) && strlen(path) < sizeof(u->path));
	assert_true(strlen(data) < sizeof(u->data));
	strcpy(u->rule, rule);
	strcpy(u->job, job);
	strcpy(u->step, step);
	u->level = level;
	strcpy(u->path, path);
	strcpy(u->data, data);
	return u;
}

static void assert_undo_equal(const struct sg_undo *a, const struct sg_undo *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_string_equal(a->rule, b->rule);
	assert_string_equal(a->job, b->job);
	assert_string_equal(a->step, b->step);
	assert_int_equal(a->level, b->level);
	assert_string_equal(a->path, b->path);
	assert_int_equal(strlen(a->data), strlen(b->data));
	assert_memory_equal(a->data, b->data, strlen(a->data));
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void spew(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* How many names in dir start with prefix; the first such name in first (if not NULL). */
static int count_names(const char *dir, const char *prefix, char *first, size_t firstlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (n++ == 0 && first)
			snprintf(first, firstlen, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	return n;
}

static int count_entries(const char *dir)
{
	return count_names(dir, "", NULL, 0) - 2; /* . and .. */
}

/* A path with a quote, a backslash, a newline, UTF-8 and a byte that is no UTF-8. */
static const char odd_path[] = "/sys/fs/cgroup/we\"ird\\dir\nname-\xc3\xa9-\xff";

static void test_open_record_reopen(void **state)
{
	struct ctx *c = *state;
	struct sg_state st, again;
	struct stat sb;
	char parent[128];

	assert_int_equal(sg_state_open(&st, c->dir), 0);
	assert_int_equal(stat(c->dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(parent, sizeof(parent), "%s/run", c->base);
	assert_int_equal(stat(parent, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(st.count, 0);
	assert_null(sg_state_find(&st, "io-storm", 1));
	/* Nothing is written until something is recorded. */
	assert_int_equal(access(c->file, F_OK), -1);

	/* 60 KiB of data using every byte but NUL. */
	char *big = malloc(60 * 1024 + 1);
	assert_non_null(big);
	for (size_t i = 0; i < 60 * 1024; i++)
		big[i] = (char)(1 + i % 255);
	big[60 * 1024] = '\0';
	struct sg_undo *a = undo_new(SG_STEP_IONICE, "io-storm", "backup", "ionice idle", 1,
				     odd_path, "123:16388 124:16388");
	struct sg_undo *b = undo_new(SG_STEP_FREEZE, "lockup", "", "freeze", 3,
				     "/sys/fs/cgroup/batch", big);

	int64_t before = (int64_t)time(NULL);
	assert_int_equal(sg_state_record(&st, a, false), 0);
	assert_int_equal(sg_state_record(&st, b, true), 0);
	int64_t after = (int64_t)time(NULL);
	assert_int_equal(st.count, 2);

	assert_int_equal(stat(c->file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* Every byte is escaped: the file is ASCII. */
	size_t len;
	char *text = slurp(c->file, &len);
	for (size_t i = 0; i < len; i++)
		assert_true((unsigned char)text[i] < 0x80);
	assert_non_null(strstr(text, "\\u00FF"));
	free(text);

	assert_int_equal(sg_state_open(&again, c->dir), 0);
	assert_int_equal(again.count, 2);
	assert_undo_equal(&again.entries[0].undo, a);
	assert_false(again.entries[0].applied);
	assert_true(again.entries[0].since >= before && again.entries[0].since <= after);
	assert_undo_equal(&again.entries[1].undo, b);
	assert_true(again.entries[1].applied);
	assert_int_equal(again.entries[1].since, st.entries[1].since);
	assert_string_equal(again.entries[0].undo.path, odd_path);
	assert_int_equal(strlen(again.entries[1].undo.data), 60 * 1024);

	sg_state_free(&again);
	sg_state_free(&st);
	assert_null(st.entries);
	assert_int_equal(st.count, 0);
	free(a);
	free(b);
	free(big);
}

static void assert_order(const struct sg_state *st, const char *const *rules,
			 const unsigned *levels, size_t n)
{
	assert_int_equal(st->count, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(st->entries[i].undo.rule, rules[i]);
		assert_int_equal(st->entries[i].undo.level, levels[i]);
	}
}

static void test_replace_remove(void **state)
{
	struct ctx *c = *state;
	struct sg_state st, disk = { 0 };
	struct sg_undo *a1 = undo_new(SG_STEP_IOMAX, "a", "web", "io.max wbps=50M", 1, "/cg/web",
				      "8:0 rbps=max");
	struct sg_undo *b1 = undo_new(SG_STEP_IONICE, "b", "db", "ionice idle", 1, "/cg/db",
				      "1:16388");
	struct sg_undo *a2 = undo_new(SG_STEP_FREEZE, "a", "web", "freeze", 2, "/cg/web",
				      "cgroup2");

	assert_int_equal(sg_state_open(&st, c->dir), 0);
	assert_int_equal(sg_state_record(&st, a1, false), 0);
	assert_int_equal(sg_state_record(&st, b1, false), 0);
	assert_int_equal(sg_state_record(&st, a2, false), 0);
	assert_order(&st, (const char *[]){ "a", "b", "a" }, (const unsigned[]){ 1, 1, 2 }, 3);

	/* Same (rule, level): replaced in place, the count stays. */
	strcpy(a1->data, "8:0 rbps=1000");
	assert_int_equal(sg_state_record(&st, a1, true), 0);
	assert_order(&st, (const char *[]){ "a", "b", "a" }, (const unsigned[]){ 1, 1, 2 }, 3);
	assert_true(st.entries[0].applied);
	assert_string_equal(st.entries[0].undo.data, "8:0 rbps=1000");
	assert_false(st.entries[2].applied);

	/* An entry passed back from the journal itself. */
	assert_int_equal(sg_state_record(&st, &st.entries[1].undo, true), 0);
	assert_int_equal(st.count, 3);
	assert_true(st.entries[1].applied);
	assert_string_equal(st.entries[1].undo.data, "1:16388");

	assert_int_equal(sg_state_remove(&st, "b", 1), 0);
	assert_order(&st, (const char *[]){ "a", "a" }, (const unsigned[]){ 1, 2 }, 2);
	assert_null(sg_state_find(&st, "b", 1));

	/* The file on disk says the same. */
	size_t len;
	char *text = slurp(c->file, &len);
	assert_int_equal(sg_state_parse(text, len, &disk), 0);
	assert_order(&disk, (const char *[]){ "a", "a" }, (const unsigned[]){ 1, 2 }, 2);
	assert_string_equal(disk.entries[0].undo.data, "8:0 rbps=1000");
	assert_true(disk.entries[0].applied);
	assert_null(strstr(text, "\"b\""));
	free(text);
	sg_state_free(&disk);

	assert_int_equal(sg_state_remove(&st, "b", 1), -ENOENT);
	assert_int_equal(sg_state_remove(&st, "a", 3), -ENOENT);
	assert_int_equal(st.count, 2);

	assert_int_equal(sg_state_remove(&st, "a", 2), 0);
	assert_int_equal(sg_state_remove(&st, "a", 1), 0);
	assert_int_equal(st.count, 0);
	sg_state_free(&st);
	assert_int_equal(sg_state_open(&st, c->dir), 0);
	assert_int_equal(st.count, 0);
	assert_int_equal(access(c->file, F_OK), 0); /* an empty journal, not a missing one */
	sg_state_free(&st);
	free(a1);
	free(b1);
	free(a2);
}

static void test_write_atomic(void **state)
{
	struct ctx *c = *state;
	struct sg_state st;
	struct sg_undo *a = undo_new(SG_STEP_IONICE, "a", "web", "ionice idle", 1, "/cg/web",
				     "1:16388");
	struct sg_undo *b = undo_new(SG_STEP_FREEZE, "b", "db", "freeze", 1, "/cg/db", "cgroup2");
	char tmp[200];

	assert_int_equal(sg_state_open(&st, c->dir), 0);
	assert_int_equal(sg_state_record(&st, a, false), 0);
	assert_int_equal(count_entries(c->dir), 1);
	assert_int_equal(count_names(c->dir, "state.json.tmp", NULL, 0), 0);

	size_t oldlen;
	char *old = slurp(c->file, &oldlen);

	/* The temp file cannot be opened: nothing changes, on disk or in memory. */
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp.%d", c->dir, (int)getpid());
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(sg_state_record(&st, b, true), -EISDIR);
	assert_int_equal(st.count, 1);
	assert_null(sg_state_find(&st, "b", 1));

	struct sg_undo *a_new = undo_new(SG_STEP_IONICE, "a", "web", "ionice idle", 1, "/cg/web",
					 "2:0");
	assert_int_equal(sg_state_record(&st, a_new, true), -EISDIR);
	assert_string_equal(st.entries[0].undo.data, "1:16388");
	assert_false(st.entries[0].applied);

	assert_int_equal(sg_state_remove(&st, "a", 1), -EISDIR);
	assert_int_equal(st.count, 1);
	assert_non_null(sg_state_find(&st, "a", 1));

	size_t nowlen;
	char *now = slurp(c->file, &nowlen);
	assert_int_equal(nowlen, oldlen);
	assert_memory_equal(now, old, oldlen);
	free(now);

	/* Once it can, the write goes through and leaves no temp file. */
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(sg_state_record(&st, b, true), 0);
	assert_int_equal(st.count, 2);
	assert_int_equal(count_entries(c->dir), 1);
	now = slurp(c->file, &nowlen);
	assert_non_null(strstr(now, "\"cgroup2\""));
	free(now);

	/* A journal from sg_state_parse has no file to go to. */
	struct sg_state mem = { 0 };
	assert_int_equal(sg_state_parse(old, oldlen, &mem), 0);
	assert_int_equal(sg_state_write(&mem), -EINVAL);
	sg_state_free(&mem);

	free(old);
	free(a);
	free(a_new);
	free(b);
	sg_state_free(&st);
}

/* One valid entry; each invalid case changes one thing in it. */
static const char valid[] =
	"{\"version\": 1, \"pid\": 7, \"entries\": [{\"rule\": \"r\", \"job\": \"j\", "
	"\"step\": \"ionice idle\", \"kind\": \"ionice\", \"level\": 1, \"path\": \"/p\", "
	"\"data\": \"d\", \"applied\": true, \"since\": 5}]}";

/* valid with the one occurrence of from replaced by to (malloc'd). */
static char *valid_with(const char *from, const char *to)
{
	const char *at = strstr(valid, from);

	assert_non_null(at);
	assert_null(strstr(at + 1, from));
	size_t head = (size_t)(at - valid), len = strlen(valid) - strlen(from) + strlen(to);
	char *text = malloc(len + 1);
	assert_non_null(text);
	memcpy(text, valid, head);
	strcpy(text + head, to);
	strcat(text, at + strlen(from));
	return text;
}

/* "\"" + n times ch + "\"" (malloc'd). */
static char *quoted(size_t n, char ch)
{
	char *s = malloc(n + 3);

	assert_non_null(s);
	s[0] = '"';
	memset(s + 1, ch, n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

struct change {
	const char *what, *from, *to;
};

static const struct change invalid_changes[] = {
	{ "garbage", valid, "this is { not json" },
	{ "wrong kind name", "\"ionice\",", "\"renice\"," },
	{ "kind ?", "\"ionice\",", "\"?\"," },
	{ "missing field", ", \"since\": 5", "" },
	{ "missing pid", "\"pid\": 7, ", "" },
	{ "version 2", "\"version\": 1", "\"version\": 2" },
	{ "extra key", "\"since\": 5}", "\"since\": 5, \"note\": \"x\"}" },
	{ "duplicate key", "\"since\": 5}", "\"since\": 5, \"since\": 6}" },
	{ "duplicate entry", "5}]}",
	  "5}, {\"rule\": \"r\", \"job\": \"\", \"step\": \"freeze\", \"kind\": \"freeze\", "
	  "\"level\": 1, \"path\": \"\", \"data\": \"\", \"applied\": false, \"since\": 6}]}" },
	{ "empty rule", "\"r\"", "\"\"" },
	{ "character above U+00FF", "\"/p\"", "\"/p\\u0100\"" },
	{ "NUL", "\"d\"", "\"d\\u0000x\"" },
	{ "negative level", "\"level\": 1", "\"level\": -1" },
	{ "level too big", "\"level\": 1", "\"level\": 4294967296" },
	{ "fractional since", "\"since\": 5", "\"since\": 5.5" },
	{ "applied not a boolean", "\"applied\": true", "\"applied\": 1" },
	{ "entries not an array", "\"entries\": [", "\"entries\": {\"x\": [" },
	{ "entry not an object", "[{\"rule\"", "[3, {\"rule\"" },
};

/* Each invalid text: the change, and the same made by long strings. */
static char **invalid_texts(size_t *n)
{
	size_t nchanges = sizeof(invalid_changes) / sizeof(invalid_changes[0]);
	char **texts = calloc(nchanges + 3, sizeof(*texts));

	assert_non_null(texts);
	for (size_t i = 0; i < nchanges; i++) {
		if (invalid_changes[i].from == valid)
			texts[i] = strdup(invalid_changes[i].to);
		else
			texts[i] = valid_with(invalid_changes[i].from, invalid_changes[i].to);
		assert_non_null(texts[i]);
	}
	char *s = quoted(SG_UNDO_DATA_MAX, 'x');
	texts[nchanges] = valid_with("\"d\"", s); /* data of SG_UNDO_DATA_MAX bytes: one too many */
	free(s);
	s = quoted(SG_NAME_MAX, 'r');
	texts[nchanges + 1] = valid_with("\"r\"", s);
	free(s);
	s = quoted(64, 's');
	texts[nchanges + 2] = valid_with("\"ionice idle\"", s);
	free(s);
	*n = nchanges + 3;
	return texts;
}

static void free_texts(char **texts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
}

/* stderr into a file while fn runs; returns what was logged (malloc'd). */
static char *captured_stderr(const char *path, void (*fn)(void *), void *arg)
{
	int saved = dup(STDERR_FILENO), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(saved >= 0 && fd >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	fn(arg);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	char *text = slurp(path, NULL);
	unlink(path);
	return text;
}

struct open_call {
	const char *dir;
	struct sg_state st;
	int ret;
};

static void call_open(void *arg)
{
	struct open_call *o = arg;

	o->ret = sg_state_open(&o->st, o->dir);
}

/* Opens dir with state.json holding text: it must be set aside, unchanged, and an error logged. */
static void assert_set_aside(struct ctx *c, const char *dir, const char *text, size_t len)
{
	char file[256], aside[300], log[200];
	struct open_call o = { .dir = dir };

	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/state.json", dir);
	spew(file, text, len);
	snprintf(log, sizeof(log), "%s/stderr", c->base);
	char *logged = captured_stderr(log, call_open, &o);
	assert_int_equal(o.ret, 0);
	assert_int_equal(o.st.count, 0);
	assert_int_equal(access(file, F_OK), -1);
	assert_int_equal(count_names(dir, "state.json.corrupt-", aside, sizeof(aside)), 1);
	assert_non_null(strstr(logged, "error: "));
	assert_non_null(strstr(logged, "state.json.corrupt-"));
	free(logged);
	size_t asidelen;
	char *moved = slurp(aside, &asidelen);
	assert_int_equal(asidelen, len);
	assert_memory_equal(moved, text, len);
	free(moved);
	sg_state_free(&o.st);
}

static void test_corrupt_set_aside(void **state)
{
	struct ctx *c = *state;
	size_t n;
	char **texts = invalid_texts(&n);
	char dir[128];
	struct sg_state st;

	/* The unchanged text is a valid journal. */
	snprintf(dir, sizeof(dir), "%s/valid", c->base);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(c->file, sizeof(c->file), "%s/state.json", dir);
	spew(c->file, valid, strlen(valid));
	assert_int_equal(sg_state_open(&st, dir), 0);
	assert_int_equal(st.count, 1);
	assert_int_equal(count_names(dir, "state.json.corrupt-", NULL, 0), 0);
	sg_state_free(&st);

	for (size_t i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/case%zu", c->base, i);
		assert_set_aside(c, dir, texts[i], strlen(texts[i]));
	}
	free_texts(texts, n);

	/* Set aside twice in the same second (or not): both are kept. */
	snprintf(dir, sizeof(dir), "%s/twice", c->base);
	assert_set_aside(c, dir, "{", 1);
	snprintf(c->file, sizeof(c->file), "%s/state.json", dir);
	spew(c->file, "[", 1);
	char log[200];
	snprintf(log, sizeof(log), "%s/stderr", c->base);
	struct open_call o = { .dir = dir };
	free(captured_stderr(log, call_open, &o));
	assert_int_equal(o.ret, 0);
	assert_int_equal(count_names(dir, "state.json.corrupt-", NULL, 0), 2);
	sg_state_free(&o.st);
}

/* valid padded with blanks to size bytes. */
static char *padded(size_t size)
{
	char *text = malloc(size);

	assert_non_null(text);
	memset(text, ' ', size);
	memcpy(text, valid, strlen(valid));
	return text;
}

static void test_too_big(void **state)
{
	struct ctx *c = *state;
	const size_t max = (size_t)64 << 20;
	char dir[128], file[160];
	struct sg_state st;

	snprintf(dir, sizeof(dir), "%s/max", c->base);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/state.json", dir);
	char *text = padded(max);
	spew(file, text, max);
	free(text);
	assert_int_equal(sg_state_open(&st, dir), 0);
	assert_int_equal(st.count, 1);
	sg_state_free(&st);

	snprintf(dir, sizeof(dir), "%s/over", c->base);
	text = padded(max + 1);
	assert_set_aside(c, dir, text, max + 1);
	free(text);
}

static void test_parse_to_json(void **state)
{
	struct sg_state st = { 0 }, back = { 0 };
	size_t len;
	char *text, *again;

	(void)state;
	char *fixture = fixture_exact("state/example.json", &len);
	assert_int_equal(sg_state_parse(fixture, len, &st), 0);
	free(fixture);
	assert_int_equal(st.count, 2);
	const struct sg_state_entry *e = &st.entries[0];
	assert_string_equal(e->undo.rule, "io-storm");
	assert_string_equal(e->undo.job, "backup");
	assert_string_equal(e->undo.step, "ionice idle");
	assert_int_equal(e->undo.kind, SG_STEP_IONICE);
	assert_int_equal(e->undo.level, 2);
	assert_string_equal(e->undo.path, "/sys/fs/cgroup/unified/backup");
	assert_string_equal(e->undo.data, "123:16388 124:16388");
	assert_true(e->applied);
	assert_int_equal(e->since, 1732300000);
	e = &st.entries[1];
	assert_string_equal(e->undo.rule, "lockup");
	assert_string_equal(e->undo.job, "");
	assert_int_equal(e->undo.kind, SG_STEP_HOOK);
	assert_int_equal(e->undo.level, 1);
	assert_string_equal(e->undo.path, "/etc/stallguard/hooks/lb \"drain\"\\\n\xe9\xff");
	assert_string_equal(e->undo.data, "");
	assert_false(e->applied);
	assert_int_equal(e->since, 1732300005);

	/* Round trip: the same entries, and the same text again. */
	assert_int_equal(sg_state_to_json(&st, &text), 0);
	char pid[32];
	snprintf(pid, sizeof(pid), "\"pid\": %d,", (int)getpid());
	assert_non_null(strstr(text, pid));
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_int_equal(sg_state_parse(text, strlen(text), &back), 0);
	assert_int_equal(back.count, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_undo_equal(&back.entries[i].undo, &st.entries[i].undo);
		assert_int_equal(back.entries[i].applied, st.entries[i].applied);
		assert_int_equal(back.entries[i].since, st.entries[i].since);
	}
	assert_int_equal(sg_state_to_json(&back, &again), 0);
	assert_string_equal(again, text);
	free(again);

	/* An invalid text leaves the journal as it was. */
	assert_int_equal(sg_state_parse("{", 1, &back), -EINVAL);
	assert_int_equal(back.count, 2);
	assert_string_equal(back.entries[1].undo.rule, "lockup");

	/* UTF-8 in a hand-written file is read as code points: U+00E9 is the byte 0xE9. */
	char *utf8 = valid_with("\"/p\"", "\"/caf\xc3\xa9\"");
	assert_int_equal(sg_state_parse(utf8, strlen(utf8), &back), 0);
	assert_int_equal(back.count, 1);
	assert_string_equal(back.entries[0].undo.path, "/caf\xe9");
	free(utf8);

	/* No entries is a valid, empty journal. */
	const char empty[] = "{\"version\": 1, \"pid\": 3, \"entries\": []}";
	assert_int_equal(sg_state_parse(empty, sizeof(empty) - 1, &back), 0);
	assert_int_equal(back.count, 0);

	/* An unknown kind in memory cannot be written. */
	st.entries[1].undo.kind = (enum sg_step_kind)99;
	assert_int_equal(sg_state_to_json(&st, &again), -EINVAL);

	free(text);
	sg_state_free(&st);
	sg_state_free(&back);
}

static void test_parse_limits(void **state)
{
	struct sg_state st = { 0 };
	size_t n;
	char **texts = invalid_texts(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		if (sg_state_parse(texts[i], strlen(texts[i]), &st) != -EINVAL)
			fail_msg("invalid text %zu parsed: %.200s", i, texts[i]);
		assert_int_equal(st.count, 0);
	}
	free_texts(texts, n);

	/* One less than each limit is fine. */
	char *s = quoted(SG_UNDO_DATA_MAX - 1, 'x');
	char *text = valid_with("\"d\"", s);
	free(s);
	assert_int_equal(sg_state_parse(text, strlen(text), &st), 0);
	assert_int_equal(strlen(st.entries[0].undo.data), SG_UNDO_DATA_MAX - 1);
	free(text);

	s = quoted(SG_NAME_MAX - 1, 'r');
	text = valid_with("\"r\"", s);
	free(s);
	assert_int_equal(sg_state_parse(text, strlen(text), &st), 0);
	assert_int_equal(strlen(st.entries[0].undo.rule), SG_NAME_MAX - 1);
	free(text);

	text = valid_with("\"level\": 1", "\"level\": 4294967295");
	assert_int_equal(sg_state_parse(text, strlen(text), &st), 0);
	assert_int_equal(st.entries[0].undo.level, UINT_MAX);
	free(text);

	text = valid_with("\"/p\"", "\"/p\\u00ff\\u0001\"");
	assert_int_equal(sg_state_parse(text, strlen(text), &st), 0);
	assert_string_equal(st.entries[0].undo.path, "/p\xff\x01");
	free(text);

	sg_state_free(&st);
}

static void test_find(void **state)
{
	struct sg_state st = { 0 };
	size_t len;

	(void)state;
	assert_null(sg_state_find(&st, "io-storm", 2));
	char *fixture = fixture_exact("state/example.json", &len);
	assert_int_equal(sg_state_parse(fixture, len, &st), 0);
	free(fixture);
	assert_ptr_equal(sg_state_find(&st, "io-storm", 2), &st.entries[0]);
	assert_ptr_equal(sg_state_find(&st, "lockup", 1), &st.entries[1]);
	assert_null(sg_state_find(&st, "io-storm", 1));
	assert_null(sg_state_find(&st, "lockup", 2));
	assert_null(sg_state_find(&st, "io-stor", 2));
	assert_null(sg_state_find(&st, "", 1));
	sg_state_free(&st);
}

static void test_open_errors(void **state)
{
	struct ctx *c = *state;
	struct sg_state st;
	char path[128];
	struct sg_undo *u;

	/* state_dir is a file. */
	snprintf(path, sizeof(path), "%s/file", c->base);
	spew(path, "x", 1);
	assert_int_equal(sg_state_open(&st, path), -ENOTDIR);
	sg_state_free(&st);
	assert_int_equal(sg_state_open(&st, ""), -EINVAL);
	sg_state_free(&st);

	/* state.json that cannot be read is an error, not an empty journal. */
	assert_int_equal(sg_state_open(&st, c->dir), 0);
	sg_state_free(&st);
	assert_int_equal(mkdir(c->file, 0700), 0);
	assert_int_equal(sg_state_open(&st, c->dir), -EISDIR);
	sg_state_free(&st);
	assert_int_equal(rmdir(c->file), 0);

	/* A state_dir others can write to is used, with a warning. */
	snprintf(path, sizeof(path), "%s/stderr", c->base);
	assert_int_equal(chmod(c->dir, 0777), 0);
	struct open_call o = { .dir = c->dir };
	char *logged = captured_stderr(path, call_open, &o);
	assert_int_equal(o.ret, 0);
	assert_non_null(strstr(logged, "warning: "));
	assert_non_null(strstr(logged, "writable by group or others"));
	free(logged);

	/* A step the journal cannot hold is refused. */
	u = undo_new(SG_STEP_IONICE, "", "web", "ionice idle", 1, "/cg", "");
	assert_int_equal(sg_state_record(&o.st, u, false), -EINVAL);
	strcpy(u->rule, "r");
	u->kind = (enum sg_step_kind)99;
	assert_int_equal(sg_state_record(&o.st, u, false), -EINVAL);
	u->kind = SG_STEP_IONICE;
	memset(u->path, 'p', sizeof(u->path)); /* no NUL */
	assert_int_equal(sg_state_record(&o.st, u, false), -EINVAL);
	assert_int_equal(o.st.count, 0);
	assert_int_equal(access(c->file, F_OK), -1);
	free(u);
	sg_state_free(&o.st);

	/* Freeing twice, or a zeroed journal, is safe. */
	sg_state_free(&o.st);
	struct sg_state zero = { 0 };
	sg_state_free(&zero);
	assert_null(zero.entries);
}

static void test_lock(void **state)
{
	struct ctx *c = *state;
	struct sg_state st;
	pid_t holder = -1;

	assert_int_equal(sg_state_open(&st, c->dir), 0); /* makes the directory */
	sg_state_free(&st);
	assert_int_equal(sg_state_lock_holder(c->dir), 0);
	int fd = sg_state_lock(c->dir, &holder);
	assert_true(fd >= 0);
	assert_int_equal(sg_state_lock_holder(c->dir), getpid());
	/* A second taker, even in this process, finds it held, and by whom. */
	assert_int_equal(sg_state_lock(c->dir, &holder), -EBUSY);
	assert_int_equal(holder, getpid());
	close(fd);
	assert_int_equal(sg_state_lock_holder(c->dir), 0);
	fd = sg_state_lock(c->dir, &holder);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sg_state_lock("/nonexistent-dir-of-sg", &holder), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_record_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_set_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test(test_parse_to_json),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_find),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
