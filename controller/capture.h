/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Capture bundles (SPEC "Capture bundle"): capture_dir/<UTC time>-<rule>/,
 * directory 0700, files 0600:
 *
 *   incident.json  rule, job, step, reason, decision, dry_run, time, host, kernel, uptime,
 *                  recorder (why there are no .folded files)
 *   history.csv    the signal history (sg_history_write_csv)
 *   kmsg.txt       the recent kernel log (sg_kmsg_ring_write)
 *   psi.txt        PROC/pressure/{cpu,io,memory}, each after a "# PATH" line
 *   meminfo.txt, vmstat.txt, diskstats.txt   raw copies
 *   tasks.txt      every task in D state (pid, tid, state, comm, cgroup, wchan, kernel
 *                  stack), then the top 10 processes by CPU time and by I/O bytes since
 *                  they started, with the same details of their main thread
 *
 * A source that cannot be read gets a "# cannot read PATH: why" line and the
 * bundle is still written. The task scan stops once capture_budget has passed
 * since the capture began, and says so. With a recorder, the bundle also
 * gets offcpu.folded, oncpu.folded, offcpu.svg and oncpu.svg (capture_stacks.h):
 * the recorder's contents and the symbols of the processes in them are
 * taken before acting, the files written after. A capture is taken in memory before
 * acting and stored afterwards by the capture writer (capture_writer.h), so a
 * slow or full disk never holds up the action. This release has no BPF recorder:
 * offcpu/oncpu .folded and .svg files are not written (incident.json says so).
 * Not for the tick path: it allocates and uses stdio. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "bundle.h"
#include "config.h"
#include "history.h"
#include "kmsg_ring.h"
#include "signals.h"

struct sg_capture_input {
	const struct sg_config *cfg;         /* capture_dir, capture_keep, capture_budget_usec */
	const char *rule;                    /* names the bundle: A-Z a-z 0-9 _ - (sg_cfg_name_ok) */
	const char *job;                     /* NULL for a host-level rule (JSON null) */
	const char *step;                    /* the step text, e.g. "capture" */
	const char *reason;                  /* the signals that held; any bytes */
	const char *decision;                /* the decision line */
	bool dry_run;
	const struct sg_history *history;    /* NULL: history.csv says there is none */
	const struct sg_signal_table *tab;   /* the table the history was built for */
	const struct sg_kmsg_ring *kmsg;     /* NULL: kmsg.txt says there is none */
	const char *proc_root;               /* "/proc" */
	struct sg_recorder *recorder;        /* NULL: no stacks (recorder_note says why) */
	const char *recorder_note;           /* incident.json's "recorder": what it is, or why there is none */
};

/* Takes a bundle in memory (bundle.h), touching nothing in capture_dir: every
 * file is read and formatted now, the /proc task scan bounded by
 * capture_budget from the call. *out receives the bundle (NULL only when
 * nothing could be taken: -EINVAL for a bad rule name or input, -ENOMEM,
 * -EMFILE); sg_bundle_path() says where it will be stored. elapsed_ms (may be
 * NULL) the time taken. Returns 0 or -errno of the first file that could not
 * be made (the others still are); a recorder that cannot be read is logged
 * and said in incident.json, not returned. */
int sg_capture_take(const struct sg_capture_input *in, struct sg_bundle **out, double *elapsed_ms);

/* Takes a bundle and stores it at once (sg_bundle_store: a bundle of the same
 * second and rule gets "-2", "-3", ...; old bundles beyond capture_keep are
 * removed): for `stallguard capture`. dir_out receives the bundle's path
 * (also when a file failed to write); elapsed_ms (may be NULL) the whole
 * time. Returns 0, -EINVAL, or -errno of the first thing that failed:
 * creating the directory (nothing written) or writing a file (the others
 * still written). */
int sg_capture_write(const struct sg_capture_input *in, char *dir_out, size_t dir_len,
		     double *elapsed_ms);
