"""Shared helpers for the tests of the `mfa` command-line tool.

The tool is found through $MFA_TOOL (set by tests/meson.build) or the first
argument.  Every test program ends with the line "N passed, N failed"
(", N skipped" added when a part needed a program or service that is
absent; a test that needs one throughout exits 77 instead).  Each skip
prints "skipped: WHAT: REASON", which scripts/summarize.py lists.
"""
import os
import shutil
import subprocess
import sys
import tempfile

TOOL = os.environ.get("MFA_TOOL") or (sys.argv[1] if len(sys.argv) > 1 else "mfa")

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_THROTTLED, EXIT_STORE, EXIT_INPUT = range(6)


class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err

    def __repr__(self):
        return f"rc={self.rc} out={self.out[:300]!r} err={self.err[:300]!r}"


class Suite:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.tmp = tempfile.mkdtemp(prefix=f"mfa-cli-{name}-")

    def check(self, cond, what, detail=None):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}" + (f": {detail}" if detail is not None else ""))
        return cond

    def require(self, prog, package):
        """Exit 77 (meson's skip), saying what provides prog, if it is absent."""
        if shutil.which(prog) is None:
            print(f"skipped: {prog} not found: apt-get install {package} "
                  "(scripts/deps.sh test installs it)")
            sys.exit(77)

    def skip(self, what, reason):
        """Count a part that could not run, with why and what provides it."""
        self.skipped += 1
        print(f"skipped: {what}: {reason}")

    def mfa(self, *args, input=None, env=None, binary=False, timeout=60):
        """Run the tool; input is text (or bytes) for stdin."""
        e = dict(os.environ)
        e.pop("MFA_STORE", None)
        e.pop("MFA_KEYRING", None)
        if env:
            e.update(env)
        data = input
        if data is not None and not isinstance(data, bytes):
            data = data.encode()
        p = subprocess.run([TOOL, *[str(a) for a in args]], input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=e, timeout=timeout,
                           stdin=None if data is not None else subprocess.DEVNULL)
        out = p.stdout if binary else p.stdout.decode("utf-8", "replace")
        return Result(p.returncode, out, p.stderr.decode("utf-8", "replace"))

    def expect(self, what, res, rc, out_contains=None, err_prefix=True):
        """Check an exit code, and that an error is reported as "mfa: ..."."""
        ok = self.check(res.rc == rc, f"{what}: exit {rc}", res)
        if ok and rc not in (EXIT_OK,) and err_prefix:
            self.check(res.err.startswith("mfa: "), f"{what}: error on stderr as 'mfa: ...'", res)
        if ok and out_contains is not None:
            self.check(out_contains in res.out, f"{what}: output has {out_contains!r}", res)
        return res

    def path(self, name):
        return os.path.join(self.tmp, name)

    def finish(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        tail = f", {self.skipped} skipped" if self.skipped else ""
        print(f"{self.passed} passed, {self.failed} failed{tail}")
        sys.exit(0 if self.failed == 0 else 1)


def text_qr_to_pgm(text, path, invert=False, scale=6):
    """Turn the half-block terminal drawing back into a PGM image.

    By default the tool draws light modules as blocks (for light-on-dark
    terminals); with invert=True dark modules are the blocks.  Each
    character is one module wide and two modules high, so the image keeps
    the QR code's square aspect only if the tool got it right.
    """
    rows = []
    for line in text.rstrip("\n").split("\n"):
        top, bottom = [], []
        for ch in line:
            upper = ch in "\u2588\u2580"
            lower = ch in "\u2588\u2584"
            if ch not in " \u2588\u2580\u2584":
                raise ValueError(f"unexpected character {ch!r} in QR text")
            top.append(upper)
            bottom.append(lower)
        rows.append(top)
        rows.append(bottom)
    width = max(len(r) for r in rows)
    # a block is "drawn" = light in the default mode, dark when inverted
    pixels = []
    for r in rows:
        r = r + [False] * (width - len(r))
        line = []
        for drawn in r:
            light = drawn if not invert else not drawn
            line.extend([255 if light else 0] * scale)
        for _ in range(scale):
            pixels.append(line)
    with open(path, "wb") as fh:
        fh.write(f"P5\n{width * scale} {len(pixels)}\n255\n".encode())
        for line in pixels:
            fh.write(bytes(line))
    return width, len(rows)


def zbar(path):
    """Decode a QR image with zbarimg; returns the text or None."""
    p = subprocess.run(["zbarimg", "--raw", "-q", path], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    if p.returncode != 0:
        return None
    return p.stdout.decode("utf-8", "replace").rstrip("\n")


def b32(data):
    import base64
    return base64.b32encode(data).decode().rstrip("=")
