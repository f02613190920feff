"""Set and unset token cookies (always HttpOnly) and their readable CSRF companions.

The functions find the app's manager through the request being served, so call them in a
view or middleware, on the response you return. ``domain=`` overrides ``config.cookie_domain``
for one call (a token cookie and its CSRF cookie alike); unset a cookie with the domain it
was set with, or the browser keeps it.
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


def _domain(config: Settings, explicit: str | None) -> str | None:
    if explicit is None:
        return config.cookie_domain
    if not isinstance(explicit, str) or not explicit.strip():
        raise ConfigurationError(f"domain: must be a non-empty string or None, got {explicit!r}")
    return explicit


def set_token_cookies(
    verifier: Verifier,
    response: BaseHTTPResponse,
    raw_jwt: str,
    *,
    refresh: bool,
    max_age: int | None = None,
    domain: str | None = None,
) -> None:
    """Set the token cookie and, when CSRF protection and ``csrf_in_cookies`` are on, its
    readable CSRF cookie."""
    config = verifier.settings
    domain = _domain(config, domain)
    token = verifier.decode(raw_jwt)
    if token.type != ("refresh" if refresh else "access"):
        raise ConfigurationError(f"set_{'refresh' if refresh else 'access'}_cookies got a {token.type} token")
    age = _max_age(config, token, max_age)
    response.add_cookie(
        config.refresh_cookie_name if refresh else config.access_cookie_name,
        raw_jwt,
        path=config.refresh_cookie_path if refresh else config.access_cookie_path,
        domain=domain,
        secure=config.cookie_secure,
        max_age=age,
        httponly=True,  # page script never reads the token; Sanic's default is False
        samesite=config.cookie_samesite,
    )
    # csrf_in_cookies off: the double submit is still enforced, the app hands the value out.
    if config.csrf_protect and config.csrf_in_cookies and token.csrf:
        response.add_cookie(
            config.refresh_csrf_cookie_name if refresh else config.access_csrf_cookie_name,
            token.csrf,
            path=config.refresh_csrf_cookie_path if refresh else config.access_csrf_cookie_path,
            domain=domain,
            secure=config.cookie_secure,
            max_age=age,
            httponly=False,  # page script must read it to echo it in the CSRF header
            samesite=config.cookie_samesite,
        )


def unset_token_cookies(
    verifier: Verifier, response: BaseHTTPResponse, *, refresh: bool, domain: str | None = None
) -> None:
    """Expire the token cookie and its CSRF cookie (Max-Age=0, same attributes); no CSRF
    cookie when ``csrf_in_cookies`` is off (none was set)."""
    config = verifier.settings
    domain = _domain(config, domain)
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
    for name, path, httponly in pairs if config.csrf_in_cookies else pairs[:1]:
        response.add_cookie(
            name,
            "",
            path=path,
            domain=domain,
            secure=config.cookie_secure,
            max_age=0,
            httponly=httponly,
            samesite=config.cookie_samesite,
        )


def set_access_cookies(
    response: BaseHTTPResponse, token: str, max_age: int | None = None, domain: str | None = None
) -> None:
    """Store an access token in its HttpOnly cookie (plus the CSRF cookie) on ``response``.

    ``max_age`` overrides the configured lifetime for this response (0 is honoured);
    ``domain`` overrides ``config.cookie_domain``.
    """
    set_token_cookies(_current_verifier(), response, token, refresh=False, max_age=max_age, domain=domain)


def set_refresh_cookies(
    response: BaseHTTPResponse, token: str, max_age: int | None = None, domain: str | None = None
) -> None:
    """Store a refresh token in its HttpOnly cookie (plus the CSRF cookie) on ``response``."""
    set_token_cookies(_current_verifier(), response, token, refresh=True, max_age=max_age, domain=domain)


def unset_access_cookies(response: BaseHTTPResponse, domain: str | None = None) -> None:
    """Expire the access-token cookie and its CSRF cookie."""
    unset_token_cookies(_current_verifier(), response, refresh=False, domain=domain)


def unset_refresh_cookies(response: BaseHTTPResponse, domain: str | None = None) -> None:
    """Expire the refresh-token cookie and its CSRF cookie."""
    unset_token_cookies(_current_verifier(), response, refresh=True, domain=domain)


def unset_jwt_cookies(response: BaseHTTPResponse, domain: str | None = None) -> None:
    """Expire every token and CSRF cookie: what a logout response does."""
    verifier = _current_verifier()
    unset_token_cookies(verifier, response, refresh=False, domain=domain)
    unset_token_cookies(verifier, response, refresh=True, domain=domain)
