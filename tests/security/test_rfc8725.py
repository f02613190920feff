"""RFC 8725 (JWT Best Current Practices) regression suite: forged tokens over HTTP.

Every row of ``ROWS`` forges a token by hand (base64url JSON header and payload plus a
signature made with PyJWT's algorithm objects and ``cryptography`` keys, so every byte is
ours), sends it in ``Authorization: Bearer`` to a protected route of a real Sanic app and
asserts the exact status of the contract's error table (docs: /work/shared/design/contract.md)
with a ``{"msg": "<non-empty str>"}`` body. An attack must never get a 200 nor a 5xx; the
``control`` rows are valid tokens that must get a 200, so that each attack row fails for the
reason it names and not because the forging helpers are broken.

Attack classes (sections of RFC 8725 unless another RFC is named):

- ``alg: none`` in any casing (§2.1 weak signatures and insufficient signature validation,
  §3.1 perform algorithm verification, §3.2 use appropriate algorithms): an unsigned token,
  or a real token re-labelled ``none`` with its signature stripped or kept.
- Algorithm confusion (§2.1, §3.1): an HS256 token whose HMAC secret is the RSA/EC public
  key PEM of an RS256/ES256 app. A verifier that takes the algorithm from the token would
  use the public key as an HMAC secret. Also algorithms outside the allow-list (HS512 on an
  HS256 app, RS512/PS256 on an RS256 app) and malformed ``alg`` values.
- ECDSA "psychic signatures", CVE-2022-21449 (§3.3 validate all cryptographic operations):
  r = s = 0 or r = s = n (the curve order) must never verify.
- Key-carrying headers ``jwk``, ``jku``, ``x5u`` and ``x5c`` (§2.9 indirect attacks on the server,
  §3.10 do not trust received claims): a token must never supply or locate its own key
  (and the server must never fetch an attacker URL). A valid token carrying a harmless ``jku``
  is still accepted, which shows the header is ignored rather than that any header fails.
- ``crit`` extensions and ``b64: false`` (RFC 7515 §4.1.11, RFC 7797): an extension we do
  not implement must be refused, and ``b64`` would change what the signature covers.
- ``kid`` injection (§2.9, §3.10): path traversal, SQL, empty, non-string, very long, and the
  error message must never echo the attacker's text.
- Tampering and foreign keys (§3.3): a changed payload under the original signature,
  tokens signed with another app's secret or an attacker's key.
- Time claims (RFC 7519 §4.1.4-4.1.6): expired (401), ``nbf`` or ``iat`` in the future (422),
  with leeway as control; and ill-typed or out-of-range ``exp`` values.
- Substitution (§2.7, §3.8 validate issuer and subject, §3.9 use and validate audience):
  wrong or missing ``aud``/``iss``, and an addressed token on an app that expects no audience.
- Missing required claims (``sub``, ``exp``, ``type``, ``jti``, ``iat``).
- Parser differentials (§2.6 multiplicity of JSON encodings, §3.7 use UTF-8, RFC 7515 §5.2,
  RFC 7519 §7.2): duplicate member names, non-object JSON, invalid UTF-8, NaN/Infinity,
  padded or non-base64url segments, a wrong number of segments, an over-long token.
- Cross-JWT confusion (§2.8, §3.11 use explicit typing, §3.12 mutually exclusive
  validation rules): a refresh token on an access route, and the reverse.

``test_algorithm_is_pinned_by_the_key_not_taken_from_the_token`` additionally spies on PyJWT
to show that the algorithm a token names never selects how it is verified.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import jwt.api_jws
import jwt.api_jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import HMACAlgorithm, get_default_algorithms

from sanic_jwt_extended import JWTManager, codec

from ..helpers import SECRET, Client, b64url, make_app, private_pem, public_pem

ALGORITHMS = get_default_algorithms()

# -- key material ----------------------------------------------------------------------------

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ATTACKER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_APP_SECRET = b"another-apps-secret-that-is-long-enough-" + b"y" * 32
# Order n of the P-256 group (SEC 2 §2.4.2): r = s = n is the other "psychic" signature.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

AUD = "https://api.example.test"
ISS = "https://issuer.example.test"
ATTACKER_URL = "http://attacker.invalid/.well-known/jwks.json"


# Options given to make_app (which sets secret_key = SECRET first, hence the None).
APPS: dict[str, dict[str, Any]] = {
    "hs": {},
    "hs_leeway": {"leeway": 30},
    "hs_aud": {"default_aud": AUD},
    "hs_iss": {"default_iss": ISS},
    "rs": {"algorithm": "RS256", "secret_key": None, "private_key": private_pem(RSA_KEY)},
    "es": {"algorithm": "ES256", "secret_key": None, "private_key": private_pem(EC_KEY)},
}
# What each app signs its own tokens with: the key a legitimate issuer would use.
APP_SIGNERS: dict[str, tuple[str, Any]] = {
    "hs": ("HS256", SECRET.encode()),
    "hs_leeway": ("HS256", SECRET.encode()),
    "hs_aud": ("HS256", SECRET.encode()),
    "hs_iss": ("HS256", SECRET.encode()),
    "rs": ("RS256", RSA_KEY),
    "es": ("ES256", EC_KEY),
}

# -- forging helpers -------------------------------------------------------------------------

DROP: Any = object()  # as a claim or header value: leave that member out


@dataclass
class Target:
    """The app under attack, as a forger sees it."""

    app: str
    manager: JWTManager

    @property
    def kid(self) -> str:
        keys = self.manager.keys
        assert keys is not None
        return keys.kid

    @property
    def alg(self) -> str:
        return APP_SIGNERS[self.app][0]

    @property
    def key(self) -> Any:
        return APP_SIGNERS[self.app][1]


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is DROP:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def claims(**changes: Any) -> dict[str, Any]:
    """The claims of a genuine access token for alice, issued now, with ``changes``."""
    now = int(time.time())
    base = {
        "iat": now,
        "nbf": now,
        "jti": str(uuid.uuid4()),
        "sub": "alice",
        "type": "access",
        "fresh": False,
        "exp": now + 600,
    }
    return _apply(base, changes)


def header(target: Target, **changes: Any) -> dict[str, Any]:
    """The header the app itself would write (its alg and kid), with ``changes``."""
    return _apply({"alg": target.alg, "typ": "JWT", "kid": target.kid}, changes)


def sign(alg: str, key: Any, signing_input: bytes) -> bytes:
    algorithm = ALGORITHMS[alg]
    if isinstance(algorithm, HMACAlgorithm):
        # Raw bytes, no prepare_key: it refuses PEM secrets, which the confusion attack needs.
        return bytes(algorithm.sign(signing_input, key))
    return bytes(algorithm.sign(signing_input, algorithm.prepare_key(key)))


def segment(value: Any) -> str:
    return b64url(value if isinstance(value, bytes) else dumps(value))


def signed(header_segment: str, payload_segment: str, alg: str, key: Any) -> str:
    signature = sign(alg, key, f"{header_segment}.{payload_segment}".encode("ascii"))
    return f"{header_segment}.{payload_segment}.{b64url(signature)}"


def forge(
    target: Target,
    *,
    hdr: dict[str, Any] | bytes | None = None,
    payload: dict[str, Any] | bytes | None = None,
    alg: str | None = None,
    key: Any = None,
) -> str:
    """A compact JWS; by default exactly what the app would issue for alice."""
    alg = alg or target.alg
    key = target.key if key is None else key
    hdr = header(target, alg=alg) if hdr is None else hdr
    return signed(segment(hdr), segment(claims() if payload is None else payload), alg, key)


def with_signature(target: Target, signature: bytes, **header_changes: Any) -> str:
    return f"{segment(header(target, **header_changes))}.{segment(claims())}.{b64url(signature)}"


def app_token(target: Target) -> str:
    return target.manager.create_access_token("alice")


def relabel(token: str, alg: str, *, keep_signature: bool) -> str:
    """``token`` with its header's alg replaced, the original signature kept or stripped."""
    header_segment, payload_segment, signature_segment = token.split(".")
    hdr = json.loads(unb64(header_segment))
    hdr["alg"] = alg
    return f"{segment(hdr)}.{payload_segment}.{signature_segment if keep_signature else ''}"


def raw_payload(members: str, *replaced: str) -> Callable[[Target], str]:
    """A token whose payload is the raw JSON text ``{<members>, <the usual claims but replaced>}``."""

    def make(target: Target) -> str:
        usual = dumps(claims(**dict.fromkeys(replaced, DROP)))[1:-1].decode()
        return forge(target, payload=("{" + members + "," + usual + "}").encode())

    return make


def raw_header(text: bytes) -> Callable[[Target], str]:
    return lambda target: forge(target, hdr=text)


def payload_bytes(data: bytes) -> Callable[[Target], str]:
    return lambda target: forge(target, payload=data)


def standard_alphabet(char: str) -> Callable[[Target], str]:
    """A correctly signed token whose payload segment uses the standard base64 ``char``.

    The payload decodes to valid JSON under a lenient decoder; only the strict base64url
    rule can refuse it.
    """

    def make(target: Target) -> str:
        for size in range(64):
            text = dumps(claims(pad="~?" * size))
            payload_segment = base64.b64encode(text).rstrip(b"=").decode()
            if char in payload_segment:
                return signed(segment(header(target)), payload_segment, target.alg, target.key)
        raise AssertionError(f"no payload encodes with {char!r}")

    return make


def padded(part: int) -> Callable[[Target], str]:
    """A token with ``=`` padding on segment ``part``, signed over the padded segments."""

    def make(target: Target) -> str:
        for size in range(4):
            parts = [segment(header(target)), segment(claims(pad="p" * size))]
            if part < 2 and len(parts[part]) % 4:
                parts[part] += "=" * (-len(parts[part]) % 4)
                return signed(parts[0], parts[1], target.alg, target.key)
            if part == 2:
                token = signed(parts[0], parts[1], target.alg, target.key)
                if len(token.rsplit(".", 1)[1]) % 4:
                    return token + "=" * (-len(token.rsplit(".", 1)[1]) % 4)
        raise AssertionError("no segment length needs padding")

    return make


def signature_in_standard_alphabet(target: Target) -> str:
    # A fresh jti changes the HMAC; retry until the signature has a '-' or '_' to translate.
    for _ in range(200):
        token = forge(target)
        head, _, signature = token.rpartition(".")
        if "-" in signature or "_" in signature:
            return head + "." + signature.replace("-", "+").replace("_", "/")
    raise AssertionError("no signature with '-' or '_'")


def oversized(length: int) -> Callable[[Target], str]:
    """A correctly signed token of exactly ``length`` characters."""

    def make(target: Target) -> str:
        base = len(forge(target, payload=claims(blob="")))
        start = max(0, (length - base) * 3 // 4 - 8)
        # Unpadded base64 is never 1 mod 4 long: vary the header too to hit the exact length.
        for extra in range(4):
            hdr = header(target, x="x" * extra)
            for size in range(start, start + 16):
                token = forge(target, hdr=hdr, payload=claims(blob="x" * size))
                if len(token) == length:
                    return token
        raise AssertionError(f"no filler size gives a {length}-character token")

    return make


def public_jwk(key: Any, alg: str, **extra: Any) -> dict[str, Any]:
    jwk = dict(ALGORITHMS[alg].to_jwk(key.public_key(), as_dict=True))
    return {**jwk, **extra}


# -- the table -------------------------------------------------------------------------------

Forger = Callable[[Target], str]
ROUTE_METHODS = {"/refresh": "POST"}


@dataclass(frozen=True)
class Case:
    id: str
    app: str
    forge: Forger
    status: int
    path: str = "/protected"
    # Attacker-chosen text the response must never echo (kid injection, URLs).
    unechoed: tuple[str, ...] = ()


def attack(
    case_id: str, forger: Forger, *, app: str = "hs", status: int = 422, path: str = "/protected", unechoed: Any = ()
) -> Case:
    assert status != 200
    return Case(case_id, app, forger, status, path, tuple(unechoed))


def control(case_id: str, forger: Forger, *, app: str = "hs", path: str = "/protected") -> Case:
    return Case(case_id, app, forger, 200, path)


def control_rows() -> list[Case]:
    rows = [control(f"control-hand-forged-valid-{app}", forge, app=app) for app in ("hs", "rs", "es")]
    rows += [
        control("control-app-issued-access-token", app_token),
        control(
            "control-app-issued-refresh-token-on-refresh-route",
            lambda t: t.manager.create_refresh_token("alice"),
            path="/refresh",
        ),
        control("control-hand-forged-valid-without-kid", lambda t: forge(t, hdr=header(t, kid=DROP))),
    ]
    return rows


def unsigned(alg: str) -> Forger:
    """A token forged from scratch: ``alg`` in the header, an empty signature, sub=admin."""
    return lambda t: f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims(sub='admin'))}."


def relabelled(alg: str, *, keep_signature: bool) -> Forger:
    """A genuine app token relabelled with ``alg``, its signature kept or stripped."""
    return lambda t: relabel(app_token(t), alg, keep_signature=keep_signature)


def alg_none_rows() -> list[Case]:
    rows = []
    for casing in ("none", "None", "NONE", "nOnE"):
        rows += [
            attack(f"alg-{casing}-forged-empty-signature", unsigned(casing)),
            attack(f"alg-{casing}-app-token-signature-stripped", relabelled(casing, keep_signature=False)),
            attack(f"alg-{casing}-app-token-signature-kept", relabelled(casing, keep_signature=True)),
        ]
    rows += [
        attack(f"alg-none-on-{app}-app", relabelled("none", keep_signature=False), app=app) for app in ("rs", "es")
    ]
    rows.append(attack("alg-none-on-optional-route", relabelled("none", keep_signature=False), path="/optional"))
    return rows


def algorithm_rows() -> list[Case]:
    rsa_spki = public_pem(RSA_KEY)
    return [
        # Algorithm confusion: the public key, which anyone can fetch, used as an HMAC secret.
        attack("confusion-hs256-signed-with-rsa-public-pem", lambda t: forge(t, alg="HS256", key=rsa_spki), app="rs"),
        attack(
            "confusion-hs256-signed-with-ec-public-pem",
            lambda t: forge(t, alg="HS256", key=public_pem(EC_KEY)),
            app="es",
        ),
        attack(
            "confusion-hs256-rsa-pem-without-kid",
            lambda t: forge(t, hdr=header(t, alg="HS256", kid=DROP), alg="HS256", key=rsa_spki),
            app="rs",
        ),
        attack(
            "confusion-hs256-rsa-pkcs1-pem",
            lambda t: forge(t, alg="HS256", key=public_pem(RSA_KEY, serialization.PublicFormat.PKCS1)),
            app="rs",
        ),
        attack(
            "confusion-hs256-rsa-public-jwk-json",
            lambda t: forge(t, alg="HS256", key=dumps(public_jwk(RSA_KEY, "RS256"))),
            app="rs",
        ),
        # Allow-list: a real key of the right family, with an algorithm the app does not accept.
        attack("not-allowed-hs512-on-hs256-app", lambda t: forge(t, alg="HS512")),
        attack("not-allowed-hs384-on-hs256-app", lambda t: forge(t, alg="HS384")),
        attack("not-allowed-rs512-on-rs256-app", lambda t: forge(t, alg="RS512"), app="rs"),
        attack("not-allowed-ps256-on-rs256-app", lambda t: forge(t, alg="PS256"), app="rs"),
        attack("not-allowed-rs256-on-es256-app", lambda t: forge(t, alg="RS256", key=ATTACKER_RSA_KEY), app="es"),
        # Malformed alg values: compared exactly, never normalised, never crashing.
        attack("alg-lowercase-hs256", lambda t: forge(t, hdr=header(t, alg="hs256"), alg="HS256")),
        attack("alg-missing", lambda t: forge(t, hdr=header(t, alg=DROP), alg="HS256")),
        attack("alg-null", lambda t: forge(t, hdr=header(t, alg=None), alg="HS256")),
        attack("alg-number", lambda t: forge(t, hdr=header(t, alg=256), alg="HS256")),
        attack("alg-list", lambda t: forge(t, hdr=header(t, alg=["HS256"]), alg="HS256")),
        attack("alg-object", lambda t: forge(t, hdr=header(t, alg={"name": "HS256"}), alg="HS256")),
    ]


def psychic_signature_rows() -> list[Case]:
    n = P256_ORDER.to_bytes(32, "big")
    return [
        attack("ecdsa-psychic-r0-s0", lambda t: with_signature(t, bytes(64)), app="es"),
        attack("ecdsa-psychic-r-s-equal-curve-order", lambda t: with_signature(t, n + n), app="es"),
        attack(
            "ecdsa-psychic-der-encoded-r0-s0", lambda t: with_signature(t, bytes.fromhex("3006020100020100")), app="es"
        ),
        attack("ecdsa-empty-signature", lambda t: with_signature(t, b""), app="es"),
    ]


def key_header_rows() -> list[Case]:
    attacker_jwk = public_jwk(ATTACKER_RSA_KEY, "RS256")
    attacker_kid = "attacker-key-1"

    def by_attacker(t: Target, **changes: Any) -> str:
        return forge(t, hdr=header(t, **changes), payload=claims(sub="admin"), key=ATTACKER_RSA_KEY)

    return [
        attack("jwk-header-attacker-rsa-key", lambda t: by_attacker(t, kid=DROP, jwk=attacker_jwk), app="rs"),
        attack(
            "jwk-header-attacker-rsa-key-and-its-kid",
            lambda t: by_attacker(t, kid=attacker_kid, jwk={**attacker_jwk, "kid": attacker_kid}),
            app="rs",
            unechoed=[attacker_kid],
        ),
        attack(
            "jwk-header-attacker-ec-key",
            lambda t: forge(t, hdr=header(t, kid=DROP, jwk=public_jwk(ATTACKER_EC_KEY, "ES256")), key=ATTACKER_EC_KEY),
            app="es",
        ),
        attack(
            "jwk-header-attacker-oct-key",
            lambda t: forge(
                t, hdr=header(t, kid=DROP, jwk={"kty": "oct", "k": b64url(OTHER_APP_SECRET)}), key=OTHER_APP_SECRET
            ),
        ),
        attack(
            "jku-header-attacker-url",
            lambda t: by_attacker(t, kid=DROP, jku=ATTACKER_URL),
            app="rs",
            unechoed=["attacker.invalid"],
        ),
        attack(
            "jku-header-attacker-url-and-kid",
            lambda t: by_attacker(t, kid=attacker_kid, jku=ATTACKER_URL),
            app="rs",
            unechoed=["attacker.invalid", attacker_kid],
        ),
        attack(
            "x5u-header-attacker-url",
            lambda t: by_attacker(t, kid=DROP, x5u=ATTACKER_URL),
            app="rs",
            unechoed=["attacker.invalid"],
        ),
        attack(
            "x5c-header-junk", lambda t: by_attacker(t, kid=DROP, x5c=["MIIBjunkjunk", "not base64 at all!"]), app="rs"
        ),
        attack(
            "jku-header-on-hs-app",
            lambda t: forge(t, hdr=header(t, jku=ATTACKER_URL), key=OTHER_APP_SECRET),
            unechoed=["attacker.invalid"],
        ),
        # The header is ignored, not merely any header refused: the app's own signature still counts.
        control("control-valid-token-with-harmless-jku", lambda t: forge(t, hdr=header(t, jku=ATTACKER_URL)), app="rs"),
    ]


def crit_rows() -> list[Case]:
    return [
        attack("crit-unknown-extension", lambda t: forge(t, hdr=header(t, crit=["exp2"], exp2=int(time.time())))),
        attack("crit-empty-list", lambda t: forge(t, hdr=header(t, crit=[]))),
        attack("b64-false-with-crit", lambda t: forge(t, hdr=header(t, b64=False, crit=["b64"]))),
        attack("b64-false-without-crit", lambda t: forge(t, hdr=header(t, b64=False))),
    ]


def kid_rows() -> list[Case]:
    # Signed the way each injection would work: /dev/null reads as an empty key, the SQL
    # UNION returns a secret of the attacker's choosing.
    injections = [
        ("kid-path-traversal-dev-null", "../../../../dev/null", b""),
        ("kid-absolute-path-etc-passwd", "/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n"),
        ("kid-sql-or-1-equals-1", "' OR 1=1 --", b""),
        ("kid-sql-union-select", "x' UNION SELECT 'attacker-secret' --", b"attacker-secret"),
        ("kid-header-injection-crlf", "k\r\nSet-Cookie: stolen=1", b""),
        ("kid-near-miss-of-app-kid", None, SECRET.encode()),
    ]
    rows = []
    for case_id, kid, key in injections:

        def make(t: Target, kid: str | None = kid, key: bytes = key) -> str:
            return forge(t, hdr=header(t, kid=t.kid + "x" if kid is None else kid), key=key)

        rows.append(attack(case_id, make, unechoed=[kid] if kid else []))
    # Signed with the app's real secret: the kid alone must make these fail.
    rows += [
        attack("kid-empty-string", lambda t: forge(t, hdr=header(t, kid=""))),
        attack("kid-number", lambda t: forge(t, hdr=header(t, kid=5))),
        attack("kid-list", lambda t: forge(t, hdr=header(t, kid=[t.kid]))),
        attack("kid-2kb-within-size-limit", lambda t: forge(t, hdr=header(t, kid="K" * 2000)), unechoed=["K" * 2000]),
        attack("kid-10kb-over-size-limit", lambda t: forge(t, hdr=header(t, kid="K" * 10240)), unechoed=["K" * 10240]),
    ]
    return rows


def tamper_rows() -> list[Case]:
    def changed_sub(t: Target) -> str:
        header_segment, payload_segment, signature = app_token(t).split(".")
        payload = json.loads(unb64(payload_segment))
        payload["sub"] = "admin"
        return f"{header_segment}.{segment(payload)}.{signature}"

    def flipped_bit(t: Target) -> str:
        head, _, signature = forge(t).rpartition(".")
        raw = bytearray(unb64(signature))
        raw[0] ^= 1
        return f"{head}.{b64url(bytes(raw))}"

    return [
        attack("tampered-sub-with-original-signature", changed_sub),
        attack("tampered-sub-with-original-signature-rs", changed_sub, app="rs"),
        attack("signature-bit-flipped", flipped_bit),
        attack("signed-with-another-apps-secret", lambda t: forge(t, key=OTHER_APP_SECRET)),
        attack("signed-with-attacker-rsa-key-and-app-kid", lambda t: forge(t, key=ATTACKER_RSA_KEY), app="rs"),
        attack("signed-with-attacker-ec-key-and-app-kid", lambda t: forge(t, key=ATTACKER_EC_KEY), app="es"),
    ]


def time_rows() -> list[Case]:
    def at(**offsets: float) -> Forger:
        # Offsets from now, computed when the row runs.
        return lambda t: forge(t, payload=claims(**{name: time.time() + delta for name, delta in offsets.items()}))

    return [
        attack("expired", at(exp=-60), status=401),
        attack("expired-on-optional-route", at(exp=-60), status=401, path="/optional"),
        attack("expired-float-exp", at(exp=-60.5), status=401),
        control("control-float-exp-in-future", at(exp=600.5)),
        attack("nbf-in-future", at(nbf=3600)),
        attack("iat-in-future", at(iat=3600)),
        attack("iat-60s-in-future-beyond-30s-leeway", at(iat=60), app="hs_leeway"),
        control("control-iat-10s-in-future-within-leeway", at(iat=10), app="hs_leeway"),
        control("control-nbf-10s-in-future-within-leeway", at(nbf=10), app="hs_leeway"),
        control("control-expired-10s-ago-within-leeway", at(exp=-10), app="hs_leeway"),
    ]


def audience_issuer_rows() -> list[Case]:
    def with_claims(**changes: Any) -> Forger:
        return lambda t: forge(t, payload=claims(**changes))

    return [
        control("control-expected-aud", with_claims(aud=AUD), app="hs_aud"),
        control("control-expected-aud-in-list", with_claims(aud=["https://other.test", AUD]), app="hs_aud"),
        attack("aud-wrong", with_claims(aud="https://other.test"), app="hs_aud"),
        attack("aud-missing", with_claims(), app="hs_aud"),
        attack("aud-list-without-ours", with_claims(aud=["https://a.test", "https://b.test"]), app="hs_aud"),
        attack("aud-wrong-type", with_claims(aud={"aud": AUD}), app="hs_aud"),
        attack("aud-present-when-app-expects-none", with_claims(aud=AUD)),
        control("control-expected-iss", with_claims(iss=ISS), app="hs_iss"),
        attack("iss-wrong", with_claims(iss="https://evil.test"), app="hs_iss"),
        attack("iss-missing", with_claims(), app="hs_iss"),
        attack("iss-different-case", with_claims(iss=ISS.upper()), app="hs_iss"),
        attack("iss-wrong-type", with_claims(iss=[ISS]), app="hs_iss"),
    ]


def claim_rows() -> list[Case]:
    def with_claims(**changes: Any) -> Forger:
        return lambda t: forge(t, payload=claims(**changes))

    rows = [attack(f"missing-{name}", with_claims(**{name: DROP})) for name in ("sub", "exp", "type", "jti", "iat")]
    rows += [
        attack("sub-null", with_claims(sub=None)),
        attack("sub-number", with_claims(sub=1)),
        attack("type-unknown", with_claims(type="id_token")),
        attack("jti-number", with_claims(jti=7)),
        # exp must be a NumericDate within a datetime's range.
        attack("exp-numeric-string", with_claims(exp=str(int(time.time()) + 600))),
        attack("exp-negative", with_claims(exp=-1)),
        attack("exp-huge-10e20", with_claims(exp=10**20)),
        attack("exp-huge-float", with_claims(exp=1e300)),
        attack("exp-true", with_claims(exp=True)),
        attack("exp-false", with_claims(exp=False)),
        attack("exp-null", with_claims(exp=None)),
        attack("exp-list", with_claims(exp=[int(time.time()) + 600])),
        attack("nbf-string", with_claims(nbf="0")),
        attack("iat-huge", with_claims(iat=10**20)),
    ]
    return rows


def json_rows() -> list[Case]:
    return [
        # The raw-JSON helper itself makes tokens the app accepts.
        control("control-raw-json-payload", raw_payload('"sub":"alice"', "sub")),
        # Duplicate member names: "last one wins" here, "first one wins" elsewhere.
        attack("duplicate-sub-in-payload", raw_payload('"sub":"alice","sub":"admin"', "sub")),
        attack(
            "duplicate-exp-in-payload",
            lambda t: raw_payload('"exp":1,"exp":' + str(int(time.time()) + 3600), "exp")(t),
        ),
        attack("duplicate-key-in-nested-claim", raw_payload('"ext":{"role":"user","role":"admin"}')),
        attack(
            "duplicate-alg-in-header",
            lambda t: forge(t, hdr=b'{"alg":"none","alg":"HS256","kid":"' + t.kid.encode() + b'"}'),
        ),
        attack(
            "duplicate-kid-in-header",
            lambda t: forge(t, hdr=b'{"alg":"HS256","kid":"other","kid":"' + t.kid.encode() + b'"}'),
        ),
        # Not a JSON object.
        attack("payload-json-array", payload_bytes(b'[{"sub":"alice"}]')),
        attack("payload-json-string", payload_bytes(b'"alice"')),
        attack("payload-json-number", payload_bytes(b"42")),
        attack("payload-json-null", payload_bytes(b"null")),
        attack("payload-empty", payload_bytes(b"")),
        attack("header-json-array", raw_header(b'["HS256"]')),
        attack("header-json-string", raw_header(b'"HS256"')),
        # Not UTF-8 JSON (RFC 8725 §3.7).
        attack(
            "payload-invalid-utf8", lambda t: forge(t, payload=dumps(claims(sub=DROP))[:-1] + b',"sub":"\xff\xfe"}')
        ),
        attack("payload-utf16", lambda t: forge(t, payload=json.dumps(claims()).encode("utf-16"))),
        attack("payload-utf8-bom", lambda t: forge(t, payload=b"\xef\xbb\xbf" + dumps(claims()))),
        attack("header-invalid-utf8", raw_header(b'{"alg":"HS256","x":"\xc3\x28"}')),
        # Non-standard JSON constants.
        attack("exp-nan", raw_payload('"exp":NaN', "exp")),
        attack("exp-infinity", raw_payload('"exp":Infinity', "exp")),
        attack("nbf-negative-infinity", raw_payload('"nbf":-Infinity', "nbf")),
        attack("nan-in-custom-claim", raw_payload('"score":NaN')),
        attack("payload-deeply-nested", raw_payload('"deep":' + "[" * 2500 + "]" * 2500)),
    ]


def encoding_rows() -> list[Case]:
    return [
        attack("padding-on-header-segment", padded(0)),
        attack("padding-on-payload-segment", padded(1)),
        attack("padding-on-signature-segment", padded(2)),
        attack("plus-in-payload-segment", standard_alphabet("+")),
        attack("slash-in-payload-segment", standard_alphabet("/")),
        attack("standard-alphabet-signature", signature_in_standard_alphabet),
        attack("two-segments", lambda t: forge(t).rpartition(".")[0]),
        attack("four-segments", lambda t: forge(t) + "." + b64url(b"extra")),
        attack("five-segments-jwe-shaped", lambda t: ".".join([segment(header(t))] + [b64url(b"x")] * 4)),
        attack("trailing-dot", lambda t: forge(t) + "."),
        attack("empty-segments", lambda t: ".."),
        attack("over-long-token-9000-chars", oversized(9000)),
    ]


def token_type_rows() -> list[Case]:
    return [
        attack("refresh-token-on-access-route", lambda t: t.manager.create_refresh_token("alice")),
        attack("refresh-token-on-fresh-route", lambda t: t.manager.create_refresh_token("alice"), path="/fresh"),
        attack("forged-refresh-type-on-access-route", lambda t: forge(t, payload=claims(type="refresh", fresh=DROP))),
        attack("access-token-on-refresh-route", app_token, path="/refresh"),
    ]


ROWS: list[Case] = [
    *control_rows(),
    *alg_none_rows(),
    *algorithm_rows(),
    *psychic_signature_rows(),
    *key_header_rows(),
    *crit_rows(),
    *kid_rows(),
    *tamper_rows(),
    *time_rows(),
    *audience_issuer_rows(),
    *claim_rows(),
    *json_rows(),
    *encoding_rows(),
    *token_type_rows(),
]


def _send(client: Client, path: str, token: str) -> Any:
    if ROUTE_METHODS.get(path) == "POST":
        return client.post(path, token=token)
    return client.get(path, token=token)


def _json_body(response: Any) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        return None


def test_row_ids_are_unique() -> None:
    ids = [case.id for case in ROWS]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("case", ROWS, ids=[case.id for case in ROWS])
def test_forged_token(case: Case) -> None:
    app, manager = make_app(f"rfc8725_{case.app}", **APPS[case.app])
    token = case.forge(Target(case.app, manager))
    response = _send(Client(app), case.path, token)
    body = _json_body(response)

    assert response.status < 500, f"{case.id}: server error {response.status}: {response.body[:300]!r}"
    if case.status != 200:
        assert response.status != 200, f"{case.id}: forged token was ACCEPTED: {body!r}"
    assert response.status == case.status, f"{case.id}: expected {case.status}, got {response.status}: {body!r}"
    if case.status == 200:
        assert isinstance(body, dict)
        assert body["identity"] == "alice"
        return

    assert isinstance(body, dict), response.body[:300]
    assert set(body) == {"msg"}, body
    assert isinstance(body["msg"], str)
    assert body["msg"].strip()
    if response.status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    for text in case.unechoed:
        assert text not in body["msg"], f"{case.id}: message echoes attacker text: {body['msg']!r}"
        assert text not in response.body.decode("utf-8", "replace")
        assert all(text not in value for value in response.headers.values())


# -- the algorithm a token names never chooses how it is verified ----------------------------


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Records every PyJWT high-level decode (with its ``algorithms``) and every HMAC verify."""
    seen: dict[str, list[Any]] = {"decode": [], "hmac_verify": []}

    def record_decode(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            seen["decode"].append((name, kwargs.get("algorithms")))
            return real(*args, **kwargs)

        return wrapper

    for owner, name in (
        (jwt, "decode"),
        (jwt, "decode_complete"),
        (jwt.api_jwt, "decode"),
        (jwt.api_jwt, "decode_complete"),
        (jwt.api_jwt.PyJWT, "decode"),
        (jwt.api_jwt.PyJWT, "decode_complete"),
        (jwt.api_jws.PyJWS, "decode"),
        (jwt.api_jws.PyJWS, "decode_complete"),
    ):
        monkeypatch.setattr(
            owner, name, record_decode(f"{getattr(owner, '__name__', owner)}.{name}", getattr(owner, name))
        )

    real_verify = HMACAlgorithm.verify

    def hmac_verify(self: HMACAlgorithm, msg: bytes, key: Any, sig: bytes) -> bool:
        seen["hmac_verify"].append(key)
        return bool(real_verify(self, msg, key, sig))

    monkeypatch.setattr(HMACAlgorithm, "verify", hmac_verify)
    # The codec computes HMAC signatures in codec.hmac_digest (from hash states prepared at
    # startup, or the one-shot hmac.digest): spied on too.
    real_digest = codec.hmac_digest

    def digest(key: Any, name: str, algorithm: Any, message: bytes) -> bytes:
        seen["hmac_verify"].append(key.key)
        return real_digest(key, name, algorithm, message)

    monkeypatch.setattr(codec, "hmac_digest", digest)
    return seen


def test_algorithm_is_pinned_by_the_key_not_taken_from_the_token(spies: dict[str, list[Any]]) -> None:
    """An RS256 app never runs HMAC, whatever form of its public key signs an HS256 token."""
    app, manager = make_app("rfc8725_pinned", **APPS["rs"])
    client = Client(app)
    target = Target("rs", manager)
    public = RSA_KEY.public_key()
    secrets = {
        "spki-pem": public_pem(RSA_KEY),
        "spki-pem-without-trailing-newline": public_pem(RSA_KEY).rstrip(b"\n"),
        "pkcs1-pem": public_pem(RSA_KEY, serialization.PublicFormat.PKCS1),
        "openssh": public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
        "der": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk-json": dumps(public_jwk(RSA_KEY, "RS256")),
        "modulus": public.public_numbers().n.to_bytes(256, "big"),
    }
    for name, secret in secrets.items():
        for hs in ("HS256", "HS384", "HS512"):
            for kid in (target.kid, DROP):
                token = forge(target, hdr=header(target, alg=hs, kid=kid), alg=hs, key=secret)
                response = client.get("/protected", token=token)
                assert response.status == 422, (name, hs, kid is DROP, response.status, response.body[:200])

    assert spies["hmac_verify"] == [], "an HMAC verification ran on an RS256-only app"
    for name, algorithms in spies["decode"]:
        assert algorithms is not None, f"{name} was called without a pinned algorithms list"
        assert set(algorithms) <= {"RS256"}, (name, algorithms)
    # The app's own tokens still work with the spies in place.
    assert client.get("/protected", token=manager.create_access_token("alice")).status == 200


def test_hmac_spy_sees_genuine_hmac_verification(spies: dict[str, list[Any]]) -> None:
    """Guards the test above: the HMAC spy does observe the library's verification path."""
    app, manager = make_app("rfc8725_spy_check")
    response = Client(app).get("/protected", token=manager.create_access_token("alice"))
    assert response.status == 200
    assert spies["hmac_verify"], "the HMAC spy never fired: the pinning test would prove nothing"
