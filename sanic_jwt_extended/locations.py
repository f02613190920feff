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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from multidict import istr

from .exceptions import InvalidHeaderError, InvalidRequestError

if TYPE_CHECKING:
    from sanic import Request

    from .settings import Settings

__all__ = (
    "LOCATIONS",
    "Location",
    "describe_locations",
    "search_order",
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
    # RFC 6750 section 2.1: "<scheme> <token>", separated by spaces only (str.split() would also
    # split on tabs, NBSP and control characters); one parser, and on the usual exact
    # "Bearer <token>" every call below returns its input or one slice.
    value = values[0].strip(" \t")
    if prefix:
        scheme, _, token = value.partition(" ")
        token = token.lstrip(" ")
        if (scheme != prefix and scheme.lower() != prefix.lower()) or not token or " " in token:
            raise _bad_header(f"Bad {header_key} header", header_key, prefix)
        return token
    if not value or " " in value:
        raise _bad_header(f"Bad {header_key} header", header_key, prefix)
    return value


def _bad_header(problem: str, header_key: str, prefix: str) -> InvalidHeaderError:
    expected = f"'{header_key}: {prefix} <JWT>'" if prefix else f"'{header_key}: <JWT>'"
    return InvalidHeaderError(f"{problem}. Expected {expected}", location="headers")


def token_from_cookies(request: Request, name: str) -> str | None:
    """The token in the cookie called exactly ``name``; an empty cookie counts as absent."""
    found = _plain_cookie(request.headers.getone(_COOKIE, ""), name)
    if found is not _PARSE:
        return found  # type: ignore[return-value]
    values: list[str] | None = dict.get(request.cookies, name)
    if not values:
        return None
    # Two cookies of one name mean one was planted (cookie tossing from a sibling domain).
    if len(values) > 1:
        raise InvalidRequestError(f"More than one {name} cookie", location="cookies")
    return values[0] or None


_COOKIE = istr("cookie")
_PARSE: Final = object()


def _plain_cookie(header: str, name: str) -> str | object | None:
    """The cookie ``name`` read straight from the header when it has the shape browsers send
    (``a=1; b=2``, the name once, a bare value): exactly what Sanic's parser would find, without
    building every cookie of the request (most of a cookie route's extraction cost). Anything
    else, ``_PARSE``: Sanic's parser decides. (Cookie names are RFC 6265 tokens, checked at
    startup, so the parser never skips ours.)"""
    at = header.find(name)
    if at == -1:
        return None  # no cookie name the parser finds can be ours
    end = at + len(name)
    if header[end : end + 1] != "=" or (at and header[at - 2 : at] != "; ") or header.find(name, end) != -1:
        return _PARSE  # another spacing, or the name a second time (a second cookie, or in a value)
    stop = header.find(";", end)
    value = header[end + 1 : stop] if stop != -1 else header[end + 1 :]
    if not value or value[0] == '"' or value.strip() != value:
        return _PARSE  # empty, quoted or padded: the parser's rules
    return value


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


# -- the registry: one extractor and one description per location -------------------------
# A new location is one function of each kind and one entry in LOCATIONS (and its name in
# validate.TOKEN_LOCATIONS).


def _from_headers(request: Request, settings: Settings, refresh: bool) -> str | None:
    return token_from_headers(request, settings.header_keys[refresh], settings.jwt_header_prefix)


def _from_cookies(request: Request, settings: Settings, refresh: bool) -> str | None:
    return token_from_cookies(request, settings.refresh_cookie_name if refresh else settings.access_cookie_name)


def _from_query(request: Request, settings: Settings, refresh: bool) -> str | None:
    return token_from_query(request, settings.jwt_query_param_name, settings.jwt_query_param_value_prefix)


def _from_json(request: Request, settings: Settings, refresh: bool) -> str | None:
    return token_from_json(request, settings.refresh_json_key if refresh else settings.json_key)


def _header_name(settings: Settings, refresh: bool) -> str:
    return f"{settings.refresh_jwt_header_key if refresh else settings.jwt_header_key} header"


def _cookie_name(settings: Settings, refresh: bool) -> str:
    return f"{settings.refresh_cookie_name if refresh else settings.access_cookie_name} cookie"


def _query_name(settings: Settings, refresh: bool) -> str:
    return f"{settings.jwt_query_param_name} query parameter"


def _json_name(settings: Settings, refresh: bool) -> str:
    return f"{settings.refresh_json_key if refresh else settings.json_key!r} key of a JSON body"


@dataclass(frozen=True, slots=True)
class Location:
    """How a token is read from one place of a request, and how that place is named."""

    extract: Callable[[Request, Settings, bool], str | None]
    """``(request, settings, refresh) -> raw token``; ``None`` when absent, raises when malformed."""
    describe: Callable[[Settings, bool], str]
    """``(settings, refresh) -> "Authorization header"``, for messages."""


LOCATIONS: Mapping[str, Location] = MappingProxyType(
    {
        "headers": Location(_from_headers, _header_name),
        "cookies": Location(_from_cookies, _cookie_name),
        "query_string": Location(_from_query, _query_name),
        "json": Location(_from_json, _json_name),
    }
)


def search_order(
    settings: Settings, locations: tuple[str, ...], refresh: bool, *, both: bool
) -> tuple[tuple[str, bool], ...]:
    """(location, refresh names?) pairs, in order. With ``both`` (``verify_type=False``) each
    location is searched under the route's own names, then the other type's; a place both
    types share (the same header, the query parameter) is searched once."""
    if not both:
        return tuple((location, refresh) for location in locations)
    out: dict[str, tuple[str, bool]] = {}
    for location in locations:
        for kind in (refresh, not refresh):
            out.setdefault(LOCATIONS[location].describe(settings, kind), (location, kind))
    return tuple(out.values())


def describe_locations(settings: Settings, locations: tuple[str, ...], refresh: bool) -> str:
    """Human-readable list of where a token was looked for, for the 401 message."""
    return ", ".join(LOCATIONS[location].describe(settings, refresh) for location in locations)
