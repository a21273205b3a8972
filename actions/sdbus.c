/* SPDX-License-Identifier: GPL-2.0-or-later */
/* systemd's manager over sd-bus: see sdbus.h. Runs only when a step applies
 * or reverts, never in a steady tick, so it may allocate. */
#include "sdbus.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

#define SYSTEMD "org.freedesktop.systemd1"
#define MANAGER_PATH "/org/freedesktop/systemd1"
#define MANAGER SYSTEMD ".Manager"
#define UNIT_IFACE SYSTEMD ".Unit"

static void say(struct sg_sdbus *sd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct sg_sdbus *sd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sd->error, sizeof(sd->error), fmt, ap);
	va_end(ap);
}

/* The errno of a failed call, with sd->error saying "WHAT: NAME: message". */
static int failed(struct sg_sdbus *sd, const char *what, const char *unit, int r, const sd_bus_error *error)
{
	if (sd_bus_error_is_set(error)) {
		say(sd, "%s %s: %s: %s", what, unit, error->name, error->message ? error->message : "");
		if (sd_bus_error_has_name(error, SYSTEMD ".NoSuchUnit"))
			return -ENOENT;
		if (sd_bus_error_has_name(error, SYSTEMD ".UnitInactive"))
			return -EHOSTDOWN;
	} else {
		say(sd, "%s %s: %s", what, unit, strerror(r < 0 ? -r : EIO));
	}
	return r < 0 ? r : -EIO;
}

/* Processes the bus until done(bus, arg) is not 0 (<0: that error) or the
 * deadline: 0, -ETIMEDOUT or -errno. */
static int process_until(sd_bus *bus, uint64_t deadline, int (*done)(sd_bus *bus, void *arg), void *arg)
{
	for (;;) {
		int r = done(bus, arg);
		if (r != 0)
			return r < 0 ? r : 0;
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		uint64_t now = sg_now_usec();
		if (now >= deadline)
			return -ETIMEDOUT;
		r = sd_bus_wait(bus, deadline - now);
		if (r < 0)
			return r;
	}
}

static int bus_ready(sd_bus *bus, void *arg)
{
	(void)arg;
	return sd_bus_is_ready(bus);
}

int sg_sdbus_open(struct sg_sdbus *sd)
{
	uint64_t deadline = sg_now_usec() + SG_SDBUS_TIMEOUT_USEC;
	int r;

	sd->bus = NULL;
	sd->error[0] = '\0';
	r = sd_bus_open_system(&sd->bus);
	if (r >= 0)
		r = sd_bus_set_method_call_timeout(sd->bus, SG_SDBUS_TIMEOUT_USEC);
	/* sd-bus would wait for the authentication and Hello without end:
	 * drive them here, against the deadline. */
	if (r >= 0)
		r = process_until(sd->bus, deadline, bus_ready, NULL);
	if (r >= 0)
		return 0;
	say(sd, "cannot connect to the system bus: %s", strerror(-r));
	/* A bus socket that is not there is ENOENT, which must never read as
	 * systemd's NoSuchUnit ("nothing left to undo"). */
	return r == -ETIMEDOUT || r == -ENOMEM ? r : -ENOTCONN;
}

void sg_sdbus_close(struct sg_sdbus *sd)
{
	/* Not flushed: every call waited for its answer, and a flush would
	 * wait without end on a stuck bus. */
	sd->bus = sd_bus_close_unref(sd->bus);
}

/* The D-Bus interface that holds a unit kind's cgroup properties. */
static const char *unit_interface(const char *name)
{
	static const char *const kinds[][2] = {
		{ ".service", SYSTEMD ".Service" }, { ".scope", SYSTEMD ".Scope" },
		{ ".slice", SYSTEMD ".Slice" },     { ".socket", SYSTEMD ".Socket" },
		{ ".mount", SYSTEMD ".Mount" },     { ".swap", SYSTEMD ".Swap" },
	};
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t slen = strlen(kinds[i][0]);
		if (len > slen && strcmp(name + len - slen, kinds[i][0]) == 0)
			return kinds[i][1];
	}
	return NULL;
}

/* GetUnit: the unit's object path, into path. */
static int unit_path(struct sg_sdbus *sd, const char *unit, char *path, size_t len)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *object;
	int r;

	r = sd_bus_call_method(sd->bus, SYSTEMD, MANAGER_PATH, MANAGER, "GetUnit", &error, &reply, "s", unit);
	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &object);
	if (r >= 0 && sg_strlcpy(path, object, len) >= len)
		r = -ENAMETOOLONG;
	if (r < 0)
		r = failed(sd, "GetUnit", unit, r, &error);
	sd_bus_error_free(&error);
	sd_bus_message_unref(reply);
	return r < 0 ? r : 0;
}

/* A string property of the unit. */
static int unit_string(struct sg_sdbus *sd, const char *unit, const char *interface, const char *property,
		       char *value, size_t len)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	char path[256], what[96];
	char *text = NULL;
	int r;

	r = unit_path(sd, unit, path, sizeof(path));
	if (r < 0)
		return r;
	r = sd_bus_get_property_string(sd->bus, SYSTEMD, path, interface, property, &error, &text);
	if (r >= 0 && sg_strlcpy(value, text, len) >= len)
		r = -ENAMETOOLONG;
	if (r < 0) {
		snprintf(what, sizeof(what), "Get %s of", property);
		r = failed(sd, what, unit, r, &error);
	}
	sd_bus_error_free(&error);
	free(text);
	return r < 0 ? r : 0;
}

int sg_sdbus_control_group(struct sg_sdbus *sd, const char *unit, char *cgroup, size_t len)
{
	const char *interface = unit_interface(unit);

	if (!interface) {
		say(sd, "%s: not a unit with a cgroup (service, scope, slice, socket, mount, swap)", unit);
		return -EINVAL;
	}
	return unit_string(sd, unit, interface, "ControlGroup", cgroup, len);
}

int sg_sdbus_active_state(struct sg_sdbus *sd, const char *unit, char *state, size_t len)
{
	return unit_string(sd, unit, UNIT_IFACE, "ActiveState", state, len);
}

int sg_sdbus_freezer_state(struct sg_sdbus *sd, const char *unit, char *state, size_t len)
{
	return unit_string(sd, unit, UNIT_IFACE, "FreezerState", state, len);
}

int sg_sdbus_freeze(struct sg_sdbus *sd, const char *unit, bool freeze)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	const char *method = freeze ? "FreezeUnit" : "ThawUnit";
	int r = sd_bus_call_method(sd->bus, SYSTEMD, MANAGER_PATH, MANAGER, method, &error, NULL, "s", unit);

	if (r < 0)
		r = failed(sd, method, unit, r, &error);
	sd_bus_error_free(&error);
	return r < 0 ? r : 0;
}

int sg_sdbus_kill(struct sg_sdbus *sd, const char *unit, int sig)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r = sd_bus_call_method(sd->bus, SYSTEMD, MANAGER_PATH, MANAGER, "KillUnit", &error, NULL, "ssi", unit,
				   "all", (int32_t)sig);

	if (r < 0)
		r = failed(sd, "KillUnit", unit, r, &error);
	sd_bus_error_free(&error);
	return r < 0 ? r : 0;
}

int sg_sdbus_io_limits(struct sg_sdbus *sd, const char *unit, const char *property, sg_sdbus_limit_fn fn,
		       void *userdata)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *interface = unit_interface(unit), *device;
	char path[256], what[96];
	uint64_t value;
	int r;

	if (!interface) {
		say(sd, "%s: not a unit with a cgroup", unit);
		return -EINVAL;
	}
	r = unit_path(sd, unit, path, sizeof(path));
	if (r < 0)
		return r;
	r = sd_bus_get_property(sd->bus, SYSTEMD, path, interface, property, &error, &reply, "a(st)");
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "(st)");
	while (r >= 0 && (r = sd_bus_message_read(reply, "(st)", &device, &value)) > 0)
		if ((r = fn(device, value, userdata)) != 0)
			break;
	if (r < 0) {
		snprintf(what, sizeof(what), "Get %s of", property);
		r = failed(sd, what, unit, r, &error);
	}
	sd_bus_error_free(&error);
	sd_bus_message_unref(reply);
	return r < 0 ? r : 0;
}

int sg_sdbus_set_io_limits(struct sg_sdbus *sd, const char *unit, const char *device,
			   const char *const *properties, const uint64_t *values, size_t n)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL;
	int r;

	r = sd_bus_message_new_method_call(sd->bus, &m, SYSTEMD, MANAGER_PATH, MANAGER, "SetUnitProperties");
	if (r >= 0)
		r = sd_bus_message_append(m, "sb", unit, 1);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(sv)");
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = sd_bus_message_append(m, "(sv)", properties[i], "a(st)", 1u, device, values[i]);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_call(sd->bus, m, 0, &error, NULL);
	if (r < 0)
		r = failed(sd, "SetUnitProperties", unit, r, &error);
	sd_bus_error_free(&error);
	sd_bus_message_unref(m);
	return r < 0 ? r : 0;
}

struct job_wait {
	char job[256];   /* the job to wait for, "" until the start call returned */
	char result[32]; /* its result, "" until JobRemoved said it */
};

/* JobRemoved(id, job, unit, result). */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct job_wait *wait = userdata;
	const char *job, *unit, *result;
	uint32_t id;

	(void)error;
	if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0 && wait->job[0] &&
	    strcmp(job, wait->job) == 0)
		sg_strlcpy(wait->result, result, sizeof(wait->result));
	return 0;
}

static int job_removed(sd_bus *bus, void *arg)
{
	const struct job_wait *wait = arg;

	(void)bus;
	return wait->result[0] != '\0';
}

static int attach(struct sg_sdbus *sd, const char *scope, const pid_t *pids, size_t n)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL;
	int r;

	r = sd_bus_message_new_method_call(sd->bus, &m, SYSTEMD, MANAGER_PATH, MANAGER, "AttachProcessesToUnit");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", scope, "");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'u', pids, n * sizeof(*pids));
	if (r >= 0)
		r = sd_bus_call(sd->bus, m, 0, &error, NULL);
	if (r < 0)
		r = failed(sd, "AttachProcessesToUnit", scope, r, &error);
	sd_bus_error_free(&error);
	sd_bus_message_unref(m);
	return r < 0 ? r : 0;
}

int sg_sdbus_scope(struct sg_sdbus *sd, const char *scope, const char *description, const pid_t *pids,
		   size_t n)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_slot *slot = NULL;
	struct job_wait wait = { "", "" };
	const char *job;
	int r;

	_Static_assert(sizeof(pid_t) == sizeof(uint32_t), "PIDs is an array of u32");
	/* Before the call, so that the job's end cannot be missed. */
	r = sd_bus_match_signal(sd->bus, &slot, NULL, MANAGER_PATH, MANAGER, "JobRemoved", on_job_removed, &wait);
	if (r < 0) {
		say(sd, "cannot watch systemd's jobs: %s", strerror(-r));
		return r;
	}
	r = sd_bus_message_new_method_call(sd->bus, &m, SYSTEMD, MANAGER_PATH, MANAGER, "StartTransientUnit");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", scope, "fail");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'r', "sv");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", "PIDs");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'v', "au");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'u', pids, n * sizeof(*pids));
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Slice", "s", SG_SDBUS_SLICE, "Description", "s",
					  description, "Delegate", "b", 1, "CollectMode", "s", "inactive-or-failed");
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_append(m, "a(sa(sv))", 0u);
	if (r >= 0)
		r = sd_bus_call(sd->bus, m, 0, &error, &reply);
	if (r < 0 && sd_bus_error_has_name(&error, SYSTEMD ".UnitExists")) {
		r = attach(sd, scope, pids, n);
		goto out;
	}
	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &job);
	if (r < 0) {
		r = failed(sd, "StartTransientUnit", scope, r, &error);
		goto out;
	}
	sg_strlcpy(wait.job, job, sizeof(wait.job));
	r = process_until(sd->bus, sg_now_usec() + SG_SDBUS_TIMEOUT_USEC, job_removed, &wait);
	if (r < 0) {
		say(sd, "StartTransientUnit %s: waiting for job %s: %s", scope, wait.job, strerror(-r));
		goto out;
	}
	if (strcmp(wait.result, "done") != 0) {
		say(sd, "StartTransientUnit %s: job %s ended with result \"%s\"", scope, wait.job, wait.result);
		r = -EIO;
	}
out:
	sd_bus_error_free(&error);
	sd_bus_message_unref(m);
	sd_bus_message_unref(reply);
	sd_bus_slot_unref(slot);
	return r < 0 ? r : 0;
}
