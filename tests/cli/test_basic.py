#!/usr/bin/env python3
"""The `mfa` tool without a store: help, version, usage errors, secret,
code, verify, uri and inspect, with their bad input and exit codes."""
import base64
import json
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (Suite, b32, EXIT_OK, EXIT_REJECTED, EXIT_USAGE,  # noqa: E402
                     EXIT_STORE, EXIT_INPUT)

t = Suite("basic")
COMMANDS = ["secret", "uri", "qr", "code", "verify", "inspect", "keyring",
            "enroll", "confirm", "check", "recover", "backup-codes", "list",
            "rename", "remove", "reset", "rotate-keys", "migrate",
            "device-check", "devices", "device-forget", "gc", "passkeys"]

# ---- help, version, usage ----
r = t.expect("--version", t.mfa("--version"), EXIT_OK, "mfa (libmfa) ")
r = t.expect("--help", t.mfa("--help"), EXIT_OK, "Exit status")
for c in COMMANDS:
    t.expect(f"{c} --help", t.mfa(c, "--help"), EXIT_OK, f"Usage: mfa")
    t.expect(f"help {c}", t.mfa("help", c), EXIT_OK, "Usage: mfa")
t.check(t.mfa().rc == EXIT_USAGE, "no command: exit 2")
t.expect("unknown command", t.mfa("frobnicate"), EXIT_USAGE)
t.expect("unknown option", t.mfa("secret", "--frob"), EXIT_USAGE)
t.expect("unknown global option", t.mfa("--frob", "secret"), EXIT_USAGE)
t.expect("short option", t.mfa("secret", "-x"), EXIT_USAGE)
t.expect("missing option value", t.mfa("secret", "--bytes"), EXIT_USAGE)
t.expect("flag with value", t.mfa("inspect", "--show-secret=1"), EXIT_USAGE)
r = t.expect("usage error as JSON", t.mfa("secret", "--bytes", "x", "--json"), EXIT_USAGE)
t.check(json.loads(r.out or "{}").get("exit") == EXIT_USAGE, "usage error JSON has exit 2", r)

# ---- secret ----
r = t.expect("secret", t.mfa("secret"), EXIT_OK)
s1 = r.out.strip()
t.check(len(s1) == 32 and all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in s1),
        "secret: 32 base32 characters", s1)
t.check(len(base64.b32decode(s1)) == 20, "secret: 20 bytes")
t.check(t.mfa("secret").out.strip() != s1, "secret: two secrets differ")
for n, chars in ((16, 26), (32, 52), (64, 103)):
    r = t.expect(f"secret --bytes {n}", t.mfa("secret", "--bytes", n), EXIT_OK)
    t.check(len(r.out.strip()) == chars, f"secret --bytes {n}: {chars} characters", r)
for bad in ("15", "65", "0", "-1", "abc", "20x", ""):
    t.expect(f"secret --bytes {bad!r}", t.mfa("secret", f"--bytes={bad}"), EXIT_USAGE)
r = t.expect("secret --json", t.mfa("secret", "--json"), EXIT_OK)
j = json.loads(r.out)
t.check(j["bytes"] == 20 and j["grouped"].replace(" ", "") == j["secret"],
        "secret --json fields", j)
t.expect("secret extra argument", t.mfa("secret", "x"), EXIT_USAGE)

# ---- code: RFC 4226 / 6238 vectors ----
k20 = b32(b"12345678901234567890")
k32 = b32(b"12345678901234567890123456789012")
k64 = b32(b"1234567890" * 6 + b"1234")
for secret, alg, when, want in ((k20, "SHA1", 59, "94287082"),
                                (k32, "SHA256", 59, "46119246"),
                                (k64, "SHA512", 59, "90693936"),
                                (k20, "SHA1", 1111111109, "07081804"),
                                (k32, "SHA256", 2000000000, "90698825"),
                                (k64, "SHA512", 20000000000, "47863826")):
    r = t.mfa("code", "--algorithm", alg, "--digits", 8, "--time", when, input=secret + "\n")
    t.check(r.rc == 0 and r.out == want + "\n", f"RFC 6238 {alg} at {when}", r)
for counter, want in enumerate(("755224", "287082", "359152", "969429", "338314",
                                "254676", "287922", "162583", "399871", "520489")):
    r = t.mfa("code", "--hotp", "--counter", counter, input=k20)
    t.check(r.rc == 0 and r.out.strip() == want, f"RFC 4226 counter {counter}", r)
# HOTP counters over the full 64-bit range, as the C API, the URI parser and
# oathtool take them; the reference is oathtool when it accepts the counter,
# else HMAC-SHA1 computed here
import hashlib  # noqa: E402
import hmac  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402


def hotp_ref(key, counter, digits=6):
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    off = mac[-1] & 15
    v = int.from_bytes(mac[off:off + 4], "big") & 0x7fffffff
    return str(v % 10 ** digits).zfill(digits)


for counter in (2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1):
    want, ref = hotp_ref(b"12345678901234567890", counter), "HMAC"
    if shutil.which("oathtool"):
        p = subprocess.run(["oathtool", "--hotp", f"--counter={counter}",
                            b"12345678901234567890".hex()], capture_output=True, text=True)
        if p.returncode == 0:
            want, ref = p.stdout.strip(), "oathtool"
            t.check(want == hotp_ref(b"12345678901234567890", counter),
                    f"oathtool and HMAC agree at counter {counter}", p)
    r = t.mfa("code", "--hotp", "--counter", counter, input=k20)
    t.check(r.rc == 0 and r.out.strip() == want, f"code --hotp --counter {counter} = {ref}", r)
    r = t.mfa("code", "--hotp", "--counter", counter, "--json", input=k20)
    t.check(r.rc == 0 and json.loads(r.out or "{}").get("counter") == counter,
            f"code --json shows counter {counter} unsigned", r)
    r = t.mfa("uri", "--issuer", "X", "--account", "a", "--hotp", "--counter", counter, input=k20)
    t.check(r.rc == 0 and f"counter={counter}" in r.out, f"uri --hotp --counter {counter}", r)
    uri = r.out.strip()
    r = t.mfa("inspect", "--json", uri)
    t.check(r.rc == 0 and json.loads(r.out or "{}").get("counter") == counter,
            f"inspect --json shows counter {counter}", r)
# the next counter after 2^64-1 cannot be stored: verify says so (exit 5)
r = t.mfa("verify", "--hotp", "--counter", 2 ** 64 - 1, hotp_ref(b"12345678901234567890", 2 ** 64 - 1),
          input=k20)
t.check(r.rc == EXIT_INPUT and "overflow" in r.err, "verify at counter 2^64-1: overflow refused", r)
r = t.mfa("verify", "--hotp", "--counter", 2 ** 64 - 3, hotp_ref(b"12345678901234567890", 2 ** 64 - 2),
          input=k20)
t.check(r.rc == EXIT_OK and "counter 18446744073709551614" in r.out, "verify at counter 2^64-2", r)
for bad in (2 ** 64, -1, "+1", " 1", "1 ", "0x10", "1e3", "", "99999999999999999999",
            "000000000000000000001"):
    t.expect(f"code --hotp --counter {bad!r}", t.mfa("code", "--hotp", f"--counter={bad}", input=k20),
             EXIT_USAGE)
    t.expect(f"uri --hotp --counter {bad!r}",
             t.mfa("uri", "--issuer", "X", "--account", "a", "--hotp", f"--counter={bad}", input=k20),
             EXIT_USAGE)
r = t.mfa("code", "--time=59", "--algorithm=sha1", "--digits=8", input=k20.lower())
t.check(r.out.strip() == "94287082", "code: lowercase secret and --opt=value", r)
grouped = " ".join(k20[i:i + 4] for i in range(0, len(k20), 4))
r = t.mfa("code", "--time", 59, "--digits", 8, input=grouped)
t.check(r.out.strip() == "94287082", "code: grouped secret", r)
r = t.mfa("code", "--time", 59, "--json", input=k20)
j = json.loads(r.out)
t.check(j["code"] == "287082" and j["step"] == 1 and j["type"] == "totp", "code --json", j)
r = t.mfa("code", "--period", 60, "--time", 119, "--digits", 8, input=k20)
t.check(r.out.strip() == "94287082", "code: --period 60 at 119 is step 1", r)
r = t.mfa("code", "--t0", 100, "--time", 159, "--digits", 8, input=k20)
t.check(r.out.strip() == "94287082", "code: --t0 100 at 159 is step 1", r)
# the secret file
sf = t.path("secret.txt")
with open(sf, "w") as fh:
    fh.write(k20 + "\n")
r = t.mfa("code", "--secret-file", sf, "--time", 59)
t.check(r.rc == 0 and r.out.strip() == "287082", "code --secret-file", r)
r = t.mfa("code", "--secret-file", "-", "--time", 59, input=k20)
t.check(r.out.strip() == "287082", "code --secret-file -", r)
t.expect("code: missing secret file", t.mfa("code", "--secret-file", t.path("nope")), EXIT_INPUT)
t.expect("code: directory as secret file", t.mfa("code", "--secret-file", t.tmp), EXIT_INPUT)
# otpauth URI on stdin, options override it
uri = f"otpauth://totp/X:a?secret={k20}&issuer=X&digits=8&period=60"
r = t.mfa("code", "--time", 119, input=uri)
t.check(r.out.strip() == "94287082", "code: URI parameters used", r)
r = t.mfa("code", "--time", 59, "--period", 30, "--digits", 6, input=uri)
t.check(r.out.strip() == "287082", "code: options override the URI", r)
# bad input: exit 5, and the secret is never echoed
for what, data in (("bad character", "JBSWY3DP!HPK3PXP"), ("bad length", "JBSWY3DPE"),
                   ("empty", ""), ("only spaces", "   \n"), ("too long", "A" * 120),
                   ("NUL byte", "JBSW\0Y3DP"), ("huge", "A" * 20000),
                   ("bad URI", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP1")):
    r = t.expect(f"code: {what}", t.mfa("code", input=data), EXIT_INPUT)
    if len(data) > 4 and len(data) < 200:
        t.check(data.strip("\0") not in r.err and "JBSWY3DP" not in r.err,
                f"code: {what}: secret not echoed", r)
for args in (("--digits", 5), ("--digits", 11), ("--period", 0), ("--period", 86401),
             ("--algorithm", "MD5"), ("--counter", 3), ("--hotp", "--counter", -1),
             ("--time", "soon"), ("extra",)):
    t.expect(f"code {args}", t.mfa("code", *args, input=k20), EXIT_USAGE)
t.expect("code: time before t0", t.mfa("code", "--t0", 100, "--time", 50, input=k20), EXIT_INPUT)

# a secret typed at a terminal: prompt on stderr, no echo
import pty
import select
import subprocess
from clitest import TOOL  # noqa: E402
master, slave = pty.openpty()
p = subprocess.Popen([TOOL, "code", "--time", "59"], stdin=slave, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
os.close(slave)
prompt = b""
while b"Secret: " not in prompt and select.select([p.stderr], [], [], 10)[0]:
    chunk = os.read(p.stderr.fileno(), 64)
    if not chunk:
        break
    prompt += chunk
os.write(master, (k20 + "\n").encode())
out, err = p.communicate(timeout=10)
echoed = b""
while select.select([master], [], [], 0.2)[0]:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    echoed += chunk
os.close(master)
t.check(b"Secret: " in prompt, "terminal: prompt on stderr", prompt)
t.check(out == b"287082\n", "terminal: code from the typed secret", out)
t.check(k20.encode() not in echoed, "terminal: the typed secret is not echoed", echoed)

# ---- verify ----
def code_at(when, *extra, secret=k20):
    return t.mfa("code", "--time", when, *extra, input=secret).out.strip()

T = 1700000000
r = t.expect("verify: current code", t.mfa("verify", "--time", T, code_at(T), input=k20), EXIT_OK,
             "offset +0")
r = t.expect("verify: previous step", t.mfa("verify", "--time", T, code_at(T - 30), input=k20),
             EXIT_OK, "offset -1")
r = t.expect("verify: next step", t.mfa("verify", "--time", T, code_at(T + 30), input=k20),
             EXIT_OK, "offset +1")
t.expect("verify: two steps ahead, default window", t.mfa("verify", "--time", T, code_at(T + 60), input=k20),
         EXIT_REJECTED)
t.expect("verify: two steps ahead, --window 0:2",
         t.mfa("verify", "--time", T, "--window", "0:2", code_at(T + 60), input=k20), EXIT_OK, "offset +2")
t.expect("verify: one behind, --window 0:2",
         t.mfa("verify", "--time", T, "--window", "0:2", code_at(T - 30), input=k20), EXIT_REJECTED)
t.expect("verify: --window 3 (both sides)",
         t.mfa("verify", "--time", T, "--window", "3", code_at(T - 90), input=k20), EXIT_OK, "offset -3")
r = t.mfa("verify", "--time", T, "--json", "--digits", 8, code_at(T - 30, "--digits", 8), input=k20)
j = json.loads(r.out)
t.check(r.rc == 0 and j["ok"] is True and j["offset"] == -1, "verify --json", r)
wrong = "%06d" % ((int(code_at(T)) + 1) % 1000000)
t.expect("verify: wrong code", t.mfa("verify", "--time", T, "--window", "0:0", wrong, input=k20), EXIT_REJECTED)
r = t.mfa("verify", "--time", T, "--json", "--window", "0:0", wrong, input=k20)
t.check(r.rc == 1 and json.loads(r.out)["error"] == "MFA_ERR_CODE_WRONG", "verify: wrong code JSON", r)
# malformed codes are bad input (exit 5), not a rejected guess
t.expect("verify: short code", t.mfa("verify", "--time", T, code_at(T)[1:], input=k20), EXIT_INPUT)
t.expect("verify: letters", t.mfa("verify", "--time", T, "12a456", input=k20), EXIT_INPUT)
t.expect("verify: spaces in code are fine",
         t.mfa("verify", "--time", T, code_at(T)[:3] + " " + code_at(T)[3:], input=k20), EXIT_OK)
t.expect("verify: missing CODE", t.mfa("verify", input=k20), EXIT_USAGE)
t.expect("verify: two CODEs", t.mfa("verify", "1", "2", input=k20), EXIT_USAGE)
for w in ("a:b", "11:0", "0:11", "1:2:3", "-1:0", ""):
    t.expect(f"verify --window {w!r}", t.mfa("verify", f"--window={w}", "123456", input=k20), EXIT_USAGE)
t.expect("verify: bad secret", t.mfa("verify", "123456", input="not base32!"), EXIT_INPUT)
# HOTP: look-ahead and offset
h3 = t.mfa("code", "--hotp", "--counter", 3, input=k20).out.strip()
t.expect("verify --hotp: counter 3 from 0", t.mfa("verify", "--hotp", "--counter", 0, h3, input=k20),
         EXIT_OK, "offset 3")
t.expect("verify --hotp: --window 0:2 misses it",
         t.mfa("verify", "--hotp", "--counter", 0, "--window", "0:2", h3, input=k20), EXIT_REJECTED)
t.expect("verify --hotp: past window refused",
         t.mfa("verify", "--hotp", "--window", "1:2", h3, input=k20), EXIT_USAGE)

# ---- uri ----
S = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
r = t.expect("uri", t.mfa("uri", "--issuer", "Example Co", "--account", "alice@example.com", input=S),
             EXIT_OK)
t.check(r.out == f"otpauth://totp/Example%20Co:alice%40example.com?secret={S}&issuer=Example%20Co\n",
        "uri: exact universal URI", r)
r = t.expect("uri --new", t.mfa("uri", "--issuer", "X", "--account", "a", "--new"), EXIT_OK)
lines = r.out.splitlines()
t.check(len(lines) == 2 and lines[1].startswith("key: "), "uri --new: URI and key lines", r)
if len(lines) == 2:
    key = lines[1][5:]
    t.check(len(key) == 39 and key.replace(" ", "") in lines[0], "uri --new: grouped key matches URI", r)
r = t.expect("uri --new --json", t.mfa("uri", "--issuer", "X", "--account", "a", "--new", "--bytes", 32,
                                       "--json"), EXIT_OK)
j = json.loads(r.out)
t.check(len(j["secret"]) == 52 and j["secret"] in j["uri"], "uri --new --json", j)
r = t.mfa("uri", "--issuer", "X", "--account", "a", "--algorithm", "SHA256", "--digits", 8,
          "--period", 60, input=S)
t.check("algorithm=SHA256" in r.out and "digits=8" in r.out and "period=60" in r.out,
        "uri: custom parameters", r)
r = t.mfa("uri", "--issuer", "X", "--account", "a", "--explicit", input=S)
t.check("algorithm=SHA1&digits=6&period=30" in r.out, "uri --explicit", r)
r = t.mfa("uri", "--issuer", "X", "--account", "a", "--hotp", "--counter", 7, input=S)
t.check(r.out.startswith("otpauth://hotp/") and "counter=7" in r.out, "uri --hotp --counter", r)
r = t.mfa("uri", "--issuer", "X", "--account", "a", "--profile", "google", input=S)
t.check(r.rc == 0 and r.out.startswith("otpauth://totp/X:a?"), "uri --profile google", r)
r = t.mfa("uri", "--issuer", "X", "--account", "a", "--image", "https://example.com/i.png", input=S)
t.check("image=" in r.out, "uri --image", r)
t.expect("uri: http image refused", t.mfa("uri", "--issuer", "X", "--account", "a", "--image",
                                           "http://example.com/i.png", input=S), EXIT_INPUT)
t.expect("uri: missing --account", t.mfa("uri", "--issuer", "X", input=S), EXIT_USAGE)
t.expect("uri: missing --issuer", t.mfa("uri", "--account", "a", input=S), EXIT_USAGE)
t.expect("uri: colon in issuer", t.mfa("uri", "--issuer", "A:B", "--account", "a", input=S), EXIT_INPUT)
t.expect("uri: colon in account", t.mfa("uri", "--issuer", "A", "--account", "a:b", input=S), EXIT_INPUT)
t.expect("uri: empty account", t.mfa("uri", "--issuer", "A", "--account", "", input=S), EXIT_INPUT)
t.expect("uri: bad secret", t.mfa("uri", "--issuer", "A", "--account", "a", input="ABC!"), EXIT_INPUT)
short = b32(os.urandom(10))
t.expect("uri: 10-byte secret refused", t.mfa("uri", "--issuer", "A", "--account", "a", input=short),
         EXIT_INPUT)
t.expect("uri: 10-byte secret with --legacy", t.mfa("uri", "--issuer", "A", "--account", "a",
                                                    "--legacy", input=short), EXIT_OK)
t.expect("uri: unknown profile", t.mfa("uri", "--issuer", "A", "--account", "a", "--profile", "nope",
                                        input=S), EXIT_USAGE)
t.expect("uri: --counter without --hotp", t.mfa("uri", "--issuer", "A", "--account", "a", "--counter", 1,
                                                input=S), EXIT_USAGE)
t.expect("uri: --bytes without --new", t.mfa("uri", "--issuer", "A", "--account", "a", "--bytes", 20,
                                             input=S), EXIT_USAGE)
t.expect("uri: --profile with --digits", t.mfa("uri", "--issuer", "A", "--account", "a", "--profile",
                                               "google", "--digits", 8, input=S), EXIT_USAGE)
t.expect("uri: missing secret file", t.mfa("uri", "--issuer", "A", "--account", "a", "--secret-file",
                                           t.path("missing")), EXIT_INPUT)
# the URI feeds `mfa code` and gives the same codes as the bare secret
u = t.mfa("uri", "--issuer", "X", "--account", "a", "--algorithm", "SHA512", "--digits", 7,
          "--period", 45, input=S).out.strip()
t.check(t.mfa("code", "--time", T, input=u).out ==
        t.mfa("code", "--time", T, "--algorithm", "SHA512", "--digits", 7, "--period", 45, input=S).out,
        "uri round trip through code")

# ---- inspect ----
u = f"otpauth://totp/Example:alice?secret={S}&issuer=Example&digits=8"
r = t.expect("inspect", t.mfa("inspect", input=u), EXIT_OK, "Microsoft Authenticator")
t.check(S not in r.out and S not in r.err, "inspect hides the secret", r)
t.check("digits:     8" in r.out and "account:    alice" in r.out, "inspect fields", r)
t.check("wrong codes" in r.out, "inspect: lint says wrong codes for digits=8", r)
r = t.expect("inspect --show-secret", t.mfa("inspect", "--show-secret", input=u), EXIT_OK, S)
r = t.expect("inspect URI argument", t.mfa("inspect", u), EXIT_OK, "Example")
r = t.expect("inspect -", t.mfa("inspect", "-", input=u), EXIT_OK, "Example")
r = t.expect("inspect --json", t.mfa("inspect", "--json", input=u), EXIT_OK)
j = json.loads(r.out)
t.check(len(j["apps"]) == 6 and "secret" not in j and j["digits"] == 8 and j["secret_bytes"] == 20,
        "inspect --json fields", j)
ms = [a for a in j["apps"] if a["app"] == "Microsoft Authenticator"]
t.check(ms and ms[0]["verdict"] != "works", "inspect --json: Microsoft verdict", j)
r = t.mfa("inspect", "--json", "--show-secret", input=u)
t.check(json.loads(r.out).get("secret") == S, "inspect --json --show-secret", r)
r = t.mfa("inspect", input=f"otpauth://totp/Example:alice?secret={S}====&issuer=Example")
t.check(r.rc == 0 and "padding" in r.out, "inspect: padded secret warning", r)
for what, bad in (("http scheme", "http://example.com"), ("bad type", f"otpauth://motp/a?secret={S}"),
                  ("no secret", "otpauth://totp/a"), ("bad secret", "otpauth://totp/a?secret=1!"),
                  ("bad digits", f"otpauth://totp/a?secret={S}&digits=4"),
                  ("issuer mismatch", f"otpauth://totp/A:a?secret={S}&issuer=B"),
                  ("too long", "otpauth://totp/a?secret=" + "A" * 3000), ("not a URI", "hello")):
    t.expect(f"inspect: {what}", t.mfa("inspect", input=bad), EXIT_INPUT)
t.expect("inspect: empty input", t.mfa("inspect", input=""), EXIT_INPUT)
# URIs from the wild: read as pyotp and otpauth read them, each oddity a
# warning in `mfa inspect`; pyotp (Debian's python3-pyotp, for
# /usr/bin/python3) cross-checks issuer, account and a code when present
K = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
WILD = [  # uri, issuer, account, warning text, pyotp reads it
    (f"otpauth://totp/Ex%20Mail:alice?secret={K}&issuer=Ex+Mail", "Ex Mail", "alice",
     "read as a space", True),
    (f"otpauth://totp/Ex:alice?secret={K}&issuer=", "Ex", "alice", "empty issuer=", True),
    (f"otpauth://totp/Ex:alice?secret={K}&issuer=Ex&image=https://example.com/my%20logo.png",
     "Ex", "alice", "spaces in the image URL", True),
    (f"otpauth://totp/Ex:alice?secret={K}&issuer=Ex&image=http://example.com/a.png",
     "Ex", "alice", "image= is not a usable https URL", True),
    (f"otpauth://totp/Ex:alice:work?secret={K}&issuer=Ex", "Ex", "alice:work",
     "inside the account or issuer", True),
    (f"OTPAUTH://totp/Ex:alice?secret={K}&issuer=Ex", "Ex", "alice",
     "scheme is not lowercase", True),
    # pyotp 2.6 compares the type case-sensitively (otpauth does not)
    (f"OTPAUTH://TOTP/Ex:alice?secret={K}&issuer=Ex", "Ex", "alice",
     "type is not lowercase", False),
]
PYOTP = "/usr/bin/python3"
PYOTP_READ = """
import sys
try:
    import pyotp
except ImportError:
    print("missing"); sys.exit(0)
try:
    o = pyotp.parse_uri(sys.argv[1])
except Exception as e:
    print("refused", type(e).__name__); sys.exit(0)
print("read"); print(o.issuer or ""); print(o.name); print(o.at(int(sys.argv[2])))
"""
have_pyotp = os.path.exists(PYOTP) and subprocess.run(
    [PYOTP, "-c", "import pyotp"], capture_output=True).returncode == 0
if not have_pyotp:
    print("note: pyotp not installed for /usr/bin/python3 (apt-get install "
          "python3-pyotp): the pyotp cross-check is skipped")
for uri, issuer, account, warning, pyotp_reads in WILD:
    r = t.expect(f"inspect wild: {uri}", t.mfa("inspect", "--json", uri), EXIT_OK)
    j = json.loads(r.out or "{}")
    t.check(j.get("issuer") == issuer and j.get("account") == account,
            f"inspect wild: issuer {issuer!r}, account {account!r}", j)
    t.check(any(warning in w for w in j.get("warnings", [])),
            f"inspect wild: warning '{warning}'", j)
    r2 = t.mfa("inspect", uri)
    t.check(f"warning:    " in r2.out and warning in r2.out, "inspect wild: text warning", r2)
    mine = t.mfa("code", "--time", 1700000000, input=uri + "\n")
    t.check(mine.rc == 0, "code from a wild URI", mine)
    if have_pyotp:
        p = subprocess.run([PYOTP, "-c", PYOTP_READ, uri, "1700000000"],
                           capture_output=True, text=True)
        lines = p.stdout.split("\n")
        if pyotp_reads:
            t.check(lines[:3] == ["read", issuer, account] and
                    lines[3] == mine.out.strip(),
                    f"pyotp reads the same issuer, account and code: {uri}", (lines, mine))
        else:
            t.check(lines[0].startswith("refused"),
                    f"pyotp 2.6 refuses {uri} (libmfa reads it, warned)",
                    lines)
# refusals keep their specific codes
for what, bad, name in (
        ("'+' cannot make them equal", f"otpauth://totp/Ex%20Mail:a?secret={K}&issuer=Ex+Mail+",
         "MFA_ERR_URI_ISSUER"),
        ("zero-width space", f"otpauth://totp/Ex:adm%E2%80%8Bin?secret={K}", "MFA_ERR_FORMAT_CHAR"),
        ("noncharacter", f"otpauth://totp/Ex:a%EF%BF%BEb?secret={K}", "MFA_ERR_NONCHARACTER"),
        ("line separator", f"otpauth://totp/Ex:a%E2%80%A8b?secret={K}", "MFA_ERR_CONTROL_CHAR")):
    r = t.expect(f"inspect: {what}", t.mfa("inspect", "--json", bad), EXIT_INPUT)
    t.check(json.loads(r.out or "{}").get("error") == name, f"inspect: {what} is {name}", r)
# text fields of a new URI: invisible characters refused
for cp, name in ((0x200B, "MFA_ERR_FORMAT_CHAR"), (0x202E, "MFA_ERR_FORMAT_CHAR"),
                 (0xFEFF, "MFA_ERR_FORMAT_CHAR"), (0x2028, "MFA_ERR_CONTROL_CHAR"),
                 (0xFDD0, "MFA_ERR_NONCHARACTER"), (0x1FFFF, "MFA_ERR_NONCHARACTER")):
    r = t.mfa("uri", "--json", "--issuer", "Ex", "--account", f"adm{chr(cp)}in", input=K)
    t.check(r.rc == EXIT_INPUT and json.loads(r.out or "{}").get("error") == name,
            f"uri: U+{cp:04X} in the account is {name}", r)
    r = t.mfa("uri", "--json", "--issuer", f"E{chr(cp)}x", "--account", "admin", input=K)
    t.check(r.rc == EXIT_INPUT and json.loads(r.out or "{}").get("error") == name,
            f"uri: U+{cp:04X} in the issuer is {name}", r)

# a key typed by a person: 0 and 1 read as O and I (Google Authenticator's
# manual entry), 8 stays invalid
typed = "GEZDGNBVGY3TQ0JQGEZDGNBVGY3TQOJQ"  # an O typed as 0
r = t.mfa("code", "--hotp", "--counter", 0, input=typed)
t.check(r.rc == 0 and r.out.strip() == "755224", "code: typed key with 0 for O", r)
r = t.mfa("code", "--hotp", "--counter", 0, input="gezd gnbv gy3t q0jq gezd gnbv gy3t q0jq")
t.check(r.rc == 0 and r.out.strip() == "755224", "code: grouped lowercase typed key with 0", r)
r = t.mfa("uri", "--issuer", "X", "--account", "a", input="MZXW6YTB01GEZDGNBVGY3TQOJQ")
t.check(r.rc == 0 and "secret=MZXW6YTBOIGEZDGNBVGY3TQOJQ" in r.out, "uri: typed 0 and 1 as O and I", r)
r = t.mfa("code", "--hotp", "--counter", 0, input="GEZDGNBVGY3TQ8JQGEZDGNBVGY3TQOJQ")
t.check(r.rc == EXIT_INPUT, "code: 8 is not B", r)
# ... but not in a key URI: no app maps digits in a scanned key
r = t.mfa("inspect", f"otpauth://totp/a?secret={typed}")
t.check(r.rc == EXIT_INPUT, "inspect: 0 in a URI secret stays invalid", r)

uf = t.path("uri.txt")
with open(uf, "w") as fh:
    fh.write(u + "\n")
t.expect("inspect --secret-file", t.mfa("inspect", "--secret-file", uf), EXIT_OK, "alice")
t.expect("inspect: missing --secret-file", t.mfa("inspect", "--secret-file", t.path("nope")), EXIT_INPUT)
t.expect("inspect: argument and --secret-file", t.mfa("inspect", "--secret-file", uf, u), EXIT_USAGE)
t.expect("inspect: two arguments", t.mfa("inspect", u, u), EXIT_USAGE)

# ---- commands needing a store or key ring, used wrongly ----
kr = t.path("ring")
t.expect("keyring new", t.mfa("keyring", "new", kr), EXIT_OK)
t.check(os.path.exists(kr) and stat.S_IMODE(os.stat(kr).st_mode) == 0o600, "keyring file mode 0600")
t.expect("keyring new refuses to overwrite", t.mfa("keyring", "new", kr), EXIT_STORE)
t.expect("keyring without subcommand", t.mfa("keyring"), EXIT_USAGE)
t.expect("keyring bad subcommand", t.mfa("keyring", "show", kr), EXIT_USAGE)
t.expect("keyring new without FILE", t.mfa("keyring", "new"), EXIT_USAGE)
t.expect("keyring new in a missing directory", t.mfa("keyring", "new", t.path("no/such/ring")),
         EXIT_STORE)
db = "sqlite:" + t.path("s.db")
# opening never creates: a store that is not there is an error (exit 4)
# that names the path and says how to create it, and leaves no file
r = t.expect("check on a store that does not exist", t.mfa("--store", db, "--keyring", kr, "check", "a",
                                                           "123456"), EXIT_STORE)
t.check(not os.path.exists(t.path("s.db")), "a failed check creates no store file")
t.check(t.path("s.db") in r.err and "mfa migrate" in r.err, "the error names the path and mfa migrate")
r = t.expect("list on a store in a missing directory", t.mfa("--store", "sqlite:" + t.path("none/s.db"),
                                                             "--keyring", kr, "list", "a"), EXIT_STORE)
t.check("No such file or directory" in r.err, "the error gives the system's reason")
t.expect("migrate creates the store", t.mfa("--store", db, "migrate"), EXIT_OK, "schema version")
t.check(stat.S_IMODE(os.stat(t.path("s.db")).st_mode) == 0o600, "a created store file has mode 0600")
r = t.expect("check without --store", t.mfa("--keyring", kr, "check", "a", "123456"), EXIT_USAGE)
t.check("MFA_STORE" in r.err, "the usage error names MFA_STORE")
t.expect("check without --keyring", t.mfa("--store", db, "check", "a", "123456"), EXIT_USAGE)
t.expect("check with a bad store kind", t.mfa("--store", "mysql:x", "--keyring", kr, "check", "a",
                                              "123456"), EXIT_USAGE)
t.expect("check with a missing key ring", t.mfa("--store", db, "--keyring", t.path("none"), "check", "a",
                                                "123456"), EXIT_STORE)
open_ring = t.path("open-ring")
with open(kr) as src, open(open_ring, "w") as dst:
    dst.write(src.read())
os.chmod(open_ring, 0o644)
t.expect("key ring readable by others", t.mfa("--store", db, "--keyring", open_ring, "list", "a"),
         EXIT_STORE)
bad_ring = t.path("bad-ring")
with open(bad_ring, "w") as fh:
    fh.write("this is not a key ring\n")
os.chmod(bad_ring, 0o600)
t.expect("malformed key ring", t.mfa("--store", db, "--keyring", bad_ring, "list", "a"), EXIT_STORE)
t.expect("store in a missing directory", t.mfa("--store", "sqlite:" + t.path("no/such/dir/x.db"),
                                              "--keyring", kr, "list", "a"), EXIT_STORE)
for args in (("enroll",), ("enroll", "a", "b"), ("confirm", "a", "f"), ("check", "a"),
             ("recover",), ("backup-codes",), ("backup-codes", "a", "--count", 0),
             ("backup-codes", "a", "--count", 33), ("list",), ("remove", "a"), ("reset",),
             ("rename", "a", "f"), ("rotate-keys", "x"), ("migrate", "x"),
             ("enroll", "a", "--profile", "nope"), ("enroll", "a", "--digits", 12)):
    t.expect(f"{' '.join(map(str, args))}: usage", t.mfa("--store", db, "--keyring", kr, *args), EXIT_USAGE)
# bad account names are bad input, never a store error
for what, acct in (("empty", ""), ("too long", "a" * 200), ("control character", "a\tb"),
                   ("colon", "a:b")):
    t.expect(f"enroll: {what} account", t.mfa("--store", db, "--keyring", kr, "enroll", acct, "--no-qr"),
             EXIT_INPUT)
t.expect("enroll: label too long", t.mfa("--store", db, "--keyring", kr, "enroll", "a", "--label", "L" * 100),
         EXIT_INPUT)
t.expect("enroll: colon in issuer", t.mfa("--store", db, "--keyring", kr, "enroll", "a", "--issuer", "a:b"),
         EXIT_INPUT)
t.expect("check: empty account", t.mfa("--store", db, "--keyring", kr, "check", "", "123456"), EXIT_INPUT)
# options after the command and from the environment
t.expect("global options after the command", t.mfa("list", "a", "--store", db, "--keyring", kr), EXIT_OK)
t.expect("store and key ring from the environment",
         t.mfa("list", "a", env={"MFA_STORE": db, "MFA_KEYRING": kr}), EXIT_OK)
# ---- the man page names every command and option of the help texts ----
import re
man_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "man", "mfa.1")
man = open(man_path).read().replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")
for c in COMMANDS:
    t.check(re.search(rf"^\.B {re.escape(c)}\b", man, re.M) is not None, f"mfa.1 documents {c}")
    for opt in set(re.findall(r"--[a-z][a-z0-9-]*", t.mfa(c, "--help").out)):
        t.check(opt in man, f"mfa.1 documents {c} {opt}")
for opt in set(re.findall(r"--[a-z][a-z0-9-]*", t.mfa("--help").out)):
    t.check(opt in man, f"mfa.1 documents global {opt}")
for code in range(6):
    t.check(re.search(rf"^\.B {code}$", man, re.M) is not None, f"mfa.1 documents exit status {code}")
t.finish()
