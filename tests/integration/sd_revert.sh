#!/bin/bash
# Steps taken through systemd, undone from the journal alone: a journal left
# with a unit frozen by FreezeUnit and limited by SetUnitProperties is
# reverted through systemd (ThawUnit, SetUnitProperties with the unit's
# previous value) by `stallguard revert`, and by `stallguard run` at start.
# systemd is the mock of tests/fixtures/sdbus on a private dbus-daemon; the
# unit's cgroup is this test's, which the mock thaws for real.
. "$(dirname "$0")/common.bash"
need_root

FIX=$(cd "$(dirname "$0")/../fixtures/sdbus" && pwd)
[ -x /usr/bin/dbus-daemon ] || fail "no /usr/bin/dbus-daemon (scripts/install-deps)"
make_cgroup sd
sleep 1000 &
worker=$!
on_exit "kill -9 $worker"
echo "$worker" >"$CG/cgroup.procs"

# the bus, then the mock systemd on it
exec 3> >(cat >"$TMP/address")
/usr/bin/dbus-daemon --config-file="$FIX/bus.conf" --nofork --print-address=3 \
	--address="unix:path=$TMP/bus" 2>/dev/null &
on_exit "kill $!"
exec 3>&-
for _ in $(seq 50); do [ -s "$TMP/address" ] && break; sleep 0.1; done
[ -s "$TMP/address" ] || fail "dbus-daemon did not start"
DBUS_SYSTEM_BUS_ADDRESS=$(head -1 "$TMP/address")
export DBUS_SYSTEM_BUS_ADDRESS
/usr/bin/python3 "$FIX/mock_systemd.py" --log "$TMP/calls" --unified "${CG%"$CG_REL"}" \
	--unit "backup.service=$CG_REL" >"$TMP/mock.out" 2>"$TMP/mock.err" &
on_exit "kill $!"
for _ in $(seq 100); do grep -q ready "$TMP/mock.out" && break; sleep 0.1; done
grep -q ready "$TMP/mock.out" || fail "the mock systemd did not start (python3-dbus, python3-gi): $(cat "$TMP/mock.err")"

mkdir -p "$TMP/state"
cat >"$TMP/sg.ini" <<EOF
[guardian]
state_dir = $TMP/state
capture_dir = $TMP/captures
[job backup]
unit = backup.service
[rule io-storm]
when = load.1 >= 100000
job = backup
step = io.max wbps=2M
step = freeze
EOF
chmod 0644 "$TMP/sg.ini"

# What a guardian that died left: the unit throttled, then frozen.
leave_journal() {
	cat >"$TMP/state/state.json" <<EOF
{"version": 1, "pid": 4242, "entries": [
 {"rule": "io-storm", "job": "backup", "step": "io.max wbps=2M", "kind": "io.max", "level": 1,
  "path": "backup.service", "data": "systemd /dev/sg-test-disk rbps=max wbps=104857600 riops=max wiops=max",
  "applied": true, "since": 1795393773},
 {"rule": "io-storm", "job": "backup", "step": "freeze", "kind": "freeze", "level": 2,
  "path": "backup.service", "data": "systemd", "applied": true, "since": 1795393774}
]}
EOF
	echo 1 >"$CG/cgroup.freeze"
	for _ in $(seq 100); do grep -qx "frozen 1" "$CG/cgroup.events" && break; sleep 0.01; done
	grep -qx "frozen 1" "$CG/cgroup.events" || fail "cannot freeze $CG"
	: >"$TMP/calls"
}

WANT="ThawUnit backup.service
GetUnit backup.service
Get backup.service org.freedesktop.systemd1.Unit FreezerState
SetUnitProperties backup.service true IOWriteBandwidthMax=/dev/sg-test-disk:104857600"

echo "-- stallguard revert"
leave_journal
out=$("$SG" revert -c "$TMP/sg.ini" 2>&1) || fail "stallguard revert failed: $out"
echo "$out" | sed 's/^/  /'
echo "$out" | grep -q "2 steps reverted, 0 failed" || fail "revert did not revert both steps"
[ "$(cat "$TMP/calls")" = "$WANT" ] || fail "systemd was called
$(cat "$TMP/calls")
expected
$WANT"
grep -qx "frozen 0" "$CG/cgroup.events" || fail "the unit's cgroup is still frozen"
"$SG" status -c "$TMP/sg.ini" | grep -q ": 0 steps applied" || fail "the journal is not empty after revert"

echo "-- stallguard run reconciles at start"
leave_journal
"$SG" run -c "$TMP/sg.ini" >"$TMP/run.log" 2>&1 &
guardian=$!
on_exit "kill -9 $guardian"
for _ in $(seq 100); do grep -q "reverted: io.max" "$TMP/run.log" && break; sleep 0.05; done
kill -TERM "$guardian"
wait "$guardian"
sed 's/^/  guardian: /' "$TMP/run.log"
grep -q "2 steps left applied by a previous run" "$TMP/run.log" || fail "run did not find the steps left"
grep -q "io-storm: reverted: freeze job backup (FreezeUnit backup.service)" "$TMP/run.log" || fail "no thaw at start"
grep -q "io-storm: reverted: io.max wbps=2M on job backup, /dev/sg-test-disk (systemd unit backup.service" \
	"$TMP/run.log" || fail "no io.max revert at start"
[ "$(cat "$TMP/calls")" = "$WANT" ] || fail "systemd was called
$(cat "$TMP/calls")
expected
$WANT"
grep -qx "frozen 0" "$CG/cgroup.events" || fail "the unit's cgroup is still frozen after the start"
echo "ok"
