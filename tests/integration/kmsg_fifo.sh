#!/bin/bash
# The guardian in dry-run reads a FIFO of kernel-facility kmsg records and
# decides on a soft lockup within 100 ms of the write. User-facility records
# with the same text, junk and a clock-bug lockup must not make it decide.
. "$(dirname "$0")/common.bash"

mkfifo "$TMP/kmsg"
cat >"$TMP/sg.ini" <<INI
[guardian]
interval = 1s
kmsg = $TMP/kmsg
state_dir = $TMP/state
capture_dir = $TMP/captures

[rule lockup]
when = kmsg.soft_lockup within 120s
step = capture
recover_after = 5m
INI

coproc GUARD { exec "$SG" run -c "$TMP/sg.ini" --dry-run 2>&1; }
guard_pid=$GUARD_PID # bash unsets GUARD_PID when the process ends
on_exit "kill $guard_pid"
exec 3>"$TMP/kmsg"   # our writer end, held open for the whole test

# Wait until the guardian is up.
while read -r -t 5 line <&"${GUARD[0]}"; do
	echo "  guardian: $line"
	case "$line" in *"stallguard "*rules*) break ;; esac
done || fail "guardian did not start"

expect_quiet() { # $1 = what was written; no decision may follow within 0.5 s
	if read -r -t 0.5 line <&"${GUARD[0]}"; then
		case "$line" in
		*"would apply"*) fail "decided on $1: $line" ;;
		*) echo "  guardian: $line" ;;
		esac
	fi
}

# User-space facility (LOG_USER = 1 << 3) with lockup wording: not a kernel event.
printf '14,1,1000,-;watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [fake:1]\n' >&3
expect_quiet "a user-facility record"
# Junk, 8 KiB of it, then a partial header.
head -c 8192 /dev/urandom | tr -d '\n' | tr '\0' x >&3; printf '\n0,2,\n' >&3
skipped=""
while read -r -t 0.5 line <&"${GUARD[0]}"; do
	echo "  guardian: $line"
	case "$line" in
	*"would apply"*) fail "decided on junk: $line" ;;
	*"malformed record(s) skipped"*) skipped=1 ;;
	esac
done
[ -n "$skipped" ] || fail "junk was skipped without a log line"
# A soft lockup "stuck for" longer than the uptime is a clock bug, not a lockup.
printf '0,3,2000,-;BUG: soft lockup - CPU#20 stuck for 17163091968s! [kvm:10666]\n' >&3
while read -r -t 0.5 line <&"${GUARD[0]}"; do
	echo "  guardian: $line"
	case "$line" in *"would apply"*) fail "a clock bug counted as a soft lockup: $line" ;; esac
done

t0=$(now_ms)
printf '0,4,14206553,-;watchdog: BUG: soft lockup - CPU#1 stuck for 11s! [my worker: 2/1:89]\n' >&3
decided=""
while read -r -t 2 line <&"${GUARD[0]}"; do
	t1=$(now_ms)
	echo "  guardian: $line"
	case "$line" in *'lockup: would apply "capture"'*) decided=$line; break ;; esac
done
[ -n "$decided" ] || fail "no decision within 2 s of the soft lockup record"
latency=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "  decision $latency ms after the write"
awk -v l="$latency" 'BEGIN { exit !(l < 100) }' || fail "decision took $latency ms (limit 100 ms)"
case "$decided" in *"kmsg.soft_lockup"*) ;; *) fail "reason does not name the event: $decided" ;; esac
exit 0
