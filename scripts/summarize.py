#!/usr/bin/env python3
"""Count every test that ran, from meson's testlog.json files.

A Check suite counts its checks (from "Checks: N, Failures: F, Errors: E");
a test that prints its own "N passed, N failed" line counts those; any other
test counts as one.  A test that failed without reporting a failure in its
output (crash, timeout) still counts one failure.  Prints the closing line
"N passed, N failed".
"""
import json
import re
import sys

CHECK = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")
PLAIN = re.compile(r"^(?:\w+: )?(\d+) passed, (\d+) failed", re.M)


def count(entry):
    out = entry.get("stdout") or ""
    ok = entry.get("result") in ("OK", "EXPECTEDFAIL")
    m = CHECK.findall(out)
    if m:
        p = sum(int(n) - int(f) - int(e) for n, f, e in m)
        f = sum(int(f) + int(e) for n, f, e in m)
    else:
        m = PLAIN.findall(out)
        if m:
            p = sum(int(a) for a, b in m)
            f = sum(int(b) for a, b in m)
        else:
            p, f = (1, 0) if ok else (0, 1)
    if not ok and f == 0 and entry.get("result") != "SKIP":
        f = 1
    if entry.get("result") == "SKIP":
        p = 0
    return p, f


def main():
    passed = failed = 0
    failing = []
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                entry = json.loads(line)
                p, f = count(entry)
                passed += p
                failed += f
                if f:
                    failing.append(entry.get("name"))
    if failing:
        print("failing: " + ", ".join(failing))
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
