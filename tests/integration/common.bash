# Shared by the integration tests: a temp dir, cleanup that always runs,
# loud failure, and the guardian under test.
set -u
SG="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/stallguard"
TMP=$(mktemp -d /tmp/stallguard-it.XXXXXX)
CLEANUPS=()

cleanup() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

on_exit() { CLEANUPS+=("$*"); }

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" = 0 ] || fail "this test needs root (real cgroups, /dev/kmsg, O_DIRECT on the root disk)"
}

[ -x "$SG" ] || fail "$SG is not built"

# A cgroup of the unified (v2) mount for this test; removed at exit after its
# processes are killed.
make_cgroup() {
	local root
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
		root=/sys/fs/cgroup
	elif [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		root=/sys/fs/cgroup/unified
	else
		fail "no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified"
	fi
	CG_REL="/stallguard-it-$$-$1"
	CG="$root$CG_REL"
	mkdir "$CG" || fail "cannot create cgroup $CG"
	on_exit "kill_cgroup '$CG'"
}

kill_cgroup() {
	local cg=$1 pid
	[ -d "$cg" ] || return 0
	if [ -e "$cg/cgroup.kill" ]; then
		echo 1 >"$cg/cgroup.kill"
	else
		for pid in $(cat "$cg/cgroup.procs"); do kill -9 "$pid"; done
	fi
	for _ in $(seq 50); do
		rmdir "$cg" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# now in milliseconds, as a float
now_ms() { echo "${EPOCHREALTIME/./}" | awk '{ printf "%.1f", $1 / 1000 }'; }

# Sets disk (the whole disk's kernel name) and devno (MAJ:MIN) for the
# filesystem holding $1; fails the test when there is none.
whole_disk_of() {
	local src
	src=$(findmnt -no SOURCE -T "$1" | sed 's/\[.*//')
	disk=$(lsblk -ndo PKNAME "$src" 2>/dev/null)
	[ -n "$disk" ] || disk=$(lsblk -ndo NAME "$src" 2>/dev/null)
	[ -n "$disk" ] && [ -e "/sys/block/$disk/dev" ] || fail "no whole disk under $1 (source '$src')"
	devno=$(cat "/sys/block/$disk/dev")
}

# The [guardian] section of the service tests: INTERVAL, an empty kernel log
# file, the journal and captures under $TMP, the metrics file METRICS
# rewritten every second.
guardian_ini() { # INTERVAL METRICS
	: >>"$TMP/kmsg"
	printf '[guardian]\ninterval = %s\nkmsg = %s\nstate_dir = %s\ncapture_dir = %s\nmetrics_file = %s\n' \
		"$1" "$TMP/kmsg" "$TMP/state" "$TMP/captures" "$2"
	echo "metrics_interval = 1s"
}

# The value of a metric line (NAME with its labels, exactly) in a metrics file.
metric_in() { # FILE NAME
	awk -v k="$2 " 'index($0, k) == 1 { print $NF }' "$1"
}
