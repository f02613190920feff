"""``keygen`` and ``jwks``: new key material, and the JWK Set of public keys with the
library's own RFC 7638 kids."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from ..key_loading import load_keys
from .inputs import CRYPTO_HINT, CLIError, infer_algorithm, is_private, read_key_file

__all__ = ("KEYGEN_KINDS", "cmd_jwks", "cmd_keygen", "keygen_kind")

# keygen kinds: an algorithm name or a key type, mapped to (key type, EC curve).
KEYGEN_KINDS = {
    "hmac": ("hmac", None),
    "HS256": ("hmac", None),
    "HS384": ("hmac", None),
    "HS512": ("hmac", None),
    "rsa": ("rsa", None),
    **{f"{prefix}{bits}": ("rsa", None) for prefix in ("RS", "PS") for bits in (256, 384, 512)},
    "ec": ("ec", "P-256"),
    "ES256": ("ec", "P-256"),
    "ES384": ("ec", "P-384"),
    "ES512": ("ec", "P-521"),
    "ed25519": ("ed25519", None),
    "EdDSA": ("ed25519", None),
    "ed448": ("ed448", None),
}


def _generate(kind: str, curve: str | None, bits: int) -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    except ImportError:
        raise CLIError(CRYPTO_HINT) from None
    if kind == "rsa":
        if bits < 2048:
            raise CLIError("--bits: RSA keys need at least 2048 bits (3072 recommended)")
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if kind == "ec":
        curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
        return ec.generate_private_key(curves[curve or "P-256"])
    return ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else ed448.Ed448PrivateKey.generate()


def keygen_kind(text: str) -> str:
    for kind in KEYGEN_KINDS:
        if kind.lower() == text.lower():
            return kind
    raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(KEYGEN_KINDS)}")


def _hmac_secret(size: int) -> str:
    # A leading "-" would read as an option on a command line (`--secret -x...`).
    while (secret := secrets.token_urlsafe(size)).startswith("-"):
        pass
    return secret


def _write(path: Path, data: str, mode: int, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise CLIError(f"{path} exists; pass --force to overwrite it") from None
    except OSError as error:
        raise CLIError(f"cannot write {path}: {error.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data)


def cmd_keygen(args: argparse.Namespace) -> int:
    kind, curve = KEYGEN_KINDS[args.kind]
    if kind == "hmac":
        if args.bytes < 32:
            raise CLIError("--bytes: at least 32 (RFC 7518 §3.2; HS384 needs 48, HS512 64)")
        secret = _hmac_secret(args.bytes)
        if args.out:
            _write(Path(args.out), secret + "\n", 0o600, args.force)
        else:
            print(secret)
        return 0
    private_pem, public_pem = _pem_pair(_generate(kind, args.curve or curve, args.bits))
    algorithm = args.kind if args.kind[0].isupper() else infer_algorithm(private_pem)
    kid = load_keys(
        algorithm=algorithm,
        decode_algorithms=None,
        secret_key=None,
        private_key=private_pem,
        public_key=None,
        allow_weak_secret=False,
    ).kid
    _output_pair(args, private_pem, public_pem)
    print(f"algorithm: {algorithm}  kid (RFC 7638 thumbprint): {kid}", file=sys.stderr)
    return 0


def _pem_pair(private: Any) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization

    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def _output_pair(args: argparse.Namespace, private_pem: str, public_pem: str) -> None:
    if not args.out:
        sys.stdout.write(private_pem + public_pem)
        return
    out = Path(args.out)
    public_path = Path(args.public_out) if args.public_out else out.with_name(out.name + ".pub")
    _write(out, private_pem, 0o600, args.force)
    _write(public_path, public_pem, 0o644, args.force)
    print(f"wrote {out} (private, mode 600) and {public_path} (public)", file=sys.stderr)


# -- jwks -----------------------------------------------------------------------------------------


def cmd_jwks(args: argparse.Namespace) -> int:
    found: dict[str, dict[str, Any]] = {}
    for path in args.keys:
        key = read_key_file(path)
        if isinstance(key, Mapping) and key.get("kty") == "oct":
            raise CLIError(f"{path}: HMAC secrets are never published in a JWK Set")
        algorithm = args.algorithm or infer_algorithm(key)
        try:
            keys = load_keys(
                algorithm=algorithm,
                decode_algorithms=None,
                secret_key=None,
                private_key=key if is_private(key) else None,
                public_key=None if is_private(key) else key,
                allow_weak_secret=False,
            )
        except ConfigurationError as error:
            raise CLIError(f"{path}: {error}") from None
        for jwk in keys.jwk_set()["keys"]:
            if jwk["kid"] in found:
                raise CLIError(f"{path}: kid {jwk['kid']!r} is already in the set (the same key twice?)")
            found[jwk["kid"]] = jwk
    print(json.dumps({"keys": list(found.values())}, indent=2))
    return 0
