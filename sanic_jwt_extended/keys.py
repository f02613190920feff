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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.api_jwk import PyJWK
from jwt.exceptions import InvalidKeyError, PyJWTError
from jwt.utils import base64url_encode

from .exceptions import ConfigurationError, DecodeError, UnknownKeyError

__all__ = ("KeySet", "VerificationKey", "load_keys", "parse_jwk_set", "supported_algorithms", "thumbprint")

_ALGORITHMS: dict[str, Algorithm] = {name: alg for name, alg in get_default_algorithms().items() if name != "none"}
# RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
# RFC 7638 §3.2: the members a thumbprint hashes, per key type.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}
_PARSE_ERRORS = (PyJWTError, ValueError, TypeError, KeyError)

logger = logging.getLogger("sanic_jwt_extended")


def supported_algorithms() -> tuple[str, ...]:
    """Algorithms this installation can use (asymmetric ones need ``cryptography``)."""
    return tuple(sorted(_ALGORITHMS))


def key_family(algorithm: str) -> str:
    """The JWK ``kty`` an algorithm works with."""
    if algorithm == "EdDSA":
        return "OKP"
    return {"RS": "RSA", "PS": "RSA", "ES": "EC", "HS": "oct"}[algorithm[:2]]


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): a kid both sides can compute."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64url_encode(hashlib.sha256(canonical).digest()).decode()


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One prepared verification key and the only algorithms it may be used with."""

    kid: str
    key: Any = field(repr=False)
    algorithms: Mapping[str, Algorithm] = field(repr=False)
    public_jwk: Mapping[str, Any] | None = field(default=None, repr=False)  # None for HMAC secrets


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


def _check_algorithm(name: Any, option: str) -> str:
    if not isinstance(name, str) or name.lower() == "none":
        raise ConfigurationError(
            f"{option}: {name!r} is not allowed; unsigned tokens ('none') are never accepted. "
            f"Use one of {', '.join(supported_algorithms())}."
        )
    if name not in _ALGORITHMS:
        hint = (
            "" if "RS256" in _ALGORITHMS else " (asymmetric algorithms need `pip install 'sanic-jwt-extended[crypto]'`)"
        )
        raise ConfigurationError(
            f"{option}: unknown or unavailable algorithm {name!r}{hint}. "
            f"Use one of {', '.join(supported_algorithms())}."
        )
    return name


def _is_private(prepared: Any) -> bool:
    return hasattr(prepared, "sign") or hasattr(prepared, "private_bytes")


def _from_jwk(value: Mapping[str, Any], option: str) -> tuple[Any, str, str | None]:
    """(prepared key, kty, kid) from a JWK dict."""
    try:
        jwk = PyJWK(dict(value))
    except _PARSE_ERRORS as error:
        raise ConfigurationError(f"{option}: not a usable JWK ({type(error).__name__}).") from None
    kid = value.get("kid")
    return jwk.key, str(value.get("kty")), kid if isinstance(kid, str) else None


def _prepare(value: Any, family: str, option: str, prefer: Sequence[str] = ()) -> tuple[Any, str | None]:
    """(prepared key, kid from a JWK) for ``family``; raises naming ``option``.

    ``prefer`` lists algorithms to try first: EC keys are tied to a curve, so a P-384 key
    only prepares under ES384.
    """
    if isinstance(value, Mapping):
        prepared, kty, kid = _from_jwk(value, option)
        if kty != family:
            raise ConfigurationError(f"{option}: a {kty} JWK cannot be used where a {family} key is needed.")
        return prepared, kid
    candidates = [name for name in (*prefer, *_ALGORITHMS) if key_family(name) == family]
    error: Exception | None = None
    for algorithm in dict.fromkeys(candidates):
        try:
            return _ALGORITHMS[algorithm].prepare_key(value), None
        except (InvalidKeyError, *_PARSE_ERRORS) as exc:
            error = exc
    if family == "oct" and isinstance(error, InvalidKeyError):
        # PyJWT refuses PEM/SSH keys as HMAC secrets: that is the algorithm-confusion trap.
        raise ConfigurationError(
            f"{option}: looks like an asymmetric key; put it in private_key/public_key "
            "and choose an RS/PS/ES/EdDSA algorithm."
        ) from None
    raise ConfigurationError(f"{option}: is not a usable {family} key ({type(error).__name__}).") from None


def _accepts(algorithm: str, key: Any) -> bool:
    try:
        _ALGORITHMS[algorithm].prepare_key(key)
    except (InvalidKeyError, *_PARSE_ERRORS):
        return False
    return True


def _check_secret(secret: bytes, algorithms: Iterable[str], allow_weak: bool, option: str) -> None:
    needed = max(_HMAC_MIN_BYTES[name] for name in algorithms)
    if len(secret) < needed and not allow_weak:
        raise ConfigurationError(
            f"{option}: is {len(secret)} bytes but {', '.join(sorted(algorithms))} needs at least {needed} bytes "
            "(RFC 7518 §3.2). Use a longer random secret, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`, or set "
            "allow_weak_secret = True for throwaway local experiments only."
        )


def _public_jwk(public: Any, family: str, kid: str, algorithms: Sequence[str]) -> dict[str, Any] | None:
    if family == "oct":
        return None
    jwk = dict(_ALGORITHMS[algorithms[0]].to_jwk(public, as_dict=True))
    jwk.update({"kid": kid, "use": "sig"})
    if len(algorithms) == 1:
        jwk["alg"] = algorithms[0]
    return jwk


def _verification_key(
    prepared_public: Any, family: str, kid: str | None, decode: Sequence[str], option: str
) -> VerificationKey:
    # Only algorithms this very key works with: an EC key's curve fixes its one algorithm.
    algorithms = [name for name in decode if key_family(name) == family and _accepts(name, prepared_public)]
    if not algorithms:
        raise ConfigurationError(f"{option}: no algorithm in decode_algorithms can use this {family} key.")
    if family == "oct":
        kid = kid or thumbprint({"kty": "oct", "k": base64url_encode(prepared_public).decode()})
    else:
        kid = kid or thumbprint(_ALGORITHMS[algorithms[0]].to_jwk(prepared_public, as_dict=True))
    return VerificationKey(
        kid,
        prepared_public,
        {name: _ALGORITHMS[name] for name in algorithms},
        _public_jwk(prepared_public, family, kid, algorithms),
    )


def _family_of_value(value: Any) -> str:
    """The family of a retired key: JWK kty, key object type, or PEM vs secret."""
    if isinstance(value, Mapping):
        return str(value.get("kty"))
    if isinstance(value, (str, bytes)):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if "-----BEGIN" not in text:
            return "oct"
        value = _load_pem_public_or_private(text)
    try:
        from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    except ImportError:
        raise ConfigurationError("decode_keys: asymmetric keys need `pip install cryptography`.") from None
    families = (
        ((rsa.RSAPublicKey, rsa.RSAPrivateKey), "RSA"),
        ((ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey), "EC"),
        ((ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey, ed448.Ed448PublicKey, ed448.Ed448PrivateKey), "OKP"),
    )
    for types, family in families:
        if isinstance(value, types):
            return family
    raise ConfigurationError(f"decode_keys: unsupported key of type {type(value).__name__}.")


def _load_pem_public_or_private(text: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    data = text.encode()
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        try:
            return serialization.load_pem_private_key(data, password=None)
        except ValueError:
            raise ConfigurationError("decode_keys: a PEM value could not be read.") from None


def load_keys(
    *,
    algorithm: Any,
    decode_algorithms: Sequence[str] | None,
    secret_key: Any,
    private_key: Any,
    public_key: Any,
    allow_weak_secret: bool,
    key_id: str | None = None,
    decode_keys: Mapping[str, Any] | Sequence[Any] | None = None,
    remote: bool = False,
) -> KeySet:
    """Validate algorithms against the key material and prepare every key once.

    With ``remote`` (a ``jwks_url`` is configured) an app may hold no key at all.
    """
    algorithm, decode = _algorithms(algorithm, decode_algorithms)
    family = key_family(algorithm)
    if remote and secret_key is None and private_key is None and public_key is None and not decode_keys:
        return KeySet(algorithm, decode, "", None, {})
    if family == "oct":
        signing, verifying, jwk_kid = _hmac_key(
            algorithm, decode, secret_key, private_key, public_key, allow_weak_secret
        )
    else:
        signing, verifying, jwk_kid = _asymmetric_keys(algorithm, family, secret_key, private_key, public_key)
    active = _verification_key(verifying, family, key_id or jwk_kid, decode, "algorithm")
    by_kid = {active.kid: active}
    for key in _retired_keys(decode_keys, decode, allow_weak_secret):
        if key.kid in by_kid:
            raise ConfigurationError(f"decode_keys: kid {key.kid!r} is used twice.")
        by_kid[key.kid] = key
    unused = [name for name in decode if not any(name in key.algorithms for key in by_kid.values())]
    if unused:
        raise ConfigurationError(f"decode_algorithms: {unused} have no configured key of their family.")
    return KeySet(algorithm, decode, active.kid, signing, by_kid)


def _algorithms(algorithm: Any, decode_algorithms: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
    algorithm = _check_algorithm(algorithm, "algorithm")
    if decode_algorithms is None:
        decode: tuple[str, ...] = (algorithm,)
    elif isinstance(decode_algorithms, str) or not decode_algorithms:
        raise ConfigurationError("decode_algorithms: must be a non-empty list of algorithm names, e.g. ['HS256'].")
    else:
        decode = tuple(_check_algorithm(name, "decode_algorithms") for name in decode_algorithms)
    if algorithm not in decode:
        raise ConfigurationError(
            f"decode_algorithms: must include algorithm={algorithm!r}, or the app refuses its own tokens."
        )
    return algorithm, decode


def _hmac_key(
    algorithm: str, decode: tuple[str, ...], secret_key: Any, private_key: Any, public_key: Any, allow_weak: bool
) -> tuple[Any, Any, str | None]:
    if private_key is not None or public_key is not None:
        raise ConfigurationError(
            "private_key: is set but algorithm is HMAC; use secret_key (or an asymmetric algorithm)."
        )
    if secret_key is None or (isinstance(secret_key, (str, bytes)) and not secret_key):
        raise ConfigurationError(
            f"secret_key: {algorithm} needs a non-empty secret; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
        )
    signing, jwk_kid = _prepare(secret_key, "oct", "secret_key", (algorithm,))
    _check_secret(signing, [n for n in decode if key_family(n) == "oct"], allow_weak, "secret_key")
    return signing, signing, jwk_kid


def _asymmetric_keys(
    algorithm: str, family: str, secret_key: Any, private_key: Any, public_key: Any
) -> tuple[Any, Any, str | None]:
    if secret_key is not None:
        raise ConfigurationError(
            f"secret_key: is set but algorithm={algorithm!r} is asymmetric; use private_key/public_key instead."
        )
    signing = jwk_kid = None
    if private_key is not None:
        signing, jwk_kid = _prepare(private_key, family, "private_key", (algorithm,))
        if not _is_private(signing):
            raise ConfigurationError(
                f"private_key: is a public key; {algorithm} signs with the private key. Put it in public_key."
            )
    if public_key is not None:
        verifying, public_kid = _prepare(public_key, family, "public_key", (algorithm,))
        if _is_private(verifying):
            raise ConfigurationError("public_key: is a private key; give the public half only.")
        return signing, verifying, jwk_kid or public_kid
    if signing is None:
        raise ConfigurationError(
            f"private_key/public_key: {algorithm} needs private_key (to issue tokens) or public_key (to verify only)."
        )
    return signing, signing.public_key(), jwk_kid


def _retired_keys(
    decode_keys: Mapping[str, Any] | Sequence[Any] | None, decode: tuple[str, ...], allow_weak: bool
) -> Iterator[VerificationKey]:
    """The retired verification keys (rotation), each pinned to its family's algorithms."""
    for kid, value in _retired(decode_keys):
        family = _family_of_value(value)
        prepared, jwk_kid = _prepare(value, family, f"decode_keys[{kid!r}]" if kid else "decode_keys", decode)
        if family == "oct":
            hmac_algorithms = [n for n in decode if key_family(n) == "oct"] or ["HS256"]
            _check_secret(prepared, hmac_algorithms, allow_weak, "decode_keys")
        elif _is_private(prepared):
            prepared = prepared.public_key()  # only the public half is ever needed to verify
        yield _verification_key(prepared, family, kid or jwk_kid, decode, "decode_keys")


def _retired(decode_keys: Mapping[str, Any] | Sequence[Any] | None) -> list[tuple[str | None, Any]]:
    if decode_keys is None:
        return []
    if isinstance(decode_keys, Mapping):
        if not all(isinstance(kid, str) and kid for kid in decode_keys):
            raise ConfigurationError("decode_keys: kids must be non-empty strings.")
        return list(decode_keys.items())
    if isinstance(decode_keys, (str, bytes)):
        raise ConfigurationError("decode_keys: must be a list of keys or a {kid: key} mapping.")
    return [(None, value) for value in decode_keys]


def parse_jwk_set(data: Any, decode_algorithms: Sequence[str]) -> dict[str, VerificationKey]:
    """Keys of a fetched JWK Set usable with ``decode_algorithms``, by kid (resource-server mode).

    Keys without a kid, of unknown types, private keys or HMAC secrets are skipped: a JWK Set
    from the network can add keys, never widen the algorithm allow-list. Each entry stands
    alone: a bad one is skipped with a warning and never costs the other keys. Never raises.
    Each key's ``public_jwk`` holds its RFC 7638 members, so a caller can tell a key replaced
    under the same kid by its thumbprint.
    """
    keys: dict[str, VerificationKey] = {}
    entries = data.get("keys") if isinstance(data, Mapping) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        reason = _unusable(entry, keys)
        if reason is None:
            try:
                key = _remote_key(entry, decode_algorithms)
            # Whatever PyJWK or cryptography raise for a hostile entry (NotImplementedError for
            # alg "none", ValueError for a bad point...): one entry must not cost the set.
            except Exception as error:
                reason = f"not a usable JWK ({type(error).__name__})"
            else:
                if key is not None:
                    keys[key.kid] = key
                    continue
                logger.debug("jwks_url: key %d fits no algorithm in decode_algorithms; not used", index)
                continue
        logger.warning("jwks_url: skipping key %d of the JWK Set: %s", index, reason)
    return keys


def _unusable(entry: Any, keys: Mapping[str, VerificationKey]) -> str | None:
    """Why ``entry`` is skipped before any parsing, or ``None``. Never echoes key material."""
    if not isinstance(entry, Mapping):
        return "not a JSON object"
    kid, kty, alg = entry.get("kid"), entry.get("kty"), entry.get("alg")
    if not isinstance(kid, str) or not kid:
        return "no string kid"
    if kid in keys:
        return "a second key with the same kid (the first one is kept)"
    if kty == "oct":
        return "an HMAC secret (never accepted from the network)"
    if kty not in _THUMBPRINT_MEMBERS:
        return "unknown key type"
    if "d" in entry:
        return "a private key published by mistake"
    if alg is not None and (not isinstance(alg, str) or alg not in _ALGORITHMS):
        return "alg 'none' or unknown"  # 'none' is never in _ALGORITHMS
    if entry.get("use", "sig") != "sig":
        return "not a signature key (use)"
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return "not a verification key (key_ops)"
    return None


def _remote_key(entry: Mapping[str, Any], decode_algorithms: Sequence[str]) -> VerificationKey | None:
    kty = str(entry["kty"])
    algorithms = [name for name in decode_algorithms if key_family(name) == kty]
    if isinstance(entry.get("alg"), str):
        algorithms = [name for name in algorithms if name == entry["alg"]]
    if not algorithms:
        return None  # checked before loading: no key work for a key we would not use
    prepared, _, kid = _from_jwk(entry, "jwks_url")
    # As for local keys: only algorithms this very key works with (an EC curve fixes one).
    algorithms = [name for name in algorithms if _accepts(name, prepared)]
    if not algorithms or kid is None:
        return None
    members = {name: entry[name] for name in _THUMBPRINT_MEMBERS[kty]}
    thumbprint(members)  # the members must be hashable as RFC 7638 says, or the entry is bad
    return VerificationKey(kid, prepared, {name: _ALGORITHMS[name] for name in algorithms}, {**members, "kid": kid})
