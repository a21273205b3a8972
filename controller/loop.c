/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guardian loop. One timer drives the tick; PSI trigger fds and the
 * kernel log wake it sooner; SIGTERM/SIGINT stop it; SIGHUP reloads.
 *
 * Everything a tick touches is built at start (or reload) into a
 * `generation`: config, signal table, sampler, policy, the sample buffer and
 * the decision buffer. A tick reads, decides and logs; it allocates nothing. */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "actuator.h"
#include "cgroup.h"
#include "config.h"
#include "decision_log.h"
#include "generation.h"
#include "history.h"
#include "kmsg_ring.h"
#include "kmsg.h"
#include "log.h"
#include "psi.h"
#include "recorder.h"
#include "service.h"
#include "triggers.h"
#include "units.h"

/* At exit, how long captures still being stored may take before the guardian
 * goes anyway. */
#define CAPTURE_DRAIN_USEC (5 * USEC_PER_SEC)

struct generation {
	struct sg_generation core; /* config, signal table, sampler, policy */
	struct sg_history history; /* the last `history` of samples, for captures */
	struct sg_triggers triggers;
	sd_event_source *trigger_sources[SG_TRIGGER_MAX];
};

struct guardian {
	const struct sg_run_options *options;
	sd_event *event;
	sd_event_source *timer;
	int timer_fd;        /* periodic: no re-arming per tick */
	uint64_t interval_usec;
	sd_event_source *kmsg_source;
	struct sg_kmsg_reader kmsg;
	struct sg_kmsg_ring *kmsg_ring; /* the recent kernel log, for captures */
	uint64_t kmsg_lost_logged, kmsg_skipped_logged;
	uint32_t pending_events[SG_EV_COUNT];
	struct generation *gen;
	struct sg_actuator act;
	bool acting;         /* the journal is open: decisions that are not dry runs act */
	struct sg_recorder *recorder; /* NULL: recorder = off, or it cannot run here */
	struct sg_recorder_opts recorder_opts;
	enum sg_recorder_mode recorder_mode;
	bool recorder_attached;
	char cgroup_root[SG_PATH_MAX];
	uint64_t next_tick;
	uint64_t ticks;
	struct sg_service svc; /* STATUS=, metrics, heartbeat */
};

static void on_kernel_event(const struct sg_kmsg_event_info *ev, const struct sg_kmsg_record *rec, void *userdata)
{
	(void)userdata;
	sg_log_kernel_event(ev, rec);
}

/* Says once per drain what the kernel log reader had to drop. */
static void report_kmsg_losses(struct guardian *g)
{
	if (g->kmsg.lost > g->kmsg_lost_logged) {
		sg_log(LOG_WARNING, "kernel log: %llu record(s) lost (overwritten before they were read)",
		       (unsigned long long)(g->kmsg.lost - g->kmsg_lost_logged));
		g->kmsg_lost_logged = g->kmsg.lost;
	}
	if (g->kmsg.skipped > g->kmsg_skipped_logged) {
		sg_log(LOG_WARNING, "kernel log: %llu malformed record(s) skipped",
		       (unsigned long long)(g->kmsg.skipped - g->kmsg_skipped_logged));
		g->kmsg_skipped_logged = g->kmsg.skipped;
	}
}

static void generation_free(struct generation *gen)
{
	if (!gen)
		return;
	for (size_t i = 0; i < gen->triggers.count; i++)
		sd_event_source_disable_unref(gen->trigger_sources[i]);
	sg_triggers_close(&gen->triggers);
	sg_history_free(&gen->history);
	sg_generation_release(&gen->core);
	free(gen);
}

static int print_config_errors(const struct sg_config_errors *errors)
{
	for (size_t i = 0; i < errors->count; i++)
		sg_log(LOG_ERR, "%s", errors->lines[i]);
	return -EINVAL;
}

/* A guardian running as root acts on what its configuration says: a file
 * anyone but root could have written is refused. */
static int config_trusted(const char *path)
{
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (stat(path, &st) < 0)
		return 0; /* the loader says why */
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		sg_log(LOG_ERR, "%s: writable by %s: refusing to act on it as root (chown root, chmod go-w)", path,
		       st.st_uid != 0 ? "its owner, who is not root" : "others than root");
		return -EPERM;
	}
	return 0;
}

/* Loads the config and builds everything a tick needs. */
static int generation_new(struct guardian *g, struct generation **out)
{
	struct generation *gen = calloc(1, sizeof(*gen));
	struct sg_config_errors errors = { 0 };
	int r;

	if (!gen)
		return -ENOMEM;
	r = config_trusted(g->options->config_path);
	if (r < 0) {
		free(gen);
		return -EINVAL;
	}
	r = sg_config_load(g->options->config_path, &gen->core.cfg, &errors);
	if (r < 0) {
		print_config_errors(&errors);
		sg_config_errors_free(&errors);
		free(gen);
		return r;
	}
	gen->core.cfg.dry_run |= g->options->dry_run;
	r = sg_generation_build(&gen->core, g->cgroup_root);
	if (r < 0) {
		sg_config_free(&gen->core.cfg);
		free(gen);
		return r;
	}
	r = sg_history_init(&gen->history, gen->core.tab.nslots, sg_history_rows(&gen->core.cfg));
	if (r < 0) {
		generation_free(gen);
		return r;
	}
	sg_triggers_plan(&gen->core.cfg, "/proc", g->cgroup_root, &gen->triggers);
	*out = gen;
	return 0;
}

static void recorder_attach(struct guardian *g)
{
	int r = sg_recorder_attach(g->recorder);

	if (r < 0) {
		sg_log_errno(LOG_WARNING, r, "cannot start the BPF recorder: bundles get no stacks");
		return;
	}
	g->recorder_attached = true;
	sg_log(LOG_INFO, "BPF recorder recording (sched_switch via %s, on-CPU %u Hz, window %llu ms)",
	       sg_recorder_switch_kind(g->recorder), g->recorder_opts.oncpu_hz,
	       (unsigned long long)(g->recorder_opts.window_usec / USEC_PER_MSEC));
}

/* recorder = on-trigger: recording from a rule's first step until every
 * rule is back at rest. Before the decisions of a tick (starting: a rule
 * acts) and after them (stopping: none is above rest). */
static void recorder_follow(struct guardian *g, bool before)
{
	const struct sg_generation *core = &g->gen->core;
	bool active = false;

	if (!g->recorder)
		return;
	for (size_t i = 0; i < core->cfg.nrules && !active; i++)
		active = sg_policy_level(core->policy, i) > 0;
	if (before && !g->recorder_attached) {
		if (active)
			recorder_attach(g);
	} else if (!before && g->recorder_attached && !active) {
		sg_recorder_detach(g->recorder);
		g->recorder_attached = false;
		sg_log(LOG_INFO, "BPF recorder stopped: every rule is at rest");
	}
}

/* Opens the recorder as cfg says (closing one opened with other settings)
 * and says in the actuator's note what bundles get. */
static void recorder_setup(struct guardian *g, const struct sg_config *cfg)
{
	struct sg_recorder_opts opts = { .oncpu_hz = cfg->recorder_hz, .window_usec = cfg->recorder_window_usec };
	char why[200] = "";
	int r;

	if (g->recorder && (cfg->recorder == SG_RECORDER_OFF || opts.oncpu_hz != g->recorder_opts.oncpu_hz ||
			    opts.window_usec != g->recorder_opts.window_usec)) {
		sg_recorder_close(g->recorder);
		g->recorder = NULL;
		g->recorder_attached = false;
	}
	g->recorder_mode = cfg->recorder;
	g->recorder_opts = opts;
	if (cfg->recorder == SG_RECORDER_OFF) {
		snprintf(g->act.recorder_note, sizeof(g->act.recorder_note), "off (recorder = off): no stacks");
	} else if (!g->recorder && (r = sg_recorder_open(&opts, &g->recorder, why, sizeof(why))) < 0) {
		sg_log(LOG_WARNING, "the BPF recorder cannot run here: %s; bundles get no stacks", why);
		snprintf(g->act.recorder_note, sizeof(g->act.recorder_note), "unavailable: %s", why);
	}
	if (g->recorder) {
		snprintf(g->act.recorder_note, sizeof(g->act.recorder_note),
			 "%s: off-CPU (uninterruptible sleeps, sched_switch via %s) and on-CPU (%u Hz) stacks, "
			 "last %llu ms", cfg->recorder == SG_RECORDER_ON ? "on" : "on-trigger",
			 sg_recorder_switch_kind(g->recorder), opts.oncpu_hz,
			 (unsigned long long)(opts.window_usec / USEC_PER_MSEC));
		if (cfg->recorder == SG_RECORDER_ON && !g->recorder_attached)
			recorder_attach(g);
	}
	g->act.recorder = g->recorder;
}

static void tick(struct guardian *g, uint64_t now, double lag_ms)
{
	struct generation *gen = g->gen;

	if (g->kmsg.fd >= 0 && g->kmsg.is_regular) {
		sg_kmsg_drain(&g->kmsg, sg_uptime_seconds(), g->pending_events, on_kernel_event, g);
		report_kmsg_losses(g);
	}
	size_t n = sg_generation_tick(&gen->core, now, lag_ms, g->pending_events);
	sg_history_push(&gen->history, &gen->core.sample);
	if (n && g->recorder_mode == SG_RECORDER_ON_TRIGGER)
		recorder_follow(g, true);
	for (size_t i = 0; i < n; i++) {
		const struct sg_decision *d = &gen->core.decisions[i];

		sg_log_decision(&gen->core.cfg, d);
		if (g->acting)
			sg_actuator_decide(&g->act, &gen->core.cfg, d);
		sg_service_decided(&g->svc, d, g->acting ? g->act.capture[d->rule] : NULL);
	}
	if (n && g->recorder_mode == SG_RECORDER_ON_TRIGGER)
		recorder_follow(g, false);
	g->ticks++;
	sg_service_ticked(&g->svc, &gen->core, now, g->ticks, n);
}

static int on_timer(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct guardian *g = userdata;
	uint64_t expirations = 0;

	(void)source;
	(void)revents;
	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations) || expirations == 0)
		return 0;
	uint64_t now = sg_now_usec();
	/* Lag: how late this wake-up is after the first tick it answers; ticks
	 * missed meanwhile are not run in a burst. */
	double lag_ms = now > g->next_tick ? (double)(now - g->next_tick) / 1000.0 : 0;
	g->next_tick += expirations * g->interval_usec;
	tick(g, now, lag_ms);
	return 0;
}

/* Arms the periodic tick timer (again, when a reload changed the interval). */
static int arm_tick(struct guardian *g, uint64_t interval_usec)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = (time_t)(interval_usec / USEC_PER_SEC),
				 .tv_nsec = (long)(interval_usec % USEC_PER_SEC) * 1000 },
	};

	its.it_value = its.it_interval;
	if (timerfd_settime(g->timer_fd, 0, &its, NULL) < 0)
		return sg_log_errno(LOG_ERR, errno, "cannot arm the tick timer");
	g->interval_usec = interval_usec;
	g->next_tick = sg_now_usec() + interval_usec;
	return 0;
}

static int on_trigger(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct guardian *g = userdata;

	(void)fd;
	if (revents & (EPOLLERR | EPOLLHUP)) {
		sg_log(LOG_WARNING, "a PSI trigger went away (its cgroup was removed): its conditions are read at "
				    "each tick from now on");
		sd_event_source_set_enabled(source, SD_EVENT_OFF);
		return 0;
	}
	tick(g, sg_now_usec(), 0);
	return 0;
}

static int on_kmsg(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct guardian *g = userdata;
	uint32_t before = 0, after = 0;

	(void)source;
	(void)fd;
	(void)revents;
	for (int e = 0; e < SG_EV_COUNT; e++)
		before += g->pending_events[e];
	int r = sg_kmsg_drain(&g->kmsg, sg_uptime_seconds(), g->pending_events, on_kernel_event, g);
	if (r < 0) {
		sg_log_errno(LOG_ERR, r, "reading the kernel log failed: it is no longer watched");
		sd_event_source_set_enabled(g->kmsg_source, SD_EVENT_OFF);
		return 0;
	}
	report_kmsg_losses(g);
	for (int e = 0; e < SG_EV_COUNT; e++)
		after += g->pending_events[e];
	/* A kernel event decides now, not at the next tick. */
	if (after > before)
		tick(g, sg_now_usec(), 0);
	return 0;
}

static bool slow_windows(const struct sg_triggers *triggers)
{
	for (size_t i = 0; i < triggers->count; i++)
		if (triggers->items[i].fd >= 0 && triggers->items[i].window_usec > SG_PSI_WINDOW_FAST_USEC)
			return true;
	return false;
}

static int attach_triggers(struct guardian *g, struct generation *gen)
{
	size_t armed = sg_triggers_arm(&gen->triggers);

	for (size_t i = 0; i < gen->triggers.count; i++) {
		if (gen->triggers.items[i].fd < 0)
			continue;
		int r = sd_event_add_io(g->event, &gen->trigger_sources[i], gen->triggers.items[i].fd, EPOLLPRI,
					on_trigger, g);
		if (r < 0)
			return sg_log_errno(LOG_ERR, r, "cannot watch PSI trigger %s", gen->triggers.items[i].path);
	}
	if (gen->triggers.count)
		sg_log(LOG_INFO, "PSI triggers: %zu of %zu armed%s", armed, gen->triggers.count,
		       slow_windows(&gen->triggers) ? ", some with 2 s windows (500 ms needs CAP_SYS_RESOURCE)" : "");
	return 0;
}

/* "stallguard 0.1.0: 3 rules, 1 jobs, tick 250ms": at start, and after a reload. */
static void announce(const struct generation *gen, const char *message_id)
{
	char interval[32];

	sg_log_service(LOG_INFO, message_id, "stallguard %s: %zu rules, %zu jobs, tick %s%s", SG_VERSION,
		       gen->core.cfg.nrules, gen->core.cfg.njobs,
		       sg_format_duration(gen->core.cfg.interval_usec, interval, sizeof(interval)),
		       gen->core.cfg.dry_run ? ", dry-run" : "");
}

static void point_captures(struct guardian *g)
{
	g->act.sources = (struct sg_capture_sources){
		.history = &g->gen->history, .tab = &g->gen->core.tab, .kmsg = g->kmsg_ring,
	};
}

static int on_reload(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata)
{
	struct guardian *g = userdata;
	struct generation *gen;

	(void)source;
	(void)si;
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)sg_now_usec());
	sg_log(LOG_INFO, "reloading %s", g->options->config_path);
	int r = generation_new(g, &gen);
	if (r < 0) {
		sg_log_service(LOG_ERR, SG_MESSAGE_ID_RELOAD_REFUSED, "reload refused: the running configuration stays");
		sd_notify(0, "READY=1");
		return 0;
	}
	gen->core.cfg.dry_run |= !g->acting;
	sg_policy_carry(gen->core.policy, &gen->core.cfg, g->gen->core.policy, &g->gen->core.cfg);
	if (attach_triggers(g, gen) < 0) {
		generation_free(gen);
		sg_log_service(LOG_ERR, SG_MESSAGE_ID_RELOAD_REFUSED, "reload refused: the running configuration stays");
		sd_notify(0, "READY=1");
		return 0;
	}
	struct generation *old = g->gen;

	g->gen = gen;
	if (g->acting) {
		point_captures(g);
		recorder_setup(g, &gen->core.cfg);
		sg_actuator_settle(&g->act, &gen->core.cfg, gen->core.policy);
	}
	sg_service_reload(&g->svc, &old->core, &gen->core, g->acting ? g->act.capture : NULL);
	generation_free(old);
	if (gen->core.cfg.interval_usec != g->interval_usec)
		arm_tick(g, gen->core.cfg.interval_usec);
	announce(gen, SG_MESSAGE_ID_RELOADED);
	sd_notify(0, "READY=1");
	return 0;
}

static int on_exit_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata)
{
	struct guardian *g = userdata;

	sg_log_service(LOG_INFO, SG_MESSAGE_ID_STOPPING, "%s: stopping after %llu ticks", strsignal((int)si->ssi_signo),
		       (unsigned long long)g->ticks);
	return sd_event_exit(sd_event_source_get_event(source), 0);
}

/* Start-up (loading the BPF recorder above all: libbpf, libelf, zlib) reads
 * code and data of files that the steady state never touches again. Those
 * pages are given back before memory is locked, so that only what the ticks
 * use is faulted back in and locked: read-only file mappings only (text,
 * constants), never anonymous or writable memory. Best effort. */
static void drop_startup_pages(void)
{
	char line[512];
	FILE *maps = fopen("/proc/self/maps", "re");

	if (!maps)
		return;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end;
		char perms[8];
		int path = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path) != 3 || !path ||
		    line[path] != '/' || perms[1] == 'w')
			continue;
		madvise((void *)start, end - start, MADV_PAGEOUT);
	}
	fclose(maps);
}

/* The guardian must keep running on a host that is swapping and saturated.
 * Priorities are only raised: a unit that gives more (a realtime policy or
 * I/O class) keeps it. */
static void harden(void)
{
	long ioprio = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);

	drop_startup_pages();
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
		sg_log(LOG_WARNING, "cannot lock memory (%m): the guardian may be paged out under pressure");
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) > -10 && errno == 0 && setpriority(PRIO_PROCESS, 0, -10) < 0)
		sg_log(LOG_WARNING, "cannot raise CPU priority (%m)");
	/* best-effort class, highest level, unless realtime already */
	if (ioprio < 0 || ioprio >> 13 != 1 /* IOPRIO_CLASS_RT */)
		if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (2 << 13) | 0) < 0)
			sg_log(LOG_WARNING, "cannot raise I/O priority (%m)");
}


/* The journal lives in the configuration's state_dir; without it acting
 * would be unsafe, so the guardian then decides in dry-run only. Another
 * guardian (or `stallguard revert`) acting on the same journal: returns
 * -EBUSY, and the guardian does not start. */
static int open_journal(struct guardian *g)
{
	int r = sg_actuator_open(&g->act, &g->gen->core.cfg);

	if (r == -EBUSY) {
		sg_log(LOG_ERR, "%s: the state journal is in use by pid %d (another guardian, or stallguard revert): "
				"not starting", g->gen->core.cfg.state_dir, (int)g->act.lock_holder);
		return r;
	}
	if (r < 0)
		sg_log_errno(LOG_ERR, r, "cannot open the state journal in %s: deciding in dry-run only",
			     g->gen->core.cfg.state_dir);
	g->acting = r == 0;
	if (!g->acting)
		g->gen->core.cfg.dry_run = true;
	return 0;
}

int sg_run(const struct sg_run_options *options)
{
	struct guardian g = { .options = options, .timer_fd = -1 };
	enum sg_cgroup_layout layout;
	sigset_t mask;
	int status = 1, r;

	/* Blocked before anything else, so that a SIGHUP or SIGTERM sent as soon
	 * as the guardian says it started is handled, never fatal. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	g.kmsg.fd = -1;
	sg_cgroup_detect("/sys/fs/cgroup", &layout, g.cgroup_root, sizeof(g.cgroup_root));
	r = generation_new(&g, &g.gen);
	if (r < 0)
		return r == -EINVAL ? 2 : 1;
	if (open_journal(&g) < 0)
		goto out;
	g.kmsg_ring = calloc(1, sizeof(*g.kmsg_ring));
	if (!g.kmsg_ring) {
		sg_log(LOG_ERR, "out of memory");
		goto out;
	}
	sg_kmsg_ring_init(g.kmsg_ring);
	if (g.acting) {
		point_captures(&g);
		r = sg_capture_writer_start(&g.act.writer);
		if (r < 0)
			sg_log_errno(LOG_WARNING, r, "cannot start the capture writer: bundles are stored before acting");
	}
	announce(g.gen, SG_MESSAGE_ID_STARTED);
	if (g.acting)
		recorder_setup(&g, &g.gen->core.cfg);
	/* Nothing a crashed run froze, throttled, demoted or drained stays so. */
	if (g.acting && g.act.state.count) {
		sg_log(LOG_WARNING, "%zu steps left applied by a previous run: reverting them", g.act.state.count);
		sg_actuator_revert_all(&g.act, &g.gen->core.cfg, "left by a previous run");
	}

	r = sd_event_new(&g.event);
	if (r < 0) {
		sg_log_errno(LOG_ERR, r, "cannot create the event loop");
		goto out;
	}
	/* WATCHDOG=1 from the loop itself, when systemd asks for it (WatchdogSec=):
	 * a loop stuck in a tick stops pinging and gets the guardian restarted. */
	r = sd_event_set_watchdog(g.event, true);
	if (r < 0)
		sg_log_errno(LOG_WARNING, r, "cannot set up systemd's watchdog");
	if (sd_event_add_signal(g.event, NULL, SIGTERM, on_exit_signal, &g) < 0 ||
	    sd_event_add_signal(g.event, NULL, SIGINT, on_exit_signal, &g) < 0 ||
	    sd_event_add_signal(g.event, NULL, SIGHUP, on_reload, &g) < 0) {
		sg_log(LOG_ERR, "cannot watch signals");
		goto out;
	}
	r = sg_kmsg_open(&g.kmsg, g.gen->core.cfg.kmsg);
	if (r < 0) {
		sg_log_errno(LOG_WARNING, r, "cannot open the kernel log %s: kmsg.* conditions cannot hold",
			     g.gen->core.cfg.kmsg);
	} else {
		g.kmsg.on_record = sg_kmsg_ring_on_record;
		g.kmsg.record_userdata = g.kmsg_ring;
	}
	if (g.kmsg.fd >= 0 && !g.kmsg.is_regular) {
		r = sd_event_add_io(g.event, &g.kmsg_source, g.kmsg.fd, EPOLLIN, on_kmsg, &g);
		if (r < 0) {
			sg_log_errno(LOG_ERR, r, "cannot watch the kernel log");
			goto out;
		}
	}
	if (attach_triggers(&g, g.gen) < 0)
		goto out;

	g.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (g.timer_fd < 0) {
		sg_log_errno(LOG_ERR, errno, "cannot create the tick timer");
		goto out;
	}
	if (arm_tick(&g, g.gen->core.cfg.interval_usec) < 0)
		goto out;
	r = sd_event_add_io(g.event, &g.timer, g.timer_fd, EPOLLIN, on_timer, &g);
	if (r < 0) {
		sg_log_errno(LOG_ERR, r, "cannot watch the tick timer");
		goto out;
	}
	if (sg_service_start(&g.svc, g.event, &g.gen->core) < 0)
		goto out;
	tick(&g, sg_now_usec(), 0); /* the first reading: rates and stalls start from here */
	harden();
	sd_notify(0, "READY=1");
	r = sd_event_loop(g.event);
	sd_notify(0, "STOPPING=1");
	status = r < 0 ? 1 : 0;
	if (r < 0)
		sg_log_errno(LOG_ERR, r, "event loop failed");
out:
	if (g.acting && g.act.state.count) {
		if (g.gen->core.cfg.revert_on_exit)
			sg_actuator_revert_all(&g.act, &g.gen->core.cfg, "stopping");
		else
			sg_log(LOG_WARNING, "on_exit = keep: %zu steps stay applied (stallguard revert undoes them)",
			       g.act.state.count);
	}
	if (g.acting) {
		sg_capture_writer_stop(g.act.writer, CAPTURE_DRAIN_USEC);
		sg_actuator_close(&g.act);
	}
	sg_recorder_close(g.recorder);
	sg_service_stop(&g.svc);
	sd_event_source_disable_unref(g.timer);
	if (g.timer_fd >= 0)
		close(g.timer_fd);
	sd_event_source_disable_unref(g.kmsg_source);
	generation_free(g.gen);
	sg_kmsg_close(&g.kmsg);
	free(g.kmsg_ring);
	sd_event_unref(g.event);
	return status;
}
