#!/usr/bin/env bash
# Installation: `make install DESTDIR=D PREFIX=P` lays out the program, its
# man page, the systemd unit for `serve` and the sysusers.d entry of its user
# under D/P; the installed program prints the project's version; the man page
# renders without a groff warning and names every command and flag of
# --help; the unit runs serve as the user clubsync with its home in
# /var/lib/clubsync, restarts on failure, is hardened, and passes
# `systemd-analyze verify` (skipped, and said, when systemd-analyze is absent).
#
#   test_install.sh BUILD_DIR BUILD_TYPE PROJECT_VERSION
set -euo pipefail
BUILD=${1:?build dir}
BUILD_TYPE=${2:?build type}
VERSION=${3:?project version}
SRC=${CS_SOURCE_DIR:?set CS_SOURCE_DIR to the source tree}
WORK=$(mktemp -d /tmp/cs-install-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); }
fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL: $*" >&2
}
expect_eq() { if [ "$2" == "$3" ]; then ok; else fail "$1: got '$2', want '$3'"; fi; }
has_line() { # has_line WHAT FILE LINE: FILE has exactly that line
  if grep -qxF -- "$3" "$2"; then ok; else fail "$1: no line '$3' in $2"; fi
}

# 1. make install, with DESTDIR and PREFIX (the build is already made: `make
#    install` runs `make build` on it, which finds nothing to do).
DEST=$WORK/dest
if make -s -C "$SRC" install BUILD="$BUILD" BUILD_TYPE="$BUILD_TYPE" JOBS=1 DESTDIR="$DEST" \
  PREFIX=/opt/clubsync >"$WORK/make.out" 2>&1; then ok; else fail "make install: $(tail -5 "$WORK/make.out")"; fi
P=$DEST/opt/clubsync
for f in bin/clubsync share/man/man1/clubsync.1 lib/systemd/system/clubsync.service lib/sysusers.d/clubsync.conf; do
  if [ -f "$P/$f" ]; then ok; else fail "make install did not install $f under DESTDIR/PREFIX"; fi
done
if [ -x "$P/bin/clubsync" ]; then ok; else fail "the installed program is not executable"; fi
# Nothing outside DESTDIR/PREFIX.
expect_eq "files outside PREFIX" "$(cd "$DEST" && find . -type f ! -path './opt/clubsync/*' | head -3)" ""

# 2. The installed program's version is the project's, and the man page's.
expect_eq "--version" "$("$P/bin/clubsync" --version)" "clubsync $VERSION"
expect_eq "--version after --home" "$("$P/bin/clubsync" --home "$WORK/h" --version)" "clubsync $VERSION"
grep -q "^\.TH CLUBSYNC 1 .* \"clubsync $VERSION\"" "$P/share/man/man1/clubsync.1" && ok ||
  fail "the man page's .TH does not say clubsync $VERSION"

# 3. The man page renders with no warning at all, and says what --help says.
MAN=$P/share/man/man1/clubsync.1
groff -man -Tutf8 -ww -z "$MAN" 2>"$WORK/groff.err" || fail "groff failed"
expect_eq "groff warnings" "$(cat "$WORK/groff.err")" ""
if command -v man >/dev/null; then
  LC_ALL=C.UTF-8 MANWIDTH=200 man --warnings -l "$MAN" >"$WORK/man.txt" 2>"$WORK/man.err" || fail "man -l failed"
  expect_eq "man -l warnings" "$(cat "$WORK/man.err")" ""
else
  groff -man -Tutf8 "$MAN" 2>/dev/null | sed 's/.\x08//g' >"$WORK/man.txt"
fi
"$P/bin/clubsync" --help >"$WORK/help.txt"
# Every command of --help (the first word of a line, followed by a column or
# by its arguments) is a command of the page, and every --flag of --help is
# in the page.
cmds=$(grep -oE '^[a-z][a-z-]+( {2,}| [A-Z[])' "$WORK/help.txt" | awk '{print $1}' | sort -u)
expect_eq "--help's commands are found" "$(wc -w <<<"$cmds" | tr -d ' ')" 26
for cmd in $cmds; do
  grep -qE "^ +$cmd( |$)" "$WORK/man.txt" && ok || fail "the man page has no command '$cmd'"
done
for flag in $(grep -oE -- '--[a-z][a-z-]+' "$WORK/help.txt" | sort -u); do
  grep -qF -- "$flag" "$WORK/man.txt" && ok || fail "the man page does not mention $flag"
done

# 4. The unit: serve as the dedicated user, its home under /var/lib, restart
#    on failure, hardened; the program named by its installed path.
UNIT=$P/lib/systemd/system/clubsync.service
has_line "unit" "$UNIT" "ExecStart=/opt/clubsync/bin/clubsync --home /var/lib/clubsync serve --log-level info"
for line in User=clubsync Group=clubsync StateDirectory=clubsync Restart=on-failure NoNewPrivileges=yes \
  ProtectSystem=strict ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= WantedBy=multi-user.target; do
  has_line "unit" "$UNIT" "$line"
done
has_line "sysusers.d" "$P/lib/sysusers.d/clubsync.conf" \
  'u clubsync - "clubsync node" /var/lib/clubsync /usr/sbin/nologin'
if command -v systemd-sysusers >/dev/null; then
  mkdir -p "$WORK/sysroot/etc"
  systemd-sysusers --root="$WORK/sysroot" "$P/lib/sysusers.d/clubsync.conf" >/dev/null 2>&1 || fail "systemd-sysusers"
  expect_eq "the user's home" "$(awk -F: '$1 == "clubsync" {print $6}' "$WORK/sysroot/etc/passwd")" /var/lib/clubsync
fi

# 5. systemd-analyze verify reads the unit as systemd would: the program and
#    the man page it names must exist, so this install has no DESTDIR.
if command -v systemd-analyze >/dev/null; then
  R=$WORK/prefix
  cmake --install "$BUILD" --prefix "$R" >/dev/null
  has_line "unit (--prefix)" "$R/lib/systemd/system/clubsync.service" \
    "ExecStart=$R/bin/clubsync --home /var/lib/clubsync serve --log-level info"
  if MANPATH="$R/share/man:" systemd-analyze verify "$R/lib/systemd/system/clubsync.service" \
    >"$WORK/verify.out" 2>&1; then ok; else fail "systemd-analyze verify exited non-zero"; fi
  expect_eq "systemd-analyze verify's complaints" "$(cat "$WORK/verify.out")" ""
else
  echo "SKIP: systemd-analyze is not installed; the unit was not verified by systemd"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" == 0 ]
