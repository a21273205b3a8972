/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "signals_cmd.h"

#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroup.h"
#include "diskstats.h"
#include "kmsg.h"
#include "log.h"
#include "sampler.h"
#include "signals.h"
#include "trace.h"
#include "units.h"

static void print_value(FILE *out, double value, bool json)
{
	if (isnan(value))
		fputs(json ? "null" : "-", out);
	else
		fprintf(out, "%.3f", value);
}

static void print_sample(FILE *out, const struct sg_config *cfg, const struct sg_signal_table *tab,
			 const struct sg_sample *sample, const struct sg_kmsg_reader *kmsg, uint64_t period_usec,
			 bool json)
{
	char name[SG_SIGNAL_NAME_MAX];

	if (json)
		fprintf(out, "{\"period_ms\":%llu,\"signals\":{", (unsigned long long)(period_usec / 1000));
	for (size_t slot = 0; slot < sample->nvalues; slot++) {
		sg_signal_slot_name(tab, cfg, slot, name, sizeof(name));
		if (json) {
			/* Names are [A-Za-z0-9._-] by grammar: nothing to escape. */
			fprintf(out, "%s\"%s\":", slot ? "," : "", name);
		} else {
			fprintf(out, "%-40s ", name);
		}
		print_value(out, sample->values[slot], json);
		if (!json)
			fputc('\n', out);
	}
	if (json)
		fputs("},\"kmsg\":{", out);
	for (int e = 0; e < SG_EV_COUNT; e++) {
		if (json)
			fprintf(out, "%s\"%s\":%u", e ? "," : "", sg_kmsg_event_name((enum sg_kmsg_event)e),
				sample->events[e]);
		else
			fprintf(out, "kmsg.%-35s %u\n", sg_kmsg_event_name((enum sg_kmsg_event)e), sample->events[e]);
	}
	if (json)
		fprintf(out, ",\"lost\":%llu,\"readable\":%s}}\n", (unsigned long long)kmsg->lost,
			kmsg->fd >= 0 ? "true" : "false");
	else
		fprintf(out, "%-40s %llu%s\n", "kmsg.lost", (unsigned long long)kmsg->lost,
			kmsg->fd >= 0 ? "" : " (kernel log not readable)");
	fflush(out);
}

static void sleep_until(uint64_t deadline_usec)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_usec / USEC_PER_SEC),
		.tv_nsec = (long)(deadline_usec % USEC_PER_SEC) * 1000,
	};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* What sampling every signal needs: the table of the host's disks and the
 * configuration's jobs, a sampler of all of them, the kernel log. */
struct sampling {
	struct sg_signal_table tab;
	struct sg_sampler *sampler;
	struct sg_sample sample;
	struct sg_kmsg_reader kmsg;
};

static void sampling_close(struct sampling *s)
{
	sg_kmsg_close(&s->kmsg);
	sg_sampler_free(s->sampler);
	free(s->sample.values);
}

/* Returns 0 or -errno (logged). */
static int sampling_open(struct sampling *s, const struct sg_config *cfg)
{
	char disks[SG_DISK_MAX][SG_DISK_NAME_MAX], cgroup_root[SG_PATH_MAX];
	enum sg_cgroup_layout layout;
	int r;

	memset(s, 0, sizeof(*s));
	s->kmsg.fd = -1;
	sg_cgroup_detect("/sys/fs/cgroup", &layout, cgroup_root, sizeof(cgroup_root));
	size_t ndisks = sg_disks_discover("/sys/block", disks, SG_DISK_MAX);
	r = sg_signal_table_init(&s->tab, cfg, (const char(*)[SG_DISK_NAME_MAX])disks, ndisks);
	if (r < 0) {
		sg_log_errno(LOG_ERR, r, "too many disks");
		return r;
	}
	s->sample.nvalues = s->tab.nslots;
	s->sample.values = calloc(s->tab.nslots, sizeof(double));
	struct sg_sampler_paths paths = { .proc = "/proc", .cgroup = cgroup_root };
	if (!s->sample.values || sg_sampler_new(&s->sampler, cfg, &s->tab, &paths, true) < 0) {
		sg_log(LOG_ERR, "out of memory");
		sampling_close(s);
		return -ENOMEM;
	}
	r = sg_kmsg_open(&s->kmsg, cfg->kmsg);
	if (r < 0)
		sg_log_errno(LOG_WARNING, r, "cannot open the kernel log %s", cfg->kmsg);
	return 0;
}

/* One sample at now, due at due: the kernel events since the last one too. */
static void sampling_read(struct sampling *s, uint64_t now, uint64_t due)
{
	memset(s->sample.events, 0, sizeof(s->sample.events));
	if (s->kmsg.fd >= 0)
		sg_kmsg_drain(&s->kmsg, sg_uptime_seconds(), s->sample.events, NULL, NULL);
	sg_sampler_read(s->sampler, now, now > due ? (double)(now - due) / 1000.0 : 0, &s->sample);
}

int sg_signals_command(const struct sg_config *cfg, const struct sg_signals_options *options, FILE *out)
{
	struct sampling s;

	if (sampling_open(&s, cfg) < 0)
		return 1;
	uint64_t next = sg_now_usec();
	sg_sampler_read(s.sampler, next, 0, &s.sample);
	for (unsigned printed = 0; options->count == 0 || printed < options->count; printed++) {
		next += options->period_usec;
		sleep_until(next);
		sampling_read(&s, sg_now_usec(), next);
		print_sample(out, cfg, &s.tab, &s.sample, &s.kmsg, options->period_usec, options->json);
		if (!options->json && (options->count == 0 || printed + 1 < options->count))
			fputc('\n', out);
	}
	sampling_close(&s);
	return 0;
}

static volatile sig_atomic_t record_stop;

static void on_record_signal(int sig)
{
	(void)sig;
	record_stop = 1;
}

int sg_record_command(const struct sg_config *cfg, const char *path, uint64_t duration_usec)
{
	struct sigaction sa = { .sa_handler = on_record_signal };
	struct sampling s;
	int status = 1;
	FILE *out;

	if (sampling_open(&s, cfg) < 0)
		return 1;
	out = fopen(path, "we");
	if (!out) {
		sg_log_errno(LOG_ERR, errno, "cannot create %s", path);
		sampling_close(&s);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	uint64_t start = sg_now_usec(), next = start, first = 0;
	size_t rows = 0;
	sg_sampler_read(s.sampler, start, 0, &s.sample);
	if (sg_trace_write_header(out, &s.tab, cfg, cfg->interval_usec) < 0)
		goto write_error;
	while (!record_stop && (!duration_usec || next - start < duration_usec)) {
		next += cfg->interval_usec;
		sleep_until(next);
		if (record_stop)
			break;
		uint64_t now = sg_now_usec();
		sampling_read(&s, now, next);
		if (!rows)
			first = now;
		if (sg_trace_write_row(out, now - first, &s.sample) < 0 || fflush(out) != 0)
			goto write_error;
		rows++;
	}
	if (fclose(out) != 0) {
		out = NULL;
		goto write_error;
	}
	sg_log(LOG_INFO, "%s: %zu samples of %zu signals, every %llu ms", path, rows, s.tab.nslots + SG_EV_COUNT,
	       (unsigned long long)(cfg->interval_usec / 1000));
	status = 0;
	goto out;
write_error:
	sg_log_errno(LOG_ERR, errno ? errno : EIO, "cannot write %s", path);
	if (out)
		fclose(out);
out:
	sampling_close(&s);
	return status;
}
