/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "signals_cmd.h"

#include <errno.h>
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

int sg_signals_command(const struct sg_config *cfg, const struct sg_signals_options *options, FILE *out)
{
	char disks[SG_DISK_MAX][SG_DISK_NAME_MAX], cgroup_root[SG_PATH_MAX];
	struct sg_kmsg_reader kmsg = { .fd = -1 };
	struct sg_signal_table tab;
	struct sg_sampler *sampler = NULL;
	struct sg_sample sample = { 0 };
	enum sg_cgroup_layout layout;
	int status = 1, r;

	sg_cgroup_detect("/sys/fs/cgroup", &layout, cgroup_root, sizeof(cgroup_root));
	size_t ndisks = sg_disks_discover("/sys/block", disks, SG_DISK_MAX);
	r = sg_signal_table_init(&tab, cfg, (const char(*)[SG_DISK_NAME_MAX])disks, ndisks);
	if (r < 0) {
		sg_log_errno(LOG_ERR, r, "too many disks");
		return 1;
	}
	sample.nvalues = tab.nslots;
	sample.values = calloc(tab.nslots, sizeof(double));
	struct sg_sampler_paths paths = { .proc = "/proc", .cgroup = cgroup_root };
	if (!sample.values || sg_sampler_new(&sampler, cfg, &tab, &paths, true) < 0) {
		sg_log(LOG_ERR, "out of memory");
		goto out;
	}
	r = sg_kmsg_open(&kmsg, cfg->kmsg);
	if (r < 0)
		sg_log_errno(LOG_WARNING, r, "cannot open the kernel log %s", cfg->kmsg);

	uint64_t next = sg_now_usec();
	sg_sampler_read(sampler, next, 0, &sample);
	for (unsigned printed = 0; options->count == 0 || printed < options->count; printed++) {
		next += options->period_usec;
		sleep_until(next);
		uint64_t now = sg_now_usec();
		memset(sample.events, 0, sizeof(sample.events));
		if (kmsg.fd >= 0)
			sg_kmsg_drain(&kmsg, sg_uptime_seconds(), sample.events, NULL, NULL);
		sg_sampler_read(sampler, now, now > next ? (double)(now - next) / 1000.0 : 0, &sample);
		print_sample(out, cfg, &tab, &sample, &kmsg, options->period_usec, options->json);
		if (!options->json && (options->count == 0 || printed + 1 < options->count))
			fputc('\n', out);
	}
	status = 0;
out:
	sg_kmsg_close(&kmsg);
	sg_sampler_free(sampler);
	free(sample.values);
	return status;
}
