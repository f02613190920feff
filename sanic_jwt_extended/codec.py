"""Framework-free encode/decode: signing, verifying, and translating
every PyJWT failure into the ``JWTExtendedException`` family. No Sanic import here.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import jwt

from . import exceptions as exc
from .claims import FORBIDDEN_HEADERS, REGISTERED_CLAIMS, build_claims
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
    "unverified_claims",
    "unverified_header",
)

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")  # by len % 4; a remainder of 1 is never valid base64


class KeySelector(Protocol):
    """Anything that picks a verification key by ``kid``: a ``KeySet`` or a JWKS cache."""

    def select(self, kid: Any) -> VerificationKey: ...


# Year 9999: anything later cannot become a datetime and is not a real expiry.
_MAX_TIMESTAMP = 253402300799


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
    issuer: str | Sequence[str] | None,
    leeway: float,
    required: Sequence[str],
    verify_exp: bool = True,
    verify_sub: bool = True,
) -> None:
    for claim in required:
        if payload.get(claim) is None:
            raise exc.MissingRequiredClaimError(f"Token is missing the {claim!r} claim", claim=claim)
    _check_time_claims(payload)
    now = time.time()
    if verify_exp and "exp" in payload and payload["exp"] <= now - leeway:
        raise exc.ExpiredSignatureError()
    if "nbf" in payload and payload["nbf"] > now + leeway:
        raise exc.ImmatureSignatureError()
    if "iat" in payload and payload["iat"] > now + leeway:
        raise exc.ImmatureSignatureError("The token was issued in the future")
    if issuer is not None:
        if "iss" not in payload:
            raise exc.MissingRequiredClaimError("Token is missing the 'iss' claim", claim="iss")
        claimed = payload["iss"]
        if claimed != issuer if isinstance(issuer, str) else claimed not in issuer:
            raise exc.InvalidIssuerError()
    _check_audience(payload, audience)
    # RFC 7519 §4.1.2 makes sub a string, as PyJWT enforces; verify_sub=False lets
    # tokens of issuers that write numbers through.
    for claim in ("jti", "type", "sub") if verify_sub else ("jti", "type"):
        if claim in payload and not isinstance(payload[claim], str):
            raise exc.DecodeError(f"The {claim!r} claim must be a string", claim=claim)


def _parse(token: Any, max_bytes: int) -> tuple[list[str], dict[str, Any]]:
    """The three segments and the (unverified) header of a JWS compact token."""
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
    header = _json_object(segments[0], "header")
    # RFC 7515 §4.1.11: we implement no extension, so any critical one must be refused;
    # b64=false (RFC 7797) would change what the signature covers.
    if "crit" in header or "b64" in header:
        raise exc.DecodeError("Unsupported critical header")
    return segments, header


def unverified_header(token: Any, *, max_bytes: int = 8192) -> dict[str, Any]:
    """The JOSE header of ``token``, parsed as strictly as ``decode`` does but NOT verified.

    Anyone can write any header: use it to route (which tenant, which key), never to trust.
    Raises ``DecodeError`` (or ``TokenTooLargeError``) for anything that is not a JWS.
    """
    return _parse(token, max_bytes)[1]


def unverified_claims(token: Any, *, max_bytes: int = 8192) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, payload)`` of ``token`` WITHOUT checking its signature (for key loaders)."""
    segments, header = _parse(token, max_bytes)
    return header, _json_object(segments[1], "payload")


def _signature_valid(segments: list[str], header: Mapping[str, Any], key: VerificationKey) -> bool:
    name = header.get("alg")
    # Only a configured name selects an algorithm; a list or object is not even hashable.
    algorithm = key.algorithms.get(name) if isinstance(name, str) else None
    if algorithm is None:
        raise exc.InvalidAlgorithmError()
    signature = _b64decode(segments[2])
    signing_input = f"{segments[0]}.{segments[1]}".encode("ascii")
    try:
        return bool(algorithm.verify(signing_input, key.key, signature))
    except (ValueError, TypeError, OverflowError) as error:
        raise exc.InvalidSignatureError() from error


def decode(
    token: str,
    *,
    keys: KeySelector | Sequence[VerificationKey],
    audience: str | Sequence[str] | None = None,
    issuer: str | Sequence[str] | None = None,
    leeway: float = 0,
    required: Sequence[str] = (),
    max_bytes: int = 8192,
    verify_exp: bool = True,
    verify_sub: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify ``token`` and return ``(header, payload)``.

    A strict JWS compact parser over PyJWT's algorithm implementations: the key is chosen by
    ``kid`` among configured keys only, the algorithm must be one that key allows, and no
    header (``jwk``, ``jku``, ``x5u``, ``x5c``) can supply or locate a key. ``keys`` may also
    be the candidates a key loader returned: the one the ``kid`` names, else each in turn.
    ``verify_exp=False`` skips the expiry check only (``decode_token(allow_expired=True)``).
    An ``ExpiredSignatureError`` carries the verified ``(header, payload)`` as ``verified``.
    Raises only ``JWTExtendedException`` subclasses, whatever the input.
    """
    segments, header = _parse(token, max_bytes)
    if isinstance(keys, Sequence):
        _verify_any(segments, header, keys)
    elif not _signature_valid(segments, header, keys.select(header.get("kid"))):
        raise exc.InvalidSignatureError()
    payload = _json_object(segments[1], "payload")
    try:
        _check_claims(
            payload,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            required=required,
            verify_exp=verify_exp,
            verify_sub=verify_sub,
        )
    except exc.ExpiredSignatureError as error:
        # The signature verified: error responses may say whose token expired.
        error.verified = (header, payload)
        raise
    return header, payload


def _verify_any(segments: list[str], header: Mapping[str, Any], keys: Sequence[VerificationKey]) -> None:
    kid = header.get("kid")
    named = [key for key in keys if key.kid == kid]
    last: exc.JWTExtendedException = exc.UnknownKeyError()
    for key in named or keys:
        try:
            if _signature_valid(segments, header, key):
                return
            last = exc.InvalidSignatureError()
        except (exc.InvalidAlgorithmError, exc.InvalidSignatureError) as error:
            last = error
    raise last
