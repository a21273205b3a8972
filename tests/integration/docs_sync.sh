#!/bin/bash
# The man pages render (`man -l`, no groff warnings) and say what the code
# does: every configuration key of controller/config.c is in stallguard.ini(5)
# and docs/configuration.md, every command of `stallguard --help` in
# stallguard(8).
. "$(dirname "$0")/common.bash"
cd "$(dirname "$0")/../.."
command -v man >/dev/null || fail "man is missing (Debian package man-db)"

for page in man/stallguard.8 man/stallguard.ini.5; do
	MANWIDTH=80 man --warnings -l "$page" >"$TMP/page" 2>"$TMP/warn" || fail "man -l $page failed"
	[ -s "$TMP/warn" ] && fail "man -l $page: $(cat "$TMP/warn")"
	grep -q '^NAME' "$TMP/page" && grep -q '^SEE ALSO' "$TMP/page" || fail "$page renders without NAME or SEE ALSO"
done
keys=$(sed -n 's/^\t\(CFG\|JOB\|RULE\)("\([a-z_.]*\)".*/\2/p' controller/config.c | sort -u)
[ "$(echo "$keys" | wc -l)" -ge 25 ] || fail "found only $(echo "$keys" | wc -l) keys in controller/config.c"
for key in $keys; do
	grep -q "^\.BR\? $key\( \|$\)" man/stallguard.ini.5 || fail "stallguard.ini(5) does not describe $key"
	grep -q "^| \`$key\`" docs/configuration.md || fail "docs/configuration.md does not describe $key"
done
for cmd in $("$SG" --help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
	grep -q "^\.B $cmd$\|^\.B stallguard $cmd$" man/stallguard.8 || fail "stallguard(8) does not describe $cmd"
done
exit 0
