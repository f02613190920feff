"""Set and unset token cookies (always HttpOnly) and their readable CSRF companions.

The functions find the app's manager through the request being served, so call them in a
view or middleware, on the response you return.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sanic import Request
from sanic.exceptions import SanicException

from .exceptions import ConfigurationError
from .verification import Verifier, verifier_of

if TYPE_CHECKING:
    from sanic.response import BaseHTTPResponse

    from .settings import Settings
    from .tokens import Token

__all__ = (
    "get_csrf_token",
    "set_access_cookies",
    "set_refresh_cookies",
    "unset_access_cookies",
    "unset_jwt_cookies",
    "unset_refresh_cookies",
)


def _current_verifier() -> Verifier:
    try:
        request = Request.get_current()
    except SanicException as error:
        raise ConfigurationError(
            "cookie helpers need the request being served: call them inside a view or middleware"
        ) from error
    return verifier_of(request.app)


def _max_age(config: Settings, token: Token, explicit: int | None) -> int | None:
    if explicit is not None:
        return explicit
    if config.session_cookie:
        return None
    if config.cookie_max_age is not None:
        return config.cookie_max_age
    # Follow the token: a cookie outliving its token only carries a dead credential.
    exp = token.exp
    return None if exp is None else max(0, int((exp - datetime.now(timezone.utc)).total_seconds()))


def set_token_cookies(
    verifier: Verifier, response: BaseHTTPResponse, raw_jwt: str, *, refresh: bool, max_age: int | None = None
) -> None:
    """Set the token cookie and, when CSRF protection is on, its readable CSRF cookie."""
    config = verifier.settings
    token = verifier.decode(raw_jwt)
    if token.type != ("refresh" if refresh else "access"):
        raise ConfigurationError(f"set_{'refresh' if refresh else 'access'}_cookies got a {token.type} token")
    age = _max_age(config, token, max_age)
    response.add_cookie(
        config.refresh_cookie_name if refresh else config.access_cookie_name,
        raw_jwt,
        path=config.refresh_cookie_path if refresh else config.access_cookie_path,
        domain=config.cookie_domain,
        secure=config.cookie_secure,
        max_age=age,
        httponly=True,  # page script never reads the token; Sanic's default is False
        samesite=config.cookie_samesite,
    )
    if config.csrf_protect and token.csrf:
        response.add_cookie(
            config.refresh_csrf_cookie_name if refresh else config.access_csrf_cookie_name,
            token.csrf,
            path=config.refresh_csrf_cookie_path if refresh else config.access_csrf_cookie_path,
            domain=config.cookie_domain,
            secure=config.cookie_secure,
            max_age=age,
            httponly=False,  # page script must read it to echo it in the CSRF header
            samesite=config.cookie_samesite,
        )


def unset_token_cookies(verifier: Verifier, response: BaseHTTPResponse, *, refresh: bool) -> None:
    """Expire the token cookie and its CSRF cookie (Max-Age=0, same attributes)."""
    config = verifier.settings
    pairs = (
        (
            (config.refresh_cookie_name, config.refresh_cookie_path, True),
            (config.refresh_csrf_cookie_name, config.refresh_csrf_cookie_path, False),
        )
        if refresh
        else (
            (config.access_cookie_name, config.access_cookie_path, True),
            (config.access_csrf_cookie_name, config.access_csrf_cookie_path, False),
        )
    )
    for name, path, httponly in pairs:
        response.add_cookie(
            name,
            "",
            path=path,
            domain=config.cookie_domain,
            secure=config.cookie_secure,
            max_age=0,
            httponly=httponly,
            samesite=config.cookie_samesite,
        )


def set_access_cookies(response: BaseHTTPResponse, token: str, max_age: int | None = None) -> None:
    """Store an access token in its HttpOnly cookie (plus the CSRF cookie) on ``response``.

    ``max_age`` overrides the configured lifetime for this response (0 is honoured).
    """
    set_token_cookies(_current_verifier(), response, token, refresh=False, max_age=max_age)


def set_refresh_cookies(response: BaseHTTPResponse, token: str, max_age: int | None = None) -> None:
    """Store a refresh token in its HttpOnly cookie (plus the CSRF cookie) on ``response``."""
    set_token_cookies(_current_verifier(), response, token, refresh=True, max_age=max_age)


def unset_access_cookies(response: BaseHTTPResponse) -> None:
    """Expire the access-token cookie and its CSRF cookie."""
    unset_token_cookies(_current_verifier(), response, refresh=False)


def unset_refresh_cookies(response: BaseHTTPResponse) -> None:
    """Expire the refresh-token cookie and its CSRF cookie."""
    unset_token_cookies(_current_verifier(), response, refresh=True)


def unset_jwt_cookies(response: BaseHTTPResponse) -> None:
    """Expire every token and CSRF cookie: what a logout response does."""
    verifier = _current_verifier()
    unset_token_cookies(verifier, response, refresh=False)
    unset_token_cookies(verifier, response, refresh=True)


def get_csrf_token(token: str) -> str | None:
    """The CSRF value of an encoded token (verified first), for apps that deliver it themselves."""
    return _current_verifier().decode(token).csrf
