#!/bin/bash
# Reload against a running guardian. A valid new configuration takes over: a
# rule whose ladder changed is reverted and starts again, while an unchanged
# rule keeps its ladder (its journal entries and their times, its metrics
# counters, and no hook run twice). An invalid one is refused with FILE:LINE
# errors in the log, and the old configuration keeps running.
. "$(dirname "$0")/common.bash"
cd "$(dirname "$0")/../.."
need_root

mkdir -p "$TMP/hooks" "$TMP/metrics"
cat >"$TMP/hooks/rec" <<EOF2
#!/bin/sh
echo "\$1 \$STALLGUARD_RULE \$STALLGUARD_STEP" >>"$TMP/calls"
EOF2
chmod 0755 "$TMP/hooks/rec"
: >"$TMP/calls"

write_config() { # NAME STEP-OF-RULE-change [EXTRA LINES]
	local file=$TMP/$1.ini
	guardian_ini 50ms "$TMP/metrics/stallguard.prom" >"$file"
	cat >>"$file" <<EOF2
[rule keep]
when = load.1 >= 0
step = hook a
step = hook b
step_after = 300ms
recover_after = 1h
hook.a = $TMP/hooks/rec
hook.b = $TMP/hooks/rec
[rule change]
when = load.1 >= 0
step = hook $2
recover_after = 1h
hook.$2 = $TMP/hooks/rec
EOF2
	shift 2
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$file"
	chmod 0600 "$file"
}

# wait_for SECONDS DESCRIPTION 'SHELL CONDITION': until it holds (evaluated each time).
wait_for() {
	local limit=$1 what=$2 n
	for ((n = 0; n < limit * 10; n++)); do
		eval "$3" && return 0
		sleep 0.1
	done
	fail "$what (waited ${limit}s); calls: $(paste -sd, "$TMP/calls"); log: $(tail -3 "$TMP/log")"
}
calls() { grep -c "^$1\$" "$TMP/calls"; }
metric() { metric_in "$TMP/metrics/stallguard.prom" "$1"; }
printf '[guardian]\nstate_dir = %s/state\n' "$TMP" >"$TMP/status.ini"
status_lines() { "$SG" status -c "$TMP/status.ini" | grep -F "$1:"; }

write_config live c
"$SG" run -c "$TMP/live.ini" 2>"$TMP/log" &
guard=$!
on_exit "kill -KILL $guard"

wait_for 10 "the ladders did not climb" '[ "$(calls "apply keep hook b")" = 1 ] && [ "$(calls "apply change hook c")" = 1 ]'
wait_for 5 "metrics do not show keep at level 2" '[ "$(metric "stallguard_rule_level{rule=\"keep\"}")" = 2 ]'
keep_before=$(status_lines keep)
[ "$(printf '%s\n' "$keep_before" | wc -l)" = 2 ] || fail "keep has not 2 journal entries: $keep_before"

# 1. A valid change: rule change gets another step, rule keep stays as it is.
write_config next d
cp "$TMP/next.ini" "$TMP/live.ini"
kill -HUP "$guard"
wait_for 10 "rule change did not start again with its new step" '[ "$(calls "apply change hook d")" = 1 ]'
[ "$(calls 'revert change hook c')" = 1 ] || fail "the changed rule's old step was not reverted: $(cat "$TMP/calls")"
grep -q "reloading $TMP/live.ini" "$TMP/log" || fail "no reload line in the log"
sleep 1 # rule keep would climb or step back within this if its ladder had been reset
[ "$(calls 'apply keep hook a')" = 1 ] && [ "$(calls 'apply keep hook b')" = 1 ] ||
	fail "rule keep was applied again after the reload: $(cat "$TMP/calls")"
grep -q '^revert keep' "$TMP/calls" && fail "rule keep was reverted by the reload: $(cat "$TMP/calls")"
[ "$(status_lines keep)" = "$keep_before" ] || fail "keep's journal changed: '$keep_before' -> '$(status_lines keep)'"
wait_for 5 "metrics lost keep's level" '[ "$(metric "stallguard_rule_level{rule=\"keep\"}")" = 2 ]'
[ "$(metric 'stallguard_actions_total{rule="keep",step="hook b"}')" = 1 ] || fail "keep's counter was not carried: $(grep actions_total "$TMP/metrics/stallguard.prom")"
[ "$(metric 'stallguard_actions_total{rule="change",step="hook d"}')" = 1 ] || fail "no counter for the new step"

# 2. An invalid file (two errors, and a new rule that must not appear).
write_config bad e "step_after = soon" "[rule extra]" "when = nosuch.signal >= 1" "step = capture"
cp "$TMP/bad.ini" "$TMP/live.ini"
bad_step_after=$(grep -n "^step_after = soon" "$TMP/live.ini" | cut -d: -f1)
bad_when=$(grep -n '^when = nosuch' "$TMP/live.ini" | cut -d: -f1)
kill -HUP "$guard"
wait_for 5 "the invalid file was not refused" 'grep -q "reload refused: the running configuration stays" "$TMP/log"'
grep -q "^error: $TMP/live.ini:$bad_step_after: bad step_after" "$TMP/log" ||
	fail "no FILE:LINE error for line $bad_step_after: $(grep error: "$TMP/log" | tail -3)"
grep -q "^error: $TMP/live.ini:$bad_when: " "$TMP/log" || fail "no FILE:LINE error for line $bad_when"
kill -0 "$guard" || fail "the guardian died on an invalid reload"
ticks=$(metric stallguard_ticks_total)
wait_for 5 "the old configuration does not tick on" '[ "$(metric stallguard_ticks_total)" -gt "$ticks" ]'
grep -q 'rule="extra"' "$TMP/metrics/stallguard.prom" && fail "the refused rule appears in the metrics"
[ "$(calls 'apply change hook e')" = 0 ] || fail "the refused configuration acted"
[ "$(status_lines keep)" = "$keep_before" ] || fail "keep's journal changed on a refused reload"

kill -TERM "$guard"
wait "$guard"
rc=$?
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc"
for c in 'revert keep hook b' 'revert keep hook a' 'revert change hook d'; do
	[ "$(calls "$c")" = 1 ] || fail "'$c' not run once at exit: $(cat "$TMP/calls")"
done
exit 0
