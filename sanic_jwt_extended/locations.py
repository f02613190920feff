"""Pull a raw token out of a request, strictly.

Never Sanic's ``request.token``: it accepts any scheme (``Token``, ``Bearer`` or none) and
would let a malformed header through as if it were a token. Never ``request.cookies.get``:
it prefers ``__Host-``/``__Secure-`` variants of a name, so it may read a cookie other than
the one we set.

Each extractor returns ``None`` when its location holds no token and raises
``InvalidRequestError`` (422) when the location is present but malformed: guessing what a
broken request meant is how authentication bypasses start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exceptions import InvalidHeaderError, InvalidRequestError

if TYPE_CHECKING:
    from sanic import Request

    from .settings import Settings

__all__ = (
    "describe_locations",
    "location_names",
    "token_from_cookies",
    "token_from_headers",
    "token_from_json",
    "token_from_query",
)


def token_from_headers(request: Request, header_key: str, prefix: str) -> str | None:
    """The token in ``header_key``, ``None`` when the header is absent.

    ``header_key`` may be a ``multidict.istr``: callers on the hot path pass one built once,
    which spares the case-folding of the name on every lookup.
    """
    values: list[str] | None = request.headers.getall(header_key, None)
    if not values:
        return None
    if len(values) > 1:
        raise _bad_header(f"More than one {header_key} header", header_key, prefix)
    value = values[0]
    # Fast path for the usual exact "Bearer <token>": compare in place, one slice.
    cut = len(prefix)
    if cut and value[cut : cut + 1] == " " and value.startswith(prefix):
        token = value[cut + 1 :]
        if token and " " not in token and "\t" not in token:
            return token
    # RFC 6750 §2.1: the scheme and the token are separated by spaces only; str.split()
    # would also split on tabs, NBSP and control characters.
    parts = [part for part in value.strip(" \t").split(" ") if part]
    if prefix:
        if len(parts) != 2 or parts[0].lower() != prefix.lower():
            raise _bad_header(f"Bad {header_key} header", header_key, prefix)
        return str(parts[1])
    if len(parts) != 1:
        raise _bad_header(f"Bad {header_key} header", header_key, prefix)
    return str(parts[0])


def _bad_header(problem: str, header_key: str, prefix: str) -> InvalidHeaderError:
    expected = f"'{header_key}: {prefix} <JWT>'" if prefix else f"'{header_key}: <JWT>'"
    return InvalidHeaderError(f"{problem}. Expected {expected}", location="headers")


def token_from_cookies(request: Request, name: str) -> str | None:
    """The token in the cookie called exactly ``name``; an empty cookie counts as absent."""
    values: list[str] | None = dict.get(request.cookies, name)
    if not values:
        return None
    # Two cookies of one name mean one was planted (cookie tossing from a sibling domain).
    if len(values) > 1:
        raise InvalidRequestError(f"More than one {name} cookie", location="cookies")
    return values[0] or None


def token_from_query(request: Request, name: str, prefix: str) -> str | None:
    """The token in query parameter ``name``, with ``prefix`` stripped."""
    values: list[str] | None = request.args.getlist(name, None)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequestError(f"More than one {name} query parameter", location="query_string")
    value = values[0]
    if prefix:
        if not value.startswith(prefix):
            raise InvalidRequestError(f"Bad {name} query parameter. Expected '{prefix}<JWT>'", location="query_string")
        value = value[len(prefix) :]
    return value or None


def _is_json(request: Request) -> bool:
    media_type = str(request.headers.get("content-type", "")).split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def token_from_json(request: Request, key: str) -> str | None:
    """The token under ``key`` of a JSON object body; only JSON content types are read."""
    if not _is_json(request) or not request.body:
        return None
    try:
        body: Any = request.json
    except Exception as error:  # Sanic raises BadRequest, json/ujson their own errors
        raise InvalidRequestError("Request body is not valid JSON", location="json") from error
    if not isinstance(body, dict):
        raise InvalidRequestError("JSON body must be an object", location="json")
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"JSON key {key!r} must hold a string token", location="json")
    return value


def location_names(config: Settings, refresh: bool) -> dict[str, str]:
    """Where each location keeps an access (or refresh) token, for messages."""
    return {
        "headers": f"{config.refresh_jwt_header_key if refresh else config.jwt_header_key} header",
        "cookies": f"{config.refresh_cookie_name if refresh else config.access_cookie_name} cookie",
        "query_string": f"{config.jwt_query_param_name} query parameter",
        "json": f"{config.refresh_json_key if refresh else config.json_key!r} key of a JSON body",
    }


def describe_locations(config: Settings, locations: tuple[str, ...], refresh: bool) -> str:
    """Human-readable list of where a token was looked for, for the 401 message."""
    names = location_names(config, refresh)
    return ", ".join(names[location] for location in locations)
