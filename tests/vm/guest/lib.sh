# shellcheck shell=sh
# Shell helpers for the test bed's guests (tests/vm), busybox ash and dash
# alike: run a scenario under its time limit (vm_run_scenario, used by both
# boot modes), and the scenario scripts' own helpers (figure, pass, fail,
# the guardian started and watched). /vm/guest-env sets SCENARIO and TIMEOUT.
VM_LOGS=/run/vm
mkdir -p "$VM_LOGS"

# Runs /scenario/run as the driver expects: output on the console and in
# /out/run.log, killed at TIMEOUT seconds (then "VM-TIMEOUT" is printed),
# /run/vm copied to /out afterwards, and the kernel log kept as /out/dmesg.txt.
vm_run_scenario() {
	echo "VM-START $SCENARIO"
	cd /scenario || echo "vm: no /scenario"
	(
		timeout -s KILL "$TIMEOUT" /scenario/run
		rc=$?
		[ "$rc" = 137 ] && echo "VM-TIMEOUT after ${TIMEOUT}s"
	) 2>&1 | tee /out/run.log
	cp -r "$VM_LOGS"/. /out/ 2>/dev/null
	dmesg >/out/dmesg.txt
	sync
	echo "VM-END $SCENARIO"
}

# Seconds since boot, with hundredths.
now() { cut -d' ' -f1 /proc/uptime; }

figure() { echo "FIGURE $1=$2"; }

# One verdict per scenario: the first one wins, later calls only exit.
VM_VERDICT=
pass() {
	[ -z "$VM_VERDICT" ] && VM_VERDICT=PASS && echo "VERDICT PASS"
	exit 0
}
fail() {
	[ -z "$VM_VERDICT" ] && VM_VERDICT=FAIL && echo "VERDICT FAIL $*"
	exit 1
}

# Cleanup commands, run newest first at exit (pass and fail included).
VM_CLEANUPS=
on_exit() { VM_CLEANUPS="$*
$VM_CLEANUPS"; }
vm_cleanup() {
	# Not a pipeline: `wait` must run in the shell whose children it waits for.
	while IFS= read -r _c; do
		[ -n "$_c" ] && eval "$_c" >/dev/null 2>&1
	done <<CLEANUPS
$VM_CLEANUPS
CLEANUPS
}
trap vm_cleanup EXIT

# Starts the guardian on CONFIG, its log in /run/vm/guardian.log (copied
# back to /out) and, each line after the uptime it was read at, in
# /run/vm/guardian.stamped; GUARD_PID is its pid. Fails when it does not
# come up.
GUARD_LOG=$VM_LOGS/guardian.log
GUARD_STAMPED=$VM_LOGS/guardian.stamped
stamp_lines() {
	while IFS= read -r _line; do
		read -r _up _ </proc/uptime
		printf '%s %s\n' "$_up" "$_line" >>"$GUARD_STAMPED"
		printf '%s\n' "$_line" >>"$GUARD_LOG"
	done
}
start_guardian() {
	stallguard check -c "$1" >"$VM_LOGS/check.txt" 2>&1 || fail "stallguard check $1: $(tail -1 "$VM_LOGS/check.txt")"
	rm -f "$VM_LOGS/guardian.fifo"
	mkfifo "$VM_LOGS/guardian.fifo"
	stamp_lines <"$VM_LOGS/guardian.fifo" &
	STAMPER_PID=$!
	stallguard run -c "$1" >"$VM_LOGS/guardian.fifo" 2>&1 &
	GUARD_PID=$!
	on_exit "kill -TERM $GUARD_PID"
	sleep 1
	kill -0 "$GUARD_PID" 2>/dev/null || fail "the guardian exited at start: $(tail -3 "$GUARD_LOG" | tr '\n' ' ')"
}

# Stops the guardian with SIGTERM (it reverts what it applied) and waits
# for it and for the rest of its log.
stop_guardian() {
	kill -TERM "$GUARD_PID" 2>/dev/null
	wait "$GUARD_PID"
	wait "$STAMPER_PID"
}

# wait_log PATTERN SECONDS [FROM]: waits for a guardian log line matching
# the extended regex PATTERN, counting only lines after line FROM (default
# 0); sets LOG_LINE, LOG_LINENO and LOG_AT (the uptime at which the line was
# written). Fails the scenario when none comes in time.
wait_log() {
	_deadline=$(awk -v n="$(now)" -v s="$2" 'BEGIN { print n + s }')
	while :; do
		_hit=$(WAIT_RE=$1 awk -v from="${3:-0}" 'NR > from && $0 ~ ENVIRON["WAIT_RE"] { print NR ":" $0; exit }' "$GUARD_LOG")
		if [ -n "$_hit" ]; then
			LOG_LINENO=${_hit%%:*}
			LOG_LINE=${_hit#*:}
			LOG_AT=$(sed -n "${LOG_LINENO}s/ .*//p" "$GUARD_STAMPED")
			echo "  guardian line $LOG_LINENO at ${LOG_AT}s: $LOG_LINE"
			return 0
		fi
		awk -v n="$(now)" -v d="$_deadline" 'BEGIN { exit !(n > d) }' && fail "no guardian line like /$1/ within $2 s"
		sleep 0.2
	done
}

# wait_capture RULE SECONDS [FROM]: the guardian's "RULE: capture DIR taken in
# N ms (budget B ms)" line after line FROM, then, the bundle being stored by
# the capture writer after the step, its "capture DIR: stored in" line. Sets
# BUNDLE and CAPTURE_MS; LOG_LINE, LOG_LINENO and LOG_AT stay those of the
# taken line.
wait_capture() {
	wait_log "^$1: capture /run/vm/captures/[^ ]*-$1 taken in [0-9]+ ms \\(budget [0-9]+ ms\\)" "$2" "${3:-0}"
	BUNDLE=$(echo "$LOG_LINE" | sed 's/^[^ ]*: capture \([^ ]*\) taken in .*/\1/')
	CAPTURE_MS=$(echo "$LOG_LINE" | sed 's/.* taken in \([0-9]*\) ms.*/\1/')
	_taken="$LOG_LINE|$LOG_LINENO|$LOG_AT"
	wait_log "^capture $BUNDLE: stored in [0-9]+ ms" 30 "$LOG_LINENO"
	LOG_LINE=${_taken%%|*}
	_taken=${_taken#*|}
	LOG_LINENO=${_taken%%|*}
	LOG_AT=${_taken#*|}
}

# gap A B: B - A, one decimal.
gap() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# within VALUE LO HI: true when LO <= VALUE <= HI.
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# What a bundle's incident.json says of the BPF flight recorder.
recorder_of() { grep -o '"recorder"[^,}]*' "$1/incident.json"; }
