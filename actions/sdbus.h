/* SPDX-License-Identifier: GPL-2.0-or-later */
/* systemd's manager over D-Bus (sd-bus, the system bus): what target
 * resolution asks of systemd (a unit's ControlGroup, a transient scope for
 * loose processes) and what the actions change through it (FreezeUnit,
 * ThawUnit, KillUnit, SetUnitProperties with runtime IO*Max). Where systemd
 * runs the host it owns the cgroups of its units: stallguard changes them
 * only through these calls, never by writing their files.
 *
 * A connection is opened for one step (apply, revert, or a resolution) and
 * closed after it: actions are rare, and a connection kept open would die
 * unnoticed with a restarted bus. Every call, and the connection's own
 * handshake, gives up after SG_SDBUS_TIMEOUT_USEC, so a stuck bus or a busy
 * systemd fails the step with -ETIMEDOUT instead of holding the guardian's
 * loop. A failed call fills sd->error with the method, the unit, and the
 * bus error's name and message, for the log line at the edge.
 *
 * Errors: -ENOENT when systemd has no such unit (NoSuchUnit), -EHOSTDOWN
 * when the unit is not active (UnitInactive), -ETIMEDOUT, -ENOTCONN when
 * the bus cannot be reached at all, else the errno sd-bus maps the error
 * to (-EIO for names it does not know). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-bus.h>

#define SG_SDBUS_TIMEOUT_USEC 1000000ULL /* each call, and connecting */
#define SG_SDBUS_SLICE "stallguard.slice" /* where transient scopes go */
#define SG_SDBUS_ERROR_MAX 384
#define SG_SDBUS_LIMIT_MAX UINT64_MAX /* an IO*Max value meaning no limit */

struct sg_sdbus {
	sd_bus *bus;
	char error[SG_SDBUS_ERROR_MAX]; /* the last failure, "" when none */
};

/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else
 * /run/dbus/system_bus_socket) and waits for its handshake. Returns 0,
 * -ETIMEDOUT, -ENOMEM or -ENOTCONN (sd->error says why); sg_sdbus_close is
 * needed either way. */
int sg_sdbus_open(struct sg_sdbus *sd);
void sg_sdbus_close(struct sg_sdbus *sd);

/* The unit's ControlGroup, relative to the cgroup root ("" when the unit
 * is loaded but runs nothing). The unit must be of a kind that has a
 * cgroup (service, scope, slice, socket, mount, swap): -EINVAL otherwise. */
int sg_sdbus_control_group(struct sg_sdbus *sd, const char *unit, char *cgroup, size_t len);

/* The unit's ActiveState ("active", "inactive", "failed", ...) or
 * FreezerState ("running", "frozen", ...). */
int sg_sdbus_active_state(struct sg_sdbus *sd, const char *unit, char *state, size_t len);
int sg_sdbus_freezer_state(struct sg_sdbus *sd, const char *unit, char *state, size_t len);

/* FreezeUnit or ThawUnit. */
int sg_sdbus_freeze(struct sg_sdbus *sd, const char *unit, bool freeze);

/* KillUnit(unit, "all", sig): every process of the unit. */
int sg_sdbus_kill(struct sg_sdbus *sd, const char *unit, int sig);

/* Calls fn for each (device, value) of the unit's property (IOReadBandwidthMax,
 * ...: systemd lists only devices with a limit). fn returns 0 to go on. */
typedef int (*sg_sdbus_limit_fn)(const char *device, uint64_t value, void *userdata);
int sg_sdbus_io_limits(struct sg_sdbus *sd, const char *unit, const char *property, sg_sdbus_limit_fn fn,
		       void *userdata);

/* SetUnitProperties(unit, runtime=true, [(properties[i], [(device, values[i])])]):
 * one limit per property on one device; SG_SDBUS_LIMIT_MAX removes it. */
int sg_sdbus_set_io_limits(struct sg_sdbus *sd, const char *unit, const char *device,
			   const char *const *properties, const uint64_t *values, size_t n);

/* Puts pids into the transient scope `scope` under SG_SDBUS_SLICE:
 * StartTransientUnit (PIDs, Slice, Description, Delegate, CollectMode) and
 * waits for its job's JobRemoved, which must say "done"; when the scope
 * exists already (an earlier step of the job), AttachProcessesToUnit. */
int sg_sdbus_scope(struct sg_sdbus *sd, const char *scope, const char *description, const pid_t *pids,
		   size_t n);
