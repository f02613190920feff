"""``decode`` and ``token``: verify and mint through ``Config.seal()``, ``keys`` and ``codec``,
the code an app runs, so the same options mean the same rules."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import uuid
from datetime import datetime, timedelta, timezone

from .. import codec
from ..exceptions import JWTExtendedException, TokenCreationError
from .inputs import (
    EXIT_REJECTED,
    CLIError,
    build_config,
    dates,
    pairs,
    parse_duration,
    read_token,
    unverified,
)

__all__ = ("cmd_decode", "cmd_token")


def cmd_decode(args: argparse.Namespace) -> int:
    token = read_token(args.token)
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
    document = {"verified": built is not None, "header": header, "claims": claims, "dates": dates(claims)}
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
            public_claims=pairs(args.claim, "--claim"),
            private_claims=pairs(args.private_claim, "--private-claim"),
            public_claim_namespace=config.public_claim_namespace,
            private_claim_prefix=config.private_claim_prefix,
            iss=args.iss if args.iss is not None else config.default_iss,
            aud=(args.aud[0] if len(args.aud) == 1 else args.aud) if args.aud else config.default_aud,
            # As the manager does: a CSRF value when tokens may travel in cookies, a
            # rotation family for each new refresh token.
            csrf=secrets.token_urlsafe(32) if config.csrf_protect and "cookies" in config.token_location else None,
            family=str(uuid.uuid4()) if args.refresh and config.refresh_token_rotation else None,
        )
        print(codec.encode(claims, keys=keys, headers=pairs(args.header, "--header")))
    except TokenCreationError as error:
        raise CLIError(str(error)) from None
    return 0
