#!/bin/bash
# `stallguard signals --json` disk figures agree with sysstat's
# `iostat -dx 1 2` for the same device and interval within 10 %, under a
# steady O_DIRECT write load.
. "$(dirname "$0")/common.bash"
need_root
command -v iostat >/dev/null || fail "iostat (sysstat) is not installed"

# The whole disk under /var/tmp, where the load is written.
whole_disk_of /var/tmp
echo "  disk: $disk"

load_file="$(mktemp /var/tmp/stallguard-iostat.XXXXXX)"
on_exit "rm -f '$load_file'"
dd if=/dev/zero of="$load_file" bs=256k count=1000000 oflag=direct status=none &
on_exit "kill $!"
sleep 2 # steady state

compare() { # name ours theirs
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		m = (a > b ? a : b)
		ok = (d <= 0.10 * m) || (d <= 0.05)
		printf "  %-8s stallguard %10.3f  iostat %10.3f  %s\n", n, a, b, ok ? "ok" : "DIFFERS"
		exit !ok
	}'
}

attempt() {
	: >"$TMP/empty.ini"; "$SG" signals --json -c "$TMP/empty.ini" >"$TMP/sg.json" 2>"$TMP/sg.err" &
	local sg_pid=$!
	LC_ALL=C iostat -dxm "$disk" 1 2 >"$TMP/iostat.txt"
	wait $sg_pid || fail "stallguard signals failed: $(cat "$TMP/sg.err")"
	# The second report is the 1 s interval.
	local header row
	header=$(grep '^Device' "$TMP/iostat.txt" | tail -1)
	row=$(grep "^$disk " "$TMP/iostat.txt" | tail -1)
	[ -n "$row" ] || fail "iostat printed no line for $disk"
	col() { echo "$header" | tr -s ' ' '\n' | grep -nx "$1" | cut -d: -f1; }
	field() { echo "$row" | tr -s ' ' | cut -d' ' -f"$(col "$1")"; }
	ours() { grep -o "\"disk\\.$disk\\.$1\":[0-9.]*" "$TMP/sg.json" | cut -d: -f2; }
	local r_s w_s ok=0
	r_s=$(field r/s); w_s=$(field w/s)
	compare util "$(ours util)" "$(field %util)" || ok=1
	compare iops "$(ours iops)" "$(awk -v a="$r_s" -v b="$w_s" 'BEGIN { print a + b }')" || ok=1
	compare wmbps "$(ours wmbps)" "$(field wMB/s)" || ok=1
	compare w_await "$(ours w_await)" "$(field w_await)" || ok=1
	compare aqu "$(ours aqu)" "$(field aqu-sz)" || ok=1
	return $ok
}

# The two samples start a few ms apart; one retry absorbs an unlucky burst.
attempt || { echo "  retrying once"; attempt; } || fail "stallguard and iostat disagree by more than 10 %"
exit 0
