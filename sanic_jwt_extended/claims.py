"""Claim names (one home for registered and reserved claims and forbidden headers) and
``build_claims``, the payload of a new token. Framework-free."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from . import exceptions as exc

__all__ = ("FORBIDDEN_HEADERS", "REGISTERED_CLAIMS", "RESERVED_CLAIMS", "build_claims")

# Headers that change how a token is verified: letting callers set them would let a
# header `alg` override the signing algorithm (PyJWT honours it) or smuggle key hints.
FORBIDDEN_HEADERS = frozenset({"alg", "kid", "typ", "crit", "jku", "jwk", "x5u", "x5c", "b64", "zip"})
# RFC 7519 §4.1 plus the claims this library gives meaning to.
REGISTERED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "type", "fresh", "csrf", "fam"})
# Claims the library writes itself: neither the identity nor the role may use their names.
RESERVED_CLAIMS = frozenset({"type", "fresh", "jti", "exp", "iat", "nbf", "csrf", "fam"})


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
    nbf: bool = True,
) -> dict[str, Any]:
    """The payload of a new token. Caller-supplied claims can never replace reserved ones."""
    reserved = REGISTERED_CLAIMS | {identity_claim} | ({acl_claim} if acl_claim else set())
    claims = _custom_claims(public_claims, public_claim_namespace, private_claims, private_claim_prefix, reserved)
    claims.update({"iat": _iat(now), "jti": secrets.token_urlsafe(16), identity_claim: identity, "type": token_type})
    optional = {
        "nbf": _timestamp(now) if nbf else None,
        "exp": None if expires_delta is False else _expiry(now, expires_delta),
        "fresh": None if fresh is None else _fresh_claim(fresh, now),
        acl_claim or "role": None if role is None else _role_claim(role),
        "iss": iss,
        "aud": aud if aud is None or isinstance(aud, str) else list(aud),
        "csrf": csrf,
        "fam": family,
    }
    claims.update({name: value for name, value in optional.items() if value is not None})
    return claims


def _iat(now: datetime) -> float:
    # To the millisecond (RFC 7519 NumericDate allows fractions): "log out everywhere" must
    # tell a token issued just before the revocation from a login just after it. Truncated,
    # never rounded up: an iat even 0.5 ms ahead of the clock is "issued in the future" to a
    # verifier running right after. (The jti: 128 random bits in 22 characters, not a UUID.)
    return math.floor(now.timestamp() * 1000) / 1000


def _custom_claims(
    public_claims: Mapping[str, Any] | None,
    namespace: str,
    private_claims: Mapping[str, Any] | None,
    prefix: str,
    reserved: frozenset[str],
) -> dict[str, Any]:
    public = _namespaced(public_claims, namespace, reserved)
    private = _namespaced(private_claims, prefix, reserved)
    clash = public.keys() & private.keys()
    if clash:
        raise exc.TokenCreationError(f"claims {sorted(clash)} are given as both public and private")
    return {**public, **private}


def _expiry(now: datetime, expires_delta: Any) -> int:
    if not isinstance(expires_delta, timedelta):
        raise exc.TokenCreationError(f"expires_delta must be a positive timedelta or False, got {expires_delta!r}")
    if expires_delta <= timedelta(0):
        raise exc.TokenCreationError(f"expires_delta must be positive, got {expires_delta!r}")
    # Rounded up: a token never lives shorter than asked (truncating could leave a
    # one-second token a few milliseconds of life).
    return math.ceil((now + expires_delta).timestamp())


def _fresh_claim(fresh: bool | timedelta | datetime, now: datetime) -> bool | int:
    # A timestamp means "fresh until then": the token is fresh for a while after login.
    if isinstance(fresh, bool):
        return fresh
    if isinstance(fresh, timedelta):
        if fresh <= timedelta(0):
            raise exc.TokenCreationError(f"fresh as a timedelta must be positive, got {fresh!r}")
        # Rounded up like exp: "fresh for 1 s" is never fresh for less than a second.
        return math.ceil((now + fresh).timestamp())
    if isinstance(fresh, datetime):
        if fresh.tzinfo is None:
            raise exc.TokenCreationError("fresh as a datetime must be timezone-aware")
        return math.ceil(fresh.timestamp())
    raise exc.TokenCreationError(f"fresh must be a bool, timedelta or datetime, got {fresh!r}")


def _role_claim(role: str | Iterable[str]) -> str | list[str]:
    if isinstance(role, str):
        return role
    roles = list(role)
    if not roles or not all(isinstance(item, str) for item in roles):
        raise exc.TokenCreationError(f"role must be a string or a non-empty list of strings, got {role!r}")
    return roles
