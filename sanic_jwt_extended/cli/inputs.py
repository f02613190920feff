"""Reading the command line's inputs: durations, NAME=VALUE pairs, key files, secrets, tokens,
and the ``Config`` they make. Every failure is a ``CLIError`` with its exit code."""

from __future__ import annotations

import argparse
import base64
import binascii
import importlib
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..config import Config
from ..exceptions import ConfigurationError
from ..keys import KeySet
from ..manager import JWTManager
from ..settings import Settings

__all__ = (
    "CRYPTO_HINT",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "PROG",
    "CLIError",
    "build_config",
    "dates",
    "infer_algorithm",
    "is_private",
    "load_manager",
    "pairs",
    "parse_duration",
    "read_key_file",
    "read_token",
    "unverified",
)

PROG = "sanic-jwt-extended"
EXIT_REJECTED = 1
EXIT_USAGE = 2
CRYPTO_HINT = "asymmetric keys need `pip install 'sanic-jwt-extended[crypto]'`"
_CURVE_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
_DURATION = re.compile(r"(\d+)([smhdw]?)")
# Far beyond any real lifetime, and far from where datetime arithmetic overflows.
_MAX_DURATION = 100 * 366 * 86400
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class CLIError(Exception):
    """A failure reported as one line on stderr, with an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -- input parsing ------------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """``"90"``, ``"90s"``, ``"15m"``, ``"12h"``, ``"30d"``, ``"2w"`` as a positive timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) <= 0:
        raise CLIError(f"{text!r} is not a positive duration such as 90, 90s, 15m, 12h, 30d or 2w")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > _MAX_DURATION:
        raise CLIError(f"{text!r} is longer than 100 years")
    return timedelta(seconds=seconds)


def _json_or_text(text: str) -> Any:
    # `--claim n=5` means the number 5, `--claim n=abc` the string "abc".
    try:
        return json.loads(text)
    except ValueError:
        return text


def pairs(items: Sequence[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CLIError(f"{flag} expects NAME=VALUE, got {item!r}")
        out[name] = _json_or_text(value)
    return out


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as error:
        raise CLIError(f"cannot read {what} {path!r}: {getattr(error, 'strerror', None) or error}") from None


def read_key_file(path: str) -> Any:
    """A PEM key (text) or a JWK / JWK Set (dict) from ``path``."""
    text = _read_text(path, "key file")
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise CLIError(f"{path}: not valid JSON (expected a JWK or a JWK Set)") from None
        if not isinstance(value, dict):
            raise CLIError(f"{path}: a JWK must be a JSON object")
        return value
    if "-----BEGIN" not in text:
        raise CLIError(f"{path}: neither a PEM key nor a JWK (HMAC secrets go in --secret-file)")
    return text


def is_private(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "d" in value
    return "PRIVATE KEY" in str(value)


def infer_algorithm(value: Any) -> str:
    """The algorithm a key implies (RSA keys default to RS256; pass --algorithm for PS*)."""
    if isinstance(value, Mapping):
        if isinstance(value.get("alg"), str):
            return str(value["alg"])
        kty, crv = value.get("kty"), value.get("crv")
        if kty == "RSA":
            return "RS256"
        if kty == "EC" and crv in _CURVE_ALGORITHMS:
            return _CURVE_ALGORITHMS[crv]
        if kty == "OKP":
            return "EdDSA"
        raise CLIError(f"cannot tell the algorithm of a JWK with kty={kty!r}; pass --algorithm")
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    except ImportError:
        raise CLIError(CRYPTO_HINT) from None
    data = str(value).encode()
    try:
        key: Any = (
            serialization.load_pem_private_key(data, password=None)
            if is_private(value)
            else serialization.load_pem_public_key(data)
        )
    except (ValueError, TypeError):
        raise CLIError("the PEM key could not be read (encrypted keys are not supported)") from None
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RS256"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(key.curve.name, key.curve.name)
        if curve in _CURVE_ALGORITHMS:
            return _CURVE_ALGORITHMS[curve]
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey, ed448.Ed448PrivateKey)):
        return "EdDSA"
    if isinstance(key, ed448.Ed448PublicKey):
        return "EdDSA"
    raise CLIError(f"unsupported key type {type(key).__name__}")


# -- building a Config from arguments -------------------------------------------------------------


def _secret(args: argparse.Namespace) -> str | None:
    sources = [s for s in (args.secret, args.secret_file, args.secret_env) if s is not None]
    if len(sources) > 1:
        raise CLIError("give the secret once: --secret, --secret-file or --secret-env")
    if args.secret_file is not None:
        # A trailing newline is how editors and `echo` end files, never part of a secret.
        return _read_text(args.secret_file, "secret file").rstrip("\r\n")
    if args.secret_env is not None:
        value = os.environ.get(args.secret_env)
        if value is None:
            raise CLIError(f"environment variable {args.secret_env} is not set")
        return value
    return args.secret  # type: ignore[no-any-return]


def build_config(args: argparse.Namespace, *, signing: bool) -> tuple[Settings, KeySet] | None:
    """A sealed Config from ``--set`` and the key flags; ``None`` when no key was given."""
    config = Config()
    try:
        for name, value in pairs(args.set, "--set").items():
            setattr(config, name, value)
    except ConfigurationError as error:
        raise CLIError(f"--set {error}") from None
    secret = _secret(args)
    key = read_key_file(args.key) if args.key is not None else None
    if secret is not None and key is not None:
        raise CLIError("give either a secret or --key, not both")
    if secret is not None:
        config.secret_key = secret
        if args.algorithm is None and isinstance(config.algorithm, str) and config.algorithm[:2] != "HS":
            raise CLIError("a secret needs an HS* algorithm; pass --algorithm HS256/HS384/HS512")
    elif key is not None:
        if isinstance(key, Mapping) and "keys" in key:
            key = _jwk_set_keys(key, args.key)
            config.decode_keys = key[1:] or None
            key = key[0]
        if signing and not is_private(key):
            raise CLIError(f"{args.key}: is a public key; signing needs the private key")
        if is_private(key):
            config.private_key = key
        else:
            config.public_key = key
        if args.algorithm is None:
            config.algorithm = infer_algorithm(key)
    elif config.secret_key is None and config.private_key is None and config.public_key is None:
        return None
    if args.algorithm is not None:
        config.algorithm = args.algorithm
    try:
        settings = config.seal()
    except ConfigurationError as error:
        raise CLIError(str(error)) from None
    return settings, settings.keys


def _jwk_set_keys(value: Mapping[str, Any], path: str) -> list[Any]:
    keys = value.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise CLIError(f"{path}: a JWK Set needs a non-empty 'keys' list of JWK objects")
    return keys


# -- decode ---------------------------------------------------------------------------------------


def _b64json(segment: str, part: str) -> dict[str, Any]:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", segment) or len(segment) % 4 == 1:
        raise CLIError(f"not a JWT: the {part} is not unpadded base64url", EXIT_REJECTED)
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise CLIError(f"not a JWT: the {part} is not JSON", EXIT_REJECTED) from None
    if not isinstance(value, dict):
        raise CLIError(f"not a JWT: the {part} is not a JSON object", EXIT_REJECTED)
    return value


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, read without any check: for display only."""
    segments = token.split(".")
    if len(segments) != 3:
        raise CLIError("not a JWT: expected three dot-separated segments", EXIT_REJECTED)
    return _b64json(segments[0], "header"), _b64json(segments[1], "payload")


def dates(claims: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for name in ("iat", "nbf", "exp", "fresh"):
        value = claims.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                out[name] = datetime.fromtimestamp(value, tz=timezone.utc).isoformat()
            except (ValueError, OverflowError, OSError):
                out[name] = "out of range"
    return out


def read_token(value: str | None) -> str:
    if value is None or value == "-":
        if sys.stdin.isatty():
            raise CLIError("give a token as an argument, or pipe one on stdin")
        value = sys.stdin.read()
    token = value.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()  # pasted straight from an Authorization header
    if not token:
        raise CLIError("the token is empty")
    return token


def load_manager(spec: str, args: argparse.Namespace) -> JWTManager:
    """The manager of the app ``module:attr`` names (``attr`` may be a factory; default ``app``)."""
    given = [flag for flag, value in (("--secret", args.secret), ("--secret-file", args.secret_file),
             ("--secret-env", args.secret_env), ("--key", args.key), ("--algorithm", args.algorithm),
             ("--set", args.set)) if value]  # fmt: skip
    if given:
        raise CLIError(f"--app uses the app's own configuration; drop {', '.join(given)}")
    module_name, _, attr = spec.partition(":")
    # As `sanic module:app` does: the current directory is importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = getattr(importlib.import_module(module_name), attr or "app")
        if callable(target) and not hasattr(target, "ctx"):
            target = target()
    except Exception as error:  # user code: report it, never a traceback
        raise CLIError(f"--app {spec}: cannot load the app ({type(error).__name__}: {error})") from None
    if not hasattr(target, "ctx"):
        raise CLIError(f"--app {spec}: is a {type(target).__name__}, not a Sanic app or a factory returning one")
    try:
        return JWTManager.get(target)
    except ConfigurationError as error:
        raise CLIError(f"--app {spec}: {error}") from None
