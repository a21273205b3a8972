#!/bin/bash
# Captures are taken in memory before acting, within capture_budget, and
# stored afterwards by the capture writer:
#  1. on a loaded machine (CPU spinners, a buffered writer, 400 extra
#     processes for the /proc scan) every capture of a five-capture ladder is
#     taken within the budget (200 ms), and stored;
#  2. with capture_dir on a full filesystem the ladder still acts (its hook
#     runs) and the log says the bundle could not be stored.
. "$(dirname "$0")/common.bash"
need_root

mkfifo "$TMP/kmsg"
cat >"$TMP/mark" <<'SH'
#!/bin/sh
echo "$1 $STALLGUARD_CAPTURE" >>"$(dirname "$0")/hook.log"
SH
chmod 0755 "$TMP/mark"

write_config() { # $1 = capture_dir, $2 = steps
	cat >"$TMP/sg.ini" <<INI
[guardian]
interval = 100ms
kmsg = $TMP/kmsg
state_dir = $TMP/state
capture_dir = $1
capture_budget = 200ms

[rule lockup]
when = kmsg.soft_lockup within 60s
$2
step_after = 300ms
recover_after = 60s
hook.mark = $TMP/mark
INI
}

start_guardian() {
	coproc GUARD { exec "$SG" run -c "$TMP/sg.ini" 2>&1; }
	guard_pid=$GUARD_PID
	on_exit "kill -9 $guard_pid"
	exec 3<>"$TMP/kmsg"
	read_until "*stallguard *rules*" 5
	printf '0,1,%s,-;watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [spin:1]\n' \
		"$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)" >&3
}

# Reads guardian lines into $TMP/log until one matches $1 (within $2 s).
read_until() {
	local line deadline=$((SECONDS + $2))
	while ((SECONDS < deadline)) && read -r -t $((deadline - SECONDS + 1)) line <&"${GUARD[0]}"; do
		echo "  guardian: $line"
		echo "$line" >>"$TMP/log"
		case "$line" in $1) return 0 ;; esac
	done
	fail "no line like '$1'"
}

echo "-- five captures on a loaded machine"
for _ in 1 2 3 4; do
	sh -c 'while :; do :; done' &
	on_exit "kill $!"
done
dd if=/dev/zero of="$TMP/fill" bs=1M count=100000 status=none 2>/dev/null &
on_exit "kill $!"
for _ in $(seq 400); do
	sleep 300 &
	on_exit "kill $!"
done
write_config "$TMP/captures" "$(printf 'step = capture\n%.0s' 1 2 3 4 5)"
start_guardian
for n in 1 2 3 4 5; do
	read_until "*lockup: capture * taken in * ms*" 10
done
# Stopping waits for the writer: every bundle is stored after it.
kill -TERM "$guard_pid"; wait "$guard_pid" 2>/dev/null
taken=$(sed -n 's/.*lockup: capture .* taken in \([0-9]*\) ms.*/\1/p' "$TMP/log")
[ "$(echo "$taken" | wc -l)" = 5 ] || fail "expected 5 captures taken, got: $taken"
max=$(echo "$taken" | sort -n | tail -1)
echo "   capture times under load (ms): $(echo $taken); max $max, budget 200"
((max <= 200)) || fail "a capture took $max ms before acting (budget 200 ms)"
bundles=("$TMP"/captures/*-lockup*)
[ "${#bundles[@]}" = 5 ] || fail "expected 5 bundles stored, found ${#bundles[@]}"
for b in "${bundles[@]}"; do
	[ -s "$b/tasks.txt" ] && [ -s "$b/incident.json" ] || fail "bundle $b is incomplete"
done

echo "-- capture_dir on a full filesystem: the ladder still acts"
: >"$TMP/log"
mkdir "$TMP/full"
mount -t tmpfs -o size=64k sg-full "$TMP/full" || fail "cannot mount a tmpfs"
on_exit "umount -l '$TMP/full'"
head -c 1M /dev/zero >"$TMP/full/filler" 2>/dev/null
write_config "$TMP/full/captures" $'step = capture\nstep = hook mark'
start_guardian
read_until "*lockup: done: hook mark*" 10
grep -q "^apply $TMP/full/captures/" "$TMP/hook.log" || fail "the hook did not run with the bundle's path"
grep -q "No space left on device" "$TMP/log" || read_until "*No space left on device*" 5
kill -TERM "$guard_pid"; wait "$guard_pid" 2>/dev/null
exit 0
