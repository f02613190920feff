"""``load_keys``: the configured key options checked against the algorithms and prepared
once, the active key and the retired ones (rotation). Framework-free; errors are
``ConfigurationError`` naming the option, never echoing key material.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from .exceptions import ConfigurationError, UnknownKeyError
from .keys import (
    KeySet,
    VerificationKey,
    check_algorithm,
    check_secret,
    is_private,
    key_family,
    prepare,
    verification_key,
)

__all__ = ("LoadedKeys", "LoaderKeys", "load_keys")


def _family_of_value(value: Any, option: str = "decode_keys") -> str:
    """The family of a retired key: JWK kty, key object type, or PEM vs secret."""
    if isinstance(value, Mapping):
        return str(value.get("kty"))
    if isinstance(value, (str, bytes)):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if "-----BEGIN" not in text:
            return "oct"
        value = _load_pem_public_or_private(text, option)
    try:
        from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    except ImportError:
        raise ConfigurationError(f"{option}: asymmetric keys need `pip install cryptography`.") from None
    families = (
        ((rsa.RSAPublicKey, rsa.RSAPrivateKey), "RSA"),
        ((ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey), "EC"),
        ((ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey, ed448.Ed448PublicKey, ed448.Ed448PrivateKey), "OKP"),
    )
    for types, family in families:
        if isinstance(value, types):
            return family
    raise ConfigurationError(f"{option}: unsupported key of type {type(value).__name__}.")


def _load_pem_public_or_private(text: str, option: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    data = text.encode()
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        try:
            return serialization.load_pem_private_key(data, password=None)
        except ValueError:
            raise ConfigurationError(f"{option}: a PEM value could not be read.") from None


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
    active = verification_key(verifying, family, key_id or jwk_kid, decode, "algorithm")
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
    algorithm = check_algorithm(algorithm, "algorithm")
    if decode_algorithms is None:
        decode: tuple[str, ...] = (algorithm,)
    elif isinstance(decode_algorithms, str) or not decode_algorithms:
        raise ConfigurationError("decode_algorithms: must be a non-empty list of algorithm names, e.g. ['HS256'].")
    else:
        decode = tuple(check_algorithm(name, "decode_algorithms") for name in decode_algorithms)
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
    signing, jwk_kid = prepare(secret_key, "oct", "secret_key", (algorithm,))
    check_secret(signing, [n for n in decode if key_family(n) == "oct"], allow_weak, "secret_key")
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
        signing, jwk_kid = prepare(private_key, family, "private_key", (algorithm,))
        if not is_private(signing):
            raise ConfigurationError(
                f"private_key: is a public key; {algorithm} signs with the private key. Put it in public_key."
            )
    if public_key is not None:
        verifying, public_kid = prepare(public_key, family, "public_key", (algorithm,))
        if is_private(verifying):
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
        prepared, jwk_kid = prepare(value, family, f"decode_keys[{kid!r}]" if kid else "decode_keys", decode)
        if family == "oct":
            hmac_algorithms = [n for n in decode if key_family(n) == "oct"] or ["HS256"]
            check_secret(prepared, hmac_algorithms, allow_weak, "decode_keys")
        elif is_private(prepared):
            prepared = prepared.public_key()  # only the public half is ever needed to verify
        yield verification_key(prepared, family, kid or jwk_kid, decode, "decode_keys")


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


# -- keys chosen per token by the app's key loaders (multi-tenant apps) -----------------------

_DECODE_LOADER = "decode_key_loader"
_ENCODE_LOADER = "encode_key_loader"
_MEMO_SIZE = 256
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class LoadedKeys:
    """The verification keys one ``decode_key_loader`` answer names, each pinned like a
    configured key, and each key's RFC 7638 thumbprint (what the verified-token cache keys on)."""

    keys: tuple[VerificationKey, ...]
    fingerprints: tuple[str, ...]


class LoaderKeys:
    """Prepares what the key loaders return, once per distinct value (a small bounded memo).

    A loader returning something unusable is the app's bug, not the client's: it raises
    ``ConfigurationError`` (a 500) naming the loader. ``None`` (or an empty list) from a
    decode loader means "no key for this token": ``UnknownKeyError``, a 422.
    """

    def __init__(self, keys: KeySet, *, allow_weak: bool) -> None:
        self.keys = keys
        self.allow_weak = allow_weak
        self._verification: dict[Any, LoadedKeys] = {}
        self._signing: dict[Any, KeySet] = {}

    def verification(self, value: Any) -> LoadedKeys:
        """The prepared keys of a ``decode_key_loader`` answer: a key or a list of keys."""
        if value is None:
            raise UnknownKeyError()
        return _memo(self._verification, value, self._prepare_verification)

    def signing(self, value: Any) -> KeySet:
        """The app's key set with the key an ``encode_key_loader`` returned as signing key."""
        return _memo(self._signing, value, self._prepare_signing)

    def _prepare_verification(self, value: Any) -> LoadedKeys:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise UnknownKeyError()
        decode = self.keys.decode_algorithms
        prepared: list[VerificationKey] = []
        fingerprints: list[str] = []
        for item in values:
            family = _family_of_value(item, _DECODE_LOADER)
            key, jwk_kid = prepare(item, family, _DECODE_LOADER, decode)
            if family == "oct":
                check_secret(
                    key, [n for n in decode if key_family(n) == "oct"] or ["HS256"], self.allow_weak, _DECODE_LOADER
                )
            elif is_private(key):
                key = key.public_key()
            # Raises unless an algorithm of decode_algorithms works with this key: the
            # algorithms stay pinned by configuration, whatever the loader returns.
            pinned = verification_key(key, family, None, decode, _DECODE_LOADER)
            fingerprints.append(pinned.kid)  # the thumbprint: kid=None above
            prepared.append(dataclasses.replace(pinned, kid=jwk_kid) if jwk_kid else pinned)
        return LoadedKeys(tuple(prepared), tuple(fingerprints))

    def _prepare_signing(self, value: Any) -> KeySet:
        algorithm = self.keys.algorithm
        family = key_family(algorithm)
        if value is None:
            raise ConfigurationError(f"{_ENCODE_LOADER}: returned None; it must return a {family} key for {algorithm}.")
        key, jwk_kid = prepare(value, family, _ENCODE_LOADER, (algorithm,))
        if family == "oct":
            check_secret(key, [algorithm], self.allow_weak, _ENCODE_LOADER)
            public = key
        elif not is_private(key):
            raise ConfigurationError(f"{_ENCODE_LOADER}: returned a public key; {algorithm} signs with a private key.")
        else:
            public = key.public_key()
        # The kid is the key's thumbprint, as for configured keys: decode_keys listing the
        # same key, or a decode loader's answer, then match it.
        kid = jwk_kid or verification_key(public, family, None, (algorithm,), _ENCODE_LOADER).kid
        return dataclasses.replace(self.keys, signing_key=key, kid=kid, by_kid={})


def _index(value: Any) -> Any:
    # A hashable stand-in for a loader's answer: JWK dicts and lists are not hashable.
    if isinstance(value, Mapping):
        return ("jwk", json.dumps(value, sort_keys=True, default=str))
    if isinstance(value, (list, tuple)):
        return ("many", tuple(_index(item) for item in value))
    return value


def _memo(memo: dict[Any, T], value: Any, make: Callable[[Any], T]) -> T:
    try:
        index = _index(value)
        hit = memo.get(index)
    except TypeError:  # unhashable (a list, a key object without __hash__): prepared each time
        return make(value)
    if hit is None:
        hit = make(value)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()  # a loader returning endless distinct keys must not grow memory
        memo[index] = hit
    return hit
