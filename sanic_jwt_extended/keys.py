"""Key material, parsed and checked once at startup (never per request).

Every key is prepared into a ``VerificationKey`` that pins the algorithms allowed with it,
so a token can never choose how a key is interpreted (RFC 8725 §2.1, algorithm
confusion). Tokens name their key with ``kid``; the kid only ever selects among
configured keys. Framework-free: no Sanic import. Errors are ``ConfigurationError``
naming the option, and never echo key material.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.api_jwk import PyJWK
from jwt.exceptions import InvalidKeyError, PyJWTError
from jwt.utils import base64url_encode

from .exceptions import ConfigurationError, DecodeError, UnknownKeyError

__all__ = (
    "ALGORITHMS",
    "THUMBPRINT_MEMBERS",
    "KeySet",
    "VerificationKey",
    "accepts",
    "check_algorithm",
    "check_secret",
    "from_jwk",
    "hmac_states",
    "is_private",
    "key_family",
    "prepare",
    "supported_algorithms",
    "thumbprint",
    "verification_key",
)

ALGORITHMS: dict[str, Algorithm] = {name: alg for name, alg in get_default_algorithms().items() if name != "none"}
# RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
# RFC 7638 §3.2: the members a thumbprint hashes, per key type.
THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}
_PARSE_ERRORS = (PyJWTError, ValueError, TypeError, KeyError)

logger = logging.getLogger("sanic_jwt_extended")


def supported_algorithms() -> tuple[str, ...]:
    """Algorithms this installation can use (asymmetric ones need ``cryptography``)."""
    return tuple(sorted(ALGORITHMS))


def key_family(algorithm: str) -> str:
    """The JWK ``kty`` an algorithm works with."""
    if algorithm == "EdDSA":
        return "OKP"
    return {"RS": "RSA", "PS": "RSA", "ES": "EC", "HS": "oct"}[algorithm[:2]]


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): a kid both sides can compute."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64url_encode(hashlib.sha256(canonical).digest()).decode()


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One prepared verification key and the only algorithms it may be used with."""

    kid: str
    key: Any = field(repr=False)
    algorithms: Mapping[str, Algorithm] = field(repr=False)
    public_jwk: Mapping[str, Any] | None = field(default=None, repr=False)  # None for HMAC secrets
    # Per HS algorithm: the hash states after the secret's inner and outer pads (hmac_states).
    hmac_states: Mapping[str, tuple[Any, Any]] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class KeySet:
    """Prepared keys: ``signing_key`` is ``None`` for a verify-only app."""

    algorithm: str
    decode_algorithms: tuple[str, ...]
    kid: str
    signing_key: Any = field(repr=False)
    by_kid: Mapping[str, VerificationKey] = field(repr=False)

    @property
    def verification_key(self) -> Any:
        """The active key's verification half."""
        return self.by_kid[self.kid].key

    def select(self, kid: Any) -> VerificationKey:
        """The key a token's ``kid`` names; a token without kid uses the active key."""
        if kid is None:
            kid = self.kid
        elif not isinstance(kid, str):
            raise DecodeError("The 'kid' header must be a string")
        key = self.by_kid.get(kid)
        if key is None:
            # Never echo the kid: it is attacker-controlled text.
            raise UnknownKeyError()
        return key

    def jwk_set(self) -> dict[str, Any]:
        """The public keys (active and retired) as an RFC 7517 JWK Set; never HMAC secrets."""
        return {"keys": [dict(key.public_jwk) for key in self.by_kid.values() if key.public_jwk is not None]}


def check_algorithm(name: Any, option: str) -> str:
    if not isinstance(name, str) or name.lower() == "none":
        raise ConfigurationError(
            f"{option}: {name!r} is not allowed; unsigned tokens ('none') are never accepted. "
            f"Use one of {', '.join(supported_algorithms())}."
        )
    if name not in ALGORITHMS:
        hint = (
            "" if "RS256" in ALGORITHMS else " (asymmetric algorithms need `pip install 'sanic-jwt-extended[crypto]'`)"
        )
        raise ConfigurationError(
            f"{option}: unknown or unavailable algorithm {name!r}{hint}. "
            f"Use one of {', '.join(supported_algorithms())}."
        )
    return name


def is_private(prepared: Any) -> bool:
    return hasattr(prepared, "sign") or hasattr(prepared, "private_bytes")


def from_jwk(value: Mapping[str, Any], option: str) -> tuple[Any, str, str | None]:
    """(prepared key, kty, kid) from a JWK dict."""
    try:
        jwk = PyJWK(dict(value))
    except _PARSE_ERRORS as error:
        raise ConfigurationError(f"{option}: not a usable JWK ({type(error).__name__}).") from None
    kid = value.get("kid")
    return jwk.key, str(value.get("kty")), kid if isinstance(kid, str) else None


def prepare(value: Any, family: str, option: str, prefer: Sequence[str] = ()) -> tuple[Any, str | None]:
    """(prepared key, kid from a JWK) for ``family``; raises naming ``option``.

    ``prefer`` lists algorithms to try first: EC keys are tied to a curve, so a P-384 key
    only prepares under ES384.
    """
    if isinstance(value, Mapping):
        prepared, kty, kid = from_jwk(value, option)
        if kty != family:
            raise ConfigurationError(f"{option}: a {kty} JWK cannot be used where a {family} key is needed.")
        return prepared, kid
    candidates = [name for name in (*prefer, *ALGORITHMS) if key_family(name) == family]
    error: Exception | None = None
    for algorithm in dict.fromkeys(candidates):
        try:
            return ALGORITHMS[algorithm].prepare_key(value), None
        except (InvalidKeyError, *_PARSE_ERRORS) as exc:
            error = exc
    if family == "oct" and isinstance(error, InvalidKeyError):
        # PyJWT refuses PEM/SSH keys as HMAC secrets: that is the algorithm-confusion trap.
        raise ConfigurationError(
            f"{option}: looks like an asymmetric key; put it in private_key/public_key "
            "and choose an RS/PS/ES/EdDSA algorithm."
        ) from None
    raise ConfigurationError(f"{option}: is not a usable {family} key ({type(error).__name__}).") from None


def accepts(algorithm: str, key: Any) -> bool:
    try:
        ALGORITHMS[algorithm].prepare_key(key)
    except (InvalidKeyError, *_PARSE_ERRORS):
        return False
    return True


def check_secret(secret: bytes, algorithms: Iterable[str], allow_weak: bool, option: str) -> None:
    needed = max(_HMAC_MIN_BYTES[name] for name in algorithms)
    if len(secret) < needed and not allow_weak:
        raise ConfigurationError(
            f"{option}: is {len(secret)} bytes but {', '.join(sorted(algorithms))} needs at least {needed} bytes "
            "(RFC 7518 §3.2). Use a longer random secret, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`, or set "
            "allow_weak_secret = True for throwaway local experiments only."
        )


def hmac_states(secret: bytes, algorithms: Iterable[str]) -> dict[str, tuple[Any, Any]]:
    """Per HS algorithm, the hash states after hashing the secret's inner and outer pads.

    HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) (RFC 2104 §2): both pads depend on the
    key alone, so they are hashed once, here. Verifying copies the two states, as
    ``hmac.HMAC.copy()`` does, instead of keying a new HMAC for every token: the one-shot
    ``hmac.digest`` sets OpenSSL up anew on each call, the dearest part of an HS256
    verification once the CPU caches are cold (as they are between requests).
    """
    states: dict[str, tuple[Any, Any]] = {}
    for name in algorithms:
        new = ALGORITHMS[name].hash_alg  # type: ignore[attr-defined]
        inner, outer = new(), new()
        key = new(secret).digest() if len(secret) > inner.block_size else secret
        key = key.ljust(inner.block_size, b"\0")
        inner.update(bytes(byte ^ 0x36 for byte in key))
        outer.update(bytes(byte ^ 0x5C for byte in key))
        states[name] = (inner, outer)
    return states


def _public_jwk(public: Any, family: str, kid: str, algorithms: Sequence[str]) -> dict[str, Any] | None:
    if family == "oct":
        return None
    jwk = dict(ALGORITHMS[algorithms[0]].to_jwk(public, as_dict=True))
    jwk.update({"kid": kid, "use": "sig"})
    if len(algorithms) == 1:
        jwk["alg"] = algorithms[0]
    return jwk


def verification_key(
    prepared_public: Any, family: str, kid: str | None, decode: Sequence[str], option: str
) -> VerificationKey:
    # Only algorithms this very key works with: an EC key's curve fixes its one algorithm.
    algorithms = [name for name in decode if key_family(name) == family and accepts(name, prepared_public)]
    if not algorithms:
        raise ConfigurationError(f"{option}: no algorithm in decode_algorithms can use this {family} key.")
    if family == "oct":
        kid = kid or thumbprint({"kty": "oct", "k": base64url_encode(prepared_public).decode()})
    else:
        kid = kid or thumbprint(ALGORITHMS[algorithms[0]].to_jwk(prepared_public, as_dict=True))
    return VerificationKey(
        kid,
        prepared_public,
        {name: ALGORITHMS[name] for name in algorithms},
        _public_jwk(prepared_public, family, kid, algorithms),
        hmac_states(prepared_public, algorithms) if family == "oct" else {},
    )
