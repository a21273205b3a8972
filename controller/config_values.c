/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config_values.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"

#define IOPRIO_CLASS_BE 2
#define IOPRIO_CLASS_IDLE 3
#define WORD_MAX 200 /* a value is shorter than a line */

#define WHEN_EXPECTED "expected \"SIGNAL >=|>|<=|< NUMBER [for DURATION]\" or " \
		      "\"kmsg.EVENT within DURATION\""
#define STEP_EXPECTED "expected capture, ionice idle, ionice be:N, " \
		      "io.max KEY=VALUE... (rbps wbps riops wiops), freeze, kill or hook NAME"

__attribute__((format(printf, 3, 4)))
static int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

/* Copies the next blank-separated word of *s into buf and moves *s past it.
 * Returns false when there is none or it does not fit. */
static bool take_token(const char **s, char *buf, size_t len)
{
	const char *p = skip_blanks(*s);
	size_t n = strcspn(p, " \t");

	if (n == 0 || n >= len)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	*s = p + n;
	return true;
}

/* Splits text into at most max blank-separated words held in copy. Returns
 * the count, or -1 when there are more. */
static int split_words(const char *text, char *copy, size_t copy_len, char **w, int max)
{
	char *save = NULL;
	int n = 0;

	sg_strlcpy(copy, text, copy_len);
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return -1;
		w[n++] = t;
	}
	return n;
}

bool sg_cfg_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= SG_NAME_MAX)
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int sg_cfg_parse_bool(const char *text, bool *out, char *why, size_t len)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return fail(why, len, "expected yes, no, true, false, on, off, 1 or 0");
}

int sg_cfg_parse_duration(const char *text, uint64_t min_usec, bool positive, uint64_t *out,
			  char *why, size_t len)
{
	char min[32];
	uint64_t usec;

	if (sg_parse_duration(text, &usec) < 0)
		return fail(why, len, "expected a duration: a number with ms, s, m or h "
			    "(250ms, 5s, 10m)");
	if (positive && usec == 0)
		return fail(why, len, "expected a duration above zero");
	if (usec < min_usec)
		return fail(why, len, "expected a duration of at least %s",
			    sg_format_duration(min_usec, min, sizeof(min)));
	*out = usec;
	return 0;
}

int sg_cfg_parse_count(const char *text, unsigned min, unsigned max, unsigned *out, char *why, size_t len)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (*text < '0' || *text > '9' || *end || errno || v < min || v > max)
		return fail(why, len, "expected a whole number from %u to %u", min, max);
	*out = (unsigned)v;
	return 0;
}

int sg_cfg_parse_kill_limit(const char *text, unsigned *count, uint64_t *window_usec, char *why,
			    size_t len)
{
	char copy[WORD_MAX];
	char *slash, *end;
	unsigned long n;
	uint64_t window;

	sg_strlcpy(copy, text, sizeof(copy));
	slash = strchr(copy, '/');
	if (!slash)
		goto bad;
	*slash = '\0';
	errno = 0;
	n = strtoul(copy, &end, 10);
	if (copy[0] < '0' || copy[0] > '9' || *end || errno || n > SG_KILL_LIMIT_MAX)
		goto bad;
	if (sg_parse_duration(slash + 1, &window) < 0 || window == 0)
		goto bad;
	*count = (unsigned)n;
	*window_usec = window;
	return 0;
bad:
	return fail(why, len,
		    "expected COUNT/DURATION such as 3/1h, COUNT from 0 (no kills) to %d",
		    SG_KILL_LIMIT_MAX);
}

int sg_cfg_parse_match(const char *text, struct sg_match *m, char *why, size_t len)
{
	static const struct {
		const char *prefix;
		enum sg_match_kind kind;
	} kinds[] = {
		{ "comm:", SG_MATCH_COMM },
		{ "exe:", SG_MATCH_EXE },
		{ "cmdline:", SG_MATCH_CMDLINE },
	};
	const char *value = NULL;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !value; i++) {
		size_t n = strlen(kinds[i].prefix);

		if (strncmp(text, kinds[i].prefix, n) == 0) {
			m->kind = kinds[i].kind;
			value = text + n;
		}
	}
	if (!value)
		return fail(why, len, "expected comm:NAME, exe:/PATH or cmdline:REGEX");
	if (!*value)
		return fail(why, len, "nothing after '%.*s'", (int)(value - text), text);
	if (sg_strlcpy(m->value, value, sizeof(m->value)) >= sizeof(m->value))
		return fail(why, len, "longer than %d characters", SG_PATH_MAX - 1);
	switch (m->kind) {
	case SG_MATCH_COMM:
		if (strlen(value) > SG_COMM_MAX)
			return fail(why, len, "comm is at most %d characters (the kernel "
				    "cuts it), so this never matches; use exe: or cmdline:",
				    SG_COMM_MAX);
		return 0;
	case SG_MATCH_EXE:
		if (value[0] != '/')
			return fail(why, len, "expected an absolute path after exe:");
		return 0;
	case SG_MATCH_CMDLINE:
		if (sg_cfg_match_compile(m, why, len) < 0)
			return -EINVAL;
		regfree(&m->regex);
		return 0;
	}
	return -EINVAL;
}

int sg_cfg_match_compile(struct sg_match *m, char *why, size_t len)
{
	char msg[128];
	int rc;

	if (m->kind != SG_MATCH_CMDLINE)
		return 0;
	rc = regcomp(&m->regex, m->value, REG_EXTENDED | REG_NOSUB);
	if (rc == 0)
		return 0;
	regerror(rc, &m->regex, msg, sizeof(msg));
	return fail(why, len, "bad regular expression: %s", msg);
}

static int parse_op(const char **s, enum sg_op *op)
{
	static const struct {
		const char *text;
		enum sg_op op;
	} ops[] = { { ">=", SG_OP_GE }, { "<=", SG_OP_LE }, { ">", SG_OP_GT }, { "<", SG_OP_LT } };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].text);

		if (strncmp(*s, ops[i].text, n) == 0) {
			*op = ops[i].op;
			*s += n;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_when_event(const char *s, struct sg_cond *cond, char *why, size_t len)
{
	char word[WORD_MAX], dur[WORD_MAX];

	if (!take_token(&s, word, sizeof(word)) || strcmp(word, "within") != 0)
		return fail(why, len, "%s is a kernel event: expected \"%s within DURATION\"",
			    cond->signal, cond->signal);
	if (!take_token(&s, dur, sizeof(dur)))
		return fail(why, len, "expected a duration after within");
	if (sg_cfg_parse_duration(dur, 0, true, &cond->within_usec, why, len) < 0)
		return -EINVAL;
	if (*skip_blanks(s))
		return fail(why, len, "unexpected \"%s\" at the end; " WHEN_EXPECTED,
			    skip_blanks(s));
	cond->kind = SG_COND_EVENT;
	return 0;
}

static int parse_when_threshold(const char *s, struct sg_cond *cond, char *why, size_t len)
{
	char number[WORD_MAX], word[WORD_MAX], dur[WORD_MAX];
	char *end;

	s = skip_blanks(s);
	if (parse_op(&s, &cond->op) < 0)
		return fail(why, len, "expected one of >= > <= < after %s%s", cond->signal,
			    strncmp(s, "within", 6) == 0 ? " (only kmsg.* events take within)"
							  : "");
	if (!take_token(&s, number, sizeof(number)))
		return fail(why, len, "expected a number after %s", sg_op_text(cond->op));
	errno = 0;
	cond->threshold = strtod(number, &end);
	if (end == number || *end || errno || !isfinite(cond->threshold))
		return fail(why, len, "expected a number after %s, got \"%s\"",
			    sg_op_text(cond->op), number);
	if (!take_token(&s, word, sizeof(word))) {
		cond->kind = SG_COND_THRESHOLD;
		return 0;
	}
	if (strcmp(word, "for") != 0)
		return fail(why, len, "expected \"for DURATION\" or nothing after the number, "
			    "got \"%s\"", word);
	if (!take_token(&s, dur, sizeof(dur)))
		return fail(why, len, "expected a duration after for");
	if (sg_cfg_parse_duration(dur, 0, false, &cond->for_usec, why, len) < 0)
		return -EINVAL;
	if (*skip_blanks(s))
		return fail(why, len, "unexpected \"%s\" at the end; " WHEN_EXPECTED,
			    skip_blanks(s));
	cond->kind = SG_COND_THRESHOLD;
	return 0;
}

int sg_cfg_parse_when(const char *text, struct sg_cond *cond, struct sg_signal_ref *ref,
		      char *why, size_t len)
{
	const char *s = skip_blanks(text);
	size_t n = strcspn(s, " \t<>=!");
	char reason[160];

	memset(cond, 0, sizeof(*cond));
	if (n == 0)
		return fail(why, len, "no signal; " WHEN_EXPECTED);
	if (n >= sizeof(cond->signal))
		return fail(why, len, "signal name longer than %d characters",
			    SG_SIGNAL_NAME_MAX - 1);
	memcpy(cond->signal, s, n);
	cond->signal[n] = '\0';
	if (sg_signal_parse(cond->signal, ref, reason, sizeof(reason)) < 0)
		return fail(why, len, "%s", reason);
	if (ref->family == SG_SIG_KMSG) {
		cond->event = ref->event;
		return parse_when_event(s + n, cond, why, len);
	}
	return parse_when_threshold(s + n, cond, why, len);
}

void sg_cfg_format_iomax(uint64_t value, bool bytes, char *buf, size_t len)
{
	static const struct {
		char suffix;
		unsigned shift;
	} units[] = { { 'G', 30 }, { 'M', 20 }, { 'K', 10 } };

	if (value == SG_IOMAX_MAX) {
		snprintf(buf, len, "max");
		return;
	}
	for (size_t i = 0; bytes && i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t unit = 1ULL << units[i].shift;

		if (value >= unit && value % unit == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(value / unit),
				 units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)value);
}

static int parse_iomax(char **args, int nargs, struct sg_step *step, char *why, size_t len)
{
	static const char *const keys[] = { "rbps", "wbps", "riops", "wiops" };
	uint64_t *slots[] = { &step->rbps, &step->wbps, &step->riops, &step->wiops };
	size_t used;

	if (nargs == 0)
		return fail(why, len, "io.max needs at least one of rbps=, wbps=, riops=, wiops=");
	used = (size_t)snprintf(step->text, sizeof(step->text), "io.max");
	for (int a = 0; a < nargs; a++) {
		char *eq = strchr(args[a], '=');
		size_t k = 0;
		char shown[32];

		if (eq)
			*eq = '\0';
		while (k < 4 && strcmp(args[a], keys[k]) != 0)
			k++;
		if (!eq || k == 4)
			return fail(why, len, "expected KEY=VALUE with KEY rbps, wbps, riops or "
				    "wiops, got \"%s\"", args[a]);
		if (*slots[k] != SG_IOMAX_UNSET)
			return fail(why, len, "%s given twice", keys[k]);
		if (strcmp(eq + 1, "max") == 0) {
			*slots[k] = SG_IOMAX_MAX;
		} else if (sg_parse_size(eq + 1, slots[k]) < 0 || *slots[k] >= SG_IOMAX_MAX) {
			return fail(why, len, "%s=%s: expected a size (50M, 4K, 1G, 2000) or max",
				    keys[k], eq + 1);
		} else if (*slots[k] == 0) {
			return fail(why, len, "%s=0 would stop that I/O altogether; use freeze, "
				    "or a limit of at least 1", keys[k]);
		}
		sg_cfg_format_iomax(*slots[k], k < 2, shown, sizeof(shown));
		if (used < sizeof(step->text))
			used += (size_t)snprintf(step->text + used, sizeof(step->text) - used,
						 " %s=%s", keys[k], shown);
	}
	step->kind = SG_STEP_IOMAX;
	return 0;
}

static int parse_ionice(char **args, int nargs, struct sg_step *step, char *why, size_t len)
{
	if (nargs == 1 && strcmp(args[0], "idle") == 0) {
		step->ionice_class = IOPRIO_CLASS_IDLE;
		step->ionice_level = 0;
		snprintf(step->text, sizeof(step->text), "ionice idle");
	} else if (nargs == 1 && strncmp(args[0], "be:", 3) == 0 && args[0][3] >= '0' &&
		   args[0][3] <= '7' && args[0][4] == '\0') {
		step->ionice_class = IOPRIO_CLASS_BE;
		step->ionice_level = args[0][3] - '0';
		snprintf(step->text, sizeof(step->text), "ionice be:%d", step->ionice_level);
	} else {
		return fail(why, len, "expected \"ionice idle\" or \"ionice be:N\" with N from "
			    "0 to 7");
	}
	step->kind = SG_STEP_IONICE;
	return 0;
}

int sg_cfg_parse_step(const char *text, struct sg_step *step, char *why, size_t len)
{
	static const struct {
		const char *word;
		enum sg_step_kind kind;
	} bare[] = {
		{ "capture", SG_STEP_CAPTURE },
		{ "freeze", SG_STEP_FREEZE },
		{ "kill", SG_STEP_KILL },
	};
	char copy[WORD_MAX], *w[6];
	int n = split_words(text, copy, sizeof(copy), w, 6);

	memset(step, 0, sizeof(*step));
	step->rbps = step->wbps = step->riops = step->wiops = SG_IOMAX_UNSET;
	if (n <= 0)
		return fail(why, len, n < 0 ? "too many words; " STEP_EXPECTED : STEP_EXPECTED);
	for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		if (strcmp(w[0], bare[i].word) != 0)
			continue;
		if (n > 1)
			return fail(why, len, "%s takes nothing after it", w[0]);
		step->kind = bare[i].kind;
		snprintf(step->text, sizeof(step->text), "%s", w[0]);
		return 0;
	}
	if (strcmp(w[0], "ionice") == 0)
		return parse_ionice(w + 1, n - 1, step, why, len);
	if (strcmp(w[0], "io.max") == 0)
		return parse_iomax(w + 1, n - 1, step, why, len);
	if (strcmp(w[0], "hook") == 0) {
		if (n != 2 || !sg_cfg_name_ok(w[1]))
			return fail(why, len, "expected \"hook NAME\", NAME of A-Z a-z 0-9 _ - "
				    "(at most %d)", SG_NAME_MAX - 1);
		step->kind = SG_STEP_HOOK;
		sg_strlcpy(step->hook, w[1], sizeof(step->hook));
		snprintf(step->text, sizeof(step->text), "hook %s", w[1]);
		return 0;
	}
	return fail(why, len, "unknown step \"%s\"; " STEP_EXPECTED, w[0]);
}
