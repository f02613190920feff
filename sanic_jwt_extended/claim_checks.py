"""The claim checks of a verified payload, one small function per kind, and ``Rules``, what
a verifier demands (fixed at startup). ``codec.decode`` runs ``check_claims`` once the
signature holds. Framework-free."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import exceptions as exc

__all__ = ("Rules", "check_claims")

# Year 9999: anything later cannot become a datetime and is not a real expiry.
_MAX_TIMESTAMP = 253402300799
_ABSENT: Any = object()
_STRING_CLAIMS = {True: ("jti", "type", "sub"), False: ("jti", "type")}


def _check_time_value(claim: str, value: Any) -> None:
    # The full test, for a value the quick one in _check_times did not pass: a value a
    # datetime cannot hold would crash later, in a view.
    cls = value.__class__
    if cls is not int and cls is not float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise exc.DecodeError(f"The {claim!r} claim must be a number", claim=claim)
    # No float(): a huge JSON integer would overflow the conversion. NaN and infinities
    # fail the comparison too.
    if not 0 <= value <= _MAX_TIMESTAMP:
        raise exc.DecodeError(f"The {claim!r} claim is out of range", claim=claim)


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


@dataclass(frozen=True, slots=True)
class Rules:
    """What a verifier demands of every token's claims and size: ``decode``'s keyword
    arguments, gathered once at startup rather than passed on every call."""

    audience: str | Sequence[str] | None = None
    issuer: str | Sequence[str] | None = None
    leeway: float = 0
    required: Sequence[str] = ()
    max_bytes: int = 8192
    verify_sub: bool = True

    @classmethod
    def of(cls, settings: Any) -> Rules:
        """The rules of an app's ``Settings``: what its verification accepts."""
        return cls(
            settings.accepted_audience,
            settings.accepted_issuer,
            settings.leeway,
            settings.required_claims,
            settings.max_token_bytes,
            settings.verify_sub,
        )


def check_claims(payload: Mapping[str, Any], rules: Rules, verify_exp: bool) -> None:
    get = payload.get
    for claim in rules.required:
        if get(claim) is None:
            raise exc.MissingRequiredClaimError(f"Token is missing the {claim!r} claim", claim=claim)
    _check_times(payload, rules.leeway, verify_exp)
    issuer, audience, verify_sub = rules.issuer, rules.audience, rules.verify_sub
    if issuer is not None:
        claimed = get("iss", _ABSENT)
        if claimed is _ABSENT:
            raise exc.MissingRequiredClaimError("Token is missing the 'iss' claim", claim="iss")
        if claimed != issuer if isinstance(issuer, str) else claimed not in issuer:
            raise exc.InvalidIssuerError()
    if audience is not None or get("aud") is not None:
        _check_audience(payload, audience)
    # RFC 7519 §4.1.2 makes sub a string, as PyJWT enforces; verify_sub=False lets
    # tokens of issuers that write numbers through. Exact str first: JSON gives nothing else.
    if (
        get("jti", "").__class__ is not str
        or get("type", "").__class__ is not str
        or (verify_sub and get("sub", "").__class__ is not str)
    ):
        for claim in _STRING_CLAIMS[verify_sub]:
            value = get(claim, _ABSENT)
            if value is not _ABSENT and not isinstance(value, str):
                raise exc.DecodeError(f"The {claim!r} claim must be a string", claim=claim)


_NUMBERS: frozenset[Any] = frozenset((int, float))


def _check_times(payload: Mapping[str, Any], leeway: float, verify_exp: bool) -> None:
    get = payload.get
    exp, iat, nbf = get("exp", _ABSENT), get("iat", _ABSENT), get("nbf", _ABSENT)
    # An int or float in range passes on one class test and one comparison (JSON gives
    # exact ints and floats); anything else gets the full test and its error.
    value: Any
    for claim, value in (("exp", exp), ("iat", iat), ("nbf", nbf)):
        if value is not _ABSENT and (value.__class__ not in _NUMBERS or not 0 <= value <= _MAX_TIMESTAMP):
            _check_time_value(claim, value)
    now = time.time()
    if verify_exp and exp is not _ABSENT and exp <= now - leeway:
        raise exc.ExpiredSignatureError()
    if nbf is not _ABSENT and nbf > now + leeway:
        raise exc.ImmatureSignatureError()
    if iat is not _ABSENT and iat > now + leeway:
        raise exc.ImmatureSignatureError("The token was issued in the future")
