"""Key material, parsed and checked once at startup (never per request).

Framework-free: no Sanic import. Errors are ``ConfigurationError`` naming the option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidKeyError, PyJWTError

from .exceptions import ConfigurationError

__all__ = ("KeySet", "load_keys", "supported_algorithms")

_ALGORITHMS = {name: alg for name, alg in get_default_algorithms().items() if name != "none"}
# RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def supported_algorithms() -> tuple[str, ...]:
    """Algorithms this installation can use (asymmetric ones need ``cryptography``)."""
    return tuple(sorted(_ALGORITHMS))


@dataclass(frozen=True, slots=True)
class KeySet:
    """Prepared keys: ``signing_key`` is ``None`` for a verify-only app."""

    algorithm: str
    decode_algorithms: tuple[str, ...]
    signing_key: Any
    verification_key: Any

    def __repr__(self) -> str:
        # Key material never appears in a repr or a log line.
        return f"KeySet(algorithm={self.algorithm!r}, decode_algorithms={self.decode_algorithms!r})"


def _check_algorithm(name: Any, option: str) -> str:
    if not isinstance(name, str) or name.lower() == "none":
        raise ConfigurationError(
            f"{option}: {name!r} is not allowed; unsigned tokens ('none') are never accepted. "
            f"Use one of {', '.join(supported_algorithms())}."
        )
    if name not in _ALGORITHMS:
        hint = "" if "RS256" in _ALGORITHMS else " (asymmetric algorithms need `pip install cryptography`)"
        raise ConfigurationError(
            f"{option}: unknown or unavailable algorithm {name!r}{hint}. "
            f"Use one of {', '.join(supported_algorithms())}."
        )
    return name


def _is_hmac(algorithm: str) -> bool:
    return algorithm.startswith("HS")


def _key_family(algorithm: str) -> str:
    return {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP", "HS": "oct"}[algorithm[:2]]


def _prepare_secret(secret: Any, algorithm: str, allow_weak_secret: bool) -> bytes:
    if not isinstance(secret, (str, bytes)) or not secret:
        raise ConfigurationError(
            f"secret_key: {algorithm} needs a non-empty str or bytes secret; "
            "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
        )
    try:
        key: bytes = _ALGORITHMS[algorithm].prepare_key(secret)
    except InvalidKeyError as exc:
        # PyJWT refuses PEM/SSH keys as HMAC secrets: that is the algorithm-confusion trap.
        raise ConfigurationError(
            f"secret_key: looks like an asymmetric key; put it in private_key/public_key "
            f"and choose an RS/ES/PS/EdDSA algorithm ({exc})."
        ) from exc
    needed = _HMAC_MIN_BYTES[algorithm]
    if len(key) < needed and not allow_weak_secret:
        raise ConfigurationError(
            f"secret_key: is {len(key)} bytes but {algorithm} needs at least {needed} bytes "
            "(RFC 7518 §3.2). Use a longer random secret, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`, or set "
            "allow_weak_secret = True for throwaway local experiments only."
        )
    return key


def _prepare_asymmetric(algorithm: str, private_key: Any, public_key: Any) -> tuple[Any, Any]:
    alg = _ALGORITHMS[algorithm]
    signing = None
    if private_key is not None:
        try:
            signing = alg.prepare_key(private_key)
        except (PyJWTError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"private_key: cannot be used with {algorithm} ({exc}).") from exc
        if not hasattr(signing, "sign"):
            raise ConfigurationError(
                f"private_key: is a public key; {algorithm} signs with the private key. "
                "Put the public key in public_key."
            )
    if public_key is not None:
        try:
            verifying = alg.prepare_key(public_key)
        except (PyJWTError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"public_key: cannot be used with {algorithm} ({exc}).") from exc
        if hasattr(verifying, "sign"):
            raise ConfigurationError("public_key: is a private key; give the public half only.")
    elif signing is not None:
        verifying = signing.public_key()
    else:
        raise ConfigurationError(
            f"private_key/public_key: {algorithm} needs private_key (to issue tokens) or public_key (to verify only)."
        )
    return signing, verifying


def load_keys(
    *,
    algorithm: Any,
    decode_algorithms: Sequence[str] | None,
    secret_key: Any,
    private_key: Any,
    public_key: Any,
    allow_weak_secret: bool,
) -> KeySet:
    """Validate the algorithm allow-list against the key material and prepare the keys."""
    algorithm = _check_algorithm(algorithm, "algorithm")
    decode: tuple[str, ...]
    if decode_algorithms is None:
        decode = (algorithm,)
    elif isinstance(decode_algorithms, str) or not decode_algorithms:
        raise ConfigurationError("decode_algorithms: must be a non-empty list of algorithm names, e.g. ['HS256'].")
    else:
        decode = tuple(_check_algorithm(name, "decode_algorithms") for name in decode_algorithms)
    # One verification key serves every allowed algorithm, so mixing families would let a
    # token pick how the key is interpreted (RFC 8725 §2.1, algorithm confusion).
    if any(_is_hmac(name) != _is_hmac(algorithm) for name in decode):
        raise ConfigurationError(
            f"decode_algorithms: {list(decode)} mixes HMAC and asymmetric algorithms with "
            f"algorithm={algorithm!r}; list only algorithms of the same family."
        )
    if _is_hmac(algorithm):
        strongest = max((algorithm, *decode), key=lambda name: _HMAC_MIN_BYTES[name])
        secret = _prepare_secret(secret_key, strongest, allow_weak_secret)
        return KeySet(algorithm, decode, secret, secret)
    if secret_key is not None:
        raise ConfigurationError(
            f"secret_key: is set but algorithm={algorithm!r} is asymmetric; "
            "use private_key/public_key instead (or an HS algorithm)."
        )
    if len({_key_family(name) for name in (algorithm, *decode)}) > 1:
        raise ConfigurationError(
            f"decode_algorithms: {list(decode)} need different key types; one key pair "
            "serves one family (RS/PS share RSA keys)."
        )
    signing, verifying = _prepare_asymmetric(algorithm, private_key, public_key)
    for name in decode:
        try:
            _ALGORITHMS[name].prepare_key(verifying)
        except (PyJWTError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"decode_algorithms: {name} cannot use the configured key ({exc}).") from exc
    return KeySet(algorithm, decode, signing, verifying)
