/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hook step: runs an administrator's executable as `PATH apply|revert`
 * (SPEC "Hooks").
 *
 * The hook is executed directly (fork and execve, never a shell) in its own
 * process group, with stdin on /dev/null, stdout and stderr on one pipe, every
 * other descriptor closed, default signal dispositions, an empty signal mask,
 * cwd "/" and a clean environment holding exactly PATH and the STALLGUARD_*
 * variables. The parent polls the pipe and a pidfd together: output is read as
 * it comes (the first lines are kept for the log, the rest discarded so the
 * hook never blocks on a full pipe) until the hook exits or hook_timeout
 * passes; then the whole process group gets SIGKILL. The child is always
 * reaped.
 *
 * The runner (start, drain, finish: hook.h) is shared with the heartbeat,
 * which waits for it from the event loop. The hook step runs synchronously:
 * the loop waits for the hook, at most hook_timeout (plus the moment a
 * SIGKILLed process takes to die). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action.h"
#include "hook.h"
#include "log.h"
#include "units.h"

#define HOOK_REASON_MAX 4096
#define HOOK_READ_CHUNK 65536
#define HOOK_READS_PER_WAKE 16 /* bounded, so a hook printing forever still meets its timeout */

/* The environment of one run; every string lives here, nothing on the heap. */
struct hook_env {
	char rule[sizeof("STALLGUARD_RULE=") + SG_NAME_MAX];
	char job[sizeof("STALLGUARD_JOB=") + SG_NAME_MAX];
	char step[sizeof("STALLGUARD_STEP=") + 64];
	char level[sizeof("STALLGUARD_LEVEL=") + 16];
	char reason[sizeof("STALLGUARD_REASON=") + HOOK_REASON_MAX];
	char capture[sizeof("STALLGUARD_CAPTURE=") + SG_PATH_MAX * 2];
	char *envp[9];
};

static void hook_env_build(struct hook_env *e, const char *rule, const char *job, const char *step,
			   unsigned level, const char *reason, const char *capture)
{
	static const char reason_key[] = "STALLGUARD_REASON=";
	char *dst = e->reason + sizeof(reason_key) - 1;
	char *end = e->reason + sizeof(e->reason) - 1;
	bool space = false;

	snprintf(e->rule, sizeof(e->rule), "STALLGUARD_RULE=%s", rule);
	snprintf(e->job, sizeof(e->job), "STALLGUARD_JOB=%s", job);
	snprintf(e->step, sizeof(e->step), "STALLGUARD_STEP=%s", step);
	snprintf(e->level, sizeof(e->level), "STALLGUARD_LEVEL=%u", level);
	/* One line (a hook that reads it with `read` or logs it must not see a
	 * line break): line breaks at either end dropped, a run inside one space. */
	memcpy(e->reason, reason_key, sizeof(reason_key) - 1);
	for (const char *c = reason ? reason : ""; *c && dst < end; c++) {
		if (*c == '\n' || *c == '\r') {
			space = dst > e->reason + sizeof(reason_key) - 1;
			continue;
		}
		if (space && dst + 1 < end)
			*dst++ = ' ';
		space = false;
		*dst++ = *c;
	}
	*dst = '\0';
	snprintf(e->capture, sizeof(e->capture), "STALLGUARD_CAPTURE=%s", capture ? capture : "");
	e->envp[0] = (char *)SG_HOOK_ENV_PATH;
	e->envp[1] = e->rule;
	e->envp[2] = e->job;
	e->envp[3] = e->step;
	e->envp[4] = e->level;
	e->envp[5] = e->reason;
	e->envp[6] = e->capture;
	e->envp[7] = (char *)"STALLGUARD_DRY_RUN=0"; /* hooks never run in dry-run */
	e->envp[8] = NULL;
}

static void output_add(struct sg_hook_output *out, const char *buf, size_t n)
{
	size_t i = 0;

	while (i < n && out->len < sizeof(out->kept) && out->lines < SG_HOOK_KEEP_LINES) {
		out->kept[out->len++] = buf[i];
		if (buf[i++] == '\n')
			out->lines++;
	}
	out->dropped += n - i;
}

/* Reads what is there without blocking, at most max_reads times. Returns 1 at
 * end of file or on a read error (stop polling the pipe), 0 otherwise. */
static int output_read(int fd, struct sg_hook_output *out, unsigned max_reads)
{
	char buf[HOOK_READ_CHUNK];

	for (unsigned i = 0; i < max_reads; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			output_add(out, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return 1;
	}
	return 0;
}

/* Copies the next non-blank line of out from *pos into line, control
 * characters replaced. Returns false when there is none. */
static bool output_next_line(const struct sg_hook_output *out, size_t *pos, char *line, size_t len)
{
	while (*pos < out->len) {
		size_t n = 0;
		bool blank = true;

		for (; *pos < out->len && out->kept[*pos] != '\n'; (*pos)++) {
			unsigned char c = (unsigned char)out->kept[*pos];

			if (c == '\t')
				c = ' ';
			else if (c < 0x20 || c == 0x7f)
				c = '?';
			if (c != ' ')
				blank = false;
			if (n + 1 < len)
				line[n++] = (char)c;
		}
		if (*pos < out->len)
			(*pos)++; /* the newline */
		line[n] = '\0';
		if (!blank)
			return true;
	}
	return false;
}

/* Moves a descriptor that landed on 0, 1 or 2 (a daemon started with those
 * closed) above them, so the child's redirections cannot clobber it. */
static int fd_above_stdio(int fd)
{
	int moved;

	if (fd > STDERR_FILENO)
		return fd;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	close(fd);
	return moved;
}

/* A hook runs as root: refuse one that someone else could have changed since
 * the configuration was checked (after a crash the path comes from the state
 * journal and no configuration checked it). */
int sg_hook_check(const char *tag, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return sg_log_errno(LOG_ERR, errno, "%s: %s", tag, path);
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		sg_log(LOG_ERR, "%s: %s: not run: must be a regular executable file owned by root "
		       "and writable by root only (uid %u, mode %04o)", tag, path,
		       (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* In the forked child: only async-signal-safe calls. On failure the errno
 * goes to err_fd (close-on-exec: the parent reads end of file once exec
 * succeeded). */
static void exec_child(const char *path, char *const argv[], char *const envp[], int out_fd,
		       int err_fd)
{
	sigset_t none;
	int null_fd, err;

	/* Its own process group, so a timeout kills its children too (the parent
	 * sets it as well, so a kill cannot come before it). */
	setpgid(0, 0);
	/* Handlers are reset by exec; ignored signals would stay ignored. glibc's
	 * sigaction() refuses its two internal signals, which the guardian may
	 * have inherited ignored, so the kernel is asked directly (it refuses
	 * only SIGKILL and SIGSTOP, harmlessly). */
	for (int sig = 1; sig < NSIG; sig++) {
		struct { void (*handler)(int); unsigned long flags; void (*restorer)(void); uint64_t mask; } kdfl = {
			.handler = SIG_DFL,
		};
		syscall(SYS_rt_sigaction, sig, &kdfl, NULL, sizeof(kdfl.mask));
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* the guardian blocks its signals for signalfd */
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(out_fd, STDERR_FILENO) < 0 || chdir("/") < 0 ||
	    /* close-on-exec rather than closed: err_fd must live until exec */
	    close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		goto fail;
	execve(path, argv, envp);
fail:
	err = errno;
	/* Nothing more can be done if this fails: the parent then sees exit 127. */
	if (write(err_fd, &err, sizeof(err)) != sizeof(err))
		_exit(127);
	_exit(127);
}

/* Starts `path verb` with its stdout and stderr on out_fd. Returns 0 with *pid
 * set, or -errno (a failed exec included; that child is reaped). */
static int spawn_hook(const char *path, const char *verb, char *const envp[], int out_fd,
		      pid_t *pid)
{
	char *const argv[] = { (char *)path, (char *)verb, NULL };
	int errp[2], err = 0, status;
	pid_t child;

	if (pipe2(errp, O_CLOEXEC) < 0)
		return -errno;
	errp[1] = fd_above_stdio(errp[1]);
	if (errp[1] < 0) {
		err = errno;
		close(errp[0]);
		return -err;
	}
	child = fork();
	if (child == 0)
		exec_child(path, argv, envp, out_fd, errp[1]);
	close(errp[1]);
	if (child < 0) {
		err = errno;
		close(errp[0]);
		return -err;
	}
	setpgid(child, child); /* fails once it has exec'd: then it did it itself */
	/* End of file once exec succeeded; the errno otherwise. */
	while (read(errp[0], &err, sizeof(err)) < 0 && errno == EINTR)
		;
	close(errp[0]);
	if (err) {
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		return -err;
	}
	*pid = child;
	return 0;
}

static void kill_group(pid_t pid)
{
	/* The leader is not reaped yet, so its pid (the group's id) cannot be reused. */
	if (kill(-pid, SIGKILL) < 0 && errno != ESRCH)
		kill(pid, SIGKILL);
}

int sg_hook_start(struct sg_hook_run *run, const char *tag, const char *path, const char *verb,
		  char *const envp[])
{
	int fds[2], rc, status;

	memset(run, 0, sizeof(*run));
	run->pid = -1;
	run->pidfd = run->out_fd = -1;
	sg_strlcpy(run->tag, tag, sizeof(run->tag));
	run->start_usec = sg_now_usec();
	run->ok_priority = LOG_INFO;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return sg_log_errno(LOG_ERR, errno, "%s: pipe", tag);
	fds[0] = fd_above_stdio(fds[0]);
	fds[1] = fd_above_stdio(fds[1]);
	if (fds[0] < 0 || fds[1] < 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		rc = -errno;
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		return sg_log_errno(LOG_ERR, rc, "%s: pipe", tag);
	}
	rc = spawn_hook(path, verb, envp, fds[1], &run->pid);
	close(fds[1]);
	if (rc < 0) {
		close(fds[0]);
		return sg_log_errno(LOG_ERR, rc, "%s: cannot run %s", tag, path);
	}
	run->out_fd = fds[0];
	run->pidfd = pidfd_open(run->pid, 0);
	if (run->pidfd < 0) {
		rc = -errno;
		kill_group(run->pid);
		while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR)
			;
		close(run->out_fd);
		return sg_log_errno(LOG_ERR, rc, "%s: waiting for it failed, killed it", tag);
	}
	return 0;
}

void sg_hook_kill(const struct sg_hook_run *run)
{
	kill_group(run->pid);
}

void sg_hook_drain(struct sg_hook_run *run)
{
	if (run->out_fd >= 0 && output_read(run->out_fd, &run->out, HOOK_READS_PER_WAKE)) {
		close(run->out_fd);
		run->out_fd = -1;
	}
}

int sg_hook_finish(struct sg_hook_run *run, bool timed_out, uint64_t timeout_usec)
{
	char line[SG_HOOK_KEEP_BYTES + 1], what[96], timeout[32];
	int status = 0, rc, priority;
	size_t pos = 0;

	if (timed_out)
		kill_group(run->pid);
	/* What it wrote just before exiting; processes it left behind may keep
	 * the pipe open and writing, hence the bound. */
	sg_hook_drain(run);
	if (run->out_fd >= 0)
		close(run->out_fd);
	close(run->pidfd);
	run->out_fd = run->pidfd = -1;
	while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR)
		;

	if (timed_out) {
		snprintf(what, sizeof(what), "killed after %s timeout",
			 sg_format_duration(timeout_usec, timeout, sizeof(timeout)));
		rc = -ETIMEDOUT;
	} else if (WIFEXITED(status)) {
		snprintf(what, sizeof(what), "exit %d in %.2fs", WEXITSTATUS(status),
			 (double)(sg_now_usec() - run->start_usec) / USEC_PER_SEC);
		rc = WEXITSTATUS(status) == 0 ? 0 : -EIO;
	} else { /* signalled: waitpid without WUNTRACED reports nothing else */
		const char *sig = sigabbrev_np(WTERMSIG(status));

		snprintf(what, sizeof(what), "killed by SIG%s in %.2fs", sig ? sig : "?",
			 (double)(sg_now_usec() - run->start_usec) / USEC_PER_SEC);
		rc = -EIO;
	}
	priority = rc == 0 ? run->ok_priority : LOG_WARNING;
	if (output_next_line(&run->out, &pos, line, sizeof(line)))
		sg_log(priority, "%s: %s: %s", run->tag, what, line);
	else
		sg_log(priority, "%s: %s", run->tag, what);
	while (output_next_line(&run->out, &pos, line, sizeof(line)))
		sg_log(priority, "%s: %s", run->tag, line);
	if (run->out.dropped)
		sg_log(priority, "%s: %llu more bytes of output not shown", run->tag, run->out.dropped);
	return rc;
}

/* Runs `path verb` (checked by the caller) to its end or hook_timeout,
 * reading its output meanwhile, and logs how it went under tag. */
static int run_hook(const struct sg_config *cfg, const char *tag, const char *path,
		    const char *verb, const struct hook_env *env)
{
	uint64_t deadline = sg_now_usec() + cfg->hook_timeout_usec;
	struct sg_hook_run run;
	bool timed_out = false;
	int rc = sg_hook_start(&run, tag, path, verb, env->envp);

	if (rc < 0)
		return rc;
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = run.pidfd, .events = POLLIN },
			{ .fd = run.out_fd, .events = POLLIN }, /* -1 once at end of file: ignored */
		};
		uint64_t now = sg_now_usec();
		int n;

		if (now >= deadline) {
			timed_out = true;
			break;
		}
		n = poll(fds, 2, sg_msec_until(now, deadline, INT_MAX));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			sg_hook_finish(&run, true, cfg->hook_timeout_usec);
			return sg_log_errno(LOG_ERR, rc, "%s: waiting for it failed, killed it", tag);
		}
		if (fds[1].revents)
			sg_hook_drain(&run);
		if (fds[0].revents)
			break; /* exited */
	}
	return sg_hook_finish(&run, timed_out, cfg->hook_timeout_usec);
}

static int hook_apply(const struct sg_action_env *env, const struct sg_target *target,
		      struct sg_undo *undo, sg_journal_fn journal, void *userdata)
{
	const struct sg_hook *hook = sg_rule_hook(env->rule, env->step->hook);
	struct hook_env henv;
	char tag[SG_NAME_MAX + 32];
	int rc;

	if (!hook)
		return sg_log_errno(LOG_ERR, EINVAL, "hook %s: no hook.%s in rule %s",
				    env->step->hook, env->step->hook, env->rule->name);
	sg_strlcpy(undo->path, hook->path, sizeof(undo->path)); /* twice the room it needs */
	sg_strlcpy(undo->data, hook->name, sizeof(undo->data));
	/* Not journalled when it cannot even start: nothing would need reverting. */
	snprintf(tag, sizeof(tag), "hook %s apply", hook->name);
	rc = sg_hook_check(tag, hook->path);
	if (rc < 0)
		return rc;
	rc = journal(undo, userdata);
	if (rc < 0)
		return rc;
	hook_env_build(&henv, env->rule->name, target->job, env->step->text, env->level,
		       env->reason, env->capture);
	return run_hook(env->cfg, tag, undo->path, "apply", &henv);
}

/* The environment describes the step being undone, from undo (the same as the
 * rule's while it is configured, and all there is after a crash): LEVEL is the
 * level the step was applied at, as apply saw it. */
static int hook_revert(const struct sg_action_env *env, const struct sg_undo *undo)
{
	struct hook_env henv;
	char tag[SG_NAME_MAX + 32];
	int rc;

	snprintf(tag, sizeof(tag), "hook %.*s revert", SG_NAME_MAX, undo->data);
	rc = sg_hook_check(tag, undo->path);
	if (rc < 0)
		return rc;
	hook_env_build(&henv, undo->rule, undo->job, undo->step, undo->level, env->reason,
		       env->capture);
	return run_hook(env->cfg, tag, undo->path, "revert", &henv);
}

static void hook_describe(const struct sg_undo *undo, char *buf, size_t len)
{
	snprintf(buf, len, "hook %s (%s)", undo->data, undo->path);
}

const struct sg_action sg_action_hook = {
	.kind = SG_STEP_HOOK,
	.apply = hook_apply,
	.revert = hook_revert,
	.describe = hook_describe,
};
