"""``load_keys``: the configured key options checked against the algorithms and prepared
once, the active key and the retired ones (rotation). Framework-free; errors are
``ConfigurationError`` naming the option, never echoing key material.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .exceptions import ConfigurationError
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

__all__ = ("load_keys",)


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
