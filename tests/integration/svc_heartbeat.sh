#!/bin/bash
# The heartbeat: a real executable that records its calls is run every
# heartbeat_interval with `heartbeat` and the guardian's status line, and no
# more once the guardian stops. A heartbeat that hangs (with a child of its
# own) never stalls the tick: the loop goes on ticking, the beat is killed
# with its process group at its timeout (hook_timeout, or the interval when
# shorter), and the next beat is run again.
. "$(dirname "$0")/common.bash"
cd "$(dirname "$0")/../.."
need_root

mkdir -p "$TMP/hooks"
cat >"$TMP/hooks/beat" <<EOF2
#!/bin/sh
echo "\$1|\$STALLGUARD_STATUS|\$STALLGUARD_DRY_RUN|\$(date +%s.%N)" >>"$TMP/beats"
EOF2
cat >"$TMP/hooks/hang" <<EOF2
#!/bin/sh
echo "start \$\$" >>"$TMP/hangs"
sleep 300 &
echo "child \$!" >>"$TMP/hangs"
wait
EOF2
chmod 0755 "$TMP/hooks/beat" "$TMP/hooks/hang"

config() { # FILE HOOK INTERVAL TIMEOUT
	guardian_ini 50ms "$TMP/stallguard.prom" >"$1"
	cat >>"$1" <<EOF2
heartbeat = $TMP/hooks/$2
heartbeat_interval = $3
hook_timeout = $4
[rule quiet]
when = load.1 >= 100000
step = capture
EOF2
	chmod 0600 "$1"
}
metric() { metric_in "$TMP/stallguard.prom" "$1"; }
stop() { # PID
	kill -TERM "$1"
	wait "$1"
	local rc=$?
	[ "$rc" = 0 ] || fail "SIGTERM: exit $rc; log: $(tail -3 "$TMP/log")"
}

# 1. Beats every second, with the status line, the first one at once.
config "$TMP/beat.ini" beat 1s 10s
start=$(date +%s.%N)
"$SG" run -c "$TMP/beat.ini" 2>"$TMP/log" &
guard=$!
on_exit "kill -KILL $guard"
sleep 3.5
stop "$guard"
n=$(wc -l <"$TMP/beats")
[ "$n" -ge 3 ] && [ "$n" -le 5 ] || fail "$n beats in 3.5 s at a 1 s interval: $(cat "$TMP/beats")"
IFS='|' read -r verb status dry first <"$TMP/beats"
[ "$verb" = heartbeat ] || fail "the heartbeat was run with '$verb', not 'heartbeat'"
[ "$status" = "watching: 1 rule at rest" ] || fail "STALLGUARD_STATUS was '$status'"
[ "$dry" = 0 ] || fail "STALLGUARD_DRY_RUN was '$dry'"
awk -v s="$start" -v f="$first" 'BEGIN { exit !(f - s < 1.0) }' || fail "the first beat came $(awk -v s="$start" \
	-v f="$first" 'BEGIN { print f - s }') s after start, not at once"
sleep 1.5
[ "$(wc -l <"$TMP/beats")" = "$n" ] || fail "beats went on after the guardian stopped"

# 2. A beat that hangs: killed at hook_timeout with its child, ticks go on.
config "$TMP/hang.ini" hang 2s 1s
"$SG" run -c "$TMP/hang.ini" 2>"$TMP/log" &
guard=$!
on_exit "kill -KILL $guard"
for _ in $(seq 50); do [ -s "$TMP/stallguard.prom" ] && grep -q '^child' "$TMP/hangs" 2>/dev/null && break; sleep 0.1; done
ticks0=$(metric stallguard_ticks_total)
[ -n "$ticks0" ] || fail "no metrics file"
on_exit "kill -KILL $(awk '{ print $2 }' "$TMP/hangs" | paste -sd' ')"
sleep 3.2
ticks1=$(metric stallguard_ticks_total)
# 50 ms ticks for 3.2 s: at least half of them, though a heartbeat hung all along.
[ "$((ticks1 - ticks0))" -ge 32 ] || fail "only $((ticks1 - ticks0)) ticks in 3.2 s while the heartbeat hung"
grep -q "^warning: heartbeat: killed after 1s timeout" "$TMP/log" ||
	fail "the hung heartbeat was not killed at its timeout: $(grep heartbeat "$TMP/log" | head -3)"
grep -q "^heartbeat $TMP/hooks/hang failed: Connection timed out: the switch may not hear" "$TMP/log" ||
	fail "no 'heartbeat ... failed' line for the killed beat"
[ "$(grep -c '^start' "$TMP/hangs")" = 2 ] || fail "not 2 beats in 3.2 s at a 2 s interval: $(cat "$TMP/hangs")"
for pid in $(awk '/^(start|child)/ { print $2 }' "$TMP/hangs" | head -2); do
	kill -0 "$pid" 2>/dev/null && fail "process $pid of the first hung heartbeat survived its timeout"
done
stop "$guard"
exit 0
