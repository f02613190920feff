"""Framework-free encode/decode: building payloads, signing, verifying, and translating
every PyJWT failure into the ``JWTExtendedException`` family. No Sanic import here.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import jwt

from . import exceptions as exc
from .keys import KeySet

__all__ = (
    "FORBIDDEN_HEADERS",
    "REGISTERED_CLAIMS",
    "build_claims",
    "decode",
    "encode",
)

# Headers that change how a token is verified: letting callers set them would let a
# header `alg` override the signing algorithm (PyJWT honours it) or smuggle key hints.
FORBIDDEN_HEADERS = frozenset({"alg", "kid", "typ", "crit", "jku", "jwk", "x5u", "x5c", "b64", "zip"})
# RFC 7519 §4.1 plus the claims this library gives meaning to.
REGISTERED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "type", "fresh", "csrf", "fam"})
# Year 9999: anything later cannot become a datetime and is not a real expiry.
_MAX_TIMESTAMP = 253402300799

# Most specific first: several PyJWT errors subclass DecodeError.
_PYJWT_ERRORS: tuple[tuple[type[Exception], type[exc.JWTExtendedException]], ...] = (
    (jwt.ExpiredSignatureError, exc.ExpiredSignatureError),
    (jwt.InvalidSignatureError, exc.InvalidSignatureError),
    (jwt.InvalidAlgorithmError, exc.InvalidAlgorithmError),
    (jwt.InvalidAudienceError, exc.InvalidAudienceError),
    (jwt.InvalidIssuerError, exc.InvalidIssuerError),
    (jwt.MissingRequiredClaimError, exc.MissingRequiredClaimError),
    (jwt.ImmatureSignatureError, exc.ImmatureSignatureError),
    (jwt.DecodeError, exc.DecodeError),
)


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
            "iat": round(now.timestamp(), 3),
            "nbf": _timestamp(now),
            "jti": str(uuid.uuid4()),
            identity_claim: identity,
            "type": token_type,
        }
    )
    if expires_delta is not False:
        if not isinstance(expires_delta, timedelta) or isinstance(expires_delta, bool):
            raise exc.TokenCreationError(f"expires_delta must be a positive timedelta or False, got {expires_delta!r}")
        if expires_delta <= timedelta(0):
            raise exc.TokenCreationError(f"expires_delta must be positive, got {expires_delta!r}")
        claims["exp"] = _timestamp(now + expires_delta)
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
    return jwt.encode(dict(claims), keys.signing_key, algorithm=keys.algorithm, headers=dict(headers or {}))


def _check_time_claims(payload: Mapping[str, Any]) -> None:
    # PyJWT accepts any int; a value a datetime cannot hold would crash later, in a view.
    for claim in ("exp", "iat", "nbf"):
        if claim not in payload:
            continue
        value = payload[claim]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise exc.DecodeError(f"The {claim!r} claim must be a number", claim=claim)
        # Compare without float(): a huge JSON integer would overflow the conversion.
        if (isinstance(value, float) and not math.isfinite(value)) or not 0 <= value <= _MAX_TIMESTAMP:
            raise exc.DecodeError(f"The {claim!r} claim is out of range", claim=claim)


def decode(
    token: str,
    *,
    keys: KeySet,
    audience: str | Sequence[str] | None = None,
    issuer: str | None = None,
    leeway: float = 0,
    required: Sequence[str] = (),
    max_bytes: int = 8192,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify ``token`` and return ``(header, payload)``.

    Raises only ``JWTExtendedException`` subclasses: whatever the input, a caller never
    sees a ``ValueError`` or a PyJWT error.
    """
    if not isinstance(token, str) or not token:
        raise exc.DecodeError("Token must be a non-empty string")
    # Checked before any base64 or crypto work, so an attacker cannot make us do either.
    if len(token) > max_bytes:
        raise exc.TokenTooLargeError(f"Token is longer than {max_bytes} bytes")
    if not token.isascii():
        raise exc.DecodeError("Token contains non-ASCII characters")
    try:
        decoded = jwt.decode_complete(
            token,
            keys.verification_key,
            algorithms=list(keys.decode_algorithms),
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": list(required)},
        )
    except jwt.PyJWTError as error:
        for pyjwt_class, ours in _PYJWT_ERRORS:
            if isinstance(error, pyjwt_class):
                claim = getattr(error, "claim", None)
                if claim:
                    raise ours(f"Token is missing the {claim!r} claim", claim=claim) from error
                raise ours() from error
        raise exc.InvalidTokenError() from error
    except (ValueError, TypeError, OverflowError, UnicodeError, OSError, RecursionError) as error:
        raise exc.DecodeError() from error
    payload = decoded["payload"]
    _check_time_claims(payload)
    return decoded["header"], payload
