#!/bin/bash
# The metrics textfile of a running guardian: Prometheus' own `promtool check
# metrics` accepts it; SPEC's metrics are there with HELP and TYPE; a ladder
# written with the same step twice is one series; the file is replaced whole
# (a reader never sees a cut file) and no temp file is left behind.
. "$(dirname "$0")/common.bash"
cd "$(dirname "$0")/../.."
need_root
command -v promtool >/dev/null || fail "promtool is missing (Debian package prometheus: scripts/install-deps)"

mkdir -p "$TMP/metrics"
guardian_ini 20ms "$TMP/metrics/stallguard.prom" >"$TMP/sg.ini"
cat >>"$TMP/sg.ini" <<EOF2
dry_run = yes
[job backup]
cgroup = /stallguard-it-none
[rule io-storm]
when = psi.io.some.avg10 >= 0
when = disk.any.util >= 0
job = backup
step = capture
step = io.max wbps=50M riops=2000
step = capture
step_after = 200ms
EOF2
chmod 0600 "$TMP/sg.ini"
"$SG" run -c "$TMP/sg.ini" 2>"$TMP/log" &
guard=$!
on_exit "kill -KILL $guard"
file=$TMP/metrics/stallguard.prom
for _ in $(seq 50); do grep -q 'stallguard_rule_level{rule="io-storm"} 3' "$file" 2>/dev/null && break; sleep 0.1; done
grep -q 'stallguard_rule_level{rule="io-storm"} 3' "$file" || fail "the ladder never showed level 3: $(head -5 "$file")"

# Readers see whole files only, while it is rewritten every second.
lines=$(wc -l <"$file")
end=$((SECONDS + 3))
reads=0
while [ "$SECONDS" -lt "$end" ]; do
	cp "$file" "$TMP/copy" # one open: one version of the file
	[ "$(wc -l <"$TMP/copy")" = "$lines" ] && [ "$(tail -c 1 "$TMP/copy" | od -An -tx1 | tr -d ' ')" = 0a ] ||
		fail "read $reads saw a cut file: $(wc -l <"$TMP/copy") lines, not $lines"
	reads=$((reads + 1))
done
promtool check metrics <"$file" >"$TMP/promtool" 2>&1 || fail "promtool check metrics: $(cat "$TMP/promtool")"
for m in stallguard_rule_level stallguard_actions_total stallguard_captures_total stallguard_tick_seconds \
	stallguard_signal; do
	grep -q "^# HELP $m " "$file" && grep -q "^# TYPE $m " "$file" || fail "$m lacks HELP or TYPE"
done
[ "$(grep -c '^stallguard_actions_total{rule="io-storm",step="capture"}' "$file")" = 1 ] ||
	fail "the step written twice is not one series: $(grep actions_total "$file")"
grep -q '^stallguard_actions_total{rule="io-storm",step="io.max wbps=50M riops=2000"} 0$' "$file" ||
	fail "a dry run counted as an action: $(grep actions_total "$file")"
captures=$(metric_in "$file" stallguard_captures_total)
bundles=$(find "$TMP/captures" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$captures" = 2 ] && [ "$bundles" = 2 ] || fail "captures_total $captures, bundles on disk $bundles (2 expected)"
util=$(metric_in "$file" 'stallguard_signal{name="disk.any.util"}')
[[ $util =~ ^[0-9.e+-]+$ ]] || fail "disk.any.util, which a rule reads, is '$util'"
kill -TERM "$guard"
wait "$guard" || fail "SIGTERM: exit $?"
leftover=$(find "$TMP/metrics" -type f ! -name stallguard.prom)
[ -z "$leftover" ] || fail "files left beside the metrics file: $leftover"
exit 0
