#!/usr/bin/env python3
"""Count every test that ran, from meson's testlog.json files.

  summarize.py [--allow-skips] [--expect N] TESTLOG.json...

A Check suite counts its checks (from "Checks: N, Failures: F, Errors: E");
a test that prints its own "N passed, N failed[, N skipped]" line counts
those; any other test counts as one.  A test that failed without reporting
a failure in its output (crash, timeout) still counts one failure.  A test
that exits 77 (meson's SKIP: its service or tool is absent) counts one
skip, whatever it printed.  Each skip is listed with its reason: the
test's "skipped: ..." lines, else its last line of output.  --expect N:
meson listed N tests, so fewer entries count the missing ones as failures.

Prints the closing line "N passed, N failed, N skipped".  Exit status 0
when nothing failed and nothing was skipped (or --allow-skips), else 1.
"""
import json
import re
import sys

CHECK = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")
PLAIN = re.compile(r"^(?:[\w-]+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?", re.M)
REASON = re.compile(r"^(?:[\w-]+: )?skipped: (.+)$", re.M)


def count(entry):
    """(passed, failed, skipped) of one testlog entry."""
    out = entry.get("stdout") or ""
    result = entry.get("result")
    if result == "SKIP":
        return 0, 0, 1
    ok = result in ("OK", "EXPECTEDFAIL")
    s = 0
    m = CHECK.findall(out)
    if m:
        p = sum(int(n) - int(f) - int(e) for n, f, e in m)
        f = sum(int(f) + int(e) for n, f, e in m)
    else:
        m = PLAIN.findall(out)
        if m:
            p = sum(int(a) for a, b, c in m)
            f = sum(int(b) for a, b, c in m)
            s = sum(int(c or 0) for a, b, c in m)
        else:
            p, f = (1, 0) if ok else (0, 1)
    if not ok and f == 0:
        f = 1
    return p, f, s


def reasons(entry):
    """Why a test skipped all or part of itself, as printed."""
    text = (entry.get("stdout") or "") + "\n" + (entry.get("stderr") or "")
    found = REASON.findall(text)
    if found:
        return [r.strip() for r in dict.fromkeys(found)]
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return [lines[-1] if lines else f"exit status {entry.get('returncode')}"]


def main(argv):
    allow = False
    expect = None
    paths = []
    args = iter(argv)
    for a in args:
        if a == "--allow-skips":
            allow = True
        elif a == "--expect":
            expect = int(next(args))
        else:
            paths.append(a)
    passed = failed = skipped = entries = 0
    failing = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                entry = json.loads(line)
                entries += 1
                p, f, s = count(entry)
                passed += p
                failed += f
                skipped += s
                name = entry.get("name")
                if f:
                    failing.append(name)
                if s:
                    for r in reasons(entry):
                        print(f"skipped: {name}: {r}")
    if expect is not None:
        print(f"meson tests: {entries} of {expect} ran")
        if entries < expect:
            failed += expect - entries
            failing.append(f"{expect - entries} meson test(s) that never ran")
    if failing:
        print("failing: " + ", ".join(failing))
    if skipped and not allow:
        print(f"note: {skipped} skipped, which fails the run: install what is named above "
              "(scripts/test does), or allow skips (MFA_ALLOW_SKIPS=1 scripts/test)")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and (skipped == 0 or allow) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
