#!/bin/bash
# A guardian's capture holds what the BPF recorder saw, named: the mmap_lock
# freeze (tests/progs/mmap_freeze) in offcpu.folded with its threads blocked
# on the mmap lock, some still blocked at the capture; a task copying from
# /dev/zero in oncpu.folded with the kernel frames of that copy; every folded
# line "frames count"; both flame graphs well-formed XML that name them.
. "$(dirname "$0")/common.bash"
need_root
PROGS="$(cd "$(dirname "$SG")" && pwd)/build/tests/progs"
[ -x "$PROGS/mmap_freeze" ] || fail "$PROGS/mmap_freeze is not built (make test builds it)"
command -v xmllint >/dev/null || fail "xmllint is missing (libxml2-utils)"

mkfifo "$TMP/kmsg"
cat >"$TMP/sg.ini" <<INI
[guardian]
interval = 100ms
kmsg = $TMP/kmsg
state_dir = $TMP/state
capture_dir = $TMP/captures
recorder = on
recorder_window = 5s

[rule lockup]
when = kmsg.soft_lockup within 60s
step = capture
recover_after = 60s
INI

"$PROGS/mmap_freeze" 60 >"$TMP/freeze.out" &
freeze_pid=$!
on_exit "kill -9 $freeze_pid"
cp /bin/dd "$TMP/zeroreader"
"$TMP/zeroreader" if=/dev/zero of=/dev/null bs=4M 2>/dev/null &
reader_pid=$!
on_exit "kill -9 $reader_pid"
for _ in $(seq 50); do grep -q ready "$TMP/freeze.out" && break; sleep 0.1; done
grep -q ready "$TMP/freeze.out" || fail "mmap_freeze did not start"

coproc GUARD { exec "$SG" run -c "$TMP/sg.ini" --dry-run 2>&1; }
guard_pid=$GUARD_PID
on_exit "kill -9 $guard_pid"
exec 3<>"$TMP/kmsg"
read_until() { # $1 = pattern, $2 = seconds
	local line deadline=$((SECONDS + $2))
	while ((SECONDS < deadline)) && read -r -t $((deadline - SECONDS + 1)) line <&"${GUARD[0]}"; do
		echo "  guardian: $line"
		case "$line" in $1) return 0 ;; esac
	done
	fail "no line like '$1'"
}
read_until "*BPF recorder recording*" 10
sleep 3 # the recorder's window fills
printf '0,1,%s,-;watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [spin:1]\n' \
	"$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)" >&3
read_until "*lockup: capture * taken in *" 10
read_until "*: stored in *" 30
kill -TERM "$guard_pid"; wait "$guard_pid" 2>/dev/null

bundle=$(ls -d "$TMP"/captures/*-lockup | head -1)
[ -d "$bundle" ] || fail "no bundle"
grep -q '"recorder": "on: off-CPU' "$bundle/incident.json" || fail "incident.json: $(grep recorder "$bundle/incident.json")"
for f in offcpu oncpu; do
	[ -s "$bundle/$f.folded" ] || fail "$f.folded is empty"
	bad=$(grep -cvE '^[^ ].* [0-9]+$' "$bundle/$f.folded")
	[ "$bad" = 0 ] || fail "$f.folded: $bad lines are not 'frames count'"
	xmllint --noout "$bundle/$f.svg" || fail "$f.svg is not well-formed XML"
	[ "$(stat -c %a "$bundle/$f.svg")" = 600 ] || fail "$f.svg mode"
done
lock='(rwsem_down_(read|write)_slowpath|lock_mm_and_find_vma|mmap_read_lock|mmap_write_lock|down_(read|write))'
grep -E "^mmap_freeze;.*$lock" "$bundle/offcpu.folded" | head -3 | cut -c1-300
grep -qE "^mmap_freeze;.*$lock" "$bundle/offcpu.folded" || fail "offcpu.folded has no mmap_freeze thread blocked on the mmap lock"
grep -qE "^mmap_freeze;.*\[blocked at capture\] [0-9]+$" "$bundle/offcpu.folded" ||
	fail "offcpu.folded has no mmap_freeze thread still blocked at the capture"
zero='(read_zero|iov_iter_zero|clear_user|rep_stos_alternative|__clear_user)'
grep -E "^zeroreader;.*$zero" "$bundle/oncpu.folded" | head -2 | cut -c1-300
grep -qE "^zeroreader;.*$zero" "$bundle/oncpu.folded" || fail "oncpu.folded has no /dev/zero copy by zeroreader"
grep -q "mmap_freeze" "$bundle/offcpu.svg" || fail "offcpu.svg does not name mmap_freeze"
grep -q "zeroreader" "$bundle/oncpu.svg" || fail "oncpu.svg does not name zeroreader"
exit 0
