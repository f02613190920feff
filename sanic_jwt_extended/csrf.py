"""CSRF double submit (OWASP CSRF cheat sheet): the value a token carries, and its check.

A cross-site form can make the browser send the token cookie, but cannot read the CSRF
cookie to echo it in a header: a request that echoes the token's ``csrf`` claim comes from a
page of the site. Only cookie-borne tokens need it (the verifier runs it for those only).
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING

from .exceptions import CSRFError

if TYPE_CHECKING:
    from sanic import Request

    from .settings import Settings
    from .tokens import Token

__all__ = ("check_double_submit", "new_csrf_value")


def new_csrf_value(settings: Settings) -> str | None:
    """The ``csrf`` claim of a new token; ``None`` when this app's tokens carry none."""
    # 128 random bits (22 characters), as for jti: plenty for a value an attacker must guess
    # in one try, and every token and CSRF cookie carries it.
    return secrets.token_urlsafe(16) if settings.csrf_claims else None


def check_double_submit(request: Request, token: Token, settings: Settings) -> None:
    """Raise ``CSRFError`` unless the request echoes the token's CSRF value (checked methods only)."""
    if not settings.csrf_protect or request.method not in settings.csrf_request_methods:
        return
    expected = token.csrf
    if not isinstance(expected, str) or not expected:
        raise CSRFError("Missing CSRF claim in the token")
    # The token's own type picks the names: a route accepting either type still asks each
    # for the header its page script was told about. Looked up only when the names differ.
    refresh = settings.csrf_names_per_type and token.type == "refresh"
    header = settings.refresh_csrf_header_name if refresh else settings.access_csrf_header_name
    supplied = request.headers.get(header)
    if not supplied and settings.csrf_check_form:
        supplied = _form_field(
            request, settings.refresh_csrf_field_name if refresh else settings.access_csrf_field_name
        )
    if not supplied:
        raise CSRFError(f"Missing CSRF token: send it in the {header} header")
    # compare_digest takes ASCII str as is; our CSRF values are ASCII, so anything else
    # cannot match (and would make compare_digest raise).
    if not (supplied.isascii() and expected.isascii() and hmac.compare_digest(supplied, expected)):
        raise CSRFError("CSRF double submit tokens do not match")


def _form_field(request: Request, name: str) -> str | None:
    try:
        form = request.form
    except Exception:  # an unparsable body simply has no CSRF field
        return None
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else None
