#!/bin/bash
# The guardian acting for real on a real process tree in a cgroup of the
# unified mount: a soft lockup record (held for 60 s) climbs the whole ladder
# at step_after intervals: ionice, io.max (v1 blkio here), freeze, kill, each
# checked on the system. Then: killed with SIGKILL while the job is frozen
# and throttled, a new guardian undoes both within a tick; SIGTERM reverts
# everything; `stallguard revert` does the same from the journal alone.
. "$(dirname "$0")/common.bash"
need_root
# The v1 blkio twin goes last, once the job's processes are gone.
on_exit "rmdir /sys/fs/cgroup/blkio/stallguard-it-$$-ladder"
make_cgroup ladder
blkio=/sys/fs/cgroup/blkio$CG_REL
whole_disk_of /

mkfifo "$TMP/kmsg"
write_config() { # $1 = steps (one per line), $2 = on_exit
	cat >"$TMP/sg.ini" <<INI
[guardian]
interval = 100ms
kmsg = $TMP/kmsg
state_dir = $TMP/state
capture_dir = $TMP/captures
kill_grace = 1s
on_exit = ${2:-revert}

[job tree]
cgroup = $CG_REL
device = $disk

[rule lockup]
when = kmsg.soft_lockup within 60s
job = tree
$1
step_after = 1s
recover_after = 60s
INI
}

# A tree of three sleepers in the job's cgroup.
start_tree() {
	sh -c "echo \$\$ > '$CG/cgroup.procs'; sleep 600 & sleep 600 & exec sleep 600" &
	tree_pid=$!
	on_exit "kill $tree_pid"
	for _ in $(seq 50); do [ "$(wc -l <"$CG/cgroup.procs")" -ge 3 ] && return; sleep 0.05; done
	fail "the tree did not start"
}

start_guardian() {
	coproc GUARD { exec "$SG" run -c "$TMP/sg.ini" 2>&1; }
	guard_pid=$GUARD_PID
	on_exit "kill -9 $guard_pid"
	exec 3<>"$TMP/kmsg"
}

# Reads guardian lines until one matches $1 (within $2 s); fails otherwise.
expect_line() {
	local line deadline=$((SECONDS + ${2:-5}))
	while ((SECONDS <= deadline)) && read -r -t "${2:-5}" line <&"${GUARD[0]}"; do
		echo "  guardian: $line"
		case "$line" in $1) return 0 ;; esac
	done
	fail "no line like '$1'"
}

ioprio_class() { # idle, best-effort, none, realtime
	ionice -p "$1" | cut -d: -f1
}

echo "-- the whole ladder"
write_config $'step = ionice idle\nstep = io.max wbps=10M\nstep = freeze\nstep = kill'
start_tree
member=$(head -1 "$CG/cgroup.procs")
start_guardian
expect_line "*stallguard *rules*"
printf '0,1,%s,-;watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [spin:1]\n' "$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)" >&3
t0=$SECONDS
expect_line '*lockup: done: ionice idle*'
[ "$(ioprio_class "$member")" = idle ] || fail "job not idle after ionice: $(ionice -p "$member")"
expect_line '*lockup: done: io.max wbps=10M*' 3
grep -q "^$devno 10485760\$" "$blkio/blkio.throttle.write_bps_device" ||
	fail "no 10M write limit in $blkio: $(cat "$blkio/blkio.throttle.write_bps_device")"
expect_line '*lockup: done: freeze*' 3
grep -qx "frozen 1" "$CG/cgroup.events" || fail "not frozen: $(cat "$CG/cgroup.events")"
expect_line '*lockup: done: kill*' 3
grep -qx "populated 0" "$CG/cgroup.events" || fail "still populated after kill"
elapsed=$((SECONDS - t0))
((elapsed >= 2 && elapsed <= 6)) || fail "the ladder took ${elapsed}s, expected about 3 (step_after 1s)"
# At the top of the ladder: three reversible steps journaled (a kill is not).
"$SG" status -c "$TMP/sg.ini" | grep -q "3 steps applied" || fail "status: $("$SG" status -c "$TMP/sg.ini")"
kill -TERM "$guard_pid"; wait "$guard_pid"
grep -q "^$devno" "$blkio/blkio.throttle.write_bps_device" && fail "SIGTERM left the io.max limit"
# One bundle, taken before the first action of the incident.
bundles=("$TMP"/captures/*-lockup)
[ "${#bundles[@]}" = 1 ] && [ -d "${bundles[0]}" ] || fail "expected one capture bundle, found: ${bundles[*]}"
[ "$(stat -c %a "${bundles[0]}")" = 700 ] || fail "bundle directory mode $(stat -c %a "${bundles[0]}")"
grep -q '"rule": *"lockup"' "${bundles[0]}/incident.json" || fail "incident.json lacks the rule"
grep -q "soft lockup" "${bundles[0]}/kmsg.txt" || fail "kmsg.txt lacks the lockup record"
head -1 "${bundles[0]}/history.csv" | grep -q "psi.io.some.avg10" || fail "history.csv has no header"
[ "$(wc -l <"${bundles[0]}/history.csv")" -ge 2 ] || fail "history.csv has no rows"
echo "   ladder climbed in ${elapsed}s; SIGTERM left nothing applied"

echo "-- SIGKILL while frozen and throttled, then a new guardian"
write_config $'step = io.max wbps=10M\nstep = freeze'
start_tree
start_guardian
expect_line "*stallguard *rules*"
printf '0,2,%s,-;watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [spin:1]\n' "$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)" >&3
expect_line '*lockup: done: freeze*' 4
kill -KILL "$guard_pid"; wait "$guard_pid" 2>/dev/null
grep -qx "frozen 1" "$CG/cgroup.events" || fail "not frozen before the crash"
"$SG" status -c "$TMP/sg.ini" | tee "$TMP/status" | sed 's/^/  status: /'
grep -q '"freeze"' "$TMP/status" && grep -q '"io.max wbps=10M"' "$TMP/status" || fail "status does not list both steps"
# --json is the journal as the crashed guardian wrote it, its pid included.
"$SG" status --json -c "$TMP/sg.ini" | grep -q "\"pid\": $guard_pid\b" || fail "status --json lacks the guardian's pid $guard_pid"
start_guardian
expect_line '*reverted: freeze*' 3
expect_line '*reverted: io.max*' 3
grep -qx "frozen 0" "$CG/cgroup.events" || fail "still frozen after restart"
grep -q "^$devno" "$blkio/blkio.throttle.write_bps_device" && fail "still throttled after restart"
kill -TERM "$guard_pid"; wait "$guard_pid"

echo "-- a reload that removes the rule undoes what it applied"
write_config $'step = freeze'
start_guardian
expect_line "*stallguard *rules*"
printf '0,4,%s,-;watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [spin:1]\n' "$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)" >&3
expect_line '*lockup: done: freeze*' 3
grep -qx "frozen 1" "$CG/cgroup.events" || fail "not frozen before the reload"
sed -i 's/^\[rule lockup\]/[rule renamed]/' "$TMP/sg.ini"
kill -HUP "$guard_pid"
expect_line '*lockup: reverted: freeze*' 3
grep -qx "frozen 0" "$CG/cgroup.events" || fail "still frozen after the rule went away"
kill -TERM "$guard_pid"; wait "$guard_pid"

echo "-- stallguard revert from the journal alone"
write_config $'step = freeze' keep
start_guardian
expect_line "*stallguard *rules*"
printf '0,3,%s,-;watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [spin:1]\n' "$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)" >&3
expect_line '*lockup: done: freeze*' 3
kill -TERM "$guard_pid"; wait "$guard_pid"
grep -qx "frozen 1" "$CG/cgroup.events" || fail "on_exit = keep did not keep the freeze"
"$SG" revert -c "$TMP/sg.ini" || fail "stallguard revert failed"
grep -qx "frozen 0" "$CG/cgroup.events" || fail "stallguard revert did not thaw"
"$SG" status -c "$TMP/sg.ini" | grep -q "0 steps applied" || fail "the journal is not empty after revert"
exit 0
