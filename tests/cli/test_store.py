#!/usr/bin/env python3
"""An account's whole life through `mfa` on a store: keyring new, migrate,
enroll (the terminal QR code scans and matches the key), confirm, check,
replay refused, throttling, backup codes, recover, list, rename, remove,
passkeys (listed, renamed and removed by id), rotate-keys, a wrong key
ring, reset.  SQLite always; PostgreSQL too when
MFA_PG_CONNINFO is set (scripts/test sets it)."""
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (TOOL, Suite, text_qr_to_pgm, zbar, EXIT_OK, EXIT_REJECTED,  # noqa: E402
                     EXIT_USAGE, EXIT_THROTTLED, EXIT_STORE, EXIT_INPUT)

t = Suite("store")


def lifecycle(kind, spec, db_file=None, schema=None):
    ring = t.path(f"{kind}.ring")
    opts = ["--schema", schema] if schema else []
    account = f"alice-{secrets.token_hex(4)}@example.com"
    T = int(time.time()) // 30 * 30  # a step boundary: codes at T+30k are deterministic

    def m(*args, now=T, **kw):
        return t.mfa("--store", spec, *opts, "--keyring", ring, "--time", now, *args, **kw)

    def code(secret, now):
        return t.mfa("code", "--time", now, input=secret).out.strip()

    t.expect(f"{kind}: keyring new", t.mfa("keyring", "new", ring), EXIT_OK)
    t.check(stat.S_IMODE(os.stat(ring).st_mode) == 0o600, f"{kind}: key ring mode 0600")
    r = t.expect(f"{kind}: migrate", t.mfa("--store", spec, *opts, "migrate"), EXIT_OK, "schema version")
    r = t.expect(f"{kind}: migrate --json", t.mfa("--store", spec, *opts, "migrate", "--json"), EXIT_OK)
    t.check(json.loads(r.out or "{}").get("schema_version", 0) >= 1, f"{kind}: schema version", r)
    r = t.expect(f"{kind}: list of a new account", m("list", account), EXIT_OK, "no factors")

    # enroll: plain output has the QR code and the grouped key
    r = t.expect(f"{kind}: enroll", m("enroll", account, "--label", "phone", "--issuer", "Example"),
                 EXIT_OK, "Scan the QR code")
    key = re.search(r"^    ((?:[A-Z2-7]{4} ){7}[A-Z2-7]{4})$", r.out, re.M)
    fid = re.search(r"^Factor:  ([0-9a-f]{16}) \(pending\)$", r.out, re.M)
    t.check(key and fid, f"{kind}: enroll prints the grouped key and factor", r)
    if key and fid and shutil.which("zbarimg") is None:
        t.skip(f"{kind}: the enrollment QR code scanned",
               "zbarimg not found: apt-get install zbar-tools")
    elif key and fid:
        qr_text = r.out[:r.out.index("\n\nScan")]
        pgm = t.path(f"{kind}-enroll.pgm")
        text_qr_to_pgm(qr_text, pgm)
        uri = zbar(pgm)
        t.check(uri is not None and f"secret={key.group(1).replace(' ', '')}" in uri
                and uri.startswith("otpauth://totp/Example:"),
                f"{kind}: the enrollment QR code scans and holds the key", uri)
    if key and fid:
        # an unconfirmed factor is removed again
        r = t.expect(f"{kind}: remove the pending factor", m("remove", account, fid.group(1)), EXIT_OK)
        t.expect(f"{kind}: remove it again", m("remove", account, fid.group(1)), EXIT_STORE)

    r = t.expect(f"{kind}: enroll --json", m("enroll", account, "--label", "phone", "--json"), EXIT_OK)
    e = json.loads(r.out)
    secret, factor = e["secret"], e["factor_id"]
    t.check(e["status"] == "pending" and secret in e["uri"] and len(factor) == 16,
            f"{kind}: enroll --json fields", e)
    r = t.expect(f"{kind}: list shows the pending factor", m("list", account), EXIT_OK, "pending")
    t.check(secret not in r.out, f"{kind}: list shows no secret")
    t.expect(f"{kind}: check before confirm", m("check", account, code(secret, T)), EXIT_STORE)

    # confirm
    wrong = "%06d" % ((int(code(secret, T)) + 500000) % 1000000)
    t.expect(f"{kind}: confirm with a wrong code", m("confirm", account, factor, wrong), EXIT_REJECTED)
    t.expect(f"{kind}: confirm an unknown factor", m("confirm", account, "0" * 16, code(secret, T)),
             EXIT_STORE)
    r = t.expect(f"{kind}: confirm", m("confirm", account, factor, code(secret, T)), EXIT_OK, "ok")
    t.expect(f"{kind}: confirm twice", m("confirm", account, factor, code(secret, T)), EXIT_STORE)
    r = t.expect(f"{kind}: list shows it active", m("list", account, "--json"), EXIT_OK)
    fl = json.loads(r.out)["factors"]
    t.check(len(fl) == 1 and fl[0]["status"] == "active" and fl[0]["label"] == "phone",
            f"{kind}: list --json", fl)

    # check, replay
    t.expect(f"{kind}: the confirming code is spent", m("check", account, code(secret, T)), EXIT_REJECTED)
    c1 = code(secret, T + 30)
    r = t.expect(f"{kind}: check", m("check", account, c1, now=T + 30), EXIT_OK, factor)
    r = t.expect(f"{kind}: replay refused", m("check", account, c1, "--json", now=T + 30), EXIT_REJECTED)
    t.check(json.loads(r.out or "{}").get("outcome") == "MFA_ERR_REPLAYED", f"{kind}: replay outcome", r)
    r = t.expect(f"{kind}: next step ahead (drift +1)", m("check", account, code(secret, T + 90),
                                                        "--json", now=T + 60), EXIT_OK)
    t.check(json.loads(r.out)["offset"] == 1, f"{kind}: check --json offset", r)
    t.expect(f"{kind}: malformed code", m("check", account, "12ab56", now=T + 120), EXIT_INPUT)
    r = t.expect(f"{kind}: 7 digits for a 6-digit factor", m("check", account, "1234567", "--json",
                                                            now=T + 120), EXIT_INPUT)
    t.check(json.loads(r.out or "{}").get("outcome") == "MFA_ERR_CODE_FORMAT"
            and json.loads(r.out or "{}").get("failures") == 0, f"{kind}: malformed: not counted", r)

    # throttling: wrong codes until the store says wait, then even the right code waits
    now = T + 150
    bad = "%06d" % ((int(code(secret, now)) + 1) % 1000000)
    rcs = [m("check", account, bad, now=now).rc for _ in range(8)]
    t.check(rcs[0] == EXIT_REJECTED and EXIT_THROTTLED in rcs, f"{kind}: throttled after failures", rcs)
    r = t.mfa("--store", spec, *opts, "--keyring", ring, "--time", now, "check", account, code(secret, now),
              "--json")
    t.check(r.rc == EXIT_THROTTLED and json.loads(r.out)["retry_after"] > 0 and
            r.err.startswith("mfa: "), f"{kind}: throttled: exit 3 with retry_after", r)
    now = T + 4 * 3600 // 30 * 30
    t.expect(f"{kind}: after the delay the right code works", m("check", account, code(secret, now),
                                                               now=now), EXIT_OK)

    # backup codes and recovery
    r = t.expect(f"{kind}: backup-codes", m("backup-codes", account, "--count", 5, now=now), EXIT_OK)
    codes = r.out.split()
    t.check(len(codes) == 5 and all(re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", c)
                                    for c in codes), f"{kind}: 5 codes XXXX-XXXX-XXXX", codes)
    if len(codes) == 5:
        r = t.expect(f"{kind}: backup-codes --left", m("backup-codes", account, "--left"), EXIT_OK)
        t.check(r.out.strip() == "5", f"{kind}: 5 left", r)
        r = t.expect(f"{kind}: recover", m("recover", account, codes[0], now=now), EXIT_OK, "4 backup codes left")
        t.expect(f"{kind}: recover with a spent code", m("recover", account, codes[0], now=now), EXIT_REJECTED)
        typed = codes[1].replace("-", " ").lower()
        r = t.expect(f"{kind}: recover with a typed variant", m("recover", account, typed, "--json", now=now),
                     EXIT_OK)
        t.check(json.loads(r.out)["backup_codes_left"] == 3, f"{kind}: recover --json count", r)
        t.expect(f"{kind}: recover with garbage", m("recover", account, "not-a-code", now=now), EXIT_INPUT)
        r = t.expect(f"{kind}: new set replaces the old", m("backup-codes", account, "--json", now=now), EXIT_OK)
        t.check(len(json.loads(r.out)["codes"]) == 10, f"{kind}: default 10 codes", r)
        t.expect(f"{kind}: old code invalid after a new set", m("recover", account, codes[2], now=now),
                 EXIT_REJECTED)

    # a second factor: rename, list
    r = t.expect(f"{kind}: enroll a second factor", m("enroll", account, "--json", "--profile", "google",
                                                      now=now), EXIT_OK)
    f2 = json.loads(r.out)
    t.expect(f"{kind}: confirm it", m("confirm", account, f2["factor_id"], code(f2["secret"], now),
                                      now=now), EXIT_OK)
    t.expect(f"{kind}: rename", m("rename", account, f2["factor_id"], "tablet"), EXIT_OK)
    r = t.expect(f"{kind}: list two factors", m("list", account), EXIT_OK, "tablet")
    t.check(r.out.count("active") == 2, f"{kind}: both active", r)
    t.expect(f"{kind}: rename an unknown factor", m("rename", account, "f" * 16, "x"), EXIT_STORE)

    # a custom profile through enroll
    r = t.expect(f"{kind}: enroll a custom profile", m("enroll", account, "--json", "--algorithm", "SHA256",
                                                       "--digits", 8, "--period", 60, "--bytes", 32,
                                                       now=now), EXIT_OK)
    f3 = json.loads(r.out)
    t.check("algorithm=SHA256" in f3["uri"] and "digits=8" in f3["uri"] and "period=60" in f3["uri"]
            and len(f3["secret"]) == 52, f"{kind}: custom enrollment URI", f3)
    c3 = t.mfa("code", "--time", now, input=f3["uri"]).out.strip()
    t.expect(f"{kind}: confirm the custom factor", m("confirm", account, f3["factor_id"], c3, now=now), EXIT_OK)
    r = t.expect(f"{kind}: list shows its parameters", m("list", account, "--json"), EXIT_OK)
    f3l = [f for f in json.loads(r.out)["factors"] if f["id"] == f3["factor_id"]]
    t.check(f3l and f3l[0]["algorithm"] == "SHA256" and f3l[0]["digits"] == 8 and f3l[0]["period"] == 60,
            f"{kind}: custom factor listed", f3l)
    t.expect(f"{kind}: remove the custom factor", m("remove", account, f3["factor_id"]), EXIT_OK)

    # key rotation: secrets resealed, codes still verify, the ring grew
    before = open(ring).read()
    r = t.expect(f"{kind}: rotate-keys", m("rotate-keys", "--json", now=now), EXIT_OK)
    j = json.loads(r.out or "{}")
    t.check(j.get("resealed", 0) >= 2, f"{kind}: rotate-keys resealed the factors", j)
    t.check(open(ring).read() != before, f"{kind}: key ring file has a new key")
    r = t.expect(f"{kind}: rotate-keys --reseal-only", m("rotate-keys", "--reseal-only", "--json", now=now),
                 EXIT_OK)
    t.check(json.loads(r.out or "{}").get("resealed", -1) == 0, f"{kind}: nothing left to reseal", r)
    now += 30
    t.expect(f"{kind}: check after rotation", m("check", account, code(secret, now), now=now), EXIT_OK)
    # the old ring alone no longer opens the secrets
    old_ring = t.path(f"{kind}-old.ring")
    with open(old_ring, "w") as fh:
        fh.write(before)
    os.chmod(old_ring, 0o600)
    now += 30
    r = t.mfa("--store", spec, *opts, "--keyring", old_ring, "--time", now, "check", account, code(secret, now))
    t.check(r.rc in (EXIT_STORE, EXIT_REJECTED), f"{kind}: the old key ring is refused", r)
    # a foreign key ring cannot open them either
    other = t.path(f"{kind}-other.ring")
    t.mfa("keyring", "new", other)
    r = t.mfa("--store", spec, *opts, "--keyring", other, "--time", now, "check", account, code(secret, now))
    t.check(r.rc in (EXIT_STORE, EXIT_REJECTED), f"{kind}: a foreign key ring is refused", r)

    # secrets are sealed at rest
    if db_file:
        data = b""
        for suffix in ("", "-wal"):
            if os.path.exists(db_file + suffix):
                data += open(db_file + suffix, "rb").read()
        t.check(secret.encode() not in data and f2["secret"].encode() not in data,
                f"{kind}: no base32 secret in the database file")
        import base64
        raw = base64.b32decode(secret)
        t.check(raw not in data, f"{kind}: no raw secret in the database file")

    # the same code from 8 processes at once: accepted exactly once
    now += 30
    c_race = code(secret, now)
    base = ["--store", spec, *opts, "--keyring", ring, "--time", str(now), "check", account, c_race]
    procs = [subprocess.Popen([TOOL, *base], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(8)]
    outs = [(p.wait(timeout=60), p.stderr.read().decode()) for p in procs]
    rcs = [rc for rc, _ in outs]
    # the losers are refused as replays, or throttled once the failed
    # attempts pass the free ones
    t.check(rcs.count(EXIT_OK) == 1 and all(rc in (EXIT_OK, EXIT_REJECTED, EXIT_THROTTLED) for rc in rcs)
            and rcs.count(EXIT_REJECTED) >= 5, f"{kind}: 8 racing checks, one accepted", outs)
    t.check(all(c_race not in err for _, err in outs), f"{kind}: the code is not in error messages")
    r = m("recover", account, "K3QD-8RTW-M2XZ", now=now)
    t.check(r.rc != EXIT_OK and "K3QD" not in r.err, f"{kind}: a backup code is not echoed", r)

    # known devices: a token from a check, "remember", a flood that does not
    # lock the known device out, forget, gc
    now += 30
    r = t.expect(f"{kind}: check --remember", m("check", account, code(secret, now), "--remember", 7,
                                                "--label", "laptop", "--json", now=now), EXIT_OK)
    j = json.loads(r.out or "{}")
    tok, dev = j.get("device_token") or "", j.get("device_id") or ""
    t.check(len(tok) == 60 and tok.startswith(dev + "."), f"{kind}: device_token in --json", j)
    r = t.expect(f"{kind}: device-check a remembered device", m("device-check", account, tok, now=now),
                 EXIT_OK, "skip")
    t.expect(f"{kind}: device-check after the 7 days", m("device-check", account, tok,
                                                       now=now + 7 * 86400), EXIT_REJECTED)
    forged = tok[:30] + ("x" if tok[30] != "x" else "y") + tok[31:]
    t.expect(f"{kind}: device-check a forged token", m("device-check", account, forged, now=now),
             EXIT_REJECTED)
    t.expect(f"{kind}: device-check a truncated token", m("device-check", account, tok[:-1], now=now),
             EXIT_INPUT)
    now += 30
    t.expect(f"{kind}: check with a forged token", m("check", account, code(secret, now), "--device",
                                                     forged, now=now), EXIT_REJECTED)
    t.expect(f"{kind}: check with a malformed token", m("check", account, code(secret, now), "--device",
                                                        "nonsense", now=now), EXIT_INPUT)
    bad = "%06d" % ((int(code(secret, now)) + 1) % 1000000)
    rcs = [m("check", account, bad, now=now).rc for _ in range(8)]
    t.check(EXIT_THROTTLED in rcs, f"{kind}: the flood locks unknown devices", rcs)
    t.expect(f"{kind}: the right code from an unknown device waits", m("check", account, code(secret, now),
                                                                      now=now), EXIT_THROTTLED)
    r = t.expect(f"{kind}: the known device still logs in", m("check", account, code(secret, now),
                                                             "--device", tok, "--json", now=now), EXIT_OK)
    tok2 = json.loads(r.out or "{}").get("device_token") or ""
    t.check(tok2.startswith(dev + ".") and tok2 != tok, f"{kind}: the token rotated", r)
    t.expect(f"{kind}: the old token is gone", m("device-check", account, tok, now=now), EXIT_REJECTED)
    r = t.expect(f"{kind}: devices", m("devices", account, now=now), EXIT_OK, "laptop")
    t.check(tok2[17:] not in r.out, f"{kind}: devices prints no token", r)
    r = t.expect(f"{kind}: devices --json", m("devices", account, "--json", now=now), EXIT_OK)
    ids = [d["id"] for d in json.loads(r.out or "{}").get("devices", [])]
    t.check(dev in ids, f"{kind}: devices --json lists the device", ids)
    t.expect(f"{kind}: device-forget", m("device-forget", account, dev, now=now), EXIT_OK)
    t.expect(f"{kind}: device-forget again", m("device-forget", account, dev, now=now), EXIT_STORE)
    t.expect(f"{kind}: device-check a forgotten device", m("device-check", account, tok2, now=now),
             EXIT_REJECTED)
    r = t.expect(f"{kind}: device-forget --all", m("device-forget", account, "--all", "--json", now=now),
                 EXIT_OK)
    t.check(json.loads(r.out or "{}").get("forgotten", -1) == len(ids) - 1, f"{kind}: forgot the rest", r)
    t.expect(f"{kind}: an invented name", m("check", "nobody-" + secrets.token_hex(4), "123456", now=now),
             EXIT_STORE)
    r = t.expect(f"{kind}: gc", m("gc", "--json", now=now), EXIT_OK)
    t.check(json.loads(r.out or "{}").get("removed", -1) >= 0, f"{kind}: gc --json", r)

    # passkeys: one registered and used through the service flows (the
    # helper plays the browser), then listed, renamed and removed by its id
    helper = os.environ.get("MFA_PASSKEY_HELPER")
    if helper:
        main_account = account  # locked by the flood above: a fresh one
        account = f"pk-{secrets.token_hex(4)}@example.com"
        ph = subprocess.run([helper, spec, ring, account, str(now), "YubiKey"]
                            + ([schema] if schema else []),
                            capture_output=True, text=True)
        pid = ph.stdout.strip()
        t.check(ph.returncode == 0 and re.fullmatch(r"[0-9a-f]{16}", pid),
                f"{kind}: a passkey registered and used", ph.stderr)
        r = t.expect(f"{kind}: passkeys", m("passkeys", account, now=now), EXIT_OK, "YubiKey")
        t.check(pid in r.out and "ES256" in r.out, f"{kind}: passkeys shows id and algorithm", r)
        r = t.expect(f"{kind}: passkeys --json", m("passkeys", account, "--json", now=now), EXIT_OK)
        keys = json.loads(r.out or "{}").get("passkeys", [])
        t.check(len(keys) == 1 and keys[0]["id"] == pid and keys[0]["sign_count"] == 1
                and keys[0]["last_used"] == now and keys[0]["algorithm"] == "ES256"
                and keys[0]["attestation"] == "none" and keys[0]["synced"] is False,
                f"{kind}: passkeys --json fields", keys)
        r = t.expect(f"{kind}: list holds no passkey", m("list", account, now=now), EXIT_OK)
        t.check(pid not in r.out, f"{kind}: list shows the apps only", r)
        t.expect(f"{kind}: rename a passkey", m("rename", account, pid, "Blue key", now=now), EXIT_OK)
        t.expect(f"{kind}: passkeys after rename", m("passkeys", account, now=now), EXIT_OK, "Blue key")
        t.expect(f"{kind}: passkeys of another account", m("passkeys", "bob-" + account, now=now),
                 EXIT_OK, "has no passkeys")
        t.expect(f"{kind}: remove of another account's passkey",
                 m("remove", "bob-" + account, pid, now=now), EXIT_STORE)
        t.expect(f"{kind}: remove a passkey", m("remove", account, pid, now=now), EXIT_OK)
        t.expect(f"{kind}: remove it again", m("remove", account, pid, now=now), EXIT_STORE)
        t.expect(f"{kind}: passkeys after remove", m("passkeys", account, now=now), EXIT_OK,
                 "has no passkeys")
        account = main_account
    else:
        t.skip(f"{kind}: passkeys", "no passkey helper (built without WebAuthn or libcrypto)")
    t.expect(f"{kind}: passkeys usage", m("passkeys", now=now), EXIT_USAGE)

    # remove and reset
    now += 4 * 3600 // 30 * 30
    t.expect(f"{kind}: remove", m("remove", account, f2["factor_id"]), EXIT_OK)
    r = t.expect(f"{kind}: reset", m("reset", account, "--json"), EXIT_OK)
    r = t.expect(f"{kind}: list after reset", m("list", account), EXIT_OK, "no factors")
    now += 30
    t.expect(f"{kind}: check after reset", m("check", account, code(secret, now), now=now), EXIT_STORE)
    t.expect(f"{kind}: recover after reset", m("recover", account, "AAAA-BBBB-CCCC", now=now), EXIT_REJECTED)
    t.expect(f"{kind}: usage on a store command", m("check", account), EXIT_USAGE)


def run(kind, *args, **kw):
    try:
        lifecycle(kind, *args, **kw)
    except Exception as e:  # a broken step must not hide the other store
        t.check(False, f"{kind}: lifecycle stopped", repr(e))


db = t.path("mfa.db")
run("sqlite", "sqlite:" + db, db)
pg = os.environ.get("MFA_PG_CONNINFO")
if pg:
    # a schema of its own: rotate-keys reseals every factor of the store
    schema = "mfa_cli_" + secrets.token_hex(4)
    run("postgres", "postgres:" + pg, schema=schema)
    t.expect("--schema with a sqlite store", t.mfa("--store", "sqlite:" + db, "--schema", schema,
                                                   "migrate"), EXIT_USAGE)
else:
    t.skip("the PostgreSQL part", "no PostgreSQL cluster (MFA_PG_CONNINFO is not set): run "
           "scripts/test, or eval \"$(scripts/pg-cluster.sh start \"$(mktemp -d)\")\" "
           "and meson test again")
t.finish()
