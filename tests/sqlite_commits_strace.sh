#!/bin/sh
# Cross-check of test-sqlite-commits: the syncs its VFS shim counted must be
# the fsync/fdatasync system calls the process made on store files (strace;
# directory syncs, which SQLite adds when it creates a file, left out).
#   sqlite_commits_strace.sh BUILD/tests/test-sqlite-commits [directory]
set -eu
prog=$1
dir=${2:-/var/tmp}
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
# strace needs ptrace, which some containers forbid: skip (77) then
if ! strace -qq -o /dev/null true 2>/dev/null; then
    echo "strace cannot trace here: skipped"
    exit 77
fi
# LeakSanitizer cannot run under ptrace: in a sanitized build the leak
# check is left to the test's own run (sqlite-commits)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
strace -f -qq -y -e trace=fsync,fdatasync -o "$log" "$prog" "$dir" >"$out"
cat "$out"
counted=$(sed -n 's/^syncs in all: //p' "$out")
# lines look like: PID fdatasync(4</var/tmp/mfa-commits-1-0.db-wal>) = 0
calls=$(grep -c -E 'f(data)?sync\([0-9]+<[^>]*\.db(-wal|-journal)?>\)' "$log" ||
    true)
echo "fsync/fdatasync on store files (strace): $calls; counted by the VFS: $counted"
[ -n "$counted" ] && [ "$calls" -eq "$counted" ]
