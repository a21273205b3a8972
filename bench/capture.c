/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pre-action part of a capture, for `make bench`:
 *
 *   capture N
 *
 * opens and attaches the BPF recorder, lets it record 2 s of whatever the
 * machine does (bench/run runs the mmap_lock freeze and a /dev/zero reader
 * beside it), then takes N captures one after the other as the guardian
 * does before a step acts (sg_capture_take: the recorder's snapshot, the
 * symbols of the processes in it waited for up to 1/4 of capture_budget,
 * incident.json, the /proc copies, the task scan), with the shipped
 * capture_budget of 200 ms, and drops each without storing it. Prints
 *   take n=N p50_ms=X p99_ms=Y max_ms=Z
 * Exit 0, or 1 with the reason on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "capture.h"
#include "config.h"
#include "recorder.h"
#include "units.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct sg_recorder_opts opts = { 0 };
	struct sg_recorder *rec;
	struct sg_config cfg;
	char why[200] = "cannot attach";
	int n = argc == 2 ? atoi(argv[1]) : 0;

	if (n <= 0) {
		fprintf(stderr, "usage: capture N\n");
		return 1;
	}
	if (sg_recorder_open(&opts, &rec, why, sizeof(why)) < 0 || sg_recorder_attach(rec) < 0) {
		fprintf(stderr, "capture: the recorder cannot run: %s\n", why);
		return 1;
	}
	sleep(2);
	sg_config_defaults(&cfg);
	double *ms = calloc((size_t)n, sizeof(*ms));
	if (!ms)
		return 1;
	for (int i = 0; i < n; i++) {
		struct sg_capture_input in = {
			.cfg = &cfg, .rule = "bench", .step = "capture", .reason = "bench", .decision = "bench",
			.proc_root = "/proc", .recorder = rec, .recorder_note = "bench",
		};
		struct sg_bundle *b;
		sg_capture_take(&in, &b, &ms[i]);
		if (!b) {
			fprintf(stderr, "capture: cannot take a capture\n");
			return 1;
		}
		sg_bundle_free(b);
		usleep(50000);
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("take n=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n", n, ms[n / 2], ms[(int)ceil(n * 0.99) - 1], ms[n - 1]);
	free(ms);
	sg_recorder_close(rec);
	return 0;
}
