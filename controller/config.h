/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The configuration language of docs/configuration.md, parsed with inih. */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kmsg_event.h"

#define SG_NAME_MAX 48       /* job, rule and hook names */
#define SG_SIGNAL_NAME_MAX 96
#define SG_PATH_MAX 192
#define SG_COND_MAX 16       /* when lines per rule */
#define SG_STEP_MAX 16       /* steps per rule */
#define SG_MATCH_MAX 16      /* match lines per job, protect lines */
#define SG_HOOK_MAX 8        /* hook.NAME keys per rule */
#define SG_JOB_MAX 256
#define SG_RULE_MAX 64
#define SG_KILL_LIMIT_MAX 64

enum sg_match_kind { SG_MATCH_COMM, SG_MATCH_EXE, SG_MATCH_CMDLINE };

struct sg_match {
	enum sg_match_kind kind;
	char value[SG_PATH_MAX]; /* comm name, absolute exe path, or regex text */
	regex_t regex;           /* compiled for SG_MATCH_CMDLINE only */
	int line;
};

struct sg_job {
	char name[SG_NAME_MAX];
	char unit[SG_PATH_MAX];   /* "" when unset */
	char cgroup[SG_PATH_MAX]; /* below the cgroup root, starts with '/'; "" when unset */
	struct sg_match matches[SG_MATCH_MAX];
	size_t nmatches;
	char device[32];          /* whole disk name for io.max; "" = the disk under / */
	int line;                 /* of the [job NAME] header */
};

enum sg_cond_kind {
	SG_COND_THRESHOLD, /* SIGNAL OP NUMBER [for DURATION] */
	SG_COND_EVENT,     /* kmsg.EVENT within DURATION */
};

enum sg_op { SG_OP_GE, SG_OP_GT, SG_OP_LE, SG_OP_LT };

struct sg_cond {
	enum sg_cond_kind kind;
	char signal[SG_SIGNAL_NAME_MAX]; /* e.g. "psi.io.full.avg10", "kmsg.soft_lockup" */
	enum sg_op op;                   /* threshold only */
	double threshold;                /* threshold only */
	uint64_t for_usec;               /* threshold: how long it must hold (0 = at once) */
	enum sg_kmsg_event event;        /* event only */
	uint64_t within_usec;            /* event only */
	int line;
};

enum sg_step_kind {
	SG_STEP_CAPTURE,
	SG_STEP_IONICE,
	SG_STEP_IOMAX,
	SG_STEP_FREEZE,
	SG_STEP_KILL,
	SG_STEP_HOOK,
};

#define SG_IOMAX_UNSET UINT64_MAX     /* key not given: leave that limit as it is */
#define SG_IOMAX_MAX (UINT64_MAX - 1) /* KEY=max: remove that limit ("max" in io.max) */

struct sg_step {
	enum sg_step_kind kind;
	char text[64];           /* as written, normalised spacing: "io.max wbps=50M" */
	int ionice_class;        /* IOPRIO_CLASS_BE 2 or IOPRIO_CLASS_IDLE 3 */
	int ionice_level;        /* 0..7 for be */
	uint64_t rbps, wbps, riops, wiops; /* SG_IOMAX_UNSET when not given */
	char hook[SG_NAME_MAX];  /* hook NAME */
	int line;
};

struct sg_hook {
	char name[SG_NAME_MAX];
	char path[SG_PATH_MAX];  /* absolute: a relative one is resolved at load */
	int line;
};

enum sg_rule_target {
	SG_TARGET_NONE,   /* no job =: host-level steps only (capture, hook) */
	SG_TARGET_JOB,    /* job = NAME */
	SG_TARGET_TOP_IO, /* job = top-io */
};

struct sg_rule {
	char name[SG_NAME_MAX];
	struct sg_cond conds[SG_COND_MAX];
	size_t nconds;
	bool match_all;           /* match = all */
	enum sg_rule_target target;
	size_t job;               /* index into sg_config.jobs when target == SG_TARGET_JOB */
	struct sg_step steps[SG_STEP_MAX];
	size_t nsteps;
	uint64_t step_after_usec;    /* default 15s */
	uint64_t recover_after_usec; /* default 60s */
	uint64_t cooldown_usec;      /* default 10m */
	bool dry_run;
	struct sg_hook hooks[SG_HOOK_MAX];
	size_t nhooks;
	int line;
};

/* recorder = on | off | on-trigger: the BPF flight recorder runs always,
 * never, or while a rule is above rest. */
enum sg_recorder_mode {
	SG_RECORDER_ON,
	SG_RECORDER_OFF,
	SG_RECORDER_ON_TRIGGER,
};

struct sg_config {
	char path[SG_PATH_MAX];

	/* [guardian] */
	uint64_t interval_usec;       /* 250ms */
	bool dry_run;                 /* no */
	char state_dir[SG_PATH_MAX];  /* /run/stallguard */
	char capture_dir[SG_PATH_MAX];/* /var/lib/stallguard/captures */
	unsigned capture_keep;        /* 50 */
	uint64_t capture_budget_usec; /* 200ms */
	enum sg_recorder_mode recorder; /* on */
	unsigned recorder_hz;         /* 49 (49..99) */
	uint64_t recorder_window_usec; /* 10s (300ms..1h) */
	uint64_t history_usec;        /* 120s */
	char kmsg[SG_PATH_MAX];       /* /dev/kmsg */
	char metrics_file[SG_PATH_MAX]; /* "" = off */
	uint64_t metrics_interval_usec; /* 10s */
	char heartbeat[SG_PATH_MAX];  /* executable run every heartbeat_interval; "" = off */
	uint64_t heartbeat_interval_usec; /* 60s */
	struct sg_match protect[SG_MATCH_MAX];
	size_t nprotect;
	unsigned kill_limit_count;    /* 3 */
	uint64_t kill_limit_window_usec; /* 1h */
	uint64_t kill_grace_usec;     /* 5s */
	uint64_t hook_timeout_usec;   /* 10s */
	bool revert_on_exit;          /* on_exit = revert (default) | keep */

	struct sg_job *jobs;
	size_t njobs;
	struct sg_rule *rules;
	size_t nrules;
};

/* Every error found, each as "FILE:LINE: message". */
struct sg_config_errors {
	char **lines;
	size_t count;
};

/* Fills cfg with the defaults of docs/configuration.md and no jobs or rules. */
void sg_config_defaults(struct sg_config *cfg);

/* Parses and validates path. Returns 0, or -EINVAL with every error in
 * errors (all of them, not only the first), or another -errno when the file
 * cannot be read (one error line saying why). Hook files are checked on disk
 * (exist, executable, writable by root only). */
int sg_config_load(const char *path, struct sg_config *cfg, struct sg_config_errors *errors);

/* The same over an in-memory text; name is used in messages. */
int sg_config_load_string(const char *name, const char *text, struct sg_config *cfg,
			  struct sg_config_errors *errors);

void sg_config_free(struct sg_config *cfg);
void sg_config_errors_free(struct sg_config_errors *errors);

/* Prints the rules, their conditions and ladders as understood (`check`). */
void sg_config_print(const struct sg_config *cfg, FILE *out);

/* Lookup helpers. The index of the job or rule of that name, or -1. */
int sg_config_find_job(const struct sg_config *cfg, const char *name);
int sg_config_find_rule(const struct sg_config *cfg, const char *name);
const struct sg_hook *sg_rule_hook(const struct sg_rule *rule, const char *name);
const char *sg_op_text(enum sg_op op);
const char *sg_step_kind_name(enum sg_step_kind kind);
/* capture and kill cannot be undone. */
bool sg_step_reversible(enum sg_step_kind kind);
