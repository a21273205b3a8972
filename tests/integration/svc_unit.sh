#!/bin/bash
# etc/stallguard.service as `make install` puts it: `systemd-analyze verify`
# passes (its ExecStart pointed at this tree's binary, man pages not looked
# up: pkg_deb.sh verifies the installed unit with both), and `systemd-analyze
# security --offline=yes` reports its exposure, at most 4.0. Neither needs
# systemd as PID 1. The unit keeps what the guardian needs: /sys/fs/cgroup
# writable, /dev/kmsg readable, its state and capture directories writable.
. "$(dirname "$0")/common.bash"
cd "$(dirname "$0")/../.."
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (Debian package systemd)"

make -s install DESTDIR="$TMP/root" PREFIX=/usr >/dev/null || fail "make install failed"
unit=$TMP/root/lib/systemd/system/stallguard.service
[ -f "$unit" ] || fail "make install put no unit in lib/systemd/system"
mkdir -p "$TMP/units"
sed "s|^ExecStart=/usr/sbin/stallguard|ExecStart=$SG|" "$unit" >"$TMP/units/stallguard.service"
systemd-analyze verify --man=no "$TMP/units/stallguard.service" >"$TMP/verify" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$TMP/verify")"
[ -s "$TMP/verify" ] && fail "systemd-analyze verify warned: $(cat "$TMP/verify")"

systemd-analyze security --offline=yes --no-pager "$TMP/units/stallguard.service" >"$TMP/security" 2>&1
exposure=$(sed -n 's/^→ Overall exposure level for stallguard.service: \([0-9.]*\) .*/\1/p' "$TMP/security")
[ -n "$exposure" ] || fail "no exposure in: $(tail -3 "$TMP/security")"
echo "systemd-analyze security: exposure $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 4.0) }' || fail "exposure $exposure is above 4.0"

# What the guardian must keep.
for setting in ProtectControlGroups ProtectKernelTunables ProtectKernelLogs ProcSubset PrivateNetwork PrivateUsers; do
	grep -Eq "^$setting=(yes|true|strict|pid)" "$unit" && fail "$setting would hide what the guardian needs"
done
grep -q '^ReadWritePaths=.*/sys/fs/cgroup\|^InaccessiblePaths=.*/sys' "$unit" && fail "the unit touches /sys paths"
for line in Type=notify WatchdogSec= Restart=always OOMScoreAdjust=-1000 ProtectSystem=strict \
	'ExecReload=/bin/kill -HUP $MAINPID' RuntimeDirectory=stallguard StateDirectory=stallguard \
	'BindReadOnlyPaths=/dev/kmsg'; do
	grep -qF "$line" "$unit" || fail "the unit lacks $line"
done
exit 0
