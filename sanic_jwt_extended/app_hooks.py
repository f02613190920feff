"""What a manager registers on its Sanic app: the error handler, the startup route check,
the JWKS route, the blocklist shutdown and the implicit-refresh middleware."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse, HTTPResponse, json

from .blocklist.memory import InMemoryBlocklist
from .cookies import set_token_cookies
from .decorators import REQUIREMENTS_ATTR
from .exceptions import ConfigurationError, JWTExtendedException
from .requirements import Requirements

if TYPE_CHECKING:
    from .manager import JWTManager
    from .tokens import Token

__all__ = ("register_hooks",)

logger = logging.getLogger("sanic_jwt_extended")


def register_hooks(manager: JWTManager) -> None:
    """Wire ``manager`` into its app; called once, when the with-block ends."""
    app, config = manager.app, manager.settings
    app.exception(JWTExtendedException)(manager.handler.respond)

    async def check_routes(app: Sanic[Any, Any], *_: Any) -> None:
        _check_routes(manager, app)

    app.register_listener(check_routes, "before_server_start")
    if config.jwks_endpoint is not None:

        async def jwks(request: Request) -> HTTPResponse:
            # Public keys only; rotation keeps retired keys listed until their tokens
            # expire, so a cached copy never lacks a key that still verifies.
            return json(
                config.keys.jwk_set(),
                headers={"Cache-Control": f"public, max-age={config.jwks_max_age}"},
                content_type="application/jwk-set+json",
            )

        app.add_route(jwks, config.jwks_endpoint, methods=["GET"], name="sanic_jwt_extended_jwks")
    close = getattr(config.blocklist, "close", None)
    if close is not None:

        async def close_blocklist(app: Sanic[Any, Any], *_: Any) -> None:
            await close()

        app.register_listener(close_blocklist, "after_server_stop")
    if config.implicit_refresh is not None:

        async def implicit_refresh(request: Request, response: BaseHTTPResponse) -> None:
            _implicit_refresh(manager, request, response)

        app.register_middleware(implicit_refresh, "response")


def _check_routes(manager: JWTManager, app: Sanic[Any, Any]) -> None:
    config = manager.settings
    if isinstance(config.blocklist, InMemoryBlocklist) and app.state.workers > 1:
        logger.warning(
            "InMemoryBlocklist with %d workers: a token revoked in one worker stays valid in the "
            "others. Use RedisBlocklist to share revocations.",
            app.state.workers,
        )
    # Decorators run before the app is known; their mistakes surface here, at startup.
    for route in app.router.routes:
        for req in _route_requirements(route.handler):
            if req.uses_roles and not config.use_acl:
                raise ConfigurationError(
                    f"use_acl: route '/{route.path}' uses allow=/deny= but config.use_acl is False; "
                    "set manager.config.use_acl = True."
                )
            if req.locations and "cookies" in req.locations and config.csrf_protect and not config.csrf_claims:
                # Decided when the config was sealed: routes are not all known then.
                logger.warning(
                    "token_location: route '/%s' reads tokens from cookies, but tokens carry no CSRF "
                    "claim (cookies is not in config.token_location): unsafe methods on it will be "
                    "refused; add 'cookies' to config.token_location.",
                    route.path,
                )


def _route_requirements(handler: Any) -> Iterator[Requirements]:
    """Every ``Requirements`` a route handler carries, including HTTPMethodView methods."""
    req = getattr(handler, REQUIREMENTS_ATTR, None)
    if req is not None:
        yield req
    view_class = getattr(handler, "view_class", None)
    if view_class is not None:
        for name in ("get", "post", "put", "patch", "delete", "head", "options"):
            method_req = getattr(getattr(view_class, name, None), REQUIREMENTS_ATTR, None)
            if method_req is not None:
                yield method_req


def _implicit_refresh(manager: JWTManager, request: Request, response: BaseHTTPResponse) -> None:
    # Keeps a browser session alive without a refresh round trip; never fresh, because no
    # password was checked, and never on a response that is logging the user out.
    token: Token | None = getattr(request.ctx, "token", None)
    if token is None or token.type != "access" or getattr(request.ctx, "jwt_location", None) != "cookies":
        return
    if response.status >= 400:
        return  # a failed request renews nothing
    exp = token.exp
    window = manager.settings.implicit_refresh
    if exp is None or window is None or exp - datetime.now(timezone.utc) > window:
        return
    # The cookie jar lives in the Set-Cookie headers; read them with a default because Sanic
    # 24.12's ``response.cookies.cookies`` raises KeyError when there is none.
    cookies = response.headers.getall("Set-Cookie", [])
    if any(getattr(cookie, "key", None) == manager.settings.access_cookie_name for cookie in cookies):
        return  # the view already set or unset the cookie itself
    set_token_cookies(manager.verifier, response, manager.reissue(token, "access"), refresh=False)
