#!/bin/sh
# The constant-time canary: ct-verify --canary under memcheck must end with
# memcheck's own error exit code, CT_CANARY_EXIT, and say it was caught.
# Any other end -- a crash, a signal, exit 1, a canary that was not caught
# -- fails, because a check that passes on any failure passes on a broken
# build too.
#   canary.sh VALGRIND SUPPRESSIONS CT_VERIFY [--mode MODE]
#   canary.sh VALGRIND SUPPRESSIONS CT_VERIFY --expect-refusal MODE
# --mode runs another canary of ct-verify (--canary-webauthn: an early-exit
# comparison of a stored credential id where the login flow compares it).
# With --expect-refusal, run ct-verify MODE (e.g. --canary-crash) and pass
# only if the check above refuses it: the check of the check.
set -u
CT_CANARY_EXIT=42
valgrind=$1 supp=$2 ct=$3
shift 3
mode=--canary expect=caught
if [ "${1:-}" = --expect-refusal ]; then
  mode=$2 expect=refused
elif [ "${1:-}" = --mode ]; then
  mode=$2
fi
out=$("$valgrind" --tool=memcheck --error-exitcode=$CT_CANARY_EXIT \
  --track-origins=yes --num-callers=30 --suppressions="$supp" \
  "$ct" "$mode" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^canary:|ERROR SUMMARY|terminating' | sed 's/^/  /'
if [ "$rc" -eq "$CT_CANARY_EXIT" ] &&
   printf '%s\n' "$out" | grep -q '^canary: .*caught, as it must be'; then
  verdict=caught
  echo "canary $mode: memcheck reported the planted leak (exit $rc)"
else
  verdict=refused
  echo "canary $mode: exit $rc, not memcheck's $CT_CANARY_EXIT with the leak reported"
fi
if [ "$verdict" = "$expect" ]; then
  [ "$expect" = refused ] && echo "canary $mode: refused, as it must be"
  exit 0
fi
exit 1
