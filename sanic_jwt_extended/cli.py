"""``python -m sanic_jwt_extended`` / ``sanic-jwt-extended``: decode, keygen, jwks, token.

Verification and minting go through ``Config.seal()``, ``keys`` and ``codec``, the same code
an app runs, so a token this tool accepts is one an app with the same options accepts.
No Sanic app is built. Exit codes: 0 success, 1 token rejected, 2 bad usage or input.
Never a traceback on bad input: every failure is one ``error: ...`` line on stderr.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import secrets
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NoReturn

from . import codec
from .config import Config
from .exceptions import ConfigurationError, JWTExtendedException, TokenCreationError
from .keys import KeySet, load_keys

__all__ = ("CLIError", "main")

PROG = "sanic-jwt-extended"
EXIT_REJECTED = 1
EXIT_USAGE = 2
_CRYPTO_HINT = "asymmetric keys need `pip install 'sanic-jwt-extended[crypto]'`"
# keygen kinds: an algorithm name or a key type, mapped to (key type, EC curve).
_KEYGEN = {
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
_CURVE_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
_DURATION = re.compile(r"(\d+)([smhdw]?)")
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
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def _json_or_text(text: str) -> Any:
    # `--claim n=5` means the number 5, `--claim n=abc` the string "abc".
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(items: Sequence[str] | None, flag: str) -> dict[str, Any]:
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
        raise CLIError(_CRYPTO_HINT) from None
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


def build_config(args: argparse.Namespace, *, signing: bool) -> tuple[Config, KeySet] | None:
    """A sealed Config from ``--set`` and the key flags; ``None`` when no key was given."""
    config = Config()
    try:
        for name, value in _pairs(args.set, "--set").items():
            setattr(config, name, value)
    except ConfigurationError as error:
        raise CLIError(f"--set {error}") from None
    secret = _secret(args)
    key = read_key_file(args.key) if args.key is not None else None
    if secret is not None and key is not None:
        raise CLIError("give either a secret or --key, not both")
    if secret is not None:
        config.secret_key = secret
        if args.algorithm is None and config.algorithm[:2] != "HS":
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
        return config, config.seal()
    except ConfigurationError as error:
        raise CLIError(str(error)) from None


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


def _dates(claims: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for name in ("iat", "nbf", "exp", "fresh"):
        value = claims.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                out[name] = datetime.fromtimestamp(value, tz=timezone.utc).isoformat()
            except (ValueError, OverflowError, OSError):
                out[name] = "out of range"
    return out


def _read_token(value: str | None) -> str:
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


def cmd_decode(args: argparse.Namespace) -> int:
    token = _read_token(args.token)
    built = build_config(args, signing=False)
    if built is None:
        header, claims = unverified(token)
        print(
            "UNVERIFIED: the signature and claims were NOT checked "
            "(pass --secret, --secret-file, --secret-env or --key to verify).",
            file=sys.stderr,
        )
    else:
        config, keys = built
        required = ["iat", "jti", "type", config.identity_claim] + (["exp"] if config.require_exp else [])
        try:
            header, claims = codec.decode(
                token,
                keys=keys,
                audience=config.default_aud,
                issuer=config.default_iss,
                leeway=float(config.leeway),  # type: ignore[arg-type]  # seal() made it a float
                required=required,
                max_bytes=config.max_token_bytes,
            )
        except JWTExtendedException as error:
            hint = ""
            if error.code == "invalid_algorithm":
                alg = unverified(token)[0].get("alg")
                hint = f" (the token says alg={alg!r}; verifying with {keys.decode_algorithms})"
            raise CLIError(f"token rejected: {error.message} [{error.code}]{hint}", EXIT_REJECTED) from None
    document = {"verified": built is not None, "header": header, "claims": claims, "dates": _dates(claims)}
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


# -- token ----------------------------------------------------------------------------------------


def cmd_token(args: argparse.Namespace) -> int:
    if args.role:
        args.set = [*(args.set or []), "use_acl=true"]
    built = build_config(args, signing=True)
    if built is None:
        raise CLIError("token needs a key: --secret, --secret-file, --secret-env or --key")
    config, keys = built
    token_type = "refresh" if args.refresh else "access"
    if args.refresh and (args.fresh or args.fresh_for):
        raise CLIError("refresh tokens are never fresh: drop --fresh/--fresh-for")
    fresh: bool | timedelta | None = (
        None if args.refresh else (parse_duration(args.fresh_for) if args.fresh_for else args.fresh)
    )
    lifetime: timedelta | bool
    if args.expires is None:
        lifetime = config.access_token_expires if token_type == "access" else config.refresh_token_expires  # type: ignore[assignment]
    elif args.expires == "never":
        if config.require_exp:
            raise CLIError(
                "--expires never: this configuration refuses tokens without exp; add --set require_exp=false"
            )
        lifetime = False
    else:
        lifetime = parse_duration(args.expires)
    now = datetime.now(timezone.utc) - (parse_duration(args.issued_ago) if args.issued_ago else timedelta(0))
    try:
        claims = codec.build_claims(
            identity=args.identity,
            token_type=token_type,
            now=now,
            expires_delta=lifetime,
            identity_claim=config.identity_claim,
            fresh=fresh,
            role=(args.role[0] if len(args.role) == 1 else args.role) if args.role else None,
            acl_claim=config.acl_claim,
            public_claims=_pairs(args.claim, "--claim"),
            private_claims=_pairs(args.private_claim, "--private-claim"),
            public_claim_namespace=config.public_claim_namespace,
            private_claim_prefix=config.private_claim_prefix,
            iss=args.iss if args.iss is not None else config.default_iss,
            aud=(args.aud[0] if len(args.aud) == 1 else args.aud) if args.aud else config.default_aud,
            # As the manager does: a CSRF value when tokens may travel in cookies, a
            # rotation family for each new refresh token.
            csrf=secrets.token_urlsafe(32) if config.csrf_protect and "cookies" in config.token_location else None,
            family=str(uuid.uuid4()) if args.refresh and config.refresh_token_rotation else None,
        )
        print(codec.encode(claims, keys=keys, headers=_pairs(args.header, "--header")))
    except TokenCreationError as error:
        raise CLIError(str(error)) from None
    return 0


# -- keygen ---------------------------------------------------------------------------------------


def _generate(kind: str, curve: str | None, bits: int) -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    except ImportError:
        raise CLIError(_CRYPTO_HINT) from None
    if kind == "rsa":
        if bits < 2048:
            raise CLIError("--bits: RSA keys need at least 2048 bits (3072 recommended)")
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if kind == "ec":
        curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
        return ec.generate_private_key(curves[curve or "P-256"])
    return ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else ed448.Ed448PrivateKey.generate()


def _keygen_kind(text: str) -> str:
    for kind in _KEYGEN:
        if kind.lower() == text.lower():
            return kind
    raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(_KEYGEN)}")


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
    kind, curve = _KEYGEN[args.kind]
    if kind == "hmac":
        if args.bytes < 32:
            raise CLIError("--bytes: at least 32 (RFC 7518 §3.2; HS384 needs 48, HS512 64)")
        secret = _hmac_secret(args.bytes)
        if args.out:
            _write(Path(args.out), secret + "\n", 0o600, args.force)
        else:
            print(secret)
        return 0
    from cryptography.hazmat.primitives import serialization

    private = _generate(kind, args.curve or curve, args.bits)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    algorithm = args.kind if args.kind[0].isupper() else infer_algorithm(private_pem)
    kid = load_keys(
        algorithm=algorithm,
        decode_algorithms=None,
        secret_key=None,
        private_key=private_pem,
        public_key=None,
        allow_weak_secret=False,
    ).kid
    if args.out:
        out = Path(args.out)
        public_path = Path(args.public_out) if args.public_out else out.with_name(out.name + ".pub")
        _write(out, private_pem, 0o600, args.force)
        _write(public_path, public_pem, 0o644, args.force)
        print(f"wrote {out} (private, mode 600) and {public_path} (public)", file=sys.stderr)
    else:
        sys.stdout.write(private_pem + public_pem)
    print(f"algorithm: {algorithm}  kid (RFC 7638 thumbprint): {kid}", file=sys.stderr)
    return 0


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


# -- parser ---------------------------------------------------------------------------------------


def _key_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("key (the same options as Config)")
    group.add_argument("--secret", help="HMAC secret (visible in `ps` and shell history: prefer the next two)")
    group.add_argument("--secret-file", metavar="PATH", help="file holding the HMAC secret")
    group.add_argument("--secret-env", metavar="VAR", help="environment variable holding the HMAC secret")
    group.add_argument("--key", metavar="PATH", help="PEM key, JWK or JWK Set file (private key to sign)")
    group.add_argument("--algorithm", help="default: HS256 for a secret, implied by the key otherwise")
    group.add_argument(
        "--set",
        action="append",
        metavar="OPTION=VALUE",
        help="any Config option, VALUE as JSON or text, e.g. --set leeway=5 --set default_aud=api",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Inspect, mint and publish sanic-jwt-extended tokens and keys.",
        epilog="Exit codes: 0 success, 1 token rejected, 2 bad usage or input.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    decode = commands.add_parser("decode", help="show a token's header and claims; verify it when a key is given")
    decode.add_argument("token", nargs="?", help="the token, or - / nothing to read it from stdin")
    _key_options(decode)
    decode.set_defaults(run=cmd_decode)

    keygen = commands.add_parser("keygen", help="a strong HMAC secret, or an RSA/EC/Ed25519 key pair as PEM")
    keygen.add_argument("kind", type=_keygen_kind, metavar="KIND", help=f"one of {', '.join(_KEYGEN)}")
    keygen.add_argument("--bytes", type=int, default=64, help="HMAC secret length in random bytes (default 64)")
    keygen.add_argument("--bits", type=int, default=3072, help="RSA modulus size (default 3072)")
    keygen.add_argument("--curve", choices=["P-256", "P-384", "P-521"], help="EC curve (default from KIND)")
    keygen.add_argument("--out", metavar="PATH", help="write the private key (mode 600) here, the public to PATH.pub")
    keygen.add_argument("--public-out", metavar="PATH", help="where --out writes the public key")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    keygen.set_defaults(run=cmd_keygen)

    jwks = commands.add_parser("jwks", help="the JWK Set (RFC 7517, RFC 7638 kids) of one or more keys")
    jwks.add_argument("keys", nargs="+", metavar="KEYFILE", help="PEM or JWK files; only public halves are output")
    jwks.add_argument("--algorithm", help="the alg member; default implied by each key (RSA: RS256)")
    jwks.set_defaults(run=cmd_jwks)

    token = commands.add_parser("token", help="mint a token, e.g. for tests or curl")
    token.add_argument("identity", help="the identity (sub claim)")
    token.add_argument("--refresh", action="store_true", help="a refresh token instead of an access token")
    token.add_argument("--fresh", action="store_true", help="mark the access token fresh")
    token.add_argument("--fresh-for", metavar="DURATION", help="fresh until DURATION from now (e.g. 5m)")
    token.add_argument("--role", action="append", help="a role (repeatable; enables use_acl)")
    token.add_argument("--expires", metavar="DURATION", help="lifetime (e.g. 15m, 30d) or 'never'")
    token.add_argument("--issued-ago", metavar="DURATION", help="backdate iat/nbf/exp, e.g. for expired tokens")
    token.add_argument("--claim", action="append", metavar="NAME=VALUE", help="public claim (repeatable)")
    token.add_argument("--private-claim", action="append", metavar="NAME=VALUE", help="private claim (repeatable)")
    token.add_argument("--header", action="append", metavar="NAME=VALUE", help="extra JOSE header (repeatable)")
    token.add_argument("--iss", help="issuer (default: config default_iss)")
    token.add_argument("--aud", action="append", help="audience (repeatable; default: config default_aud)")
    _key_options(token)
    token.set_defaults(run=cmd_token)
    return parser


def _fail(message: str, code: int) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CLIError as error:
        _fail(str(error), error.exit_code)
    except (JWTExtendedException, ValueError, TypeError) as error:
        # A bad option value that slipped past our own checks: still one line, no traceback.
        _fail(str(error), EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        # `... | head`: the reader left; not an error worth a traceback.
        sys.stderr.close()
        return 0
