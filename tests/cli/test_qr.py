#!/usr/bin/env python3
"""`mfa qr`: the PNG and SVG decoded by zbarimg give back the URI, and so
does the terminal drawing once turned back into pixels (which checks the
quiet zone and the half-block aspect); options and bad input."""
import os
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (Suite, text_qr_to_pgm, zbar, EXIT_OK, EXIT_USAGE,  # noqa: E402
                     EXIT_INPUT)

t = Suite("qr")
t.require("zbarimg", "zbar-tools")

uris = [
    t.mfa("uri", "--issuer", "Example", "--account", "alice@example.com", "--new").out.splitlines()[0],
    t.mfa("uri", "--issuer", "Exämple Bank ✓", "--account", "zoë.o'brien+test@example.co.uk",
          "--new", "--bytes", 64, "--algorithm", "SHA512", "--digits", 8).out.splitlines()[0],
    t.mfa("uri", "--issuer", "A" * 30, "--account", "b" * 40 + "@example.com",
          "--new", "--hotp", "--counter", 42).out.splitlines()[0],
]
t.check(all(u.startswith("otpauth://") for u in uris), "test URIs made", uris)

for n, uri in enumerate(uris):
    # PNG through --output: private file, decodes to the URI
    png = t.path(f"q{n}.png")
    r = t.expect(f"png {n}", t.mfa("qr", "--format", "png", "--output", png, input=uri), EXIT_OK)
    t.check(os.path.exists(png) and stat.S_IMODE(os.stat(png).st_mode) == 0o600,
            f"png {n}: file mode 0600")
    t.check(zbar(png) == uri, f"png {n}: zbarimg gives back the URI", zbar(png))
    # PNG on a redirected stdout, URI as an argument, another ECC level
    r = t.mfa("qr", "--format", "png", "--ecc", "H", "--scale", 5, uri, binary=True)
    t.check(r.rc == 0 and r.out[:8] == b"\x89PNG\r\n\x1a\n", f"png {n} on stdout", r.rc)
    png2 = t.path(f"q{n}-stdout.png")
    with open(png2, "wb") as fh:
        fh.write(r.out)
    t.check(zbar(png2) == uri, f"png {n} on stdout: zbarimg gives back the URI")
    # SVG rendered by rsvg-convert
    svg = t.path(f"q{n}.svg")
    r = t.expect(f"svg {n}", t.mfa("qr", "--format", "svg", "--output", svg, input=uri), EXIT_OK)
    if shutil.which("rsvg-convert"):
        out = t.path(f"q{n}-svg.png")
        subprocess.run(["rsvg-convert", "-w", "400", "-b", "white", "-o", out, svg], check=False)
        t.check(zbar(out) == uri, f"svg {n}: zbarimg gives back the URI")
    else:
        t.skip(f"svg {n} decoded", "rsvg-convert not found: apt-get install librsvg2-bin")
    # terminal text, both polarities
    for invert in (False, True):
        args = ["qr"] + (["--invert"] if invert else [])
        r = t.expect(f"text {n} invert={invert}", t.mfa(*args, input=uri), EXIT_OK)
        pgm = t.path(f"q{n}-{invert}.pgm")
        try:
            w, h = text_qr_to_pgm(r.out, pgm, invert=invert)
        except ValueError as e:
            t.check(False, f"text {n}: only half blocks", e)
            continue
        # square symbol plus quiet zone: rows of modules == columns (±1
        # for the odd row of the last half-block line)
        t.check(abs(w - h) <= 1, f"text {n}: square aspect ({w}x{h} modules)")
        t.check(zbar(pgm) == uri, f"text {n} invert={invert}: the drawing scans")
    # JSON
    r = t.expect(f"json {n}", t.mfa("qr", "--json", input=uri), EXIT_OK)
    import json
    j = json.loads(r.out)
    t.check(j["quiet_zone"] == 4 and j["modules"] == 17 + 4 * j["version"] and "text" in j,
            f"json {n}: fields", j)

# the quiet zone: the first character rows of the drawing are all blocks
r = t.mfa("qr", input=uris[0])
first = r.out.split("\n")[0]
t.check(set(first) == {"\u2588"}, "text: quiet zone on top", first)

# the URI from a file
uf = t.path("uri.txt")
with open(uf, "w") as fh:
    fh.write(uris[0] + "\n")
png = t.path("file.png")
t.expect("--secret-file", t.mfa("qr", "--secret-file", uf, "--format", "png", "--output", png), EXIT_OK)
t.check(zbar(png) == uris[0], "--secret-file: zbarimg gives back the URI")
t.expect("missing --secret-file", t.mfa("qr", "--secret-file", t.path("nope")), EXIT_INPUT)

# bad use
t.expect("bad format", t.mfa("qr", "--format", "jpeg", input=uris[0]), EXIT_USAGE)
t.expect("bad ecc", t.mfa("qr", "--ecc", "X", input=uris[0]), EXIT_USAGE)
t.expect("scale too small", t.mfa("qr", "--format", "png", "--scale", 2, "--output",
                                 t.path("s.png"), input=uris[0]), EXIT_USAGE)
t.expect("too long for a QR code", t.mfa("qr", input="otpauth://" + "x" * 3000), EXIT_INPUT)
t.expect("empty input", t.mfa("qr", input=""), EXIT_INPUT)
t.expect("two arguments", t.mfa("qr", "a", "b"), EXIT_USAGE)
t.expect("output in a missing directory", t.mfa("qr", "--output", t.path("no/such/q.txt"),
                                                input=uris[0]), EXIT_INPUT)
t.finish()
