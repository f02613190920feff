"""``decode`` and ``token``: verify and mint through ``Config.seal()``, ``keys`` and ``codec``,
the code an app runs, so the same options mean the same rules."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .. import codec
from ..blocklist.memory import InMemoryBlocklist
from ..csrf import new_csrf_value
from ..exceptions import JWTExtendedException, TokenCreationError
from ..sessions import LoginTokens, SessionInfo
from ..testing import TokenFactory

if TYPE_CHECKING:
    from ..settings import Settings

from .inputs import (
    EXIT_REJECTED,
    CLIError,
    build_config,
    dates,
    load_manager,
    pairs,
    parse_duration,
    read_token,
    unverified,
)

__all__ = ("cmd_decode", "cmd_token")


def _rejected(error: JWTExtendedException, token: str, algorithms: Sequence[str]) -> CLIError:
    hint = ""
    if error.code == "invalid_algorithm":
        alg = unverified(token)[0].get("alg")
        hint = f" (the token says alg={alg!r}; verifying with {tuple(algorithms)})"
    return CLIError(f"token rejected: {error.message} [{error.code}]{hint}", EXIT_REJECTED)


def cmd_decode(args: argparse.Namespace) -> int:
    token = read_token(args.token)
    if args.app is not None:
        manager = load_manager(args.app, args)
        try:
            verified = manager.decode_token(token)
        except JWTExtendedException as error:
            raise _rejected(error, token, manager.settings.decode_algorithms) from None
        header, claims = verified.header, verified.raw_data
        print(json.dumps({"verified": True, "header": header, "claims": claims, "dates": dates(claims)}, indent=2))
        return 0
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
        try:
            header, claims = codec.decode_with(token, keys, codec.Rules.of(config))
        except JWTExtendedException as error:
            raise _rejected(error, token, keys.decode_algorithms) from None
    document = {"verified": built is not None, "header": header, "claims": claims, "dates": dates(claims)}
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


# -- token ----------------------------------------------------------------------------------------


def _one_or_list(values: list[str] | None) -> str | list[str] | None:
    return None if not values else values[0] if len(values) == 1 else values


# Where a session's refresh token comes from instead (docs/cli.md#sessions).
_SESSIONS_HINT = (
    "log in through the app's login route, use `token --app MODULE:APP --login` when the app's store "
    "is shared (Redis), or `await tokens.login(...)` in tests"
)


def _mint_with_app(args: argparse.Namespace) -> str:
    # The app's own manager: its configuration and its loaders, exactly.
    tokens = TokenFactory(load_manager(args.app, args))
    if args.login:
        return _login(tokens, args)
    if args.refresh and tokens.manager.settings.track_sessions:
        raise CLIError(
            f"--refresh: {args.app} tracks sessions (track_sessions), so a refresh token starts a session "
            f"in its store and cannot be minted alone; {_SESSIONS_HINT}"
        )
    expires: timedelta | bool | None = None
    if args.expires is not None:
        expires = False if args.expires == "never" else parse_duration(args.expires)
    options: dict[str, Any] = {
        "role": _one_or_list(args.role),
        "expires_delta": expires,
        "public_claims": pairs(args.claim, "--claim") or None,
        "private_claims": pairs(args.private_claim, "--private-claim") or None,
        "additional_headers": pairs(args.header, "--header") or None,
        "iss": args.iss,
        "aud": _one_or_list(args.aud),
        "age": parse_duration(args.issued_ago) if args.issued_ago else None,
    }
    try:
        if args.refresh:
            return tokens.refresh(args.identity, **options)
        fresh = parse_duration(args.fresh_for) if args.fresh_for else bool(args.fresh)
        return tokens.access(args.identity, fresh=fresh, **options)
    except JWTExtendedException as error:
        raise CLIError(str(error)) from None
    except Exception as error:  # the app's loaders are user code: report, never a traceback
        raise CLIError(f"--app {args.app}: minting failed ({type(error).__name__}: {error})") from None


def _login_options(args: argparse.Namespace) -> dict[str, Any]:
    # Fresh only when asked, as for `token`: the command line checked no password.
    return {
        "fresh": parse_duration(args.fresh_for) if args.fresh_for else bool(args.fresh),
        "role": _one_or_list(args.role),
        "public_claims": pairs(args.claim, "--claim") or None,
        "private_claims": pairs(args.private_claim, "--private-claim") or None,
        "additional_headers": pairs(args.header, "--header") or None,
        "iss": args.iss,
        "aud": _one_or_list(args.aud),
    }


def _login(tokens: TokenFactory, args: argparse.Namespace) -> str:
    """A real login (``manager.login``) recorded in the app's store: JSON with both tokens."""
    manager = tokens.manager
    revocation = manager.revocation
    if not manager.settings.track_sessions or revocation is None:
        raise CLIError(f"--login: {args.app} does not track sessions (track_sessions); drop --login")
    store = revocation.store
    if isinstance(store, InMemoryBlocklist):
        # The session would live in this process only: the server would never know it.
        raise CLIError(
            f"--login: {args.app} keeps its sessions in process memory (InMemoryBlocklist), so a session "
            "started here would not exist in the server; log in through the app's login route"
        )
    if args.expires is not None:
        raise CLIError("--login: a session's tokens have the configured lifetimes; drop --expires")
    options, age = _login_options(args), parse_duration(args.issued_ago) if args.issued_ago else None

    async def login() -> LoginTokens:
        try:
            return await tokens.login(args.identity, SessionInfo(label="sanic-jwt-extended CLI"), age=age, **options)
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                await close()

    try:
        pair = asyncio.run(login())
    except JWTExtendedException as error:
        raise CLIError(f"--login: {error}") from None
    except Exception as error:  # the app's loaders and store are user code: report, never a traceback
        raise CLIError(f"--app {args.app}: the login failed ({type(error).__name__}: {error})") from None
    document = {"access_token": pair.access_token, "refresh_token": pair.refresh_token, "session_id": pair.session.id}
    return json.dumps(document)


def _lifetime(args: argparse.Namespace, config: Settings, token_type: str) -> timedelta | bool:
    if args.expires is None:
        return config.lifetime(token_type)
    if args.expires != "never":
        return parse_duration(args.expires)
    if config.require_exp:
        raise CLIError("--expires never: this configuration refuses tokens without exp; add --set require_exp=false")
    return False


def _claims(args: argparse.Namespace, config: Settings) -> dict[str, Any]:
    token_type = "refresh" if args.refresh else "access"
    fresh: bool | timedelta | None = (
        None if args.refresh else (parse_duration(args.fresh_for) if args.fresh_for else args.fresh)
    )
    return codec.build_claims(
        identity=args.identity,
        token_type=token_type,
        now=datetime.now(timezone.utc) - (parse_duration(args.issued_ago) if args.issued_ago else timedelta(0)),
        expires_delta=_lifetime(args, config, token_type),
        identity_claim=config.identity_claim,
        fresh=fresh,
        role=_one_or_list(args.role),
        acl_claim=config.acl_claim,
        public_claims=pairs(args.claim, "--claim"),
        private_claims=pairs(args.private_claim, "--private-claim"),
        public_claim_namespace=config.public_claim_namespace,
        private_claim_prefix=config.private_claim_prefix,
        iss=args.iss if args.iss is not None else config.default_iss,
        aud=_one_or_list(args.aud) or config.default_aud,
        # As the issuer does: a CSRF value when tokens may travel in cookies, a
        # rotation family for each new refresh token.
        csrf=new_csrf_value(config),
        family=secrets.token_urlsafe(16) if args.refresh and config.refresh_token_rotation else None,
    )


def cmd_token(args: argparse.Namespace) -> int:
    if args.refresh and (args.fresh or args.fresh_for):
        raise CLIError("refresh tokens are never fresh: drop --fresh/--fresh-for")
    if args.app is not None:
        print(_mint_with_app(args))
        return 0
    if args.login:
        raise CLIError(f"--login starts a session in the app's store: it needs --app MODULE:APP; {_SESSIONS_HINT}")
    if args.role:
        args.set = [*(args.set or []), "use_acl=true"]
    built = build_config(args, signing=True)
    if built is None:
        raise CLIError("token needs a key: --secret, --secret-file, --secret-env or --key")
    config, keys = built
    if args.refresh and config.track_sessions:
        raise CLIError(
            "--refresh: with track_sessions a refresh token starts a session, kept in the app's store, "
            f"which the command line has none of; {_SESSIONS_HINT}"
        )
    try:
        claims = _claims(args, config)
        print(codec.encode(claims, keys=keys, headers=pairs(args.header, "--header")))
    except TokenCreationError as error:
        raise CLIError(str(error)) from None
    return 0
