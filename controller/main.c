/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stallguard: the command line. Exit 0 success, 1 runtime failure, 2 bad
 * usage or invalid configuration. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actuator.h"
#include "capture.h"
#include "config.h"
#include "doctor.h"
#include "log.h"
#include "loop.h"
#include "recorder.h"
#include "replay.h"
#include "signals_cmd.h"
#include "trace.h"
#include "units.h"

#define DEFAULT_CONFIG "/etc/stallguard/stallguard.ini"
#define MANUAL_RECORD_USEC (2 * USEC_PER_SEC) /* `capture` records stacks this long first */

static const char usage_text[] =
	"usage: stallguard COMMAND [OPTIONS]\n"
	"\n"
	"  run     [-c FILE] [--dry-run] [--log-level debug|info|warning|error]\n"
	"                                      watch the host and climb the rules' ladders\n"
	"  check   [-c FILE]                   validate; print the rules and ladders as understood\n"
	"  signals [-c FILE] [--json] [--watch SECONDS]\n"
	"                                      every signal's current value (one sample, or live)\n"
	"  status  [-c FILE] [--json]          what the guardian has applied now (from its state journal)\n"
	"  revert  [-c FILE]                   undo every step recorded in the state journal\n"
	"  capture [-c FILE] [-o DIR]          take a capture bundle now, by hand\n"
	"  record  [-c FILE] -o TRACE [--duration SECONDS]\n"
	"                                      record every signal at every tick into a trace file\n"
	"  replay  [-c FILE] TRACE             run the rules over a recorded trace; print the decisions\n"
	"  doctor  [-c FILE]                   check the host's safety net and what the guardian can do here\n"
	"  --version | --help\n"
	"\n"
	"FILE defaults to " DEFAULT_CONFIG ". docs/configuration.md describes it.\n";

enum { OPT_DRY_RUN = 256, OPT_LOG_LEVEL, OPT_JSON, OPT_WATCH, OPT_DURATION };

struct cli {
	const char *command;
	const char *config;
	bool config_given;
	bool dry_run;
	bool json;
	uint64_t watch_usec;
	const char *output; /* capture -o DIR, record -o TRACE */
	uint64_t duration_usec; /* record --duration */
	const char *trace;  /* replay TRACE */
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("stallguard: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'stallguard --help'.\n", stderr);
	return 2;
}

/* Options each command takes. */
static bool allowed(const char *command, int opt)
{
	switch (opt) {
	case 'c': return true;
	case 'o': return strcmp(command, "capture") == 0 || strcmp(command, "record") == 0;
	case OPT_DURATION: return strcmp(command, "record") == 0;
	case OPT_DRY_RUN: case OPT_LOG_LEVEL: return strcmp(command, "run") == 0;
	case OPT_JSON: return strcmp(command, "signals") == 0 || strcmp(command, "status") == 0;
	case OPT_WATCH: return strcmp(command, "signals") == 0;
	}
	return false;
}

static int parse_args(int argc, char **argv, struct cli *cli)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "watch", required_argument, NULL, OPT_WATCH },
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ NULL, 0, NULL, 0 },
	};
	int opt, level;

	cli->command = argv[1];
	cli->config = DEFAULT_CONFIG;
	optind = 2;
	opterr = 0;
	int index = -1;

	while ((opt = getopt_long(argc, argv, ":c:o:", options, &index)) != -1) {
		if (opt == '?')
			return usage_error("unknown option '%s'", argv[optind - 1]);
		if (opt == ':')
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		if (!allowed(cli->command, opt))
			return usage_error("option '%s' does not go with this command",
					   opt == 'c' ? "-c" : opt == 'o' ? "-o" : options[index].name);
		index = -1;
		switch (opt) {
		case 'c':
			cli->config = optarg;
			cli->config_given = true;
			break;
		case OPT_DRY_RUN:
			cli->dry_run = true;
			break;
		case 'o':
			if (strcmp(cli->command, "capture") == 0 && optarg[0] != '/')
				return usage_error("-o takes an absolute directory, not '%s'", optarg);
			cli->output = optarg;
			break;
		case OPT_LOG_LEVEL:
			if (sg_log_parse_level(optarg, &level) < 0)
				return usage_error("bad log level '%s' (debug, info, warning or error)", optarg);
			sg_log_set_level(level);
			break;
		case OPT_JSON:
			cli->json = true;
			break;
		case OPT_WATCH: {
			char *end;
			double seconds = strtod(optarg, &end);
			if (end == optarg || *end || !(seconds >= 0.1 && seconds <= 3600))
				return usage_error("--watch takes seconds from 0.1 to 3600, not '%s'", optarg);
			cli->watch_usec = (uint64_t)(seconds * 1e6);
			break;
		}
		case OPT_DURATION: {
			char *end;
			double seconds = strtod(optarg, &end);
			if (end == optarg || *end || !(seconds >= 0.1 && seconds <= 7 * 86400))
				return usage_error("--duration takes seconds from 0.1 to 604800, not '%s'", optarg);
			cli->duration_usec = (uint64_t)(seconds * 1e6);
			break;
		}
		}
	}
	if (strcmp(cli->command, "replay") == 0 && optind < argc)
		cli->trace = argv[optind++];
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (strcmp(cli->command, "replay") == 0 && !cli->trace)
		return usage_error("%s", "replay needs a TRACE file");
	if (strcmp(cli->command, "record") == 0 && !cli->output)
		return usage_error("%s", "record needs -o TRACE");
	return 0;
}

/* Loads the config; a missing default file means the defaults for commands
 * that only look (signals, doctor). Returns 0 or an exit status. */
static int load_config(const struct cli *cli, bool default_may_be_missing, struct sg_config *cfg)
{
	struct sg_config_errors errors = { 0 };

	if (default_may_be_missing && !cli->config_given && access(cli->config, F_OK) < 0 && errno == ENOENT) {
		sg_config_defaults(cfg);
		return 0;
	}
	int r = sg_config_load(cli->config, cfg, &errors);
	for (size_t i = 0; i < errors.count; i++)
		fprintf(stderr, "%s\n", errors.lines[i]);
	sg_config_errors_free(&errors);
	if (r == 0)
		return 0;
	return r == -EINVAL ? 2 : 1;
}

static int command_check(const struct cli *cli)
{
	struct sg_config cfg;
	int status = load_config(cli, false, &cfg);

	if (status)
		return status;
	sg_config_print(&cfg, stdout);
	printf("%s: ok\n", cli->config);
	sg_config_free(&cfg);
	return 0;
}

static int command_signals(const struct cli *cli)
{
	struct sg_config cfg;
	int status = load_config(cli, true, &cfg);

	if (status)
		return status;
	struct sg_signals_options options = {
		.json = cli->json,
		.period_usec = cli->watch_usec ? cli->watch_usec : USEC_PER_SEC,
		.count = cli->watch_usec ? 0 : 1,
	};
	status = sg_signals_command(&cfg, &options, stdout);
	sg_config_free(&cfg);
	return status;
}

static int command_status(const struct cli *cli)
{
	struct sg_config cfg;
	struct sg_state state = { 0 };
	char path[SG_PATH_MAX + 16], *text = NULL, *file = NULL;
	int status = load_config(cli, true, &cfg), r;

	if (status)
		return status;
	snprintf(path, sizeof(path), "%s/state.json", cfg.state_dir);
	FILE *f = fopen(path, "re");
	if (f) {
		char *buf = NULL;
		size_t cap = 0;
		ssize_t n = getdelim(&buf, &cap, '\0', f); /* the whole file: JSON holds no NUL */
		fclose(f);
		r = n < 0 ? -EINVAL : sg_state_parse(buf, (size_t)n, &state);
		if (r < 0) {
			fprintf(stderr, "stallguard: %s is not a valid state journal\n", path);
			free(buf);
			sg_config_free(&cfg);
			return 1;
		}
		file = buf; /* --json shows it as the guardian wrote it, with its pid */
	} else if (errno != ENOENT) {
		fprintf(stderr, "stallguard: cannot read %s: %m\n", path);
		sg_config_free(&cfg);
		return 1;
	}
	pid_t guardian = sg_state_lock_holder(cfg.state_dir);
	if (cli->json && file) {
		fputs(file, stdout);
	} else if (cli->json) {
		if (sg_state_to_json(&state, &text) < 0) {
			status = 1;
		} else {
			fputs(text, stdout);
			free(text);
		}
	} else {
		printf("guardian: %s", guardian ? "running" : "not running");
		if (guardian)
			printf(" (pid %d)", (int)guardian);
		printf("\njournal: %s: %zu step%s applied\n", path, state.count, state.count == 1 ? "" : "s");
		for (size_t i = 0; i < state.count; i++) {
			const struct sg_state_entry *e = &state.entries[i];
			char when[32];
			time_t since = (time_t)e->since;
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&since));
			printf("  %s: level %u \"%s\" on %s since %s%s%s%s\n", e->undo.rule, e->undo.level,
			       e->undo.step, e->undo.job[0] ? e->undo.job : "the host", when,
			       e->applied ? "" : " (pending: the action may not have happened)",
			       e->undo.path[0] ? " at " : "", e->undo.path);
		}
	}
	free(file);
	sg_state_free(&state);
	sg_config_free(&cfg);
	return status;
}

static int command_revert(const struct cli *cli)
{
	struct sg_actuator act;
	struct sg_config cfg;
	int status = load_config(cli, true, &cfg);

	if (status)
		return status;
	int r = sg_actuator_open(&act, &cfg);
	if (r == -EBUSY) {
		fprintf(stderr, "stallguard: the guardian runs as pid %d with this journal (%s): stop it (SIGTERM reverts "
				"with on_exit = revert) before reverting from its journal\n", (int)act.lock_holder,
			cfg.state_dir);
		sg_config_free(&cfg);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "stallguard: cannot open the state journal in %s: %s\n", cfg.state_dir, strerror(-r));
		sg_config_free(&cfg);
		return 1;
	}
	size_t count = act.state.count;
	unsigned failed = sg_actuator_revert_all(&act, &cfg, "stallguard revert");
	printf("%zu step%s reverted, %u failed\n", count - failed, count - failed == 1 ? "" : "s", failed);
	sg_actuator_close(&act);
	sg_config_free(&cfg);
	return failed ? 1 : 0;
}

static int command_capture(const struct cli *cli)
{
	struct sg_config cfg;
	char dir[SG_PATH_MAX + 64];
	double elapsed_ms = 0;
	int status = load_config(cli, true, &cfg);

	if (status)
		return status;
	size_t room = sizeof(cfg.capture_dir);
	if (cli->output && sg_strlcpy(cfg.capture_dir, cli->output, room) >= room) {
		sg_config_free(&cfg);
		return usage_error("-o %s: path too long", cli->output);
	}
	struct sg_capture_input in = {
		.cfg = &cfg, .rule = "manual", .step = "capture", .reason = "taken by hand",
		.decision = "stallguard capture", .proc_root = "/proc",
	};
	/* The guardian's recorder is its own: this one records for a while first. */
	struct sg_recorder_opts opts = { .oncpu_hz = cfg.recorder_hz, .window_usec = cfg.recorder_window_usec };
	struct sg_recorder *recorder = NULL;
	char note[256], why[200] = "";
	if (cfg.recorder == SG_RECORDER_OFF) {
		snprintf(note, sizeof(note), "off (recorder = off): no stacks");
	} else if (sg_recorder_open(&opts, &recorder, why, sizeof(why)) < 0 || sg_recorder_attach(recorder) < 0) {
		fprintf(stderr, "stallguard: the BPF recorder cannot run here: %s; no stacks in this bundle\n",
			why[0] ? why : "cannot attach");
		snprintf(note, sizeof(note), "unavailable: %s", why[0] ? why : "cannot attach");
		sg_recorder_close(recorder);
		recorder = NULL;
	} else {
		snprintf(note, sizeof(note), "recorded for %u s by stallguard capture (on-CPU %u Hz)",
			 (unsigned)(MANUAL_RECORD_USEC / USEC_PER_SEC), opts.oncpu_hz);
		usleep(MANUAL_RECORD_USEC);
	}
	in.recorder = recorder;
	in.recorder_note = note;
	int r = sg_capture_write(&in, dir, sizeof(dir), &elapsed_ms);
	sg_recorder_close(recorder);
	if (r < 0 && !dir[0]) {
		fprintf(stderr, "stallguard: cannot write a capture bundle in %s: %s\n", cfg.capture_dir, strerror(-r));
		sg_config_free(&cfg);
		return 1;
	}
	printf("%s\n", dir);
	if (r < 0)
		fprintf(stderr, "stallguard: some files of %s could not be written: %s\n", dir, strerror(-r));
	sg_config_free(&cfg);
	return r < 0 ? 1 : 0;
}

static int command_record(const struct cli *cli)
{
	struct sg_config cfg;
	int status = load_config(cli, true, &cfg);

	if (status)
		return status;
	status = sg_record_command(&cfg, cli->output, cli->duration_usec);
	sg_config_free(&cfg);
	return status;
}

static int command_replay(const struct cli *cli)
{
	struct sg_replay_summary summary;
	struct sg_trace_data trace;
	struct sg_config cfg;
	char err[256];
	int status = load_config(cli, false, &cfg), r;

	if (status)
		return status;
	cfg.dry_run = true;
	r = sg_trace_load(cli->trace, &trace, err, sizeof(err));
	if (r < 0) {
		if (r == -EINVAL)
			fprintf(stderr, "%s:%s\n", cli->trace, err);
		else
			fprintf(stderr, "stallguard: cannot read %s: %s\n", cli->trace, strerror(-r));
		sg_config_free(&cfg);
		return 1;
	}
	r = sg_replay(&cfg, &trace, stdout, stderr, &summary);
	if (r < 0)
		fprintf(stderr, "stallguard: cannot replay %s: %s\n", cli->trace, strerror(-r));
	else
		printf("replayed %zu samples over %.1f s: %zu decisions\n", summary.rows,
		       trace.nrows ? (double)trace.t_usec[trace.nrows - 1] / 1e6 : 0.0, summary.decisions);
	sg_trace_free(&trace);
	sg_config_free(&cfg);
	return r < 0 ? 1 : 0;
}

static int command_doctor(const struct cli *cli)
{
	struct sg_doctor_report report;
	struct sg_config cfg;
	int status = load_config(cli, true, &cfg);

	if (status)
		return status;
	sg_doctor_run("/", true, &report);
	sg_doctor_print(&report, stdout);
	sg_config_free(&cfg);
	return sg_doctor_severe(&report) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };

	sg_log_open();
	if (argc < 2)
		return usage_error("%s", "a command is needed");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("stallguard %s\n", SG_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "run") && strcmp(argv[1], "check") && strcmp(argv[1], "signals") &&
	    strcmp(argv[1], "status") && strcmp(argv[1], "revert") && strcmp(argv[1], "capture") &&
	    strcmp(argv[1], "doctor") && strcmp(argv[1], "record") && strcmp(argv[1], "replay"))
		return usage_error("unknown command '%s'", argv[1]);
	int status = parse_args(argc, argv, &cli);
	if (status)
		return status;

	if (strcmp(cli.command, "run") == 0) {
		struct sg_run_options options = { .config_path = cli.config, .dry_run = cli.dry_run };
		return sg_run(&options);
	}
	if (strcmp(cli.command, "check") == 0)
		return command_check(&cli);
	if (strcmp(cli.command, "signals") == 0)
		return command_signals(&cli);
	if (strcmp(cli.command, "status") == 0)
		return command_status(&cli);
	if (strcmp(cli.command, "revert") == 0)
		return command_revert(&cli);
	if (strcmp(cli.command, "capture") == 0)
		return command_capture(&cli);
	if (strcmp(cli.command, "record") == 0)
		return command_record(&cli);
	if (strcmp(cli.command, "replay") == 0)
		return command_replay(&cli);
	return command_doctor(&cli);
}
