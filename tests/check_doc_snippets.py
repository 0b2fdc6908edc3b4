#!/usr/bin/env python3
"""Every C block of a guide is copied from a file the build compiles.

    check_doc_snippets.py GUIDE.md SOURCE.c [SOURCE.c ...]

Each ```c block of GUIDE.md must appear, line for line (trailing spaces
ignored), as consecutive lines of one of the sources.  A block whose first
line is "// not compiled: REASON" is exempt and reported.  Prints
"N passed, N failed"; exits 1 when a block is not found."""
import sys


def lines(text):
    return [l.rstrip() for l in text.splitlines()]


def blocks(md):
    out, cur, start = [], None, 0
    for i, l in enumerate(md.splitlines(), 1):
        s = l.strip()
        if cur is None and s in ("```c", "```C"):
            cur, start = [], i
        elif cur is not None and s == "```":
            out.append((start, cur))
            cur = None
        elif cur is not None:
            cur.append(l.rstrip())
    return out


def contains(hay, needle):
    n = len(needle)
    return any(hay[i:i + n] == needle for i in range(len(hay) - n + 1))


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    md = open(sys.argv[1], encoding="utf-8").read()
    srcs = [lines(open(p, encoding="utf-8").read()) for p in sys.argv[2:]]
    passed = failed = 0
    found = blocks(md)
    for start, b in found:
        while b and not b[-1]:
            b.pop()
        if b and b[0].startswith("// not compiled:"):
            print(f"note: block at line {start} is exempt: {b[0][3:]}")
            continue
        if b and any(contains(s, b) for s in srcs):
            passed += 1
        else:
            failed += 1
            print(f"FAILED: the C block at {sys.argv[1]}:{start} is not in "
                  f"{', '.join(sys.argv[2:])}")
    if not found:
        failed += 1
        print(f"FAILED: no C block in {sys.argv[1]}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
