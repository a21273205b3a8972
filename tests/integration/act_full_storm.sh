#!/bin/bash
# A real O_DIRECT storm in a job climbs the whole ladder, ionice, io.max,
# freeze, kill, one step per step_after, each checked on the system; once
# the storm is gone (killed) the ladder steps back down one reversible step
# per recover_after. The condition is the job's PSI avg10, which decays over
# about ten seconds, so it still holds while the job is frozen.
. "$(dirname "$0")/common.bash"
need_root
on_exit "rmdir /sys/fs/cgroup/blkio/stallguard-it-$$-full"
make_cgroup full
blkio=/sys/fs/cgroup/blkio$CG_REL
whole_disk_of /var/tmp
touch "$TMP/none"
cat >"$TMP/sg.ini" <<INI
[guardian]
interval = 250ms
kmsg = $TMP/none
state_dir = $TMP/state
capture_dir = $TMP/captures
kill_grace = 1s

[job storm]
cgroup = $CG_REL
device = $disk

[rule io-storm]
when = job.storm.psi.io.some.avg10 >= 20 for 1s
job = storm
step = ionice idle
step = io.max wbps=10M
step = freeze
step = kill
step_after = 2s
recover_after = 2s
INI

out="$(mktemp /var/tmp/stallguard-full.XXXXXX)"
on_exit "rm -f '$out'"
sh -c "echo \$\$ > '$CG/cgroup.procs'; exec dd if=/dev/zero of='$out' bs=1M count=1000000 oflag=direct status=none" &
dd_pid=$!
on_exit "kill $dd_pid"

coproc GUARD { exec "$SG" run -c "$TMP/sg.ini" 2>&1; }
guard_pid=$GUARD_PID
on_exit "kill -9 $guard_pid"

declare -A at
watch_for() { # pattern name timeout
	local line deadline=$((SECONDS + $3))
	while ((SECONDS <= deadline)) && read -r -t "$3" line <&"${GUARD[0]}"; do
		echo "  guardian: $line"
		case "$line" in $1) at[$2]=$EPOCHREALTIME; return 0 ;; esac
	done
	fail "no line like '$1'"
}
expect_gap() { # from to low high
	local g
	g=$(awk -v a="${at[$1]}" -v b="${at[$2]}" 'BEGIN { printf "%.1f", b - a }')
	awk -v g="$g" -v lo="$3" -v hi="$4" 'BEGIN { exit !(g >= lo && g <= hi) }' ||
		fail "$2 came ${g}s after $1, expected $3 to $4 s"
	echo "   $1 -> $2: ${g}s"
}

watch_for '*io-storm: done: ionice idle*' ionice 20
[ "$(ionice -p "$dd_pid" | cut -d: -f1)" = idle ] || fail "not idle"
watch_for '*io-storm: done: io.max wbps=10M*' iomax 6
grep -q "^$devno 10485760\$" "$blkio/blkio.throttle.write_bps_device" || fail "not throttled"
watch_for '*io-storm: done: freeze*' freeze 6
grep -qx "frozen 1" "$CG/cgroup.events" || fail "not frozen"
watch_for '*io-storm: done: kill*' kill 6
grep -qx "populated 0" "$CG/cgroup.events" || fail "the job is still there"
expect_gap ionice iomax 1.5 3.5
expect_gap iomax freeze 1.5 3.5
expect_gap freeze kill 1.5 3.5

# The storm is gone: the ladder steps down, kill passed over silently.
watch_for '*io-storm: reverted: freeze*' thaw 40
watch_for '*io-storm: reverted: io.max*' unthrottle 6
watch_for '*io-storm: reverted: ionice*' unidle 6
expect_gap thaw unthrottle 1.5 3.5
expect_gap unthrottle unidle 1.5 3.5
grep -q "^$devno" "$blkio/blkio.throttle.write_bps_device" && fail "the limit is still there"
"$SG" status -c "$TMP/sg.ini" | grep -q "0 steps applied" || fail "the journal still holds steps"
exit 0
