"""What a manager registers on its Sanic app, one ``add_*`` function per concern (in the
style of sanic-ext): each receives exactly what it needs, never the manager.

``JWTManager._register`` reads as the table of contents: the error handler (and with it the
auth events), the startup checks, the JWKS route, the blocklist shutdown and the
implicit-refresh middleware.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse, HTTPResponse, json

from .blocklist.memory import InMemoryBlocklist
from .cookies import set_token_cookies
from .decorators import REQUIREMENTS_ATTR
from .events import AUTH_SUCCEEDED, Events
from .exceptions import ConfigurationError, JWTExtendedException
from .requirements import Requirements

if TYPE_CHECKING:
    from .handler import Handler
    from .issuing import Issuer
    from .keys import KeySet
    from .settings import Settings
    from .tokens import Token
    from .verification import Verifier

__all__ = (
    "add_blocklist_close",
    "add_error_handler",
    "add_events",
    "add_implicit_refresh",
    "add_jwks_route",
    "add_startup_checks",
)

logger = logging.getLogger("sanic_jwt_extended")


def add_events(app: Sanic[Any, Any], settings: Settings, verifier: Verifier) -> Events:
    """Auth events for ``app``: the signals listened to are found once the server starts, and
    the verifier reports successes only while ``jwt.auth.succeeded`` has a listener."""
    events = Events(app, settings.auth_failure_log_level)
    if verifier.revocation is not None:
        verifier.revocation.on_event = events.revocation_event

    async def find_listeners(app: Sanic[Any, Any], *_: Any) -> None:
        # The signal router is final before this listener runs (Sanic's _startup).
        listened = events.find_listeners()
        verifier.on_success = events.auth_succeeded if AUTH_SUCCEEDED in listened else None

    async def drain(app: Sanic[Any, Any], *_: Any) -> None:
        await events.drain(timeout=5.0)

    app.register_listener(find_listeners, "before_server_start")
    app.register_listener(drain, "after_server_stop")
    return events


def add_error_handler(app: Sanic[Any, Any], handler: Handler, settings: Settings, verifier: Verifier) -> None:
    """One Sanic error handler for the whole ``JWTExtendedException`` family; every failure
    is logged and announced (``add_events``) before its response is rendered."""
    events = add_events(app, settings, verifier)

    async def respond(request: Request, exception: JWTExtendedException) -> HTTPResponse:
        events.auth_failed(request, exception, handler.status_for(exception))
        return await handler.respond(request, exception)

    app.exception(JWTExtendedException)(respond)


def add_startup_checks(app: Sanic[Any, Any], settings: Settings) -> None:
    """Mistakes only visible once every route is known fail (or warn) when the server starts."""

    async def check_routes(app: Sanic[Any, Any], *_: Any) -> None:
        _check_routes(app, settings)

    app.register_listener(check_routes, "before_server_start")


def add_jwks_route(app: Sanic[Any, Any], endpoint: str, keys: KeySet, max_age: int) -> None:
    """Serve the public keys as a JWK Set at ``endpoint``."""

    async def jwks(request: Request) -> HTTPResponse:
        # Public keys only; rotation keeps retired keys listed until their tokens expire,
        # so a cached copy never lacks a key that still verifies.
        return json(
            keys.jwk_set(),
            headers={"Cache-Control": f"public, max-age={max_age}"},
            content_type="application/jwk-set+json",
        )

    app.add_route(jwks, endpoint, methods=["GET"], name="sanic_jwt_extended_jwks")


def add_blocklist_close(app: Sanic[Any, Any], close: Callable[[], Awaitable[Any]]) -> None:
    """Close the revocation store (connections, background tasks) when the server stops."""

    async def close_blocklist(app: Sanic[Any, Any], *_: Any) -> None:
        await close()

    app.register_listener(close_blocklist, "after_server_stop")


def add_implicit_refresh(
    app: Sanic[Any, Any], window: timedelta, cookie_name: str, verifier: Verifier, issuer: Issuer
) -> None:
    """Reissue the access cookie of a cookie-borne token that expires within ``window``."""

    async def implicit_refresh(request: Request, response: BaseHTTPResponse) -> None:
        token = _expiring_cookie_token(request, response, window, cookie_name)
        if token is not None:
            set_token_cookies(verifier, response, issuer.reissue(token, "access"), refresh=False)

    app.register_middleware(implicit_refresh, "response")


def _check_routes(app: Sanic[Any, Any], settings: Settings) -> None:
    if isinstance(settings.blocklist, InMemoryBlocklist) and app.state.workers > 1:
        logger.warning(
            "InMemoryBlocklist with %d workers: a token revoked in one worker stays valid in the "
            "others. Use RedisBlocklist to share revocations.",
            app.state.workers,
        )
    # Decorators run before the app is known; their mistakes surface here, at startup.
    for route in app.router.routes:
        for req, methods in _route_requirements(route.handler, frozenset(route.methods)):
            if req.uses_roles and not settings.use_acl:
                raise ConfigurationError(
                    f"use_acl: route '/{route.path}' uses allow=/deny= but config.use_acl is False; "
                    "set manager.config.use_acl = True."
                )
            checked = methods & set(settings.csrf_request_methods)
            # Tokens carry a CSRF claim only when the sealed config lists cookies (routes are not
            # all known then): such a route would refuse every CSRF-checked request at run time.
            cookies = req.locations is not None and "cookies" in req.locations
            if cookies and checked and settings.csrf_protect and not settings.csrf_claims:
                raise ConfigurationError(
                    f"token_location: route '/{route.path}' reads tokens from cookies on "
                    f"{', '.join(sorted(checked))}, but tokens carry no CSRF claim because "
                    "config.token_location does not list 'cookies'; add 'cookies' to it."
                )


def _route_requirements(handler: Any, methods: frozenset[str]) -> Iterator[tuple[Requirements, frozenset[str]]]:
    """Every ``Requirements`` a route handler carries with the methods it guards, including
    HTTPMethodView methods (each guards its own)."""
    req = getattr(handler, REQUIREMENTS_ATTR, None)
    if req is not None:
        yield req, methods
    view_class = getattr(handler, "view_class", None)
    if view_class is not None:
        for name in ("get", "post", "put", "patch", "delete", "head", "options"):
            method_req = getattr(getattr(view_class, name, None), REQUIREMENTS_ATTR, None)
            if method_req is not None:
                yield method_req, frozenset({name.upper()})


def _expiring_cookie_token(
    request: Request, response: BaseHTTPResponse, window: timedelta, cookie_name: str
) -> Token | None:
    # Keeps a browser session alive without a refresh round trip; never fresh, because no
    # password was checked, and never on a response that is logging the user out.
    token: Token | None = getattr(request.ctx, "token", None)
    if token is None or token.type != "access" or getattr(request.ctx, "jwt_location", None) != "cookies":
        return None
    if response.status >= 400:
        return None  # a failed request renews nothing
    exp = token.exp
    if exp is None or exp - datetime.now(timezone.utc) > window:
        return None
    # The cookie jar lives in the Set-Cookie headers; read them with a default because Sanic
    # 24.12's ``response.cookies.cookies`` raises KeyError when there is none.
    cookies = response.headers.getall("Set-Cookie", [])
    if any(getattr(cookie, "key", None) == cookie_name for cookie in cookies):
        return None  # the view already set or unset the cookie itself
    return token
