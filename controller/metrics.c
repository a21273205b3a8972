// SPDX-License-Identifier: GPL-2.0-or-later
/* The metrics textfile: formatting (pure, no allocation) and the writer
 * thread that puts it on disk. See metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "units.h"

#define HEADER_ROOM 2048   /* HELP and TYPE lines, the unlabelled metrics */
#define LABEL_ROOM(n) (2 * (n)) /* an escaped value is at most twice as long */
#define LINE_ROOM 96       /* metric name, braces, quotes, value, newline */
#define WRITER_STACK (64 * 1024)

/* ---- formatting ---- */

struct out {
	char *buf;
	size_t cap, len; /* len >= cap: cut (sg_appendf) */
};

#define put(o, ...) sg_appendf((o)->buf, (o)->cap, &(o)->len, __VA_ARGS__)

int sg_metrics_escape(const char *value, char *out, size_t len)
{
	size_t n = 0;

	for (const char *c = value; *c; c++) {
		const char *rep = *c == '\\' ? "\\\\" : *c == '"' ? "\\\"" : *c == '\n' ? "\\n" : NULL;
		size_t add = rep ? 2 : 1;

		if (n + add >= len)
			return -ENOSPC;
		if (rep)
			memcpy(out + n, rep, 2);
		else
			out[n] = *c;
		n += add;
	}
	if (n >= len)
		return -ENOSPC;
	out[n] = '\0';
	return (int)n;
}

static void put_help(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A sample value as the text format spells it. */
static void put_value(struct out *o, double v)
{
	if (isnan(v))
		put(o, " NaN\n");
	else if (isinf(v))
		put(o, v > 0 ? " +Inf\n" : " -Inf\n");
	else
		put(o, " %.10g\n", v);
}

static void put_rules(struct out *o, const struct sg_metrics_input *in)
{
	const struct sg_config *cfg = in->cfg;
	char rule[LABEL_ROOM(SG_NAME_MAX)], step[LABEL_ROOM(64)];

	put_help(o, "stallguard_rule_level", "gauge", "Steps of the rule's ladder applied now (0 = at rest).");
	for (size_t r = 0; r < cfg->nrules; r++) {
		sg_metrics_escape(cfg->rules[r].name, rule, sizeof(rule));
		put(o, "stallguard_rule_level{rule=\"%s\"} %u\n", rule, sg_policy_level(in->policy, r));
	}
	put_help(o, "stallguard_rule_holding", "gauge", "1 when the rule's condition held at the last tick.");
	for (size_t r = 0; r < cfg->nrules; r++) {
		sg_metrics_escape(cfg->rules[r].name, rule, sizeof(rule));
		put(o, "stallguard_rule_holding{rule=\"%s\"} %d\n", rule, sg_policy_holding(in->policy, r) ? 1 : 0);
	}
	put_help(o, "stallguard_actions_total", "counter",
		 "Steps applied (decisions that were not dry runs), by rule and step.");
	for (size_t r = 0; r < cfg->nrules; r++) {
		const struct sg_rule *ru = &cfg->rules[r];

		sg_metrics_escape(ru->name, rule, sizeof(rule));
		/* A step written twice in a ladder (capture, say) is one series. */
		for (size_t s = 0; s < ru->nsteps; s++) {
			uint64_t count = 0;
			bool seen = false;

			for (size_t t = 0; t < ru->nsteps && !seen; t++) {
				if (strcmp(ru->steps[t].text, ru->steps[s].text))
					continue;
				seen = t < s;
				count += in->counts[r * SG_STEP_MAX + t];
			}
			if (seen)
				continue;
			sg_metrics_escape(ru->steps[s].text, step, sizeof(step));
			put(o, "stallguard_actions_total{rule=\"%s\",step=\"%s\"} %llu\n", rule, step,
			    (unsigned long long)count);
		}
	}
}

int sg_metrics_format(const struct sg_metrics_input *in, char *buf, size_t cap)
{
	struct out o = { .buf = buf, .cap = cap };
	char name[SG_SIGNAL_NAME_MAX + SG_NAME_MAX], label[LABEL_ROOM(sizeof(name))];

	if (!cap)
		return -ENOSPC;
	buf[0] = '\0';
	put_rules(&o, in);
	put_help(&o, "stallguard_captures_total", "counter", "Capture bundles written.");
	put(&o, "stallguard_captures_total %llu\n", (unsigned long long)in->captures);
	put_help(&o, "stallguard_ticks_total", "counter", "Ticks run since the guardian started.");
	put(&o, "stallguard_ticks_total %llu\n", (unsigned long long)in->ticks);
	put_help(&o, "stallguard_tick_seconds", "gauge", "How long the last tick took, acting included.");
	put(&o, "stallguard_tick_seconds");
	put_value(&o, in->tick_seconds);
	put_help(&o, "stallguard_signal", "gauge", "Each signal's value at the last tick (NaN: unavailable).");
	for (size_t slot = 0; slot < in->tab->nslots && slot < in->sample->nvalues; slot++) {
		sg_signal_slot_name(in->tab, in->cfg, slot, name, sizeof(name));
		sg_metrics_escape(name, label, sizeof(label));
		put(&o, "stallguard_signal{name=\"%s\"}", label);
		put_value(&o, in->sample->values[slot]);
	}
	return o.len >= cap ? -ENOSPC : (int)o.len;
}

size_t sg_metrics_capacity(const struct sg_config *cfg, const struct sg_signal_table *tab)
{
	size_t cap = HEADER_ROOM + tab->nslots * (LABEL_ROOM(SG_SIGNAL_NAME_MAX + SG_NAME_MAX) + LINE_ROOM);

	for (size_t r = 0; r < cfg->nrules; r++)
		cap += 2 * (LABEL_ROOM(SG_NAME_MAX) + LINE_ROOM) +
		       cfg->rules[r].nsteps * (LABEL_ROOM(SG_NAME_MAX) + LABEL_ROOM(64) + LINE_ROOM);
	return cap;
}

/* ---- the writer ---- */

struct text {
	char *data;
	size_t cap, len;
};

struct sg_metrics {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct text work;    /* the loop's: formatted into, copied into pending */
	struct text pending; /* under lock: the newest text not yet taken by the writer */
	struct text writing; /* the writer's: copied from pending, then written */
	bool dirty, stop;
	char path[SG_PATH_MAX];
	char tmp[SG_PATH_MAX + 32];
	int last_error;      /* the writer's; logged when it changes */
};

/* Makes t hold cap bytes. Returns 0 or -ENOMEM. */
static int text_reserve(struct text *t, size_t cap)
{
	char *data;

	if (cap <= t->cap)
		return 0;
	data = realloc(t->data, cap);
	if (!data)
		return -ENOMEM;
	t->data = data;
	t->cap = cap;
	return 0;
}

static void text_free(struct text *t)
{
	free(t->data);
	*t = (struct text){ 0 };
}

static void metrics_destroy(struct sg_metrics *m)
{
	text_free(&m->work);
	text_free(&m->pending);
	text_free(&m->writing);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Temp file in the same directory, then rename: a reader sees the old file or the new one. */
static int write_file(const char *path, const char *tmp, const struct text *t)
{
	size_t done = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	int err = 0;

	if (fd < 0)
		return -errno;
	while (done < t->len) {
		ssize_t n = write(fd, t->data + done, t->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static void *writer_main(void *arg)
{
	struct sg_metrics *m = arg;
	char path[SG_PATH_MAX], tmp[sizeof(m->tmp)];

	pthread_mutex_lock(&m->lock);
	for (;;) {
		while (!m->dirty && !m->stop)
			pthread_cond_wait(&m->wake, &m->lock);
		if (m->stop)
			break;
		m->dirty = false;
		/* Its full capacity: grown once per size of configuration, not per text. */
		if (text_reserve(&m->writing, m->pending.cap) < 0)
			continue; /* the next publish tries again */
		memcpy(m->writing.data, m->pending.data, m->pending.len);
		m->writing.len = m->pending.len;
		memcpy(path, m->path, sizeof(path));
		memcpy(tmp, m->tmp, sizeof(tmp));
		pthread_mutex_unlock(&m->lock);

		int err = write_file(path, tmp, &m->writing);

		if (err != m->last_error) {
			if (err)
				sg_log_errno(LOG_ERR, err, "cannot write the metrics file %s", path);
			else
				sg_log(LOG_INFO, "metrics file %s written again", path);
			m->last_error = err;
		}
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	metrics_destroy(m);
	return NULL;
}

static void set_path(struct sg_metrics *m, const char *path)
{
	sg_strlcpy(m->path, path, sizeof(m->path));
	/* Not *.prom, so the textfile collector never reads a half-written file. */
	snprintf(m->tmp, sizeof(m->tmp), "%s.%d.tmp", path, (int)getpid());
}

int sg_metrics_new(struct sg_metrics **out, const char *path)
{
	struct sg_metrics *m = calloc(1, sizeof(*m));
	pthread_attr_t attr;
	pthread_t thread;
	int err;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	set_path(m, path);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WRITER_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&thread, &attr, writer_main, m);
	pthread_attr_destroy(&attr);
	if (err) {
		metrics_destroy(m);
		return -err;
	}
	*out = m;
	return 0;
}

int sg_metrics_reserve(struct sg_metrics *m, const char *path, size_t cap)
{
	int err = text_reserve(&m->work, cap);

	pthread_mutex_lock(&m->lock);
	if (!err)
		err = text_reserve(&m->pending, cap);
	set_path(m, path);
	pthread_mutex_unlock(&m->lock);
	return err;
}

void sg_metrics_publish(struct sg_metrics *m, const struct sg_metrics_input *in)
{
	int n = sg_metrics_format(in, m->work.data, m->work.cap);

	if (n < 0)
		return; /* sg_metrics_reserve sized it for this configuration */
	pthread_mutex_lock(&m->lock);
	memcpy(m->pending.data, m->work.data, (size_t)n);
	m->pending.len = (size_t)n;
	m->dirty = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
}

void sg_metrics_free(struct sg_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
}
