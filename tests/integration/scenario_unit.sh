#!/bin/bash
# Scenario 6 of the test bed runs the guardian under a copy of
# etc/stallguard.service (the guest gets only the scenario's directory):
# the copy must say what the shipped unit says, but for its comments and
# the binary's path in ExecStart.
. "$(dirname "$0")/common.bash"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
shipped=$ROOT/etc/stallguard.service
copy=$ROOT/tests/vm/scenarios/6-systemd/stallguard.service
[ -f "$shipped" ] || fail "no $shipped"
[ -f "$copy" ] || fail "no $copy"
settings() { grep -v '^#' "$1" | sed 's|^ExecStart=[^ ]*|ExecStart=BINARY|'; }
diff -u <(settings "$shipped") <(settings "$copy") >"$TMP/diff" ||
	fail "tests/vm/scenarios/6-systemd/stallguard.service differs from etc/stallguard.service:
$(cat "$TMP/diff")"
grep -qx 'ExecStart=STALLGUARD run -c /etc/stallguard/stallguard.ini' "$copy" ||
	fail "the copy's ExecStart is not 'STALLGUARD run -c /etc/stallguard/stallguard.ini'"
echo "ok"
