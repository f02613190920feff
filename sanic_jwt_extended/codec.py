"""Framework-free encode/decode: signing, verifying, and translating
every PyJWT failure into the ``JWTExtendedException`` family. No Sanic import here.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import jwt
from jwt.algorithms import HMACAlgorithm

from . import exceptions as exc
from .claim_checks import Rules, check_claims
from .claims import FORBIDDEN_HEADERS, REGISTERED_CLAIMS, build_claims
from .keys import KeySet, VerificationKey
from .segments import MAX_JSON_DEPTH, HeaderMemo, b64decode, json_object, parse_header, too_deep

__all__ = (
    "FORBIDDEN_HEADERS",
    "MAX_JSON_DEPTH",
    "REGISTERED_CLAIMS",
    "HeaderMemo",
    "KeySelector",
    "Rules",
    "build_claims",
    "decode",
    "decode_with",
    "encode",
    "too_deep",
    "unverified_claims",
    "unverified_header",
)


class KeySelector(Protocol):
    """Anything that picks a verification key by ``kid``: a ``KeySet`` or a JWKS cache."""

    def select(self, kid: Any) -> VerificationKey: ...


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


def _parse(token: Any, max_bytes: int, memo: HeaderMemo | None = None) -> tuple[bytes, list[bytes], dict[str, Any]]:
    """The token's bytes, its three segments and its (unverified) header."""
    if not isinstance(token, str) or not token:
        raise exc.DecodeError("Token must be a non-empty string")
    # Checked before any base64 or crypto work, so an attacker cannot make us do either.
    if len(token) > max_bytes:
        raise exc.TokenTooLargeError(f"Token is longer than {max_bytes} bytes")
    if not token.isascii():
        raise exc.DecodeError("Token contains non-ASCII characters")
    data = token.encode("ascii")
    segments = data.split(b".")
    if len(segments) != 3:
        raise exc.DecodeError("Token must have three dot-separated segments")
    header = parse_header(segments[0]) if memo is None else memo.parse(segments[0])
    return data, segments, header


def unverified_header(token: Any, *, max_bytes: int = 8192) -> dict[str, Any]:
    """The JOSE header of ``token``, parsed as strictly as ``decode`` does but NOT verified.

    Anyone can write any header: use it to route (which tenant, which key), never to trust.
    Raises ``DecodeError`` (or ``TokenTooLargeError``) for anything that is not a JWS.
    """
    return _parse(token, max_bytes)[2]


def unverified_claims(token: Any, *, max_bytes: int = 8192) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, payload)`` of ``token`` WITHOUT checking its signature (for key loaders)."""
    _, segments, header = _parse(token, max_bytes)
    return header, json_object(segments[1], "payload")


def hmac_digest(key: VerificationKey, name: str, algorithm: Any, message: bytes) -> bytes:
    """HMAC of ``message`` under ``key`` for the HS algorithm ``name``: from the key's pads
    hashed at startup (``keys.hmac_states``), two copies of hash states rather than a new
    HMAC per token; the one-shot ``hmac.digest`` for a key prepared without them."""
    states = key.hmac_states.get(name)
    if states is None:
        return hmac.digest(key.key, message, algorithm.hash_alg)
    inner = states[0].copy()
    inner.update(message)
    outer = states[1].copy()
    outer.update(inner.digest())
    return outer.digest()  # type: ignore[no-any-return]


def _signature_valid(signing_input: bytes, segment: bytes, header: Mapping[str, Any], key: VerificationKey) -> bool:
    name = header.get("alg", "")
    # Only a configured name selects an algorithm; a list or object is not even hashable.
    algorithm = key.algorithms.get(name) if isinstance(name, str) else None
    if algorithm is None:
        raise exc.InvalidAlgorithmError()
    signature = b64decode(segment)
    try:
        if algorithm.__class__ is HMACAlgorithm:
            # HMACAlgorithm.verify's comparison, on the digest of hmac_digest.
            return hmac.compare_digest(hmac_digest(key, name, algorithm, signing_input), signature)
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
    memo: HeaderMemo | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify ``token`` and return ``(header, payload)``: a strict JWS compact parser over
    PyJWT's algorithms. The key is chosen by ``kid`` among configured keys only (or among a
    key loader's candidates), the algorithm must be one that key allows, and no header (jwk,
    jku, x5u, x5c) can supply or locate a key. ``verify_exp=False`` skips the expiry check
    only; an ``ExpiredSignatureError`` carries the verified ``(header, payload)`` as
    ``verified``. ``memo`` remembers parsed headers, never verdicts. Raises only
    ``JWTExtendedException`` subclasses, whatever the input."""
    rules = Rules(audience, issuer, leeway, required, max_bytes, verify_sub)
    return decode_with(token, keys, rules, verify_exp, memo)


def decode_with(
    token: str,
    keys: KeySelector | Sequence[VerificationKey],
    rules: Rules,
    verify_exp: bool = True,
    memo: HeaderMemo | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``decode`` with its rules built once (``Rules.of(settings)``): the request path's call."""
    data, segments, header = _parse(token, rules.max_bytes, memo)
    signing_input = data[: len(data) - len(segments[2]) - 1]
    _check_signature(signing_input, segments[2], header, keys)
    # Parsed only once the signature holds: unsigned bytes never reach the JSON parser.
    payload = json_object(segments[1], "payload")
    try:
        check_claims(payload, rules, verify_exp)
    except exc.ExpiredSignatureError as error:
        # The signature verified: error responses may say whose token expired.
        error.verified = (header, payload)
        raise
    return header, payload


def _check_signature(
    signing_input: bytes, signature: bytes, header: Mapping[str, Any], keys: KeySelector | Sequence[VerificationKey]
) -> None:
    select = getattr(keys, "select", None)  # a KeySelector; else the candidates of a key loader
    if select is None:
        _verify_any(signing_input, signature, header, keys)  # type: ignore[arg-type]
    elif not _signature_valid(signing_input, signature, header, select(header.get("kid"))):
        raise exc.InvalidSignatureError()


def _verify_any(
    signing_input: bytes, segment: bytes, header: Mapping[str, Any], keys: Sequence[VerificationKey]
) -> None:
    kid = header.get("kid")
    named = [key for key in keys if key.kid == kid]
    last: exc.JWTExtendedException = exc.UnknownKeyError()
    for key in named or keys:
        try:
            if _signature_valid(signing_input, segment, header, key):
                return
            last = exc.InvalidSignatureError()
        except (exc.InvalidAlgorithmError, exc.InvalidSignatureError) as error:
            last = error
    raise last
