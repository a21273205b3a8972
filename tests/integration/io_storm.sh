#!/bin/bash
# A real O_DIRECT write storm, dd in a cgroup of the unified mount, makes the
# I/O rule decide within its `for` time plus one PSI trigger window.
. "$(dirname "$0")/common.bash"
need_root

make_cgroup storm
FOR_S=2
cat >"$TMP/sg.ini" <<INI
[guardian]
interval = 250ms
kmsg = $TMP/no-kmsg
state_dir = $TMP/state
capture_dir = $TMP/captures

[job storm]
cgroup = $CG_REL

[rule io-storm]
when = job.storm.psi.io.some.stall >= 20 for ${FOR_S}s
job = storm
step = ionice idle
step = io.max wbps=10M
step_after = 1s
INI
touch "$TMP/no-kmsg"

coproc GUARD { exec "$SG" run -c "$TMP/sg.ini" --dry-run --log-level debug 2>&1; }
guard_pid=$GUARD_PID # bash unsets GUARD_PID when the process ends
on_exit "kill $guard_pid"
window_ms=""
while read -r -t 5 line <&"${GUARD[0]}"; do
	echo "  guardian: $line"
	case "$line" in
	*"PSI trigger on"*"$CG_REL/io.pressure"*) window_ms=$(echo "$line" | sed -n 's/.* of \([0-9]*\) ms.*/\1/p') ;;
	*"PSI triggers: "*) break ;;
	esac
done
[ -n "$window_ms" ] || fail "no PSI trigger was armed on the job's io.pressure"
echo "  PSI trigger window: $window_ms ms"

# Let the guardian see a quiet cgroup first.
if read -r -t 1.5 line <&"${GUARD[0]}"; then
	case "$line" in *"would apply"*) fail "decided before the storm: $line" ;; esac
fi

dd_file="$(mktemp /var/tmp/stallguard-storm.XXXXXX)"
on_exit "rm -f '$dd_file'"
t0=$(now_ms)
sh -c "echo \$\$ > '$CG/cgroup.procs'; exec dd if=/dev/zero of='$dd_file' bs=1M count=100000 oflag=direct status=none" &
on_exit "kill $!"

decided=""
deadline=$(( FOR_S * 1000 + window_ms + 5000 ))
while read -r -t 10 line <&"${GUARD[0]}"; do
	case "$line" in
	*'io-storm: would apply "ionice idle" to job storm'*) t1=$(now_ms); decided=$line; echo "  guardian: $line"; break ;;
	*debug:*) ;;
	*) echo "  guardian: $line" ;;
	esac
	(( $(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { print int(b - a) }') > deadline )) && break
done
[ -n "$decided" ] || fail "no decision during the storm"
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
limit=$(( FOR_S * 1000 + window_ms ))
echo "  decided $elapsed ms after the storm began (limit: for ${FOR_S}s + window ${window_ms} ms = $limit ms)"
(( elapsed <= limit )) || fail "the decision took $elapsed ms, more than $limit ms"
case "$decided" in *"job.storm.psi.io.some.stall="*">=20 for"*) ;; *) fail "reason lacks the signal: $decided" ;; esac
exit 0
