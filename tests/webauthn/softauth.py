#!/usr/bin/python3
"""A software WebAuthn authenticator and client, for tests.

Makes registration and assertion responses as a browser hands them to the
page (PublicKeyCredential.toJSON(): base64url without padding), for ES256,
EdDSA and RS256 credentials and the attestation formats none, packed (self
and x5c, with a self-made certificate) and fido-u2f.  Built on
python3-cryptography and python3-fido2's CBOR encoder, Debian's modules
(run it with /usr/bin/python3).

    softauth.py vectors > tests/webauthn/vectors.json
    softauth.py fuzz-seeds tests/fuzz/corpus/webauthn tests/fuzz/fuzz_webauthn_seed.h

writes the test cases (good responses and tampered ones, each with the
verdict libmfa must give) that tests/test_webauthn.c reads and
tests/webauthn/compare.py regenerates and checks against python-fido2.
"""
import base64
import datetime
import hashlib
import json
import os
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from fido2 import cbor

ES256, EDDSA, RS256 = -7, -8, -257
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80

RP_ID = "example.com"
ORIGIN = "https://example.com"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Key:
    """A credential (or attestation) key pair of one COSE algorithm."""

    def __init__(self, alg):
        self.alg = alg
        if alg == ES256:
            self.priv = ec.generate_private_key(ec.SECP256R1())
        elif alg == EDDSA:
            self.priv = ed25519.Ed25519PrivateKey.generate()
        elif alg == RS256:
            self.priv = rsa.generate_private_key(65537, 2048)
        else:
            raise ValueError(alg)
        self.pub = self.priv.public_key()

    def cose(self):
        if self.alg == ES256:
            n = self.pub.public_numbers()
            return {1: 2, 3: ES256, -1: 1, -2: n.x.to_bytes(32, "big"),
                    -3: n.y.to_bytes(32, "big")}
        if self.alg == EDDSA:
            raw = self.pub.public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
            return {1: 1, 3: EDDSA, -1: 6, -2: raw}
        n = self.pub.public_numbers()
        return {1: 3, 3: RS256, -1: n.n.to_bytes(256, "big"),
                -2: n.e.to_bytes(3, "big")}

    def point(self):
        """The uncompressed P-256 point (fido-u2f signs over it)."""
        return self.pub.public_bytes(serialization.Encoding.X962,
                                     serialization.PublicFormat.UncompressedPoint)

    def sign(self, data):
        if self.alg == ES256:
            return self.priv.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.alg == EDDSA:
            return self.priv.sign(data)
        return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())


def attestation_cert(key, aaguid):
    """A self-signed certificate meeting the packed format's requirements."""
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "libmfa tests"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                           "Authenticator Attestation"),
        x509.NameAttribute(NameOID.COMMON_NAME, "softauth"),
    ])
    now = datetime.datetime(2026, 1, 1)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.pub).serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
         .add_extension(x509.UnrecognizedExtension(
             x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"),
             b"\x04\x10" + aaguid), False))
    return b.sign(key.priv, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def client_data(typ, challenge, origin, cross_origin=None):
    d = {"type": typ, "challenge": b64u(challenge), "origin": origin}
    if cross_origin is not None:
        d["crossOrigin"] = cross_origin
    return json.dumps(d, separators=(",", ":")).encode()


class Authenticator:
    """One credential on a software authenticator."""

    def __init__(self, alg=ES256, aaguid=None, cred_id_len=32, sign_count=0):
        self.key = Key(alg)
        self.aaguid = aaguid if aaguid is not None else os.urandom(16)
        self.cred_id = os.urandom(cred_id_len)
        self.sign_count = sign_count

    def auth_data(self, rp_id, flags, count, attested, extensions=None):
        if extensions:
            flags |= ED
        ad = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + \
            struct.pack(">I", count)
        if attested:
            ad += self.aaguid + struct.pack(">H", len(self.cred_id)) + \
                self.cred_id + cbor.encode(self.key.cose())
        if extensions:
            ad += cbor.encode(extensions)
        return ad

    def register(self, challenge, fmt="none", rp_id=RP_ID, origin=ORIGIN,
                 flags=UP | UV, typ="webauthn.create", cross_origin=None,
                 transports=("usb",), extensions=None):
        """The registration response as the browser's JSON (a dict)."""
        cd = client_data(typ, challenge, origin, cross_origin)
        cdh = hashlib.sha256(cd).digest()
        ad = self.auth_data(rp_id, flags | AT, self.sign_count, True, extensions)
        if fmt == "none":
            stmt = {}
        elif fmt == "packed-self":
            stmt = {"alg": self.key.alg, "sig": self.key.sign(ad + cdh)}
        elif fmt == "packed-x5c":
            att = Key(ES256)
            stmt = {"alg": ES256, "sig": att.sign(ad + cdh),
                    "x5c": [attestation_cert(att, self.aaguid)]}
        elif fmt == "fido-u2f":
            att = Key(ES256)
            msg = b"\0" + ad[:32] + cdh + self.cred_id + self.key.point()
            stmt = {"sig": att.sign(msg), "x5c": [attestation_cert(att, self.aaguid)]}
        else:
            raise ValueError(fmt)
        fmt_name = "packed" if fmt.startswith("packed") else fmt
        ao = cbor.encode({"fmt": fmt_name, "attStmt": stmt, "authData": ad})
        return {
            "id": b64u(self.cred_id), "rawId": b64u(self.cred_id),
            "type": "public-key", "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": {"clientDataJSON": b64u(cd), "attestationObject": b64u(ao),
                         "transports": list(transports)},
        }

    def record(self, user_handle):
        """What the relying party stores (the vectors' "credential")."""
        return {"id": b64u(self.cred_id), "public_key": b64u(cbor.encode(self.key.cose())),
                "alg": self.key.alg, "sign_count": self.sign_count,
                "user_handle": b64u(user_handle), "aaguid": b64u(self.aaguid)}

    def assert_(self, challenge, rp_id=RP_ID, origin=ORIGIN, flags=UP | UV,
                typ="webauthn.get", cross_origin=None, user_handle=None,
                count=None):
        """An assertion response as the browser's JSON (a dict)."""
        if count is None:
            count = self.sign_count + 1
        cd = client_data(typ, challenge, origin, cross_origin)
        ad = self.auth_data(rp_id, flags, count, False)
        sig = self.key.sign(ad + hashlib.sha256(cd).digest())
        return {
            "id": b64u(self.cred_id), "rawId": b64u(self.cred_id),
            "type": "public-key", "clientExtensionResults": {},
            "response": {"clientDataJSON": b64u(cd), "authenticatorData": b64u(ad),
                         "signature": b64u(sig),
                         "userHandle": b64u(user_handle) if user_handle else None},
        }


# ---- the cases ---------------------------------------------------------------

def flip(s, byte=None, bit=0):
    """A base64url value with one bit flipped (in the last byte by default)."""
    b = bytearray(unb64u(s))
    b[len(b) - 1 if byte is None else byte] ^= 1 << bit
    return b64u(bytes(b))


def vectors():
    """Every case: a dict with what the relying party knows and the response."""
    cases = []
    uh = os.urandom(32)

    def case(name, ceremony, response, expect, challenge, uv="preferred",
             credential=None, discoverable=False, note="", algs=(ES256, EDDSA, RS256),
             libmfa_only=False):
        c = {"name": name, "ceremony": ceremony, "rp_id": RP_ID,
             "origins": [ORIGIN], "uv": uv, "algs": list(algs),
             "challenge": b64u(challenge), "user_handle": b64u(uh),
             "response": response, "expect": expect, "discoverable": discoverable}
        if credential is not None:
            c["credential"] = credential
        if note:
            c["note"] = note
        if libmfa_only:
            c["libmfa_only"] = True
        cases.append(c)

    def edit_att(resp, fn):
        """resp with its attestation object changed by fn(dict)."""
        r = json.loads(json.dumps(resp))
        ao = cbor.decode(unb64u(r["response"]["attestationObject"]))
        fn(ao)
        r["response"]["attestationObject"] = b64u(cbor.encode(ao))
        return r

    # registrations: every algorithm, every format
    for alg, an in ((ES256, "es256"), (EDDSA, "eddsa"), (RS256, "rs256")):
        for fmt in ("none", "packed-self", "packed-x5c"):
            a = Authenticator(alg)
            ch = os.urandom(32)
            case(f"reg-{an}-{fmt}", "register", a.register(ch, fmt), "MFA_OK", ch)
    a = Authenticator(ES256, aaguid=bytes(16))
    ch = os.urandom(32)
    case("reg-es256-fido-u2f", "register", a.register(ch, "fido-u2f", flags=UP),
         "MFA_OK", ch)

    # extensions the browser asked for on its own (credProtect for a
    # passkey on a security key), in authData
    for fmt in ("packed-self", "packed-x5c"):
        a = Authenticator(ES256)
        ch = os.urandom(32)
        case(f"reg-es256-{fmt}-extensions", "register",
             a.register(ch, fmt, extensions={"credProtect": 2, "hmac-secret": True}),
             "MFA_OK", ch)

    # tampered registrations
    a = Authenticator(ES256)
    ch = os.urandom(32)
    good = a.register(ch, "packed-self")
    r = json.loads(json.dumps(good))
    ao = cbor.decode(unb64u(r["response"]["attestationObject"]))
    ao["attStmt"]["sig"] = unb64u(flip(b64u(ao["attStmt"]["sig"]), 10))
    r["response"]["attestationObject"] = b64u(cbor.encode(ao))
    case("reg-flipped-attestation-signature", "register", r,
         "MFA_ERR_WEBAUTHN_ATTESTATION", ch)
    case("reg-wrong-origin", "register",
         a.register(ch, "packed-self", origin="https://evil.example"),
         "MFA_ERR_WEBAUTHN_ORIGIN", ch)
    case("reg-wrong-rp-id", "register",
         a.register(ch, "packed-self", rp_id="evil.example"),
         "MFA_ERR_WEBAUTHN_RP_ID", ch)
    case("reg-other-challenge", "register", a.register(os.urandom(32), "packed-self"),
         "MFA_ERR_WEBAUTHN_CHALLENGE", ch)
    case("reg-uv-missing-when-required", "register",
         a.register(ch, "packed-self", flags=UP), "MFA_ERR_WEBAUTHN_USER_VERIFICATION",
         ch, uv="required")
    case("reg-up-missing", "register", a.register(ch, "none", flags=UV),
         "MFA_ERR_WEBAUTHN_USER_PRESENCE", ch)
    r = json.loads(json.dumps(good))
    r["response"]["attestationObject"] = b64u(
        unb64u(r["response"]["attestationObject"])[:-20])
    case("reg-truncated-attestation-object", "register", r, "MFA_ERR_WEBAUTHN_CBOR", ch)
    case("reg-wrong-type", "register", a.register(ch, "none", typ="webauthn.get"),
         "MFA_ERR_WEBAUTHN_TYPE", ch)
    case("reg-cross-origin", "register", a.register(ch, "none", cross_origin=True),
         "MFA_ERR_WEBAUTHN_CROSS_ORIGIN", ch)
    r = json.loads(json.dumps(good))
    ao = cbor.decode(unb64u(r["response"]["attestationObject"]))
    ao["fmt"] = "tpm-ish"
    r["response"]["attestationObject"] = b64u(cbor.encode(ao))
    case("reg-unknown-format", "register", r, "MFA_ERR_WEBAUTHN_ATT_FORMAT", ch)

    for fmt in ("packed-x5c", "fido-u2f"):
        b = Authenticator(ES256, aaguid=bytes(16) if fmt == "fido-u2f" else None)
        r = edit_att(b.register(ch, fmt, flags=UP),
                     lambda ao: ao["attStmt"].update(
                         sig=unb64u(flip(b64u(ao["attStmt"]["sig"]), 8))))
        case(f"reg-{fmt}-flipped-attestation-signature", "register", r,
             "MFA_ERR_WEBAUTHN_ATTESTATION", ch)
    case("reg-none-with-statement", "register",
         edit_att(a.register(ch, "none"),
                  lambda ao: ao["attStmt"].update(sig=b"\1" * 8)),
         "MFA_ERR_WEBAUTHN_ATTESTATION", ch)
    case("reg-packed-self-wrong-alg", "register",
         edit_att(good, lambda ao: ao["attStmt"].update(alg=RS256)),
         "MFA_ERR_WEBAUTHN_ATTESTATION", ch)
    b = Authenticator(EDDSA)
    case("reg-algorithm-not-allowed", "register", b.register(ch, "none"),
         "MFA_ERR_WEBAUTHN_ALGORITHM", ch, algs=(ES256,))
    r = json.loads(json.dumps(a.register(ch, "none")))
    r["id"] = r["rawId"] = b64u(os.urandom(32))
    case("reg-raw-id-not-the-credential", "register", r,
         "MFA_ERR_WEBAUTHN_CREDENTIAL_ID", ch)
    case("reg-backed-up-not-eligible", "register",
         a.register(ch, "none", flags=UP | UV | BS), "MFA_ERR_WEBAUTHN_FLAGS", ch,
         libmfa_only=True, note="python-fido2 0.9 does not look at BE/BS")
    r = json.loads(json.dumps(good))
    r["response"]["attestationObject"] = b64u(
        unb64u(r["response"]["attestationObject"]) + b"\0")
    case("reg-attestation-object-trailing-byte", "register", r,
         "MFA_ERR_WEBAUTHN_CBOR", ch)
    b = Authenticator(ES256)
    n = b.key.pub.public_numbers()
    cose = b.key.cose()
    cose[-3] = ((n.y + 1) % (2 ** 256)).to_bytes(32, "big")  # off the curve
    b.key.cose = lambda: cose
    case("reg-public-key-off-curve", "register", b.register(ch, "none"),
         "MFA_ERR_WEBAUTHN_PUBLIC_KEY", ch, libmfa_only=True,
         note="python-fido2 0.9 does not check a point that nothing signs with")
    b = Authenticator(ES256, cred_id_len=15)
    case("reg-credential-id-too-short", "register", b.register(ch, "none"),
         "MFA_ERR_WEBAUTHN_CREDENTIAL_ID", ch, libmfa_only=True,
         note="python-fido2 0.9 has no length bound on credential ids")

    # assertions: every algorithm, counting and synced (count stays 0)
    for alg, an in ((ES256, "es256"), (EDDSA, "eddsa"), (RS256, "rs256")):
        a = Authenticator(alg, sign_count=5)
        rec = a.record(uh)
        ch = os.urandom(32)
        # the same credential's registration: test_webauthn.c logs in with
        # the record libmfa made of it
        case(f"reg-{an}-roundtrip", "register", a.register(ch, "none"), "MFA_OK", ch,
             note=f"registers the credential of login-{an}")
        case(f"login-{an}", "login", a.assert_(ch, user_handle=uh), "MFA_OK", ch,
             credential=rec)
    a = Authenticator(ES256, sign_count=0)
    rec = a.record(uh)
    ch = os.urandom(32)
    case("login-synced-count-zero", "login",
         a.assert_(ch, flags=UP | UV | BE | BS, user_handle=uh, count=0),
         "MFA_OK", ch, credential=rec)
    case("login-discoverable", "login", a.assert_(ch, user_handle=uh, count=0),
         "MFA_OK", ch, credential=rec, discoverable=True)
    case("login-discoverable-no-user-handle", "login", a.assert_(ch, count=0),
         "MFA_ERR_WEBAUTHN_USER_HANDLE", ch, credential=rec, discoverable=True)
    case("login-no-user-handle", "login", a.assert_(ch, count=0), "MFA_OK", ch,
         credential=rec, note="allowCredentials named it: no handle needed")

    # tampered assertions
    a = Authenticator(ES256, sign_count=7)
    rec = a.record(uh)
    ch = os.urandom(32)
    good = a.assert_(ch, user_handle=uh, count=8)
    r = json.loads(json.dumps(good))
    r["response"]["signature"] = flip(r["response"]["signature"], 12)
    case("login-flipped-signature-bit", "login", r, "MFA_ERR_WEBAUTHN_SIGNATURE", ch,
         credential=rec)
    case("login-wrong-origin", "login",
         a.assert_(ch, origin="https://evil.example", user_handle=uh, count=8),
         "MFA_ERR_WEBAUTHN_ORIGIN", ch, credential=rec)
    case("login-wrong-rp-id", "login",
         a.assert_(ch, rp_id="evil.example", user_handle=uh, count=8),
         "MFA_ERR_WEBAUTHN_RP_ID", ch, credential=rec)
    case("login-reused-challenge", "login", good, "MFA_ERR_WEBAUTHN_CHALLENGE",
         os.urandom(32), credential=rec,
         note="a captured assertion re-sent against the next login's challenge")
    case("login-uv-missing-when-required", "login",
         a.assert_(ch, flags=UP, user_handle=uh, count=8),
         "MFA_ERR_WEBAUTHN_USER_VERIFICATION", ch, uv="required", credential=rec)
    case("login-sign-count-went-back", "login", a.assert_(ch, user_handle=uh, count=6),
         "MFA_ERR_WEBAUTHN_CLONED", ch, credential=rec)
    case("login-sign-count-same", "login", a.assert_(ch, user_handle=uh, count=7),
         "MFA_ERR_WEBAUTHN_CLONED", ch, credential=rec)
    case("login-wrong-type", "login",
         a.assert_(ch, typ="webauthn.create", user_handle=uh, count=8),
         "MFA_ERR_WEBAUTHN_TYPE", ch, credential=rec)
    case("login-cross-origin", "login",
         a.assert_(ch, cross_origin=True, user_handle=uh, count=8),
         "MFA_ERR_WEBAUTHN_CROSS_ORIGIN", ch, credential=rec)
    r = json.loads(json.dumps(good))
    r["response"]["authenticatorData"] = b64u(unb64u(r["response"]["authenticatorData"])[:30])
    case("login-truncated-authenticator-data", "login", r, "MFA_ERR_WEBAUTHN_CBOR", ch,
         credential=rec)
    case("login-attested-data-flag", "login",
         a.assert_(ch, flags=UP | UV | AT, user_handle=uh, count=8),
         "MFA_ERR_WEBAUTHN_FLAGS", ch, credential=rec)
    other = Authenticator(ES256, sign_count=7)
    case("login-other-credential", "login", other.assert_(ch, user_handle=uh, count=8),
         "MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL", ch, credential=rec)
    case("login-wrong-user-handle", "login",
         a.assert_(ch, user_handle=os.urandom(32), count=8),
         "MFA_ERR_WEBAUTHN_USER_HANDLE", ch, credential=rec)
    return cases


FUZZ_CHALLENGE = bytes(range(1, 33))
FUZZ_USER = b"\x5a" * 16


def fuzz_seeds(corpus, header):
    """Seeds for tests/fuzz/fuzz_webauthn.c and the fixed credential it
    logs in with (a C header).  Each seed is a mode byte, then the input:
    0 registration JSON; 1 login JSON; 2 id length, id, attestation
    object; 3 authenticator data length, authenticator data, signature;
    4 stored COSE key (see the target)."""
    os.makedirs(corpus, exist_ok=True)
    n = 0

    def seed(mode, data):
        nonlocal n
        with open(os.path.join(corpus, f"seed-{n:02d}"), "wb") as f:
            f.write(bytes([mode]) + data)
        n += 1

    for alg in (ES256, EDDSA, RS256):
        for fmt in ("none", "packed-self", "packed-x5c"):
            r = Authenticator(alg).register(FUZZ_CHALLENGE, fmt)
            seed(0, json.dumps(r).encode())
            raw = unb64u(r["rawId"])
            seed(2, bytes([len(raw)]) + raw + unb64u(r["response"]["attestationObject"]))
    r = Authenticator(ES256, aaguid=bytes(16)).register(FUZZ_CHALLENGE, "fido-u2f", flags=UP)
    seed(0, json.dumps(r).encode())
    raw = unb64u(r["rawId"])
    seed(2, bytes([len(raw)]) + raw + unb64u(r["response"]["attestationObject"]))
    a = Authenticator(ES256, sign_count=41)
    login = a.assert_(FUZZ_CHALLENGE, user_handle=FUZZ_USER, count=42)
    seed(1, json.dumps(login).encode())
    ad = unb64u(login["response"]["authenticatorData"])
    seed(3, bytes([len(ad)]) + ad + unb64u(login["response"]["signature"]))
    seed(4, cbor.encode(a.key.cose()))
    rec = a.record(FUZZ_USER)

    def c_bytes(b):
        return ", ".join(f"0x{x:02x}" for x in b)

    with open(header, "w") as f:
        f.write("/* Made by tests/webauthn/softauth.py fuzz-seeds: the credential\n"
                " * of the login seed, and the login itself. */\n")
        f.write("/* clang-format off */\n")
        f.write(f"static const uint8_t seed_cred_id[] = {{{c_bytes(unb64u(rec['id']))}}};\n")
        f.write(f"static const uint8_t seed_cose[] = {{{c_bytes(unb64u(rec['public_key']))}}};\n")
        f.write(f"static const char seed_login[] = {json.dumps(json.dumps(login))};\n")
        f.write("/* clang-format on */\n")


def main(argv):
    if len(argv) == 4 and argv[1] == "fuzz-seeds":
        fuzz_seeds(argv[2], argv[3])
        return 0
    if len(argv) == 2 and argv[1] == "vectors":
        json.dump(vectors(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    sys.stderr.write("usage: softauth.py vectors > FILE\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
