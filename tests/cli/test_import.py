#!/usr/bin/env python3
"""`mfa import` on a store: the sample files of tests/import/ (written by
google-authenticator itself, users.oath from liboath's format, URI lists)
imported, the factors checked with the codes oathtool computes, scratch
codes usable once, a spent users.oath counter refused, --account on URIs
from standard input, and refusals that name the line and import nothing:
a bad line, a duplicate secret, usage errors.  SQLite always; PostgreSQL
too when MFA_PG_CONNINFO is set (scripts/test sets it)."""
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import Suite, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_INPUT  # noqa: E402

t = Suite("import")
t.require("oathtool", "oathtool")
SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "import")
T = 1700000000  # step 56666666 of 30 s; the samples' spent steps are near it


def sample(name):
    return os.path.join(SAMPLES, name)


def oathtool(*args):
    return subprocess.run(["oathtool", *[str(a) for a in args]], check=True,
                          stdout=subprocess.PIPE).stdout.decode().split()[0]


def scenario(kind, spec, schema=None):
    ring = t.path(f"{kind}.ring")
    opts = ["--schema", schema] if schema else []
    tag = secrets.token_hex(3)  # fresh accounts on a shared PostgreSQL

    def m(*args, now=T, **kw):
        return t.mfa("--store", spec, *opts, "--keyring", ring, "--time", now, *args, **kw)

    t.expect(f"{kind}: keyring new", t.mfa("keyring", "new", ring), EXIT_OK)
    t.expect(f"{kind}: migrate", t.mfa("--store", spec, *opts, "migrate"), EXIT_OK)

    # google-authenticator: the factor, its notes, the scratch codes
    alice = f"alice-{tag}"
    r = t.expect(f"{kind}: import a .google_authenticator file",
                 m("import", "--format", "google-authenticator", "--account", alice,
                   sample("ga-totp")), EXIT_OK, "imported 1 factor and 5 backup codes")
    t.check(f"ga-totp:2: note: RATE_LIMIT 3 30" in r.err, f"{kind}: RATE_LIMIT reported with its line", r)
    code = oathtool("--totp", "-b", "-N", f"@{T}", "ZBP3UBM4BLG7SANGILDTZD4TGA")
    t.expect(f"{kind}: the imported factor takes oathtool's code", m("check", alice, code), EXIT_OK)
    t.expect(f"{kind}: and only once", m("check", alice, code), EXIT_REJECTED)
    t.expect(f"{kind}: a scratch code logs in", m("recover", alice, "33465106"), EXIT_OK,
             "4 backup codes left")
    t.expect(f"{kind}: a scratch code only once", m("recover", alice, "33465106"), EXIT_REJECTED)
    r = t.expect(f"{kind}: list", m("list", alice), EXIT_OK, "google-authenticator")
    t.check("active" in r.out and "totp" in r.out, f"{kind}: the factor is active at once", r)

    # the same secret again (the file with CRLF line ends): refused
    r = t.expect(f"{kind}: a duplicate secret",
                 m("--json", "import", "--format", "google-authenticator", "--account", alice,
                   sample("ga-crlf")), EXIT_INPUT)
    j = json.loads(r.out or "{}")
    t.check(j.get("error") == "MFA_ERR_IMPORT_DUPLICATE" and j.get("line") == 1,
            f"{kind}: the duplicate is named, with its line", r)
    t.expect(f"{kind}: backup codes unchanged", m("backup-codes", alice, "--left"), EXIT_OK, "4")

    # users.oath: every line's account, counters as liboath means them
    oath = t.path(f"{kind}-users.oath")
    with open(sample("users.oath")) as f:
        text = f.read()
    for user in ("alice", "bob", "carol", "dave", "erin"):
        text = text.replace(f"\t{user}\t", f"\t{user}-{tag}\t").replace(f" {user} ", f" {user}-{tag} ")
    with open(oath, "w") as f:
        f.write(text)
    r = t.expect(f"{kind}: import users.oath --json",
                 m("--json", "import", "--format", "oath-users", oath), EXIT_OK)
    j = json.loads(r.out or "{}")
    lines = [(x.get("account"), x.get("line")) for x in j.get("factors", [])]
    t.check(lines == [(f"alice-{tag}", 3), (f"bob-{tag}", 6), (f"carol-{tag}", 8),
                      (f"dave-{tag}", 10), (f"erin-{tag}", 11), (f"erin-{tag}", 12)],
            f"{kind}: one factor per line, with its account and line", lines)
    t.check(any(n.get("line") == 6 and "static password" in n.get("text", "")
                for n in j.get("notes", [])), f"{kind}: the static password is reported", j)
    t.expect(f"{kind}: a spent counter is refused", m("check", f"carol-{tag}", "022339"), EXIT_REJECTED)
    code = oathtool("--hotp", "-c", 8, "a1b2c3d4e5f60718293a4b5c6d7e8f9001122334")
    t.expect(f"{kind}: the next counter works", m("check", f"carol-{tag}", code), EXIT_OK)
    code = oathtool("--hotp", "-d", 8, "-c", 5, "00112233445566778899aabbccddeeff00112233")
    t.expect(f"{kind}: a fresh counter is the next one", m("check", f"bob-{tag}", code), EXIT_OK)

    # a bad line: named, and nothing of the file imported
    bad = t.path(f"{kind}-bad.oath")
    with open(bad, "w") as f:
        f.write(f"HOTP amy-{tag} - 00112233445566778899aabbccddeeff00112233\n"
                "# a comment\n"
                f"HOTP/T45 ben-{tag} - a1b2c3d4e5f60718293a4b5c6d7e8f9001122334\n")
    r = t.expect(f"{kind}: a bad line", m("import", "--format", "oath-users", bad), EXIT_INPUT)
    t.check(f"-bad.oath:3: unknown token type" in r.err and "(MFA_ERR_TYPE); nothing imported" in r.err,
            f"{kind}: the error names the file, the line and the cause", r)
    r = t.expect(f"{kind}: a bad line --json", m("--json", "import", "--format", "oath-users", bad),
                 EXIT_INPUT)
    j = json.loads(r.out or "{}")
    t.check(j.get("ok") is False and j.get("line") == 3 and j.get("error") == "MFA_ERR_IMPORT_LINE"
            and j.get("cause") == "MFA_ERR_TYPE", f"{kind}: --json gives line and cause", r)
    t.expect(f"{kind}: the good line was not imported", m("list", f"amy-{tag}"), EXIT_OK, "no factors")

    # URIs from standard input, all on one account
    zed = f"zed-{tag}"
    with open(sample("uris.txt")) as f:
        uris = f.read()
    r = t.expect(f"{kind}: URIs from stdin with --account",
                 m("import", "--format", "uri", "--account", zed, "-", input=uris), EXIT_OK,
                 "imported 4 factors")
    t.check(":5: note:" in r.err, f"{kind}: the URI parser's warnings, with their line", r)
    code = oathtool("--totp=sha256", "-d", 8, "-s", 60, "-b", "-N", f"@{T}",
                    "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U")
    t.expect(f"{kind}: a SHA256/8/60 URI factor works", m("check", zed, code), EXIT_OK)
    r = t.expect(f"{kind}: a bad URI", m("import", "--format", "uri", sample("uris-bad.txt")),
                 EXIT_INPUT)
    t.check("uris-bad.txt:2:" in r.err and "MFA_ERR_URI_SECRET" in r.err,
            f"{kind}: the bad URI's line", r)

    # docs/migration.md's export script, run on a table, into the store
    with open(os.path.join(os.path.dirname(SAMPLES), "..", "docs", "migration.md")) as f:
        doc = f.read()
    script = re.search(r"```python\n(.*?)```", doc, re.S)
    if t.check(script is not None, f"{kind}: docs/migration.md has the export script"):
        path = t.path(f"{kind}-export.py")
        with open(path, "w") as f:
            f.write(script.group(1))
        db = t.path(f"{kind}-app.db")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE users (username TEXT, totp_secret TEXT, hotp_counter INTEGER)")
        users = [(f"pat-{tag}@example.com", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", None),
                 (f"quinn-{tag}", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", 7),
                 (f"nobody-{tag}", None, None)]
        con.executemany("INSERT INTO users VALUES (?, ?, ?)", users)
        con.commit()
        con.close()
        p = subprocess.run([sys.executable, path, db], stdout=subprocess.PIPE, check=True)
        r = t.expect(f"{kind}: the exported URIs import",
                     m("import", "--format", "uri", "-", input=p.stdout.decode()), EXIT_OK,
                     "imported 2 factors")
        code = oathtool("--totp", "-b", "-N", f"@{T}", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        t.expect(f"{kind}: an exported TOTP secret works", m("check", f"pat-{tag}@example.com", code),
                 EXIT_OK)
        code = oathtool("--hotp", "-b", "-c", 7, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        t.expect(f"{kind}: an exported HOTP counter is the next one", m("check", f"quinn-{tag}", code),
                 EXIT_OK)

    # usage
    t.expect(f"{kind}: no --format", m("import", sample("ga-totp")), EXIT_USAGE)
    t.expect(f"{kind}: unknown --format", m("import", "--format", "csv", sample("ga-totp")), EXIT_USAGE)
    t.expect(f"{kind}: google-authenticator without --account",
             m("import", "--format", "google-authenticator", sample("ga-totp")), EXIT_USAGE)
    t.expect(f"{kind}: oath-users with --account",
             m("import", "--format", "oath-users", "--account", "x", oath), EXIT_USAGE)
    t.expect(f"{kind}: no file", m("import", "--format", "uri"), EXIT_USAGE)
    r = t.expect(f"{kind}: a missing file",
                 m("import", "--format", "uri", t.path("missing.txt")), EXIT_INPUT)
    t.check("No such file" in r.err, f"{kind}: the OS's reason", r)


def run(kind, *args, **kw):
    try:
        scenario(kind, *args, **kw)
    except Exception as e:  # a broken step must not hide the other store
        t.check(False, f"{kind}: import scenario stopped", repr(e))


r = t.mfa("help", "import")
t.check(r.rc == EXIT_OK and "--format FORMAT" in r.out, "mfa help import", r)
r = t.mfa("--help")
t.check("import --format" in r.out, "the global help lists import", r)
run("sqlite", "sqlite:" + t.path("mfa.db"))
pg = os.environ.get("MFA_PG_CONNINFO")
if pg:
    run("postgres", "postgres:" + pg, schema="mfa_cli_import_" + secrets.token_hex(4))
else:
    t.skip("the PostgreSQL part", "no PostgreSQL cluster (MFA_PG_CONNINFO is not set): run "
           "scripts/test, or eval \"$(scripts/pg-cluster.sh start \"$(mktemp -d)\")\" "
           "and meson test again")
t.finish()
