"""Sizes of the tokens and cookies the library issues: every byte travels on every request.

    python benchmarks/sizes.py            # instant
    python benchmarks/sizes.py --smoke    # the same (it is already quick)

Tokens are made by a real manager with the defaults unless the row says otherwise (HS256,
15-minute access and 30-day refresh tokens, identity "user-12345"); the cookie rows are the
real ``Set-Cookie`` headers ``set_token_cookies`` writes (default names, ``Secure``,
``HttpOnly``, ``SameSite=Lax``, session cookies). For reference, the last row is a token
a team would hand-roll with PyJWT carrying the same claims (sub, type, jti, iat, nbf,
exp), without a key id and with whole-second iat. Browsers cap one cookie (name, value
and attributes) at about 4,096 bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which urllib and Sanic import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import base64
import json
import secrets
import time
from typing import Any

import jwt
from sanic import Sanic
from sanic.response import HTTPResponse

from sanic_jwt_extended import JWT, InMemoryBlocklist, JWTManager
from sanic_jwt_extended.cookies import set_token_cookies

IDENTITY = "user-12345"
SECRET = "s" * 64
_apps = 0


def manager(**options: Any) -> JWTManager:
    global _apps
    _apps += 1
    Sanic.test_mode = True
    app = Sanic(f"bench_sizes_{_apps}")
    with JWT.initialize(app) as made:
        made.config.secret_key = SECRET
        for name, value in options.items():
            setattr(made.config, name, value)
    return made


def parts(token: str) -> tuple[int, int, int, list[str]]:
    """Characters of the header, payload and signature segments, and the claim names."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return len(header), len(payload), len(signature), list(claims)


def cookies(made: JWTManager, raw: str, refresh: bool) -> list[str]:
    response = HTTPResponse()
    set_token_cookies(made.verifier, response, raw, refresh=refresh)
    return [value.decode() for name, value in response.processed_headers if name.lower() == b"set-cookie"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="same as a full run (it takes a second)")
    parser.parse_args(argv)

    plain = manager()
    rotating = manager(refresh_token_rotation=True, use_blocklist=True, blocklist=InMemoryBlocklist())
    cookie = manager(token_location=("cookies",))
    now = int(time.time())
    hand_rolled = jwt.encode(
        {"sub": IDENTITY, "type": "access", "jti": secrets.token_urlsafe(16), "iat": now, "nbf": now, "exp": now + 900},
        SECRET,
        algorithm="HS256",
    )
    rows = [
        ("access token (headers)", plain.create_access_token(IDENTITY)),
        ("access token, fresh=True", plain.create_access_token(IDENTITY, fresh=True)),
        ("refresh token", plain.create_refresh_token(IDENTITY)),
        ("refresh token, rotation (fam)", rotating.create_refresh_token(IDENTITY)),
        ("access token (cookies: + csrf)", cookie.create_access_token(IDENTITY)),
        ("refresh token (cookies: + csrf)", cookie.create_refresh_token(IDENTITY)),
        ("hand-rolled PyJWT, same claims", hand_rolled),
    ]
    print(f"{'token':<34}{'chars':>6}{'header':>8}{'payload':>9}{'sig':>5}  claims")
    for label, raw in rows:
        header, payload, signature, names = parts(raw)
        print(f"{label:<34}{len(raw):>6}{header:>8}{payload:>9}{signature:>5}  {' '.join(names)}")
    print("chars = header + payload + signature + 2 dots; the header holds alg, typ and kid (43 chars)")
    print()
    print(f"{'cookie (Set-Cookie header value)':<44}{'bytes':>6}")
    for label, raw, refresh in (
        ("access", cookie.create_access_token(IDENTITY), False),
        ("refresh", cookie.create_refresh_token(IDENTITY), True),
    ):
        token_cookie, csrf_cookie = cookies(cookie, raw, refresh)
        # What the browser sends back: both pairs in one Cookie header, plus the CSRF header on writes.
        sent = "; ".join(pair.split(";", 1)[0] for pair in (token_cookie, csrf_cookie))
        csrf = cookie.decode_token(raw).csrf or ""
        print(f"{label + ' token cookie':<44}{len(token_cookie):>6}")
        print(f"{label + ' CSRF cookie':<44}{len(csrf_cookie):>6}")
        print(f"{label + ': Cookie header sent back':<44}{len(sent):>6}")
        print(f"{label + ': + X-CSRF-Token header on writes':<44}{len(sent) + len(csrf):>6}")
    print("browser limit: about 4,096 bytes per cookie")


if __name__ == "__main__":
    main()
