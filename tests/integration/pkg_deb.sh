#!/bin/bash
# The Debian package: `dpkg-buildpackage -us -uc -b` on a copy of this tree
# (so the tree is left as it was: checked) builds a .deb that lintian accepts
# without errors; it installs with dpkg; the installed `stallguard --version`
# runs, the installed unit passes `systemd-analyze verify` with its man pages,
# and `man -l` renders both installed pages; then the package is purged and
# the machine left as found. Refuses to run when stallguard is already
# installed or /etc/stallguard exists (it would purge someone's files).
. "$(dirname "$0")/common.bash"
cd "$(dirname "$0")/../.."
need_root
for tool in dpkg-buildpackage dh lintian systemd-analyze man; do
	command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps installs it)"
done
if dpkg-query -W -f='${Status}' stallguard 2>/dev/null | grep -q installed; then
	fail "a stallguard package is installed on this machine: this test installs and purges its own"
fi
[ -e /etc/stallguard ] && fail "/etc/stallguard exists: this test would purge it"

before=$(git status --porcelain --ignored=no 2>/dev/null)
mkdir -p "$TMP/build/src"
git ls-files -co --exclude-standard | grep -v '^build/\|^stallguard$' | tar -cf - -T - | tar -xf - -C "$TMP/build/src" ||
	fail "cannot copy the tree"
(cd "$TMP/build/src" && dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1 ||
	fail "dpkg-buildpackage failed: $(tail -15 "$TMP/build.log")"
[ "$(git status --porcelain --ignored=no 2>/dev/null)" = "$before" ] || fail "building changed the source tree"
version=$(cat VERSION)
deb=$TMP/build/stallguard_${version}_amd64.deb
[ -f "$deb" ] || fail "no $deb: $(ls "$TMP/build")"

lintian "$TMP/build/stallguard_${version}_amd64.changes" >"$TMP/lintian" 2>&1
grep -v '^running with root privileges' "$TMP/lintian" | sed 's/^/lintian: /'
grep -q '^E: ' "$TMP/lintian" && fail "lintian reports errors"

on_exit "dpkg --purge stallguard"
dpkg -i "$deb" >"$TMP/dpkg.log" 2>&1 || fail "dpkg -i: $(tail -5 "$TMP/dpkg.log")"
[ "$(/usr/sbin/stallguard --version)" = "stallguard $version" ] || fail "the installed binary says '$(/usr/sbin/stallguard --version)'"
/usr/sbin/stallguard check -c /etc/stallguard/stallguard.ini >/dev/null 2>"$TMP/check" ||
	fail "the installed configuration does not check: $(cat "$TMP/check")"
systemd-analyze verify /lib/systemd/system/stallguard.service >"$TMP/verify" 2>&1 ||
	fail "systemd-analyze verify of the installed unit: $(cat "$TMP/verify")"
for page in /usr/share/man/man8/stallguard.8.gz /usr/share/man/man5/stallguard.ini.5.gz; do
	MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q '^NAME' || fail "man -l $page renders nothing"
done
bash -c '. /usr/share/bash-completion/completions/stallguard && complete -p stallguard' >/dev/null ||
	fail "the bash completion does not load"

dpkg --purge stallguard >"$TMP/dpkg.log" 2>&1 || fail "dpkg --purge: $(tail -5 "$TMP/dpkg.log")"
for path in /usr/sbin/stallguard /etc/stallguard /lib/systemd/system/stallguard.service; do
	[ -e "$path" ] && fail "$path is left after purge"
done
exit 0
