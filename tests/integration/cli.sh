#!/bin/bash
# The command line: exit codes, usage errors, `check` on the shipped and on a
# broken config (every error as FILE:LINE, all of them), `signals --json`,
# `doctor`, and SIGHUP reload of a running guardian (bad config refused).
. "$(dirname "$0")/common.bash"
cd "$(dirname "$0")/../.."

expect_exit() { # code, description, command...
	local want=$1 what=$2 got
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	[ "$got" = "$want" ] || fail "$what: exit $got, expected $want; stderr: $(head -3 "$TMP/err")"
}

expect_exit 0 "--version" "$SG" --version
grep -qx "stallguard $(cat VERSION)" "$TMP/out" || fail "--version printed '$(cat "$TMP/out")'"
expect_exit 0 "--help" "$SG" --help
grep -q "signals" "$TMP/out" || fail "--help does not list signals"
expect_exit 2 "no command" "$SG"
expect_exit 2 "unknown command" "$SG" frobnicate
grep -q "unknown command 'frobnicate'" "$TMP/err" || fail "unknown command message: $(cat "$TMP/err")"
expect_exit 2 "unknown option" "$SG" check --frob
expect_exit 2 "option of another command" "$SG" check --json
expect_exit 2 "missing option value" "$SG" signals --watch
expect_exit 2 "bad --watch" "$SG" signals --watch abc
expect_exit 2 "bad log level" "$SG" run --log-level loud
expect_exit 1 "missing config" "$SG" check -c "$TMP/nope.ini"
grep -q "nope.ini" "$TMP/err" || fail "missing config error does not name the file"

expect_exit 0 "check shipped config" "$SG" check -c etc/stallguard.ini
grep -q "ladder: 1 capture -> 2 ionice idle" "$TMP/out" || fail "check does not print the io-storm ladder"

cat >"$TMP/bad.ini" <<'INI'
[guardian]
interval = fast
[job backup]
cgroup = /backup
[rule one]
when = psi.io.full.avg10 >= 20 for 5s
job = nosuchjob
step = ionice idle
[rule two]
step = capture
[mystery]
INI
expect_exit 2 "broken config" "$SG" check -c "$TMP/bad.ini"
for want in "bad.ini:2:" "bad.ini:7:" "bad.ini:9:" "bad.ini:11:"; do
	grep -q "$want" "$TMP/err" || fail "check did not report $want; it said: $(cat "$TMP/err")"
done
[ "$(wc -l <"$TMP/err")" -ge 4 ] || fail "fewer than 4 errors reported"

: >"$TMP/empty.ini"
expect_exit 0 "signals --json" "$SG" signals --json -c "$TMP/empty.ini"
for key in '"psi.io.some.avg10":' '"tasks.blocked":' '"loop.lag":' '"kmsg":{"soft_lockup":'; do
	grep -qF "$key" "$TMP/out" || fail "signals --json lacks $key"
done
"$SG" doctor -c "$TMP/empty.ini" >"$TMP/out" 2>&1
case $? in 0 | 1) ;; *) fail "doctor exited $?" ;; esac
grep -qE '^(ok|info|warning|severe) +psi:' "$TMP/out" || fail "doctor has no psi finding: $(cat "$TMP/out")"

# A capture bundle by hand.
expect_exit 0 "capture -o" "$SG" capture -c "$TMP/empty.ini" -o "$TMP/bundles"
bundle=$(cat "$TMP/out")
[ -d "$bundle" ] && [ "$(stat -c %a "$bundle")" = 700 ] || fail "capture printed '$bundle', not a 0700 directory"
for f in incident.json history.csv psi.txt diskstats.txt meminfo.txt vmstat.txt tasks.txt kmsg.txt; do
	[ "$(stat -c %a "$bundle/$f" 2>/dev/null)" = 600 ] || fail "capture: $f missing or not 0600"
done
grep -q '"rule": *"manual"' "$bundle/incident.json" || fail "incident.json does not name the manual capture"
expect_exit 2 "capture -o relative" "$SG" capture -o relative/dir

# As root, a configuration others could have written is refused by `run`.
printf '[guardian]\nkmsg = %s\n' "$TMP/empty.ini" >"$TMP/open.ini"
chmod 0666 "$TMP/open.ini"
expect_exit 2 "run with a world-writable config" timeout 10 "$SG" run -c "$TMP/open.ini"
grep -q "refusing to act on it as root" "$TMP/err" || fail "no refusal message: $(cat "$TMP/err")"

# Reload: a valid new config takes over, an invalid one is refused and the
# guardian keeps running.
cat >"$TMP/run.ini" <<INI
[guardian]
kmsg = $TMP/run.ini
state_dir = $TMP/state
capture_dir = $TMP/captures
[rule quiet]
when = load.1 >= 100000
step = capture
INI
coproc GUARD { exec "$SG" run -c "$TMP/run.ini" 2>&1; }
guard_pid=$GUARD_PID # bash unsets GUARD_PID when the process ends
on_exit "kill $guard_pid"
read -r -t 5 line <&"${GUARD[0]}" || fail "guardian did not start"
case "$line" in *"1 rules"*) ;; *) fail "unexpected first line: $line" ;; esac
printf '[rule second]\nwhen = load.1 >= 100000\nstep = capture\n' >>"$TMP/run.ini"
kill -HUP "$guard_pid"
seen=""
while read -r -t 3 line <&"${GUARD[0]}"; do case "$line" in *"2 rules"*) seen=1; break ;; esac; done
[ -n "$seen" ] || fail "reload with a valid config did not take over"
echo "interval = soon" >>"$TMP/run.ini"
kill -HUP "$guard_pid"
seen=""
while read -r -t 3 line <&"${GUARD[0]}"; do case "$line" in *"reload refused"*) seen=1; break ;; esac; done
[ -n "$seen" ] || fail "an invalid config was not refused on reload"
kill -0 "$guard_pid" || fail "the guardian died on an invalid reload"
# The journal is the guardian's: status names it, a second guardian on the
# same state_dir does not start, a revert of another journal is not refused.
sed -i '$d' "$TMP/run.ini" # the invalid line
expect_exit 0 "status" "$SG" status -c "$TMP/run.ini"
grep -qx "guardian: running (pid $guard_pid)" "$TMP/out" || fail "status: $(head -1 "$TMP/out")"
expect_exit 1 "a second guardian on one journal" "$SG" run -c "$TMP/run.ini"
grep -q "the state journal is in use by pid $guard_pid" "$TMP/err" || fail "second guardian: $(cat "$TMP/err")"
expect_exit 1 "revert of the running guardian's journal" "$SG" revert -c "$TMP/run.ini"
grep -q "the guardian runs as pid $guard_pid with this journal" "$TMP/err" || fail "revert: $(cat "$TMP/err")"
sed "s|state_dir = .*|state_dir = $TMP/state2|" "$TMP/run.ini" >"$TMP/other.ini"
expect_exit 0 "revert of another journal" "$SG" revert -c "$TMP/other.ini"
kill -TERM "$guard_pid"
wait "$guard_pid"
rc=$?
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc"

# record, then replay the recording: a rule that holds at every sample
# decides at the first one.
cat >"$TMP/rec.ini" <<INI
[guardian]
interval = 200ms
kmsg = $TMP/rec.ini
[rule always]
when = load.1 >= 0
step = capture
INI
expect_exit 0 "record" "$SG" record -c "$TMP/rec.ini" -o "$TMP/t.trace" --duration 1.5
head -1 "$TMP/t.trace" | grep -qx "# stallguard trace 1" || fail "record: no trace header"
sed -n 3p "$TMP/t.trace" | grep -q "^t_ms,psi.cpu.some.avg10,.*,load.1,.*,kmsg.soft_lockup" ||
	fail "record: unexpected columns: $(sed -n 3p "$TMP/t.trace" | cut -c1-200)"
rows=$(tail -n +4 "$TMP/t.trace" | wc -l)
((rows >= 6 && rows <= 8)) || fail "record: $rows rows in 1.5 s at 200 ms"
expect_exit 0 "replay" "$SG" replay -c "$TMP/rec.ini" "$TMP/t.trace"
grep -q '^+0.000s always: would apply "capture" to the host: load.1=' "$TMP/out" ||
	fail "replay: no decision at the first sample: $(cat "$TMP/out")"
grep -q "^replayed $rows samples" "$TMP/out" || fail "replay: summary: $(tail -1 "$TMP/out")"
expect_exit 2 "replay without a trace" "$SG" replay -c "$TMP/rec.ini"
expect_exit 2 "record without -o" "$SG" record -c "$TMP/rec.ini"
expect_exit 1 "replay of a config file" "$SG" replay -c "$TMP/rec.ini" "$TMP/rec.ini"
grep -q "rec.ini:1: not a stallguard trace" "$TMP/err" || fail "replay of junk: $(cat "$TMP/err")"
exit 0
