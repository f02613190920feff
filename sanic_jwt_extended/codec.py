"""Framework-free encode/decode: building payloads, signing, verifying, and translating
every PyJWT failure into the ``JWTExtendedException`` family. No Sanic import here.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import jwt

from . import exceptions as exc
from .keys import KeySet, VerificationKey

__all__ = (
    "FORBIDDEN_HEADERS",
    "MAX_JSON_DEPTH",
    "REGISTERED_CLAIMS",
    "KeySelector",
    "build_claims",
    "decode",
    "encode",
    "too_deep",
)

# Headers that change how a token is verified: letting callers set them would let a
# header `alg` override the signing algorithm (PyJWT honours it) or smuggle key hints.
FORBIDDEN_HEADERS = frozenset({"alg", "kid", "typ", "crit", "jku", "jwk", "x5u", "x5c", "b64", "zip"})
# RFC 7519 §4.1 plus the claims this library gives meaning to.
REGISTERED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "type", "fresh", "csrf", "fam"})
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")  # by len % 4; a remainder of 1 is never valid base64


class KeySelector(Protocol):
    """Anything that picks a verification key by ``kid``: a ``KeySet`` or a JWKS cache."""

    def select(self, kid: Any) -> VerificationKey: ...


# Year 9999: anything later cannot become a datetime and is not a real expiry.
_MAX_TIMESTAMP = 253402300799


def _timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def _namespaced(claims: Mapping[str, Any] | None, prefix: str, reserved: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in (claims or {}).items():
        if not isinstance(name, str):
            raise exc.TokenCreationError(f"claim names must be strings, got {name!r}")
        key = prefix + name
        if key in reserved:
            raise exc.TokenCreationError(f"claim {key!r} is reserved and set by the library; choose another name")
        out[key] = value
    return out


def build_claims(
    *,
    identity: str,
    token_type: str,
    now: datetime,
    expires_delta: timedelta | bool,
    identity_claim: str,
    fresh: bool | timedelta | datetime | None = None,
    role: str | Sequence[str] | None = None,
    acl_claim: str | None = None,
    public_claims: Mapping[str, Any] | None = None,
    private_claims: Mapping[str, Any] | None = None,
    public_claim_namespace: str = "",
    private_claim_prefix: str = "",
    iss: str | None = None,
    aud: str | Sequence[str] | None = None,
    csrf: str | None = None,
    family: str | None = None,
) -> dict[str, Any]:
    """The payload of a new token. Caller-supplied claims can never replace reserved ones."""
    reserved = REGISTERED_CLAIMS | {identity_claim} | ({acl_claim} if acl_claim else set())
    public = _namespaced(public_claims, public_claim_namespace, reserved)
    private = _namespaced(private_claims, private_claim_prefix, reserved)
    clash = public.keys() & private.keys()
    if clash:
        raise exc.TokenCreationError(f"claims {sorted(clash)} are given as both public and private")
    claims: dict[str, Any] = {**public, **private}
    # iat to the millisecond (RFC 7519 NumericDate allows fractions): "log out everywhere"
    # must tell a token issued just before the revocation from a login just after it.
    claims.update(
        {
            # Truncated, never rounded up: an iat even 0.5 ms ahead of the clock is "issued
            # in the future" to a verifier running right after.
            "iat": math.floor(now.timestamp() * 1000) / 1000,
            "nbf": _timestamp(now),
            "jti": secrets.token_urlsafe(16),  # 128 random bits in 22 characters, not a 36-character UUID
            identity_claim: identity,
            "type": token_type,
        }
    )
    if expires_delta is not False:
        if not isinstance(expires_delta, timedelta) or isinstance(expires_delta, bool):
            raise exc.TokenCreationError(f"expires_delta must be a positive timedelta or False, got {expires_delta!r}")
        if expires_delta <= timedelta(0):
            raise exc.TokenCreationError(f"expires_delta must be positive, got {expires_delta!r}")
        # Rounded up: a token never lives shorter than asked (truncating could leave a
        # one-second token a few milliseconds of life).
        claims["exp"] = math.ceil((now + expires_delta).timestamp())
    if fresh is not None:
        claims["fresh"] = _fresh_claim(fresh, now)
    if role is not None:
        claims[acl_claim or "role"] = _role_claim(role)
    if iss is not None:
        claims["iss"] = iss
    if aud is not None:
        claims["aud"] = aud if isinstance(aud, str) else list(aud)
    if csrf is not None:
        claims["csrf"] = csrf
    if family is not None:
        claims["fam"] = family
    return claims


def _fresh_claim(fresh: bool | timedelta | datetime, now: datetime) -> bool | int:
    # A timestamp means "fresh until then": the token is fresh for a while after login.
    if isinstance(fresh, bool):
        return fresh
    if isinstance(fresh, timedelta):
        if fresh <= timedelta(0):
            raise exc.TokenCreationError(f"fresh as a timedelta must be positive, got {fresh!r}")
        return _timestamp(now + fresh)
    if isinstance(fresh, datetime):
        if fresh.tzinfo is None:
            raise exc.TokenCreationError("fresh as a datetime must be timezone-aware")
        return _timestamp(fresh)
    raise exc.TokenCreationError(f"fresh must be a bool, timedelta or datetime, got {fresh!r}")


def _role_claim(role: str | Iterable[str]) -> str | list[str]:
    if isinstance(role, str):
        return role
    roles = list(role)
    if not roles or not all(isinstance(item, str) for item in roles):
        raise exc.TokenCreationError(f"role must be a string or a non-empty list of strings, got {role!r}")
    return roles


def encode(
    claims: Mapping[str, Any],
    *,
    keys: KeySet,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``claims`` with the configured algorithm."""
    if keys.signing_key is None:
        raise exc.ConfigurationError(
            "private_key: this app is configured to verify only (public_key without "
            "private_key) and cannot issue tokens."
        )
    if headers:
        bad = {name for name in headers if not isinstance(name, str) or name.lower() in FORBIDDEN_HEADERS}
        if bad:
            raise exc.TokenCreationError(
                f"additional_headers may not set {sorted(map(str, bad))}: they control verification"
            )
    # The kid tells verifiers (ours after a rotation, or others via JWKS) which key signed.
    return jwt.encode(
        dict(claims), keys.signing_key, algorithm=keys.algorithm, headers={**(headers or {}), "kid": keys.kid}
    )


def _check_time_claims(payload: Mapping[str, Any]) -> None:
    # A value a datetime cannot hold would crash later, in a view.
    for claim in ("exp", "iat", "nbf"):
        if claim not in payload:
            continue
        value = payload[claim]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise exc.DecodeError(f"The {claim!r} claim must be a number", claim=claim)
        # Compare without float(): a huge JSON integer would overflow the conversion.
        if (isinstance(value, float) and not math.isfinite(value)) or not 0 <= value <= _MAX_TIMESTAMP:
            raise exc.DecodeError(f"The {claim!r} claim is out of range", claim=claim)


def _b64decode(segment: str) -> bytes:
    # Strict base64url without padding (RFC 7515 §2): the stdlib decoder would skip
    # foreign characters and accept padding, letting many strings decode alike.
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise exc.DecodeError("Token segments must be unpadded base64url")
    # The regex admitted only the base64url alphabet: map it to standard base64 and let
    # the C decoder do the rest (urlsafe_b64decode adds three Python-level calls).
    return binascii.a2b_base64(segment.encode("ascii").translate(_URLSAFE_TO_STD) + _PADDING[len(segment) % 4])


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8725 §3.1 / RFC 7515 §5.2: a member name twice is a parser-differential attack.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise exc.DecodeError("Duplicate member name in token JSON")
    return result


def _reject_constant(name: str) -> None:
    raise exc.DecodeError(f"Token JSON may not contain {name}")


# Deeper JSON is refused before parsing. The interpreter's own limit is no defence: Python
# 3.13's json no longer raises RecursionError at a few thousand levels. Real claims nest a
# handful of levels.
MAX_JSON_DEPTH = 32
_JSON_SPECIAL = re.compile(r'[\[\]{}"\\]')


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects in the JSON ``text`` nest deeper than ``limit`` (strings ignored).

    Linear in ``len(text)`` and never recursive; ill-formed JSON is left to the parser.
    """
    # Nearly every document has fewer brackets than the limit: two C-speed counts settle it.
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = False
    escaped = -1  # the position a backslash inside a string makes literal
    for match in _JSON_SPECIAL.finditer(text):
        char, position = match.group(), match.start()
        if in_string:
            if position == escaped:
                continue
            if char == "\\":
                escaped = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


# Built once: json.loads() with hooks builds a new decoder on every call.
_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


def _json_object(segment: str, part: str) -> dict[str, Any]:
    try:
        text = _b64decode(segment).decode("utf-8")
        if too_deep(text):
            raise exc.DecodeError(f"Token {part} nests deeper than {MAX_JSON_DEPTH} levels")
        # decode() refuses a leading BOM as json.loads() does ("Expecting value").
        value = _JSON.decode(text)
    except exc.DecodeError:
        raise
    except (ValueError, RecursionError) as error:  # bad UTF-8, bad JSON, absurd nesting
        raise exc.DecodeError(f"Token {part} is not valid JSON") from error
    if not isinstance(value, dict):
        raise exc.DecodeError(f"Token {part} must be a JSON object")
    return value


def _check_audience(payload: Mapping[str, Any], audience: str | Sequence[str] | None) -> None:
    claim = payload.get("aud")
    if audience is None:
        # A token addressed to someone while we expect no audience is not for us.
        if claim is not None:
            raise exc.InvalidAudienceError()
        return
    if claim is None:
        raise exc.MissingRequiredClaimError("Token is missing the 'aud' claim", claim="aud")
    claimed = [claim] if isinstance(claim, str) else claim
    if not isinstance(claimed, list) or not all(isinstance(item, str) for item in claimed):
        raise exc.InvalidAudienceError("The 'aud' claim must be a string or a list of strings")
    expected = {audience} if isinstance(audience, str) else set(audience)
    if expected.isdisjoint(claimed):
        raise exc.InvalidAudienceError()


def _check_claims(
    payload: Mapping[str, Any],
    *,
    audience: str | Sequence[str] | None,
    issuer: str | None,
    leeway: float,
    required: Sequence[str],
) -> None:
    for claim in required:
        if payload.get(claim) is None:
            raise exc.MissingRequiredClaimError(f"Token is missing the {claim!r} claim", claim=claim)
    _check_time_claims(payload)
    now = time.time()
    if "exp" in payload and payload["exp"] <= now - leeway:
        raise exc.ExpiredSignatureError()
    if "nbf" in payload and payload["nbf"] > now + leeway:
        raise exc.ImmatureSignatureError()
    if "iat" in payload and payload["iat"] > now + leeway:
        raise exc.ImmatureSignatureError("The token was issued in the future")
    if issuer is not None:
        if "iss" not in payload:
            raise exc.MissingRequiredClaimError("Token is missing the 'iss' claim", claim="iss")
        if payload["iss"] != issuer:
            raise exc.InvalidIssuerError()
    _check_audience(payload, audience)
    for claim in ("jti", "type", "sub"):
        if claim in payload and not isinstance(payload[claim], str):
            raise exc.DecodeError(f"The {claim!r} claim must be a string", claim=claim)


def decode(
    token: str,
    *,
    keys: KeySelector,
    audience: str | Sequence[str] | None = None,
    issuer: str | None = None,
    leeway: float = 0,
    required: Sequence[str] = (),
    max_bytes: int = 8192,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify ``token`` and return ``(header, payload)``.

    A strict JWS compact parser over PyJWT's algorithm implementations: the key is chosen by
    ``kid`` among configured keys only, the algorithm must be one that key allows, and no
    header (``jwk``, ``jku``, ``x5u``, ``x5c``) can supply or locate a key. Raises only
    ``JWTExtendedException`` subclasses, whatever the input.
    """
    if not isinstance(token, str) or not token:
        raise exc.DecodeError("Token must be a non-empty string")
    # Checked before any base64 or crypto work, so an attacker cannot make us do either.
    if len(token) > max_bytes:
        raise exc.TokenTooLargeError(f"Token is longer than {max_bytes} bytes")
    if not token.isascii():
        raise exc.DecodeError("Token contains non-ASCII characters")
    segments = token.split(".")
    if len(segments) != 3:
        raise exc.DecodeError("Token must have three dot-separated segments")
    header_segment, payload_segment, signature_segment = segments
    header = _json_object(header_segment, "header")
    # RFC 7515 §4.1.11: we implement no extension, so any critical one must be refused;
    # b64=false (RFC 7797) would change what the signature covers.
    if "crit" in header or "b64" in header:
        raise exc.DecodeError("Unsupported critical header")
    key = keys.select(header.get("kid"))
    name = header.get("alg")
    # Only a configured name selects an algorithm; a list or object is not even hashable.
    algorithm = key.algorithms.get(name) if isinstance(name, str) else None
    if algorithm is None:
        raise exc.InvalidAlgorithmError()
    signature = _b64decode(signature_segment)
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    try:
        valid = algorithm.verify(signing_input, key.key, signature)
    except (ValueError, TypeError, OverflowError) as error:
        raise exc.InvalidSignatureError() from error
    if not valid:
        raise exc.InvalidSignatureError()
    payload = _json_object(payload_segment, "payload")
    _check_claims(payload, audience=audience, issuer=issuer, leeway=leeway, required=required)
    return header, payload
