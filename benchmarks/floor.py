"""The floor: the least any verifier of our tokens can do, as routes of the benchmark app.

Not a library and not safe: it checks the HMAC-SHA256 signature (constant-time compare)
and ``exp``, parses the payload with the standard library's JSON scanner, keeps 10,000 verified values in a
first-in first-out cache and, for a cookie, compares the CSRF header with the token's
claim. Nothing else: no header or ``alg`` check, no key choice, no strict base64url or
JSON (duplicate names, depth), no ``nbf``/``iat``/``type``/required claims, no method
rules, no error mapping beyond a bare 401. ``http.py`` runs its routes next to ours in the
same servers, so a target can be read against what CPython on the machine allows at all:
a verifier that also makes the checks left out here can only come in under the floor.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

View = Callable[..., Awaitable[HTTPResponse]]
CACHE_SIZE = 10_000
# The fastest decoding the standard library offers: one C call for base64url (lenient: any
# padding, foreign bytes skipped) and the JSON scanner without decode()'s whitespace matches.
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_JSON = json.JSONDecoder()


def _b64(segment: bytes) -> bytes:
    return binascii.a2b_base64(segment.translate(_URLSAFE) + b"==")


class Minimal:
    """HS256 with the key's pads hashed once (as ours does), exp, and a FIFO cache."""

    def __init__(self, secret: str) -> None:
        key = secret.encode()
        key = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")  # RFC 2104
        self.inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self.outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
        self.cache: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def claims(self, key: str, raw: str) -> dict[str, Any] | None:
        """The claims of ``raw`` (cached under ``key``), or ``None`` if it does not verify."""
        claims = self.cache.get(key)
        if claims is not None and claims["exp"] > time.time():
            return claims
        claims = self.verify(raw)
        if claims is not None:
            self.cache[key] = claims
            if len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)
        return claims

    def verify(self, raw: str) -> dict[str, Any] | None:
        signing_input, _, signature = raw.encode().rpartition(b".")
        inner = self.inner.copy()
        inner.update(signing_input)
        outer = self.outer.copy()
        outer.update(inner.digest())
        try:
            if not hmac.compare_digest(outer.digest(), _b64(signature)):
                return None
            claims, _ = _JSON.raw_decode(_b64(signing_input.partition(b".")[2]).decode())
        except ValueError:  # binascii.Error and JSONDecodeError are ValueErrors
            return None
        return claims if isinstance(claims, dict) and claims.get("exp", 0) > time.time() else None


_REFUSED = json_response({"msg": "refused"}, status=401)


def from_header(minimal: Minimal) -> Callable[[View], View]:
    """The floor's decorator for a ``Bearer`` token in the ``Authorization`` header."""

    def guard(view: View) -> View:
        @wraps(view)
        async def wrapper(request: Request) -> HTTPResponse:
            values = request.headers.getall("authorization", None)
            if values is None or len(values) != 1 or not values[0].startswith("Bearer "):
                return _REFUSED
            claims = minimal.claims(values[0], values[0][7:])
            if claims is None:
                return _REFUSED
            request.ctx.token = claims
            return await view(request)

        return wrapper

    return guard


def from_cookie(minimal: Minimal, cookie_name: str) -> Callable[[View], View]:
    """The floor's decorator for a token cookie with the CSRF value in ``X-CSRF-Token``."""
    prefix = f"{cookie_name}="

    def guard(view: View) -> View:
        @wraps(view)
        async def wrapper(request: Request) -> HTTPResponse:
            header = request.headers.getone("cookie", "")
            start = header.find(prefix)
            if start == -1:
                return _REFUSED
            stop = header.find(";", start)
            raw = header[start + len(prefix) : stop if stop != -1 else None]
            claims = minimal.claims(raw, raw)
            supplied = request.headers.getone("x-csrf-token", "")
            if claims is None or not hmac.compare_digest(supplied.encode(), str(claims.get("csrf", "")).encode()):
                return _REFUSED
            request.ctx.token = claims
            return await view(request)

        return wrapper

    return guard


def add_floor_routes(app: Sanic[Any, Any], secret: str, cookie_name: str) -> None:
    """``GET /floor`` (Authorization header) and ``POST /floor_write`` (cookie + CSRF header)."""
    minimal = Minimal(secret)

    @app.get("/floor")
    @from_header(minimal)
    async def floor(request: Request) -> HTTPResponse:
        return json_response({"ok": True})

    @app.post("/floor_write")
    @from_cookie(minimal, cookie_name)
    async def floor_write(request: Request) -> HTTPResponse:
        return json_response({"ok": True})
