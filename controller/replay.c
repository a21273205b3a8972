/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "replay.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decision_log.h"
#include "kmsg_event.h"
#include "policy.h"
#include "units.h"

/* Monotonic time of the first row: far from zero, as a live clock is. */
#define REPLAY_EPOCH_USEC (1000 * USEC_PER_SEC)

/* The whole disks the trace has columns for ("disk.NAME.METRIC", not any). */
static size_t trace_disks(const struct sg_trace_data *trace, char (*disks)[SG_DISK_NAME_MAX])
{
	size_t n = 0;

	for (size_t c = 0; c < trace->ncolumns; c++) {
		const char *name = trace->names[c];
		if (strncmp(name, "disk.", 5) != 0)
			continue;
		const char *dot = strchr(name + 5, '.');
		size_t l = dot ? (size_t)(dot - (name + 5)) : 0;
		if (!l || l >= SG_DISK_NAME_MAX || (l == 3 && memcmp(name + 5, "any", 3) == 0))
			continue;
		bool seen = false;
		for (size_t d = 0; d < n && !seen; d++)
			seen = strlen(disks[d]) == l && memcmp(disks[d], name + 5, l) == 0;
		if (!seen && n < SG_DISK_MAX) {
			memcpy(disks[n], name + 5, l);
			disks[n++][l] = '\0';
		}
	}
	return n;
}

static long column_of(const struct sg_trace_data *trace, const char *name)
{
	for (size_t c = 0; c < trace->ncolumns; c++)
		if (strcmp(trace->names[c], name) == 0)
			return (long)c;
	return -1;
}

/* Says once per signal which tested signals the trace lacks. */
static size_t report_missing(const struct sg_config *cfg, const struct sg_trace_data *trace, FILE *warn)
{
	size_t missing = 0;

	for (size_t r = 0; r < cfg->nrules; r++)
		for (size_t i = 0; i < cfg->rules[r].nconds; i++) {
			const struct sg_cond *cond = &cfg->rules[r].conds[i];
			if (column_of(trace, cond->signal) >= 0)
				continue;
			bool said = false;
			for (size_t q = 0; q <= r && !said; q++)
				for (size_t k = 0; k < (q == r ? i : cfg->rules[q].nconds) && !said; k++)
					said = strcmp(cfg->rules[q].conds[k].signal, cond->signal) == 0;
			if (said)
				continue;
			fprintf(warn, "replay: the trace has no column %s (rule %s, line %d): its conditions never hold\n",
				cond->signal, cfg->rules[r].name, cond->line);
			missing++;
		}
	return missing;
}

int sg_replay(const struct sg_config *cfg, const struct sg_trace_data *trace, FILE *out, FILE *warn,
	      struct sg_replay_summary *summary)
{
	char disks[SG_DISK_MAX][SG_DISK_NAME_MAX], name[SG_SIGNAL_NAME_MAX], line[SG_REASON_MAX + 256];
	struct sg_signal_table tab;
	struct sg_policy *policy = NULL;
	struct sg_decision *decisions = NULL;
	long *columns = NULL, event_columns[SG_EV_COUNT];
	struct sg_sample sample = { 0 };
	int r;

	memset(summary, 0, sizeof(*summary));
	size_t ndisks = trace_disks(trace, disks);
	r = sg_signal_table_init(&tab, cfg, (const char(*)[SG_DISK_NAME_MAX])disks, ndisks);
	if (r < 0)
		return r;
	sample.nvalues = tab.nslots;
	sample.values = calloc(tab.nslots, sizeof(double));
	columns = calloc(tab.nslots, sizeof(*columns));
	decisions = calloc(cfg->nrules ? cfg->nrules : 1, sizeof(*decisions));
	if (!sample.values || !columns || !decisions) {
		r = -ENOMEM;
		goto out;
	}
	r = sg_policy_new(&policy, cfg, &tab);
	if (r < 0)
		goto out;
	for (size_t slot = 0; slot < tab.nslots; slot++) {
		sg_signal_slot_name(&tab, cfg, slot, name, sizeof(name));
		columns[slot] = column_of(trace, name);
	}
	for (int e = 0; e < SG_EV_COUNT; e++) {
		snprintf(name, sizeof(name), "kmsg.%s", sg_kmsg_event_name((enum sg_kmsg_event)e));
		event_columns[e] = column_of(trace, name);
	}
	summary->missing = report_missing(cfg, trace, warn);

	for (size_t row = 0; row < trace->nrows; row++) {
		const double *values = trace->values + row * trace->ncolumns;
		sample.now_usec = REPLAY_EPOCH_USEC + trace->t_usec[row];
		for (size_t slot = 0; slot < tab.nslots; slot++)
			sample.values[slot] = columns[slot] < 0 ? NAN : values[columns[slot]];
		for (int e = 0; e < SG_EV_COUNT; e++) {
			double v = event_columns[e] < 0 ? 0 : values[event_columns[e]];
			sample.events[e] = isnan(v) || v < 0 ? 0 : v > 1e6 ? 1000000u : (uint32_t)v;
		}
		size_t n = sg_policy_tick(policy, cfg, &sample, decisions, cfg->nrules);
		for (size_t i = 0; i < n; i++) {
			sg_format_decision(cfg, &decisions[i], line, sizeof(line));
			fprintf(out, "+%.3fs %s\n", (double)trace->t_usec[row] / 1e6, line);
		}
		summary->decisions += n;
		summary->rows++;
	}
out:
	sg_policy_free(policy);
	free(decisions);
	free(columns);
	free(sample.values);
	return r;
}
