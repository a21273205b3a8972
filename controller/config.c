/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The configuration file: lines, sections and keys, then the checks that need
 * the whole file. Values are parsed in config_values.c.
 *
 * inih reads the lines through our own reader, so that we know each physical
 * line number (the handler runs right after the reader returns a line) and
 * can take over what inih does badly for us:
 * - a line longer than SG_LINE_MAX bytes is an error here (inih would split
 *   it and read its tail as a line of its own);
 * - leading whitespace is stripped, so indentation is ignored and a line is
 *   never an inih multi-line continuation of the key above;
 * - section headers are parsed here (full names, no cut at 49 characters,
 *   empty sections noticed) and inih gets an empty line instead;
 * - a line that is neither "key = value", a [section] nor a comment is
 *   reported here with its own line number, and inih gets an empty line;
 * - CRLF line ends, a UTF-8 BOM and a last line without newline are fine.
 * The handler always returns 1: every error is collected here, in one pass. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_values.h"
#include "units.h"

#define SG_LINE_MAX (INI_MAX_LINE - 1) /* bytes per line, without the line end */
#define SG_CONFIG_FILE_MAX (1 << 20)
#define SHOWN_MAX 60                   /* of a bad value quoted in a message */

enum section { SEC_NONE, SEC_SKIP, SEC_GUARDIAN, SEC_JOB, SEC_RULE };

/* The keys; those before K_REPEATS may be given once per section. */
enum key_id {
	K_INTERVAL, K_DRY_RUN, K_STATE_DIR, K_CAPTURE_DIR, K_CAPTURE_KEEP, K_CAPTURE_BUDGET,
	K_HISTORY, K_KMSG, K_METRICS_FILE, K_METRICS_INTERVAL, K_HEARTBEAT, K_HEARTBEAT_INTERVAL, K_KILL_LIMIT,
	K_KILL_GRACE, K_HOOK_TIMEOUT, K_ON_EXIT, K_RECORDER, K_RECORDER_HZ, K_RECORDER_WINDOW,
	K_UNIT, K_CGROUP, K_DEVICE,
	K_MATCH_MODE, K_JOB, K_STEP_AFTER, K_RECOVER_AFTER, K_COOLDOWN,
	K_REPEATS, /* keys below repeat */
	K_PROTECT, K_MATCH, K_WHEN, K_STEP,
	K_COUNT,
};

enum value_type {
	V_DURATION, V_DURATION_POS, V_BOOL, V_ABS_PATH, V_PATH, V_ABS_PATH_OR_EMPTY, V_COUNT, V_HOOK_PATH,
	V_KILL_LIMIT,
	V_PROTECT, V_UNIT, V_CGROUP, V_DEVICE, V_MATCH, V_WHEN, V_STEP, V_MATCH_MODE, V_ON_EXIT, V_JOB,
	V_RECORDER, V_RECORDER_HZ,
};

struct key_def {
	const char *name;
	enum key_id id;
	enum value_type type;
	size_t offset;     /* into sg_config, sg_job or sg_rule */
	size_t size;       /* of a string field */
	uint64_t min_usec; /* of a V_DURATION */
};

#define FIELD(type, name, field, vtype, id, min) \
	{ name, id, vtype, offsetof(type, field), sizeof(((type *)0)->field), min }
#define CFG(name, field, vtype, id, min) FIELD(struct sg_config, name, field, vtype, id, min)
#define JOB(name, field, vtype, id) FIELD(struct sg_job, name, field, vtype, id, 0)
#define RULE(name, field, vtype, id) FIELD(struct sg_rule, name, field, vtype, id, 0)

static const struct key_def guardian_keys[] = {
	CFG("interval", interval_usec, V_DURATION, K_INTERVAL, 10 * USEC_PER_MSEC),
	CFG("dry_run", dry_run, V_BOOL, K_DRY_RUN, 0),
	CFG("state_dir", state_dir, V_ABS_PATH, K_STATE_DIR, 0),
	CFG("capture_dir", capture_dir, V_ABS_PATH, K_CAPTURE_DIR, 0),
	CFG("capture_keep", capture_keep, V_COUNT, K_CAPTURE_KEEP, 0),
	CFG("capture_budget", capture_budget_usec, V_DURATION_POS, K_CAPTURE_BUDGET, 0),
	CFG("recorder", recorder, V_RECORDER, K_RECORDER, 0),
	CFG("recorder_hz", recorder_hz, V_RECORDER_HZ, K_RECORDER_HZ, 0),
	CFG("recorder_window", recorder_window_usec, V_DURATION, K_RECORDER_WINDOW, 300 * USEC_PER_MSEC),
	CFG("history", history_usec, V_DURATION_POS, K_HISTORY, 0),
	CFG("kmsg", kmsg, V_PATH, K_KMSG, 0),
	CFG("metrics_file", metrics_file, V_ABS_PATH_OR_EMPTY, K_METRICS_FILE, 0),
	CFG("metrics_interval", metrics_interval_usec, V_DURATION, K_METRICS_INTERVAL, USEC_PER_SEC),
	CFG("heartbeat", heartbeat, V_HOOK_PATH, K_HEARTBEAT, 0),
	CFG("heartbeat_interval", heartbeat_interval_usec, V_DURATION, K_HEARTBEAT_INTERVAL, USEC_PER_SEC),
	CFG("protect", protect, V_PROTECT, K_PROTECT, 0),
	CFG("kill_limit", kill_limit_count, V_KILL_LIMIT, K_KILL_LIMIT, 0),
	CFG("kill_grace", kill_grace_usec, V_DURATION, K_KILL_GRACE, 0),
	CFG("hook_timeout", hook_timeout_usec, V_DURATION_POS, K_HOOK_TIMEOUT, 0),
	CFG("on_exit", revert_on_exit, V_ON_EXIT, K_ON_EXIT, 0),
};

static const struct key_def job_keys[] = {
	JOB("unit", unit, V_UNIT, K_UNIT),
	JOB("cgroup", cgroup, V_CGROUP, K_CGROUP),
	JOB("match", matches, V_MATCH, K_MATCH),
	JOB("device", device, V_DEVICE, K_DEVICE),
};

static const struct key_def rule_keys[] = {
	RULE("when", conds, V_WHEN, K_WHEN),
	RULE("match", match_all, V_MATCH_MODE, K_MATCH_MODE),
	RULE("job", target, V_JOB, K_JOB),
	RULE("step", steps, V_STEP, K_STEP),
	RULE("step_after", step_after_usec, V_DURATION, K_STEP_AFTER),
	RULE("recover_after", recover_after_usec, V_DURATION, K_RECOVER_AFTER),
	RULE("cooldown", cooldown_usec, V_DURATION, K_COOLDOWN),
	RULE("dry_run", dry_run, V_BOOL, K_DRY_RUN),
};

#define NKEYS(keys) (sizeof(keys) / sizeof((keys)[0]))

/* What a rule needs until the whole file is read. */
struct rule_extra {
	char job[SG_NAME_MAX];
	int job_line;
};

struct error {
	int line;
	char *text;
};

struct parser {
	const char *name;   /* file name in messages */
	const char *buf;
	size_t len, pos;
	int line;           /* physical line last handed to inih */
	char dir[PATH_MAX]; /* relative hook paths start here */
	struct sg_config *cfg;
	size_t jobs_cap, rules_cap, extra_cap;
	struct rule_extra *extra; /* one per rule */

	enum section sec;
	int first[K_COUNT]; /* line where each key was first given in this section */
	int guardian_line;

	struct error *errors;
	size_t nerrors;
	bool oom;
};

__attribute__((format(printf, 3, 4)))
static void error_at(struct parser *p, int line, const char *fmt, ...)
{
	struct error *grown;
	char msg[512];
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0 ? asprintf(&text, "%s:%d: %s", p->name, line, msg) < 0
		     : asprintf(&text, "%s: %s", p->name, msg) < 0) {
		p->oom = true;
		return;
	}
	grown = realloc(p->errors, (p->nerrors + 1) * sizeof(*grown));
	if (!grown) {
		free(text);
		p->oom = true;
		return;
	}
	p->errors = grown;
	p->errors[p->nerrors++] = (struct error){ .line = line, .text = text };
}

/* A value quoted in a message, cut so that messages stay one readable line. */
static const char *shown(const char *text, char *buf, size_t len)
{
	if (sg_strlcpy(buf, text, len) >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

static const char *section_name(const struct parser *p, char *buf, size_t len)
{
	if (p->sec == SEC_JOB)
		snprintf(buf, len, "[job %s]", p->cfg->jobs[p->cfg->njobs - 1].name);
	else if (p->sec == SEC_RULE)
		snprintf(buf, len, "[rule %s]", p->cfg->rules[p->cfg->nrules - 1].name);
	else
		snprintf(buf, len, "[guardian]");
	return buf;
}

void sg_config_defaults(struct sg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->interval_usec = 250 * USEC_PER_MSEC;
	cfg->dry_run = false;
	sg_strlcpy(cfg->state_dir, "/run/stallguard", sizeof(cfg->state_dir));
	sg_strlcpy(cfg->capture_dir, "/var/lib/stallguard/captures", sizeof(cfg->capture_dir));
	cfg->capture_keep = 50;
	cfg->capture_budget_usec = 200 * USEC_PER_MSEC;
	cfg->recorder = SG_RECORDER_ON;
	cfg->recorder_hz = 49;
	cfg->recorder_window_usec = 10 * USEC_PER_SEC;
	cfg->history_usec = 120 * USEC_PER_SEC;
	sg_strlcpy(cfg->kmsg, "/dev/kmsg", sizeof(cfg->kmsg));
	cfg->kill_limit_count = 3;
	cfg->kill_limit_window_usec = 3600 * USEC_PER_SEC;
	cfg->kill_grace_usec = 5 * USEC_PER_SEC;
	cfg->hook_timeout_usec = 10 * USEC_PER_SEC;
	cfg->revert_on_exit = true;
	cfg->heartbeat_interval_usec = 60 * USEC_PER_SEC;
	cfg->metrics_interval_usec = 10 * USEC_PER_SEC;
}

static void rule_defaults(struct sg_rule *rule)
{
	memset(rule, 0, sizeof(*rule));
	rule->target = SG_TARGET_NONE;
	rule->step_after_usec = 15 * USEC_PER_SEC;
	rule->recover_after_usec = 60 * USEC_PER_SEC;
	rule->cooldown_usec = 600 * USEC_PER_SEC;
}

/* ---- sections ---- */

/* Returns array with room for need elements (maybe moved), or NULL. */
static void *grow(void *array, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap * 2 : 8;

	if (need <= *cap)
		return array;
	while (n < need)
		n *= 2;
	array = realloc(array, n * size);
	if (array)
		*cap = n;
	return array;
}

static void begin_job(struct parser *p, const char *name)
{
	struct sg_config *cfg = p->cfg;
	int dup = sg_config_find_job(cfg, name);
	struct sg_job *jobs;

	if (strcmp(name, "top-io") == 0) {
		error_at(p, p->line, "[job top-io]: top-io is reserved (in a rule, job = top-io "
			 "means the busiest process by I/O); pick another name");
	} else if (dup >= 0) {
		error_at(p, p->line, "duplicate section [job %s] (first at line %d)", name,
			 cfg->jobs[dup].line);
	} else if (cfg->njobs == SG_JOB_MAX) {
		error_at(p, p->line, "too many jobs (at most %d)", SG_JOB_MAX);
	} else if (!(jobs = grow(cfg->jobs, &p->jobs_cap, cfg->njobs + 1, sizeof(*jobs)))) {
		p->oom = true;
	} else {
		struct sg_job *job = &jobs[cfg->njobs++];

		cfg->jobs = jobs;

		memset(job, 0, sizeof(*job));
		sg_strlcpy(job->name, name, sizeof(job->name));
		job->line = p->line;
		p->sec = SEC_JOB;
	}
}

static void begin_rule(struct parser *p, const char *name)
{
	struct sg_config *cfg = p->cfg;
	int dup = sg_config_find_rule(cfg, name);
	struct rule_extra *extra = NULL;
	struct sg_rule *rules, *rule;

	if (dup >= 0) {
		error_at(p, p->line, "duplicate section [rule %s] (first at line %d)", name,
			 cfg->rules[dup].line);
		return;
	}
	if (cfg->nrules == SG_RULE_MAX) {
		error_at(p, p->line, "too many rules (at most %d)", SG_RULE_MAX);
		return;
	}
	rules = grow(cfg->rules, &p->rules_cap, cfg->nrules + 1, sizeof(*rules));
	if (rules) {
		cfg->rules = rules;
		extra = grow(p->extra, &p->extra_cap, cfg->nrules + 1, sizeof(*extra));
	}
	if (!extra) {
		p->oom = true;
		return;
	}
	p->extra = extra;
	memset(&extra[cfg->nrules], 0, sizeof(*extra));
	rule = &rules[cfg->nrules++];
	rule_defaults(rule);
	sg_strlcpy(rule->name, name, sizeof(rule->name));
	rule->line = p->line;
	p->sec = SEC_RULE;
}

/* What a section lacks, noticed where it ends. Keys given with bad values
 * count as given, so that one mistake is not reported twice. */
static void end_section(struct parser *p)
{
	if (p->sec == SEC_JOB && !p->first[K_UNIT] && !p->first[K_CGROUP] && !p->first[K_MATCH]) {
		const struct sg_job *job = &p->cfg->jobs[p->cfg->njobs - 1];

		error_at(p, job->line, "job %s needs unit, cgroup or match to be found by",
			 job->name);
	}
	if (p->sec == SEC_RULE) {
		const struct sg_rule *rule = &p->cfg->rules[p->cfg->nrules - 1];

		if (!p->first[K_WHEN])
			error_at(p, rule->line, "rule %s has no when (expected at least one "
				 "\"when = CONDITION\")", rule->name);
		if (!p->first[K_STEP])
			error_at(p, rule->line, "rule %s has no step (expected at least one "
				 "\"step = STEP\")", rule->name);
	}
}

/* line is a stripped "[...]" line. */
static void begin_section(struct parser *p, char *line)
{
	char *close = strchr(line, ']');
	char *words[3], *save = NULL, *rest, *kind, *name;
	char whole[INI_MAX_LINE], buf[SHOWN_MAX];
	int n = 0;

	end_section(p);
	p->sec = SEC_SKIP; /* until the header proves good; its keys are then ignored */
	memset(p->first, 0, sizeof(p->first));
	if (!close) {
		error_at(p, p->line, "section header without ']' (expected [guardian], [job NAME] "
			 "or [rule NAME])");
		return;
	}
	rest = close + 1 + strspn(close + 1, " \t");
	if (*rest && *rest != ';' && *rest != '#') {
		error_at(p, p->line, "unexpected text after ']' (only a ; comment may follow)");
		return;
	}
	*close = '\0';
	sg_strlcpy(whole, line + 1, sizeof(whole));
	for (char *t = strtok_r(line + 1, " \t", &save); t && n < 3;
	     t = strtok_r(NULL, " \t", &save))
		words[n++] = t;
	if (n == 0 || n == 3) {
		error_at(p, p->line, "bad section header (expected [guardian], [job NAME] or "
			 "[rule NAME], NAME one word)");
		return;
	}
	kind = words[0];
	name = n == 2 ? words[1] : "";
	if (strcmp(kind, "guardian") == 0 && !*name) {
		if (p->guardian_line) {
			error_at(p, p->line, "duplicate section [guardian] (first at line %d)",
				 p->guardian_line);
			return;
		}
		p->guardian_line = p->line;
		p->sec = SEC_GUARDIAN;
	} else if (strcmp(kind, "job") == 0 || strcmp(kind, "rule") == 0) {
		if (!*name)
			error_at(p, p->line, "[%s] needs a name: [%s NAME]", kind, kind);
		else if (!sg_cfg_name_ok(name))
			error_at(p, p->line, "bad %s name \"%s\" (expected 1 to %d of "
				 "A-Z a-z 0-9 _ -)", kind, shown(name, buf, sizeof(buf)),
				 SG_NAME_MAX - 1);
		else if (kind[0] == 'j')
			begin_job(p, name);
		else
			begin_rule(p, name);
	} else {
		error_at(p, p->line, "unknown section [%s] (expected [guardian], [job NAME] or "
			 "[rule NAME])", shown(whole, buf, sizeof(buf)));
	}
}

/* ---- lines ---- */

/* What inih would find: '=' or ':' before the end or an inline comment. */
static bool has_separator(const char *s)
{
	bool was_space = false;

	for (; *s; s++) {
		if (*s == '=' || *s == ':')
			return true;
		if (was_space && *s == ';')
			return false;
		was_space = *s == ' ' || *s == '\t' || *s == '\v' || *s == '\f';
	}
	return false;
}

static char *reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *s, *nl;
	size_t n, avail;

	if (p->pos >= p->len)
		return NULL;
	s = p->buf + p->pos;
	avail = p->len - p->pos;
	nl = memchr(s, '\n', avail);
	n = nl ? (size_t)(nl - s) : avail;
	p->pos += n + (nl ? 1 : 0);
	p->line++;
	str[0] = '\0';

	if (n && s[n - 1] == '\r')
		n--;
	if (p->line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		n -= 3;
	}
	if (n > SG_LINE_MAX || n >= (size_t)num) {
		error_at(p, p->line, "line too long (%zu bytes, at most %d)", n, SG_LINE_MAX);
		return str;
	}
	if (memchr(s, '\0', n)) {
		error_at(p, p->line, "line contains a NUL byte");
		return str;
	}
	while (n && (*s == ' ' || *s == '\t' || *s == '\v' || *s == '\f' || *s == '\r')) {
		s++;
		n--;
	}
	memcpy(str, s, n);
	str[n] = '\0';

	if (str[0] == '[') {
		begin_section(p, str);
		str[0] = '\0';
	} else if (str[0] && str[0] != ';' && str[0] != '#' && !has_separator(str)) {
		char buf[SHOWN_MAX];

		error_at(p, p->line, "expected \"key = value\", a [section] or a ; comment, "
			 "got \"%s\"", shown(str, buf, sizeof(buf)));
		str[0] = '\0';
	}
	return str;
}

/* ---- keys ---- */

/* KEY = PATH of an executable run as root (hook.NAME, heartbeat): the file
 * must be there, executable, and writable by root only. */
static void check_hook_file(struct parser *p, const char *key, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		error_at(p, p->line, "%s = %s: %s", key, path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		error_at(p, p->line, "%s = %s: not a regular file", key, path);
	else if (!(st.st_mode & 0111))
		error_at(p, p->line, "%s = %s: not executable (mode %04o)", key, path,
			 (unsigned)(st.st_mode & 07777));
	else if (st.st_uid != 0)
		error_at(p, p->line, "%s = %s: owned by uid %u, expected root (it runs as root, so "
			 "only root may change it)", key, path, (unsigned)st.st_uid);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		error_at(p, p->line, "%s = %s: writable by group or others (mode %04o), expected "
			 "writable by root only", key, path, (unsigned)(st.st_mode & 07777));
}

/* An executable's path into dst (size SG_PATH_MAX): a relative one is taken
 * from the configuration file's directory. Returns false when too long. */
static bool hook_path(const struct parser *p, const char *value, char *dst)
{
	int n = value[0] == '/' ? snprintf(dst, SG_PATH_MAX, "%s", value)
				: snprintf(dst, SG_PATH_MAX, "%s/%s", p->dir, value);

	return n >= 0 && n < SG_PATH_MAX;
}

static void bad_value(struct parser *p, const char *key, const char *value, const char *why)
{
	char buf[SHOWN_MAX];

	error_at(p, p->line, "bad %s \"%s\": %s", key, shown(value, buf, sizeof(buf)), why);
}

static bool copy_field(char *dst, size_t size, const char *value)
{
	return sg_strlcpy(dst, value, size) < size;
}

/* Checks one value that names something on the file system or of systemd. */
static const char *check_name_value(enum value_type type, const char *value)
{
	switch (type) {
	case V_ABS_PATH:
		return value[0] == '/' ? NULL : "expected an absolute path";
	case V_PATH:
		return value[0] ? NULL : "expected a path";
	case V_ABS_PATH_OR_EMPTY:
		if (value[0] && value[0] != '/')
			return "expected an absolute path, or nothing for off";
		return NULL;
	case V_UNIT:
		if (!value[0] || strpbrk(value, "/ \t") || !strchr(value, '.'))
			return "expected a systemd unit name such as backup.service";
		return NULL;
	case V_CGROUP:
		if (value[0] != '/')
			return "expected a cgroup path below the cgroup root, starting with '/'";
		if (!value[1])
			return "the root cgroup cannot be a job";
		for (const char *c = value; (c = strstr(c, "..")); c += 2)
			if (c[-1] == '/' && (c[2] == '/' || !c[2]))
				return "\"..\" is not allowed in a cgroup path";
		return NULL;
	case V_DEVICE:
		if (!value[0] || strpbrk(value, "/ \t"))
			return "expected a whole disk name such as vda or nvme0n1, without /dev/";
		return NULL;
	default:
		return NULL;
	}
}

static void add_match(struct parser *p, const char *key, const char *value, struct sg_match *arr,
		      size_t *n)
{
	char why[256];

	if (*n == SG_MATCH_MAX) {
		error_at(p, p->line, "too many %s lines (at most %d)", key, SG_MATCH_MAX);
		return;
	}
	if (sg_cfg_parse_match(value, &arr[*n], why, sizeof(why)) < 0) {
		bad_value(p, key, value, why);
		return;
	}
	arr[(*n)++].line = p->line;
}

static void add_when(struct parser *p, struct sg_rule *rule, const char *value)
{
	struct sg_signal_ref ref;
	char why[256];

	if (rule->nconds == SG_COND_MAX) {
		error_at(p, p->line, "too many when lines (at most %d)", SG_COND_MAX);
		return;
	}
	if (sg_cfg_parse_when(value, &rule->conds[rule->nconds], &ref, why, sizeof(why)) < 0) {
		bad_value(p, "when", value, why);
		return;
	}
	rule->conds[rule->nconds++].line = p->line;
}

static void add_step(struct parser *p, struct sg_rule *rule, const char *value)
{
	char why[256];

	if (rule->nsteps == SG_STEP_MAX) {
		error_at(p, p->line, "too many steps (at most %d)", SG_STEP_MAX);
		return;
	}
	if (sg_cfg_parse_step(value, &rule->steps[rule->nsteps], why, sizeof(why)) < 0) {
		bad_value(p, "step", value, why);
		return;
	}
	rule->steps[rule->nsteps++].line = p->line;
}

static void set_value(struct parser *p, const struct key_def *def, void *base, const char *value)
{
	void *field = (char *)base + def->offset;
	const char *problem = NULL;
	char why[256];

	switch (def->type) {
	case V_DURATION:
	case V_DURATION_POS:
		if (sg_cfg_parse_duration(value, def->min_usec, def->type == V_DURATION_POS, field,
					  why, sizeof(why)) < 0)
			problem = why;
		else if (def->id == K_RECORDER_WINDOW && *(uint64_t *)field > 3600 * USEC_PER_SEC)
			problem = "at most 1h";
		break;
	case V_BOOL:
		if (sg_cfg_parse_bool(value, field, why, sizeof(why)) < 0)
			problem = why;
		break;
	case V_COUNT:
		if (sg_cfg_parse_count(value, 1, 1000000, field, why, sizeof(why)) < 0)
			problem = why;
		break;
	case V_RECORDER_HZ:
		if (sg_cfg_parse_count(value, 49, 99, field, why, sizeof(why)) < 0)
			problem = why;
		break;
	case V_RECORDER:
		if (strcmp(value, "on") == 0)
			*(enum sg_recorder_mode *)field = SG_RECORDER_ON;
		else if (strcmp(value, "off") == 0)
			*(enum sg_recorder_mode *)field = SG_RECORDER_OFF;
		else if (strcmp(value, "on-trigger") == 0)
			*(enum sg_recorder_mode *)field = SG_RECORDER_ON_TRIGGER;
		else
			problem = "expected on, off or on-trigger";
		break;
	case V_KILL_LIMIT:
		if (sg_cfg_parse_kill_limit(value, &p->cfg->kill_limit_count,
					    &p->cfg->kill_limit_window_usec, why, sizeof(why)) < 0)
			problem = why;
		break;
	case V_PROTECT:
		add_match(p, def->name, value, p->cfg->protect, &p->cfg->nprotect);
		break;
	case V_MATCH:
		add_match(p, def->name, value, ((struct sg_job *)base)->matches,
			  &((struct sg_job *)base)->nmatches);
		break;
	case V_WHEN:
		add_when(p, base, value);
		break;
	case V_STEP:
		add_step(p, base, value);
		break;
	case V_MATCH_MODE:
		if (strcmp(value, "any") != 0 && strcmp(value, "all") != 0)
			problem = "expected any or all";
		else
			*(bool *)field = strcmp(value, "all") == 0;
		break;
	case V_ON_EXIT:
		if (strcmp(value, "revert") != 0 && strcmp(value, "keep") != 0)
			problem = "expected revert or keep";
		else
			*(bool *)field = strcmp(value, "revert") == 0;
		break;
	case V_HOOK_PATH:
		if (!value[0])
			break; /* off */
		if (!hook_path(p, value, field)) {
			problem = "path too long";
			break;
		}
		check_hook_file(p, def->name, field);
		break;
	case V_JOB:
		if (strcmp(value, "top-io") != 0 && !sg_cfg_name_ok(value)) {
			problem = "expected the name of a [job], or top-io";
		} else {
			struct rule_extra *x = &p->extra[p->cfg->nrules - 1];

			sg_strlcpy(x->job, value, sizeof(x->job));
			x->job_line = p->line;
		}
		break;
	default: /* the names and paths */
		problem = check_name_value(def->type, value);
		if (!problem && !copy_field(field, def->size, value))
			problem = "too long";
		break;
	}
	if (problem)
		bad_value(p, def->name, value, problem);
}

static void unknown_key(struct parser *p, const char *name, const struct key_def *keys, size_t n,
			const char *more)
{
	char sec[SG_NAME_MAX + 16], list[256], buf[SHOWN_MAX];
	size_t used = 0;

	list[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
					 keys[i].name);
	error_at(p, p->line, "unknown key \"%s\" in %s (expected %s%s)",
		 shown(name, buf, sizeof(buf)), section_name(p, sec, sizeof(sec)), list, more);
}

static void key_line(struct parser *p, const struct key_def *keys, size_t n, void *base,
		     const char *name, const char *value, const char *more)
{
	const struct key_def *def = NULL;

	for (size_t i = 0; i < n && !def; i++)
		if (strcmp(keys[i].name, name) == 0)
			def = &keys[i];
	if (!def) {
		unknown_key(p, name, keys, n, more);
		return;
	}
	if (def->id < K_REPEATS && p->first[def->id]) {
		error_at(p, p->line, "%s given twice (first at line %d); only when, step, "
			 "match and protect repeat", name, p->first[def->id]);
		return;
	}
	if (!p->first[def->id])
		p->first[def->id] = p->line;
	set_value(p, def, base, value);
}

static void add_hook(struct parser *p, struct sg_rule *rule, const char *name, const char *value)
{
	const struct sg_hook *dup = sg_rule_hook(rule, name);
	char buf[SHOWN_MAX], key[SG_NAME_MAX + 8];
	struct sg_hook *hook;

	if (!sg_cfg_name_ok(name)) {
		error_at(p, p->line, "bad hook name \"%s\" in hook.NAME (expected 1 to %d of "
			 "A-Z a-z 0-9 _ -)", shown(name, buf, sizeof(buf)), SG_NAME_MAX - 1);
		return;
	}
	if (dup) {
		error_at(p, p->line, "hook.%s given twice (first at line %d)", name, dup->line);
		return;
	}
	if (rule->nhooks == SG_HOOK_MAX) {
		error_at(p, p->line, "too many hooks (at most %d per rule)", SG_HOOK_MAX);
		return;
	}
	if (!value[0]) {
		error_at(p, p->line, "bad hook.%s \"\": expected the path of an executable", name);
		return;
	}
	hook = &rule->hooks[rule->nhooks];
	memset(hook, 0, sizeof(*hook));
	sg_strlcpy(hook->name, name, sizeof(hook->name));
	hook->line = p->line;
	if (!hook_path(p, value, hook->path)) {
		error_at(p, p->line, "bad hook.%s: path longer than %d characters", name,
			 SG_PATH_MAX - 1);
		return;
	}
	rule->nhooks++;
	snprintf(key, sizeof(key), "hook.%s", name);
	check_hook_file(p, key, hook->path);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	struct sg_config *cfg = p->cfg;
	char buf[SHOWN_MAX];

	(void)section; /* ours is p->sec: see begin_section() */
	if (!name[0]) {
		error_at(p, p->line, "no key before '=' (expected \"key = value\")");
		return 1;
	}
	switch (p->sec) {
	case SEC_NONE:
		error_at(p, p->line, "key \"%s\" before any section (expected [guardian], "
			 "[job NAME] or [rule NAME] first)", shown(name, buf, sizeof(buf)));
		break;
	case SEC_SKIP:
		break;
	case SEC_GUARDIAN:
		key_line(p, guardian_keys, NKEYS(guardian_keys), cfg, name, value, "");
		break;
	case SEC_JOB:
		key_line(p, job_keys, NKEYS(job_keys), &cfg->jobs[cfg->njobs - 1], name, value, "");
		break;
	case SEC_RULE:
		if (strncmp(name, "hook.", 5) == 0)
			add_hook(p, &cfg->rules[cfg->nrules - 1], name + 5, value);
		else
			key_line(p, rule_keys, NKEYS(rule_keys), &cfg->rules[cfg->nrules - 1], name,
				 value, ", hook.NAME");
		break;
	}
	return 1; /* errors are ours to collect; a 0 would only make inih note the line */
}

/* ---- checks that need the whole file ---- */

static bool acts_on_job(enum sg_step_kind kind)
{
	return kind == SG_STEP_IONICE || kind == SG_STEP_IOMAX || kind == SG_STEP_FREEZE ||
	       kind == SG_STEP_KILL;
}

static void finish_rule(struct parser *p, struct sg_rule *rule, const struct rule_extra *x)
{
	const struct sg_config *cfg = p->cfg;

	if (x->job_line && strcmp(x->job, "top-io") == 0) {
		rule->target = SG_TARGET_TOP_IO;
	} else if (x->job_line) {
		int job = sg_config_find_job(cfg, x->job);

		if (job < 0) {
			error_at(p, x->job_line, "job = %s names no [job %s] (expected a [job] "
				 "name, or top-io)", x->job, x->job);
		} else {
			rule->target = SG_TARGET_JOB;
			rule->job = (size_t)job;
		}
	}
	for (size_t c = 0; c < rule->nconds; c++) {
		struct sg_signal_ref ref;
		char why[128];

		if (sg_signal_parse(rule->conds[c].signal, &ref, why, sizeof(why)) == 0 &&
		    (ref.family == SG_SIG_JOB_PSI || ref.family == SG_SIG_JOB_IO) &&
		    sg_config_find_job(cfg, ref.job) < 0)
			error_at(p, rule->conds[c].line, "when %s names no [job %s]",
				 rule->conds[c].signal, ref.job);
	}
	for (size_t s = 0; s < rule->nsteps; s++) {
		const struct sg_step *step = &rule->steps[s];

		if (!x->job_line && acts_on_job(step->kind))
			error_at(p, step->line, "step %s acts on a job, but rule %s has no "
				 "\"job =\" (a host-level rule takes capture and hook steps only)",
				 step->text, rule->name);
		if (step->kind == SG_STEP_HOOK && !sg_rule_hook(rule, step->hook))
			error_at(p, step->line, "step hook %s needs \"hook.%s = PATH\" in rule %s",
				 step->hook, step->hook, rule->name);
	}
}

static void finish(struct parser *p)
{
	for (size_t r = 0; r < p->cfg->nrules; r++)
		finish_rule(p, &p->cfg->rules[r], &p->extra[r]);
}

/* Every match of cfg, protect lines first, into out (when not NULL). Returns the count. */
static size_t list_matches(struct sg_config *cfg, struct sg_match **out)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->nprotect; i++, n++)
		if (out)
			out[n] = &cfg->protect[i];
	for (size_t j = 0; j < cfg->njobs; j++)
		for (size_t i = 0; i < cfg->jobs[j].nmatches; i++, n++)
			if (out)
				out[n] = &cfg->jobs[j].matches[i];
	return n;
}

/* Every cmdline regex, compiled in its final place. Undoes itself on failure. */
static void compile_all(struct parser *p)
{
	size_t n = list_matches(p->cfg, NULL), done;
	struct sg_match **all = calloc(n ? n : 1, sizeof(*all));
	char why[256];

	if (!all) {
		p->oom = true;
		return;
	}
	list_matches(p->cfg, all);
	for (done = 0; done < n; done++) {
		if (sg_cfg_match_compile(all[done], why, sizeof(why)) < 0) {
			error_at(p, all[done]->line, "bad match \"%s\": %s", all[done]->value, why);
			break;
		}
	}
	if (done < n) {
		while (done--)
			if (all[done]->kind == SG_MATCH_CMDLINE)
				regfree(&all[done]->regex);
	}
	free(all);
}

/* ---- loading ---- */

/* Hands the errors over sorted by line; those of one line keep their order. */
static void hand_errors(struct parser *p, struct sg_config_errors *errors)
{
	for (size_t i = 1; i < p->nerrors; i++) { /* insertion sort: stable, lists are short */
		struct error e = p->errors[i];
		size_t j = i;

		for (; j > 0 && p->errors[j - 1].line > e.line; j--)
			p->errors[j] = p->errors[j - 1];
		p->errors[j] = e;
	}
	if (errors && p->nerrors) {
		errors->lines = calloc(p->nerrors, sizeof(*errors->lines));
		if (errors->lines) {
			for (size_t i = 0; i < p->nerrors; i++)
				errors->lines[i] = p->errors[i].text;
			errors->count = p->nerrors;
			p->nerrors = 0;
		}
	}
	for (size_t i = 0; i < p->nerrors; i++)
		free(p->errors[i].text);
	free(p->errors);
	p->errors = NULL;
	p->nerrors = 0;
}

/* The directory relative hook paths are taken from: the config file's. */
static void config_dir(const char *name, char dir[PATH_MAX])
{
	char copy[PATH_MAX];
	char *slash;

	sg_strlcpy(copy, name, sizeof(copy));
	slash = strrchr(copy, '/');
	if (!slash)
		sg_strlcpy(copy, ".", sizeof(copy));
	else if (slash == copy)
		copy[1] = '\0';
	else
		*slash = '\0';
	if (!realpath(copy, dir))
		sg_strlcpy(dir, copy, PATH_MAX);
}

static void release(struct sg_config *cfg)
{
	free(cfg->jobs);
	free(cfg->rules);
	cfg->jobs = NULL;
	cfg->rules = NULL;
	cfg->njobs = cfg->nrules = 0;
	cfg->nprotect = 0;
}

static int load_buffer(const char *name, const char *buf, size_t len, struct sg_config *cfg,
		       struct sg_config_errors *errors)
{
	struct parser p = { .name = name, .buf = buf, .len = len, .cfg = cfg };
	int rc;

	sg_config_defaults(cfg);
	sg_strlcpy(cfg->path, name, sizeof(cfg->path));
	config_dir(name, p.dir);
	if (ini_parse_stream(reader, &p, handler, &p) < 0)
		p.oom = true;
	end_section(&p);
	if (!p.oom)
		finish(&p);
	if (!p.oom && !p.nerrors)
		compile_all(&p);
	if (p.oom)
		error_at(&p, 0, "out of memory");
	rc = p.oom ? -ENOMEM : p.nerrors ? -EINVAL : 0;
	hand_errors(&p, errors);
	free(p.extra);
	if (rc < 0) /* nothing compiled: a failed load holds the defaults only */
		release(cfg);
	return rc;
}

int sg_config_load_string(const char *name, const char *text, struct sg_config *cfg,
			  struct sg_config_errors *errors)
{
	if (errors)
		*errors = (struct sg_config_errors){ 0 };
	return load_buffer(name, text, strlen(text), cfg, errors);
}

__attribute__((format(printf, 3, 4)))
static int file_error(struct sg_config_errors *errors, int err, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (errors && line) {
		errors->lines = calloc(1, sizeof(*errors->lines));
		if (errors->lines) {
			errors->lines[0] = line;
			errors->count = 1;
			line = NULL;
		}
	}
	free(line);
	return -err;
}

int sg_config_load(const char *path, struct sg_config *cfg, struct sg_config_errors *errors)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	if (errors)
		*errors = (struct sg_config_errors){ 0 };
	sg_config_defaults(cfg);
	sg_strlcpy(cfg->path, path, sizeof(cfg->path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return file_error(errors, errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = errno;
		close(fd);
		return file_error(errors, rc, "%s: cannot stat: %s", path, strerror(rc));
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SG_CONFIG_FILE_MAX) {
		close(fd);
		return file_error(errors, EINVAL, S_ISREG(st.st_mode) ? "%s: larger than 1 MiB" :
				  "%s: not a regular file", path);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return file_error(errors, ENOMEM, "%s: out of memory", path);
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			free(buf);
			close(fd);
			return file_error(errors, err, "%s: cannot read: %s", path, strerror(err));
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	rc = load_buffer(path, buf, len, cfg, errors);
	free(buf);
	return rc;
}

void sg_config_free(struct sg_config *cfg)
{
	for (size_t i = 0; i < cfg->nprotect; i++)
		if (cfg->protect[i].kind == SG_MATCH_CMDLINE)
			regfree(&cfg->protect[i].regex);
	for (size_t j = 0; j < cfg->njobs; j++)
		for (size_t i = 0; i < cfg->jobs[j].nmatches; i++)
			if (cfg->jobs[j].matches[i].kind == SG_MATCH_CMDLINE)
				regfree(&cfg->jobs[j].matches[i].regex);
	release(cfg);
}

void sg_config_errors_free(struct sg_config_errors *errors)
{
	for (size_t i = 0; i < errors->count; i++)
		free(errors->lines[i]);
	free(errors->lines);
	errors->lines = NULL;
	errors->count = 0;
}
