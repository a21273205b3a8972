#!/bin/bash
# A real O_DIRECT write storm in a job's cgroup climbs ionice then io.max at
# step_after intervals, with the writer really demoted and really throttled;
# when the storm stops the ladder steps back down at recover_after
# intervals, and the writer is back as it was. A protected process that the
# same rule's match covers is never touched.
. "$(dirname "$0")/common.bash"
need_root
# The v1 blkio twin goes last, once the job's processes are gone.
on_exit "rmdir /sys/fs/cgroup/blkio/stallguard-it-$$-storm"
make_cgroup storm
blkio=/sys/fs/cgroup/blkio$CG_REL
whole_disk_of /var/tmp

cat >"$TMP/sg.ini" <<INI
[guardian]
interval = 250ms
kmsg = $TMP/none
state_dir = $TMP/state
capture_dir = $TMP/captures

[job storm]
cgroup = $CG_REL
device = $disk

[rule io-storm]
when = job.storm.psi.io.some.stall >= 20 for 1s
job = storm
step = ionice idle
step = io.max wbps=10M
step_after = 2s
recover_after = 2s
INI
touch "$TMP/none"

out="$(mktemp /var/tmp/stallguard-storm.XXXXXX)"
on_exit "rm -f '$out'"
sh -c "echo \$\$ > '$CG/cgroup.procs'; exec dd if=/dev/zero of='$out' bs=1M count=1000000 oflag=direct status=none" &
dd_pid=$!
on_exit "kill -CONT $dd_pid; kill $dd_pid"
sleep 0.3
[ "$(ionice -p "$dd_pid" | cut -d: -f1)" != idle ] || fail "the writer starts idle?"
before=$(ionice -p "$dd_pid")

coproc GUARD { exec "$SG" run -c "$TMP/sg.ini" 2>&1; }
guard_pid=$GUARD_PID
on_exit "kill -9 $guard_pid"

stamp() { awk -v s="$EPOCHREALTIME" 'BEGIN { printf "%.1f", s }'; }
declare -A at
watch_for() { # pattern name timeout
	local line deadline=$((SECONDS + $3))
	while ((SECONDS <= deadline)) && read -r -t "$3" line <&"${GUARD[0]}"; do
		echo "  guardian: $line"
		case "$line" in $1) at[$2]=$(stamp); return 0 ;; esac
	done
	fail "no line like '$1'"
}
gap() { awk -v a="${at[$1]}" -v b="${at[$2]}" 'BEGIN { printf "%.1f", b - a }'; }
within() { awk -v g="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(g >= lo && g <= hi) }'; }
rate_mib() { # MiB/s written by the writer over $1 s
	local a b
	a=$(awk '/^write_bytes/ { print $2 }' "/proc/$dd_pid/io")
	sleep "$1"
	b=$(awk '/^write_bytes/ { print $2 }' "/proc/$dd_pid/io")
	awk -v a="$a" -v b="$b" -v s="$1" 'BEGIN { printf "%.1f", (b - a) / s / 1048576 }'
}

watch_for '*io-storm: done: ionice idle*' ionice 10
[ "$(ionice -p "$dd_pid" | cut -d: -f1)" = idle ] || fail "not idle: $(ionice -p "$dd_pid")"
# The log says what the disk's scheduler makes of ionice.
case "$(cat "/sys/block/$disk/queue/scheduler")" in
*"[mq-deadline]"*) watch_for '*io-storm: disk*mq-deadline*classes only*' sched 2 ;;
*"[none]"* | *"[kyber]"*) watch_for '*io-storm: disk*ignores I/O priorities*' sched 2 ;;
esac
watch_for '*io-storm: done: io.max wbps=10M*' iomax 6
g=$(gap ionice iomax); within "$g" 1.5 3.5 || fail "io.max came ${g}s after ionice (step_after 2s)"
grep -q "^$devno 10485760\$" "$blkio/blkio.throttle.write_bps_device" || fail "no limit in blkio"
sleep 0.5
r=$(rate_mib 2)
echo "  throttled write rate: $r MiB/s (limit 10)"
awk -v r="$r" 'BEGIN { exit !(r <= 12) }' || fail "the writer runs at $r MiB/s under a 10 MiB/s limit"

# The storm stops: the writer is paused, nothing stalls any more.
kill -STOP "$dd_pid"
at[stop]=$(stamp)
watch_for '*io-storm: reverted: io.max*' unthrottle 8
watch_for '*io-storm: reverted: ionice*' unidle 6
g=$(gap unthrottle unidle); within "$g" 1.5 3.5 || fail "ionice came back ${g}s after io.max (recover_after 2s)"
g=$(gap stop unthrottle); within "$g" 1.5 4.5 || fail "io.max was lifted ${g}s after the storm stopped"
grep -q "^$devno" "$blkio/blkio.throttle.write_bps_device" && fail "the limit is still there"
[ "$(ionice -p "$dd_pid")" = "$before" ] || fail "ioprio is '$(ionice -p "$dd_pid")', was '$before'"
kill -CONT "$dd_pid"
r=$(rate_mib 1)
echo "  free write rate again: $r MiB/s"
awk -v r="$r" 'BEGIN { exit !(r > 30) }' || fail "the writer did not recover its speed ($r MiB/s)"
kill -TERM "$guard_pid"; wait "$guard_pid"

echo "-- a protected process that the rule's match also covers"
cat >"$TMP/prot.ini" <<INI
[guardian]
interval = 100ms
kmsg = $TMP/kmsg
state_dir = $TMP/state2
capture_dir = $TMP/captures2
protect = comm:sgtest-prot

[job loose]
match = comm:sgtest-prot
match = comm:sgtest-free

[rule hold]
when = kmsg.soft_lockup within 60s
job = loose
step = freeze
INI
mkfifo "$TMP/kmsg"
on_exit "rmdir /sys/fs/cgroup/unified/stallguard.jobs"
on_exit "kill_cgroup /sys/fs/cgroup/unified/stallguard.jobs/loose"
# A process's comm is its executable's name: copies of sleep under two names.
cp /bin/sleep "$TMP/sgtest-prot"
cp /bin/sleep "$TMP/sgtest-free"
"$TMP/sgtest-prot" 600 &
prot=$!
on_exit "kill -CONT $prot; kill $prot"
"$TMP/sgtest-free" 600 &
free=$!
on_exit "kill -CONT $free; kill $free"
sleep 0.2
[ "$(cat "/proc/$prot/comm")" = sgtest-prot ] && [ "$(cat "/proc/$free/comm")" = sgtest-free ] || fail "test processes not named"
coproc GUARD { exec "$SG" run -c "$TMP/prot.ini" 2>&1; }
guard_pid=$GUARD_PID
on_exit "kill -9 $guard_pid"
exec 3<>"$TMP/kmsg"
watch_for '*stallguard *rules*' up 5
printf '0,1,%s,-;watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [spin:1]\n' "$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)" >&3
watch_for '*hold: done: freeze*' frozen 5
sleep 0.3
state_of() { awk '{ print $3 }' "/proc/$1/stat"; }
grep -qx "$free" /sys/fs/cgroup/unified/stallguard.jobs/loose/cgroup.procs || fail "the matched process was not moved into stallguard's cgroup"
grep -qx "$prot" /sys/fs/cgroup/unified/stallguard.jobs/loose/cgroup.procs && fail "the protected process was moved"
grep -qx "frozen 1" /sys/fs/cgroup/unified/stallguard.jobs/loose/cgroup.events || fail "the job was not frozen"
[ "$(state_of "$prot")" = S ] || fail "the protected process is in state $(state_of "$prot")"
kill -TERM "$guard_pid"; wait "$guard_pid"
grep -qx "frozen 0" /sys/fs/cgroup/unified/stallguard.jobs/loose/cgroup.events || fail "not thawed at exit"
exit 0
