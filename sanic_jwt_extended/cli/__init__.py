"""``python -m sanic_jwt_extended`` / ``sanic-jwt-extended``: decode, keygen, jwks, token.

Exit codes: 0 success, 1 token rejected, 2 bad usage or input. Never a traceback on bad
input: every failure is one ``error: ...`` line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from ..exceptions import JWTExtendedException
from .inputs import EXIT_USAGE, PROG, CLIError
from .key_commands import KEYGEN_KINDS, cmd_jwks, cmd_keygen, keygen_kind
from .token_commands import cmd_decode, cmd_token

__all__ = ("CLIError", "build_parser", "main")

# -- parser ---------------------------------------------------------------------------------------


def _key_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("key (the same options as Config)")
    group.add_argument("--secret", help="HMAC secret (visible in `ps` and shell history: prefer the next two)")
    group.add_argument("--secret-file", metavar="PATH", help="file holding the HMAC secret")
    group.add_argument("--secret-env", metavar="VAR", help="environment variable holding the HMAC secret")
    group.add_argument("--key", metavar="PATH", help="PEM key, JWK or JWK Set file (private key to sign)")
    group.add_argument("--algorithm", help="default: HS256 for a secret, implied by the key otherwise")
    group.add_argument(
        "--app",
        metavar="MODULE:APP",
        help="use this Sanic app's own manager (config and loaders) instead of the options here; "
        "APP may be a factory, default 'app'",
    )
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
    for add in (_add_decode, _add_keygen, _add_jwks, _add_token):
        add(commands.add_parser)
    return parser


def _add_decode(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    decode = add_parser("decode", help="show a token's header and claims; verify it when a key is given")
    decode.add_argument("token", nargs="?", help="the token, or - / nothing to read it from stdin")
    _key_options(decode)
    decode.set_defaults(run=cmd_decode)


def _add_keygen(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    keygen = add_parser("keygen", help="a strong HMAC secret, or an RSA/EC/Ed25519 key pair as PEM")
    keygen.add_argument("kind", type=keygen_kind, metavar="KIND", help=f"one of {', '.join(KEYGEN_KINDS)}")
    keygen.add_argument("--bytes", type=int, default=64, help="HMAC secret length in random bytes (default 64)")
    keygen.add_argument("--bits", type=int, default=3072, help="RSA modulus size (default 3072)")
    keygen.add_argument("--curve", choices=["P-256", "P-384", "P-521"], help="EC curve (default from KIND)")
    keygen.add_argument("--out", metavar="PATH", help="write the private key (mode 600) here, the public to PATH.pub")
    keygen.add_argument("--public-out", metavar="PATH", help="where --out writes the public key")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    keygen.set_defaults(run=cmd_keygen)


def _add_jwks(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    jwks = add_parser("jwks", help="the JWK Set (RFC 7517, RFC 7638 kids) of one or more keys")
    jwks.add_argument("keys", nargs="+", metavar="KEYFILE", help="PEM or JWK files; only public halves are output")
    jwks.add_argument("--algorithm", help="the alg member; default implied by each key (RSA: RS256)")
    jwks.set_defaults(run=cmd_jwks)


def _add_token(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    token = add_parser("token", help="mint a token, e.g. for tests or curl")
    token.add_argument("identity", help="the identity (sub claim)")
    token.add_argument("--refresh", action="store_true", help="a refresh token instead of an access token")
    token.add_argument(
        "--login",
        action="store_true",
        help="with --app tracking sessions: start a real session in the app's (shared) store; prints JSON",
    )
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
    except (JWTExtendedException, ValueError, TypeError, OverflowError) as error:
        # A bad option value that slipped past our own checks: still one line, no traceback.
        _fail(str(error), EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        # `... | head`: the reader left; not an error worth a traceback.
        sys.stderr.close()
        return 0
