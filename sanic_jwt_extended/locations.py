"""Pull a raw token out of a request, strictly.

Never Sanic's ``request.token``: it accepts any scheme (``Token``, ``Bearer`` or none) and
would let a malformed header through as if it were a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exceptions import InvalidHeaderError

if TYPE_CHECKING:
    from sanic import Request

    from .config import Config

__all__ = ("describe_locations", "token_from_headers")


def token_from_headers(request: Request, header_key: str, prefix: str) -> str | None:
    """The token in ``header_key``, ``None`` when the header is absent.

    A header that is present but malformed raises ``InvalidHeaderError`` (422): guessing
    what a broken header meant is how authentication bypasses start.
    """
    values: list[str] | None = request.headers.getall(header_key, None)
    if not values:
        return None
    expected = f"Expected '{header_key}: {prefix} <JWT>'" if prefix else f"Expected '{header_key}: <JWT>'"
    if len(values) > 1:
        raise InvalidHeaderError(f"More than one {header_key} header. {expected}", location="headers")
    parts = values[0].split()
    if prefix:
        if len(parts) != 2 or parts[0].lower() != prefix.lower():
            raise InvalidHeaderError(f"Bad {header_key} header. {expected}", location="headers")
        return str(parts[1])
    if len(parts) != 1:
        raise InvalidHeaderError(f"Bad {header_key} header. {expected}", location="headers")
    return str(parts[0])


def describe_locations(config: Config, header_key: str, locations: tuple[str, ...]) -> str:
    """Human-readable list of where a token was looked for, for the 401 message."""
    names = {"headers": f"{header_key} header"}
    return ", ".join(names.get(location, location) for location in locations)
