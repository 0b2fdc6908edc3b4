#!/usr/bin/python3
"""Two relying parties, one set of responses: libmfa and python-fido2.

Makes fresh cases with softauth.py (new keys every run), asks libmfa for
its verdicts (the webauthn-verdicts program) and Debian's python-fido2
(fido2.server.Fido2Server) for its own, and checks that
  - libmfa gives each case the verdict it expects (its exact error code),
  - python-fido2 accepts exactly the cases libmfa accepts.
Cases marked libmfa_only test rules python-fido2 0.9 does not have (BE/BS
consistency, a lower bound on credential id length): only libmfa's verdict
is checked there, python-fido2's is shown.
python-fido2 0.9 leaves some checks to the application: crossOrigin, the
signature counter, the user handle, the credential id of a registration
and its algorithm.  Those are done here in python, after Fido2Server
accepted, the way its documentation asks an application to; the table
says which side refused ("server" or "app").

    compare.py VERDICTS_PROGRAM [--cases FILE] [--keep FILE]
--cases judges the cases of FILE (browser.mjs writes Chromium's responses
in the vectors' form) instead of fresh ones from softauth.py.
Prints one line per case and "N passed, N failed"; exit 77 (skip) when
python3-fido2 or python3-cryptography is missing.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

try:
    from fido2 import cbor
    from fido2.attestation import (FidoU2FAttestation, NoneAttestation,
                                   PackedAttestation, UnsupportedAttestation)
    from fido2.client import ClientData
    from fido2.cose import CoseKey
    from fido2.ctap2 import AttestationObject, AttestedCredentialData, AuthenticatorData
    from fido2.server import Fido2Server
    from fido2.webauthn import PublicKeyCredentialRpEntity, UserVerificationRequirement
    import fido2
    import cryptography  # noqa: F401 (softauth needs it)
except ImportError as e:
    print(f"SKIP: python3-fido2 or python3-cryptography missing ({e}); "
          "apt-get install python3-fido2 python3-cryptography")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import softauth  # noqa: E402

FORMATS = {c.FORMAT: c for c in (NoneAttestation, PackedAttestation, FidoU2FAttestation)}


def verify_attestation(attestation_object, client_data_hash):
    """The statement's signature, no trust chain (libmfa has no anchors)."""
    verifier = FORMATS.get(attestation_object.fmt)
    if verifier is None:
        verifier = UnsupportedAttestation(attestation_object.fmt)
    else:
        verifier = verifier()
    verifier.verify(attestation_object.att_statement, attestation_object.auth_data,
                    client_data_hash)


def state_of(case):
    uv = UserVerificationRequirement.REQUIRED if case["uv"] == "required" else None
    return {"challenge": case["challenge"], "user_verification": uv}


def server_of(case):
    origins = set(case["origins"])
    return Fido2Server(PublicKeyCredentialRpEntity(case["rp_id"], "Example"),
                       attestation="direct", verify_origin=lambda o: o in origins,
                       verify_attestation=verify_attestation)


def python_verdict(case):
    """("accept", "") or ("reject", "server: why" / "app: why")."""
    resp = case["response"]
    r = resp["response"]
    u = softauth.unb64u
    try:
        cd = ClientData(u(r["clientDataJSON"]))
        server = server_of(case)
        if case["ceremony"] == "register":
            att = AttestationObject(u(r["attestationObject"]))
            auth_data = server.register_complete(state_of(case), cd, att)
        else:
            rec = case["credential"]
            cred = AttestedCredentialData.create(
                u(rec["aaguid"]), u(rec["id"]), CoseKey.parse(cbor.decode(u(rec["public_key"]))))
            auth_data = AuthenticatorData(u(r["authenticatorData"]))
            server.authenticate_complete(state_of(case), [cred], u(resp["rawId"]), cd,
                                         auth_data, u(r["signature"]))
    except Exception as e:  # every refusal of python-fido2 is an exception
        return "reject", f"server: {type(e).__name__}: {e}"[:90]
    # what python-fido2 0.9 leaves to the application
    if cd.data.get("crossOrigin") is True:
        return "reject", "app: crossOrigin is true"
    if case["ceremony"] == "register":
        if auth_data.credential_data.credential_id != u(resp["rawId"]):
            return "reject", "app: credential id differs from rawId"
        if CoseKey.parse(auth_data.credential_data.public_key).ALGORITHM not in case["algs"]:
            return "reject", "app: algorithm not allowed"
        return "accept", ""
    stored = case["credential"]["sign_count"]
    if (stored or auth_data.counter) and auth_data.counter <= stored:
        return "reject", "app: sign count did not increase"
    handle = r.get("userHandle")
    if handle and u(handle) != u(case["credential"]["user_handle"]):
        return "reject", "app: user handle is another account's"
    if not handle and case.get("discoverable"):
        return "reject", "app: no user handle in a discoverable login"
    return "accept", ""


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    opts = dict(zip(argv[2::2], argv[3::2]))
    if "--cases" in opts:
        with open(opts["--cases"]) as f:
            cases = json.load(f)
    else:
        cases = softauth.vectors()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cases, f)
        path = f.name
    try:
        out = subprocess.run([argv[1], path], check=True, capture_output=True,
                             text=True).stdout
    finally:
        if "--keep" in opts:
            os.replace(path, opts["--keep"])
        else:
            os.unlink(path)
    mfa = dict(line.split("\t") for line in out.splitlines())
    passed = failed = 0
    print(f"python-fido2 {fido2.__version__}; {len(cases)} cases")
    print(f"{'case':44} {'expected':36} {'libmfa':36} python-fido2")
    for c in cases:
        got = mfa.get(c["name"], "(no verdict)")
        pv, why = python_verdict(c)
        ok = got == c["expect"]
        if c.get("libmfa_only"):
            why = f"{why + '; ' if why else ''}not compared: {c.get('note', '')}"
        else:
            ok = ok and (pv == "accept") == (c["expect"] == "MFA_OK")
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'' if ok else 'FAIL '}{c['name']:44} {c['expect']:36} {got:36} {pv}"
              f"{' (' + why + ')' if why else ''}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
