"""Property tests: whatever a client sends, the library answers with a 4xx, never a 5xx,
and only a genuinely valid token ever gets through.

One app serves every example: it is started once through ``app.asgi_client`` (which runs
Sanic's startup), then examples are sent straight to its ASGI interface with raw byte
headers, about a millisecond each.
"""

from __future__ import annotations

import asyncio
import json
import math
import string
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jwt.api_jws import PyJWS
from sanic import Sanic

from ..helpers import SECRET, b64url, make_app

Headers = list[tuple[bytes, bytes]]

SETTINGS = settings(
    # 1000 per property, several thousand per CI run: about a millisecond each in-process.
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ROUTES = [("GET", "/protected"), ("GET", "/optional"), ("GET", "/fresh"), ("POST", "/refresh")]
BASE64URL = string.ascii_letters + string.digits + "-_"
# RFC 9110 §5.6.2 token characters: any of them can form a header name.
TCHAR = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"


@dataclass
class Reply:
    status: int
    body: Any
    headers: httpx.Headers


@dataclass
class Served:
    app: Sanic
    access: str
    refresh: str

    def send(self, method: str, path: str, headers: Headers) -> Reply:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hostile.test") as client:
                return await client.request(method, path, headers=headers)

        response = asyncio.run(go())
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Reply(response.status_code, body, response.headers)


@pytest.fixture(scope="module")
def served() -> Served:
    app, manager = make_app("hostile")
    # Runs Sanic's startup (router finalisation, error handlers) once for the whole module.
    asyncio.run(app.asgi_client.get("/protected"))
    return Served(app, manager.create_access_token("alice"), manager.create_refresh_token("alice"))


def assert_rejected(reply: Reply) -> None:
    # Every example here is malformed: the contract's answer is 422 with a JSON message,
    # which also means "never 200" and "never 5xx".
    assert reply.status == 422, (reply.status, reply.body)
    assert isinstance(reply.body, dict)
    assert isinstance(reply.body.get("msg"), str)


def header_bytes() -> st.SearchStrategy[bytes]:
    # CR, LF and NUL cannot be carried by a header value at all.
    return st.binary(max_size=300).map(lambda value: value.translate(None, b"\r\n\x00"))


# -- (a) arbitrary bytes as the Authorization header value -----------------------------------


@SETTINGS
@given(
    route=st.sampled_from(ROUTES),
    value=st.one_of(header_bytes(), header_bytes().map(lambda v: b"Bearer " + v)),
)
@example(route=ROUTES[0], value=b"")
@example(route=ROUTES[0], value=b"Bearer \xff")
@example(route=ROUTES[1], value=b"Bearer \xc0\x80")
@example(route=ROUTES[0], value="Bearer\u00a0x".encode())
@example(route=ROUTES[0], value=b"Bearer \x1b[31m")
def test_random_header_bytes_are_rejected(served: Served, route: tuple[str, str], value: bytes) -> None:
    method, path = route
    assert_rejected(served.send(method, path, [(b"authorization", value)]))


# -- (b) token-looking text after "Bearer " ---------------------------------------------------

TOKEN_TEXT = st.text(alphabet=BASE64URL + ".= -", max_size=400)
SEGMENT = st.one_of(
    st.text(alphabet=BASE64URL, max_size=60),
    st.binary(max_size=60).map(b64url),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=8,
    ).map(lambda value: b64url(json.dumps(value).encode())),
)
SEGMENTED = st.lists(SEGMENT, min_size=1, max_size=5).map(".".join)


@SETTINGS
@given(route=st.sampled_from(ROUTES), text=st.one_of(TOKEN_TEXT, SEGMENTED))
@example(route=ROUTES[0], text="")
@example(route=ROUTES[0], text="..")
@example(route=ROUTES[0], text="e30.e30.")
@example(route=ROUTES[3], text="eyJhbGciOiJub25lIn0.e30.")
@example(route=ROUTES[0], text="eyJhbGciOiBbXX0.e30.")  # alg as a list: was a 500 (found by atheris)
def test_random_token_text_is_rejected(served: Served, route: tuple[str, str], text: str) -> None:
    method, path = route
    assert_rejected(served.send(method, path, [(b"authorization", f"Bearer {text}".encode())]))


# -- (c) arbitrary JSON payloads, correctly signed --------------------------------------------

NOW = int(time.time())
CLAIM_NAMES = ["sub", "type", "exp", "iat", "nbf", "jti", "fresh", "aud", "iss", "role", "csrf"]
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.sampled_from([0, -1, NOW, NOW - 10**6, NOW + 10**6, 2**31, 2**63, 10**400, 253402300800])
    | st.floats()  # NaN and ±Infinity included: Python's json (and so PyJWT) parses them
    | st.text(max_size=12)
    | st.sampled_from(["access", "refresh", "alice", ""])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
VALID_CLAIMS: dict[str, Any] = {
    "sub": "alice",
    "type": "access",
    "iat": NOW,
    "nbf": NOW,
    "exp": NOW + 3600,
    "jti": "j1",
}


@st.composite
def near_valid_claims(draw: st.DrawFn) -> dict[str, Any]:
    """A valid payload with some claims removed and some replaced by arbitrary JSON."""
    claims = dict(VALID_CLAIMS)
    claims["type"] = draw(st.sampled_from(["access", "refresh"]))
    claims["exp"] = draw(st.sampled_from([NOW + 3600, NOW - 3600, NOW - 1]))
    for name in draw(st.sets(st.sampled_from(sorted(VALID_CLAIMS)), max_size=2)):
        del claims[name]
    overrides = draw(st.dictionaries(st.sampled_from(CLAIM_NAMES) | st.text(max_size=6), JSON_VALUES, max_size=3))
    claims.update(overrides)
    return claims


# Mostly near-valid payloads, so that acceptance and expiry are reached, not just parse errors.
PAYLOADS = st.one_of(JSON_VALUES, near_valid_claims(), near_valid_claims(), near_valid_claims())


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@SETTINGS
@given(route=st.sampled_from([("GET", "/protected", "access"), ("POST", "/refresh", "refresh")]), payload=PAYLOADS)
@example(route=("GET", "/protected", "access"), payload=VALID_CLAIMS)
@example(route=("GET", "/protected", "access"), payload=[1, 2])
@example(route=("GET", "/protected", "access"), payload="alice")
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "exp": math.inf})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "exp": math.nan})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "exp": 10**400})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "iat": -(10**30)})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "iat": -(10**400)})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "nbf": -(10**400)})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "fresh": math.nan})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "fresh": 10**400})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "sub": ["alice"]})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "exp": False})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "exp": "1"})
@example(route=("GET", "/protected", "access"), payload={**VALID_CLAIMS, "exp": NOW - 3600})
def test_signed_arbitrary_json_payload(served: Served, route: tuple[str, str, str], payload: Any) -> None:
    method, path, kind = route
    raw = json.dumps(payload, allow_nan=True).encode()
    token = PyJWS().encode(raw, SECRET, algorithm="HS256")
    reply = served.send(method, path, [(b"authorization", f"Bearer {token}".encode())])
    assert reply.status in {200, 401, 422}, (reply.status, reply.body)
    assert isinstance(reply.body, dict)
    if reply.status == 200:
        # Only a complete, unexpired token of the route's type with a string subject passes.
        assert isinstance(payload, dict)
        assert payload.get("type") == kind
        assert isinstance(payload.get("sub"), str)
        assert reply.body["identity"] == payload["sub"]
        assert reply.body["type"] == kind
        assert is_number(payload.get("exp"))
        assert payload["exp"] > time.time() - 5
        assert isinstance(payload.get("jti"), str)
    elif reply.status == 401:
        # With a token present and no revocation/user lookup configured, 401 means expired,
        # and only a NumericDate (RFC 7519 §2: a JSON number) in the past is an expiry;
        # `"exp": false` or `"exp": "1"` is a malformed token (422).
        assert isinstance(payload, dict)
        assert is_number(payload.get("exp"))
        assert payload["exp"] <= time.time() + 5
        assert reply.headers.get("www-authenticate", "").startswith('Bearer error="invalid_token"')
    else:
        assert isinstance(reply.body.get("msg"), str)


# -- (d) a valid token among arbitrary other headers ------------------------------------------

EXTRA_HEADERS = st.lists(
    st.tuples(st.text(alphabet=TCHAR, min_size=1, max_size=20).map(str.encode), header_bytes()),
    max_size=6,
)


@SETTINGS
@given(route=st.sampled_from(ROUTES), before=EXTRA_HEADERS, after=EXTRA_HEADERS)
@example(route=ROUTES[0], before=[(b"content-length", b"abc")], after=[(b"transfer-encoding", b"chunked")])
@example(route=ROUTES[0], before=[(b"host", b"\xff")], after=[(b"cookie", b"\xff;;==")])
@example(route=ROUTES[0], before=[], after=[(b"AUTHORIZATION", b"")])
@example(route=ROUTES[3], before=[(b"x-refresh", b"Bearer x")], after=[(b"authorization", b"Bearer x")])
def test_valid_token_among_random_headers(
    served: Served, route: tuple[str, str], before: Headers, after: Headers
) -> None:
    method, path = route
    token = served.refresh if path == "/refresh" else served.access
    headers = [*before, (b"authorization", f"Bearer {token}".encode()), *after]
    reply = served.send(method, path, headers)
    assert reply.status < 500, (reply.status, reply.body)
    extra_authorization = any(name.lower() == b"authorization" for name, _ in before + after)
    if extra_authorization:
        # More than one Authorization header is a malformed request, whatever the values.
        assert reply.status == 422, (reply.status, reply.body)
    elif path == "/fresh":
        # The token is valid but not fresh: that, and only that, is what the route refuses.
        assert reply.status == 401, (reply.status, reply.body)
    else:
        assert reply.status == 200, (reply.status, reply.body)
        assert reply.body["identity"] == "alice"
