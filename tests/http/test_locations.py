"""Parsing of the Authorization header (and its configurable variants), row by row, over HTTP.

Headers are sent as raw ``(name, value)`` byte pairs so that bytes a real socket client would
refuse (invalid UTF-8) and repeated headers reach the app unchanged. In templates, ``{t}`` is a
valid access token, ``{r}`` a valid refresh token and ``{big}`` a valid access token longer
than the default ``max_token_bytes`` (8 KiB).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import jwt
import pytest
from jwt.api_jws import PyJWS

from sanic_jwt_extended import JWTManager

from ..helpers import SECRET, Client, b64url, make_app

Headers = list[tuple[bytes, bytes]]

ROUTES = [("GET", "/protected"), ("GET", "/optional"), ("GET", "/fresh"), ("POST", "/refresh")]
ROUTE_IDS = [path.strip("/") for _, path in ROUTES]

# RFC 6750 §3: `Bearer` optionally followed by comma-separated auth-params with quoted values.
_PARAM = r'[a-z_]+="[\x20\x21\x23-\x5b\x5d-\x7e]*"'
CHALLENGE = re.compile(rf"^Bearer(?: {_PARAM}(?:, {_PARAM})*)?$")


def signed(payload: bytes) -> str:
    """``payload`` (any bytes, not necessarily a JSON object) signed with the apps' real secret."""
    return PyJWS().encode(payload, SECRET, algorithm="HS256")


def forged_claims(**overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "alice", "type": "access", "jti": "j1", "iat": now, "nbf": now, "exp": now + 3600}
    claims.update(overrides)
    return jwt.encode(claims, SECRET, algorithm="HS256")


_HEADER = b64url(b'{"alg":"HS256","typ":"JWT"}')
_CLAIMS = b64url(b'{"sub":"alice","type":"access"}')
_NONE_HEADER = b64url(b'{"alg":"none","typ":"JWT"}')


def auth(value: bytes) -> Headers:
    return [(b"authorization", value)]


def render(headers: Headers, tokens: dict[bytes, str]) -> Headers:
    out = []
    for name, value in headers:
        for placeholder, token in tokens.items():
            value = value.replace(placeholder, token.encode())
        out.append((name, value))
    return out


def tokens_for(manager: JWTManager) -> dict[bytes, str]:
    big = manager.create_access_token("alice", public_claims={"pad": "x" * 9000})
    assert len(big) > 8192
    return {
        b"{t}": manager.create_access_token("alice"),
        b"{r}": manager.create_refresh_token("alice"),
        b"{big}": big,
    }


def send(client: Client, method: str, path: str, headers: Headers) -> Any:
    return client.request(method, path, headers=headers)


def assert_error(response: Any, status: int) -> str:
    assert response.status == status, response.text
    body = response.json
    assert isinstance(body, dict)
    assert set(body) == {"msg"}
    assert isinstance(body["msg"], str)
    assert body["msg"].strip()
    return body["msg"]


def assert_ok(response: Any, identity: str = "alice", kind: str = "access") -> None:
    assert response.status == 200, response.text
    assert response.json["identity"] == identity
    assert response.json["type"] == kind


@pytest.fixture
def app_tokens() -> tuple[Client, dict[bytes, str]]:
    app, manager = make_app("locations")
    return Client(app), tokens_for(manager)


# -- well-formed headers ----------------------------------------------------------------------

VALID = [
    ("bearer-canonical", auth(b"Bearer {t}")),
    ("bearer-lowercase", auth(b"bearer {t}")),
    ("bearer-uppercase", auth(b"BEARER {t}")),
    ("bearer-mixed-case", auth(b"bEaReR {t}")),
    ("leading-spaces", auth(b"   Bearer {t}")),
    ("trailing-spaces", auth(b"Bearer {t}   ")),
    ("several-spaces-between", auth(b"Bearer     {t}")),
    ("surrounding-tabs", auth(b"\tBearer {t}\t")),
    ("header-name-uppercase", [(b"AUTHORIZATION", b"Bearer {t}")]),
    ("other-headers-around", [(b"x-a", b"1"), (b"authorization", b"Bearer {t}"), (b"x-b", b"2")]),
]


@pytest.mark.parametrize("headers", [row[1] for row in VALID], ids=[row[0] for row in VALID])
def test_well_formed_header_is_accepted(app_tokens: tuple[Client, dict[bytes, str]], headers: Headers) -> None:
    client, tokens = app_tokens
    assert_ok(send(client, "GET", "/protected", render(headers, tokens)))


def test_well_formed_refresh_header_is_accepted(app_tokens: tuple[Client, dict[bytes, str]]) -> None:
    client, tokens = app_tokens
    assert_ok(send(client, "POST", "/refresh", render(auth(b"bearer  {r} "), tokens)), kind="refresh")


# -- malformed headers ------------------------------------------------------------------------

# The header itself is malformed: wrong scheme, missing token, extra parts, repeated header,
# or a token over max_token_bytes (the contract's "malformed Authorization header" row).
MALFORMED_HEADER = [
    ("empty", auth(b"")),
    ("whitespace-only", auth(b"   ")),
    ("tab-only", auth(b"\t")),
    ("bearer-alone", auth(b"Bearer")),
    ("bearer-and-spaces", auth(b"Bearer    ")),
    ("bearer-two-parts", auth(b"Bearer a b")),
    ("bearer-token-then-junk", auth(b"Bearer {t} extra")),
    ("bearer-twice", auth(b"Bearer Bearer {t}")),
    ("scheme-glued-to-token", auth(b"Bearer{t}")),
    ("basic-scheme", auth(b"Basic xyz")),
    ("basic-scheme-valid-token", auth(b"Basic {t}")),
    ("scheme-with-suffix", auth(b"Bearers {t}")),
    ("scheme-truncated", auth(b"Bear {t}")),
    ("token-scheme", auth(b"Token {t}")),
    ("jwt-scheme", auth(b"JWT {t}")),
    ("no-scheme", auth(b"{t}")),
    ("cyrillic-lookalike-scheme", auth("\u0412\u0435\u0430rer {t}".encode())),
    ("comma-separated-credentials", auth(b"Bearer {t}, Bearer {t}")),
    ("comma-separated-junk", auth(b"Bearer a, Bearer b")),
    ("two-headers-both-valid", [(b"authorization", b"Bearer {t}"), (b"authorization", b"Bearer {t}")]),
    ("two-headers-second-empty", [(b"authorization", b"Bearer {t}"), (b"authorization", b"")]),
    ("two-headers-different-case", [(b"Authorization", b"Bearer {t}"), (b"authorization", b"Bearer x")]),
    ("over-max-token-bytes-garbage", auth(b"Bearer " + b"a" * 8193)),
    ("over-max-token-bytes-valid", auth(b"Bearer {big}")),
]

# The header is well formed but what it carries is not a usable JWT.
MALFORMED_TOKEN = [
    ("comma-inside-token", auth(b"Bearer a,b")),
    ("two-tokens-joined-by-comma", auth(b"Bearer {t},{t}")),
    ("invalid-utf8", auth(b"Bearer \xff\xfe\xfd")),
    ("invalid-utf8-after-valid-token", auth(b"Bearer {t}\xff")),
    ("non-ascii-utf8", auth("Bearer héllo.wörld.ñ".encode())),
    ("non-ascii-after-valid-token", auth("Bearer {t}é".encode())),
    ("one-segment", auth(b"Bearer abc")),
    ("two-segments", auth(b"Bearer abc.def")),
    ("four-segments", auth(b"Bearer {t}.abc")),
    ("garbage-base64", auth(b"Bearer %%%.%%%.%%%")),
    ("base64-bad-length", auth(b"Bearer a.b.c")),
    ("header-not-json", auth(f"Bearer {b64url(b'not json')}.{_CLAIMS}.c2ln".encode())),
    ("header-json-array", auth(f"Bearer {b64url(b'[1,2]')}.{_CLAIMS}.c2ln".encode())),
    ("payload-not-json-unsigned", auth(f"Bearer {_HEADER}.{b64url(b'not json')}.c2ln".encode())),
    ("payload-not-json-signed", auth(b"Bearer " + signed(b"not json").encode())),
    ("payload-json-array-unsigned", auth(f"Bearer {_HEADER}.{b64url(b'[1,2]')}.c2ln".encode())),
    ("payload-json-array-signed", auth(b"Bearer " + signed(b"[1,2]").encode())),
    ("payload-json-string-signed", auth(b"Bearer " + signed(b'"alice"').encode())),
    ("payload-json-number-signed", auth(b"Bearer " + signed(b"42").encode())),
    ("payload-json-null-signed", auth(b"Bearer " + signed(b"null").encode())),
    ("payload-json-true-signed", auth(b"Bearer " + signed(b"true").encode())),
    ("payload-deeply-nested-signed", auth(b"Bearer " + signed(b"[" * 3000 + b"]" * 3000).encode())),
    ("payload-huge-integer-signed", auth(b"Bearer " + signed(b'{"exp": ' + b"9" * 5000 + b"}").encode())),
    ("exp-not-finite-signed", auth(b"Bearer " + signed(b'{"sub":"a","type":"access","exp":Infinity}').encode())),
    ("exp-nan-signed", auth(b"Bearer " + signed(b'{"sub":"a","type":"access","exp":NaN}').encode())),
    ("exp-beyond-year-9999", auth(f"Bearer {forged_claims(exp=10**12)}".encode())),
    # integers no float can hold: comparing them must not raise OverflowError
    ("exp-integer-beyond-float-range", auth(f"Bearer {forged_claims(exp=10**400)}".encode())),
    ("iat-negative-integer-beyond-float-range", auth(f"Bearer {forged_claims(iat=-(10**400))}".encode())),
    ("nbf-negative-integer-beyond-float-range", auth(f"Bearer {forged_claims(nbf=-(10**400))}".encode())),
    # exp must be a NumericDate (RFC 7519 §2); a malformed exp is not an "expired" token
    ("exp-boolean", auth(f"Bearer {forged_claims(exp=True)}".encode())),
    ("exp-numeric-string-in-the-past", auth(f"Bearer {forged_claims(exp='1')}".encode())),
    ("exp-numeric-string-in-the-future", auth(f"Bearer {forged_claims(exp=str(10**10))}".encode())),
    ("iat-boolean", auth(f"Bearer {forged_claims(iat=True)}".encode())),
    ("nbf-boolean", auth(f"Bearer {forged_claims(nbf=False)}".encode())),
    ("sub-not-a-string", auth(f"Bearer {forged_claims(sub=42)}".encode())),
    ("bad-signature", auth(b"Bearer {t}x")),
    ("alg-none", auth(f"Bearer {_NONE_HEADER}.{_CLAIMS}.".encode())),
]

MALFORMED = MALFORMED_HEADER + MALFORMED_TOKEN


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("headers", [row[1] for row in MALFORMED], ids=[row[0] for row in MALFORMED])
def test_malformed_header_is_422(
    app_tokens: tuple[Client, dict[bytes, str]], headers: Headers, method: str, path: str
) -> None:
    # /optional included: an optional route tolerates a *missing* token only.
    client, tokens = app_tokens
    response = send(client, method, path, render(headers, tokens))
    assert_error(response, 422)


def test_max_token_bytes_is_inclusive() -> None:
    _, manager = make_app("minter")
    token = manager.create_access_token("alice")
    at_limit, _ = make_app("at_limit", max_token_bytes=len(token))
    below, _ = make_app("below_limit", max_token_bytes=len(token) - 1)
    assert_ok(Client(at_limit).get("/protected", token=token))
    assert_error(Client(below).get("/protected", token=token), 422)


# -- missing header ---------------------------------------------------------------------------

MISSING = [
    ("no-headers", []),
    ("unrelated-header", [(b"x-authorization", b"Bearer {t}")]),
    ("token-in-other-header", [(b"x-auth", b"Bearer {t}")]),
    ("proxy-authorization", [(b"proxy-authorization", b"Bearer {t}")]),
]


@pytest.mark.parametrize(
    ("method", "path"), [r for r in ROUTES if r[1] != "/optional"], ids=["protected", "fresh", "refresh"]
)
@pytest.mark.parametrize("headers", [row[1] for row in MISSING], ids=[row[0] for row in MISSING])
def test_missing_header_is_401_with_bare_challenge(
    app_tokens: tuple[Client, dict[bytes, str]], headers: Headers, method: str, path: str
) -> None:
    client, tokens = app_tokens
    response = send(client, method, path, render(headers, tokens))
    assert_error(response, 401)
    challenge = response.headers.get("www-authenticate")
    assert challenge is not None
    assert challenge.startswith("Bearer")
    # RFC 6750 §3.1: no error code when the request carries no credentials at all.
    assert "error=" not in challenge
    assert CHALLENGE.match(challenge), challenge


@pytest.mark.parametrize("headers", [row[1] for row in MISSING], ids=[row[0] for row in MISSING])
def test_missing_header_on_optional_route_passes(app_tokens: tuple[Client, dict[bytes, str]], headers: Headers) -> None:
    client, tokens = app_tokens
    response = send(client, "GET", "/optional", render(headers, tokens))
    assert response.status == 200, response.text
    assert response.json == {"identity": None}


# -- custom header key and prefix -------------------------------------------------------------

CUSTOM = [
    # (id, options, method, path, headers, expected status)
    ("x-auth-bearer", {"jwt_header_key": "X-Auth"}, "GET", "/protected", [(b"x-auth", b"Bearer {t}")], 200),
    ("x-auth-name-any-case", {"jwt_header_key": "X-Auth"}, "GET", "/protected", [(b"X-AUTH", b"bearer {t}")], 200),
    (
        "x-auth-ignores-authorization",
        {"jwt_header_key": "X-Auth"},
        "GET",
        "/protected",
        [(b"authorization", b"Basic junk"), (b"x-auth", b"Bearer {t}")],
        200,
    ),
    ("x-auth-authorization-only", {"jwt_header_key": "X-Auth"}, "GET", "/protected", auth(b"Bearer {t}"), 401),
    ("x-auth-wrong-scheme", {"jwt_header_key": "X-Auth"}, "GET", "/protected", [(b"x-auth", b"Basic {t}")], 422),
    ("x-auth-bearer-alone", {"jwt_header_key": "X-Auth"}, "GET", "/protected", [(b"x-auth", b"Bearer")], 422),
    (
        "x-auth-twice",
        {"jwt_header_key": "X-Auth"},
        "GET",
        "/protected",
        [(b"x-auth", b"Bearer {t}"), (b"x-auth", b"Bearer {t}")],
        422,
    ),
    ("jwt-prefix", {"jwt_header_prefix": "JWT"}, "GET", "/protected", auth(b"JWT {t}"), 200),
    ("jwt-prefix-lowercase", {"jwt_header_prefix": "JWT"}, "GET", "/protected", auth(b"jwt {t}"), 200),
    ("jwt-prefix-padded", {"jwt_header_prefix": "JWT"}, "GET", "/protected", auth(b"  JWT   {t}  "), 200),
    ("jwt-prefix-refuses-bearer", {"jwt_header_prefix": "JWT"}, "GET", "/protected", auth(b"Bearer {t}"), 422),
    ("jwt-prefix-alone", {"jwt_header_prefix": "JWT"}, "GET", "/protected", auth(b"JWT"), 422),
    ("jwt-prefix-missing", {"jwt_header_prefix": "JWT"}, "GET", "/protected", auth(b"{t}"), 422),
    ("jwt-prefix-extra-part", {"jwt_header_prefix": "JWT"}, "GET", "/protected", auth(b"JWT {t} x"), 422),
    ("jwt-prefix-refresh-route", {"jwt_header_prefix": "JWT"}, "POST", "/refresh", auth(b"JWT {r}"), 200),
    ("no-prefix-raw-token", {"jwt_header_prefix": ""}, "GET", "/protected", auth(b"{t}"), 200),
    ("no-prefix-padded", {"jwt_header_prefix": ""}, "GET", "/protected", auth(b"  {t}  "), 200),
    ("no-prefix-refuses-bearer", {"jwt_header_prefix": ""}, "GET", "/protected", auth(b"Bearer {t}"), 422),
    ("no-prefix-two-tokens", {"jwt_header_prefix": ""}, "GET", "/protected", auth(b"{t} {t}"), 422),
    ("no-prefix-empty", {"jwt_header_prefix": ""}, "GET", "/protected", auth(b""), 422),
    ("no-prefix-whitespace", {"jwt_header_prefix": ""}, "GET", "/protected", auth(b"   "), 422),
    ("no-prefix-missing", {"jwt_header_prefix": ""}, "GET", "/protected", [], 401),
    (
        "x-auth-and-jwt-prefix",
        {"jwt_header_key": "X-Auth", "jwt_header_prefix": "JWT"},
        "GET",
        "/protected",
        [(b"x-auth", b"JWT {t}")],
        200,
    ),
    (
        "x-auth-and-jwt-prefix-refuses-bearer",
        {"jwt_header_key": "X-Auth", "jwt_header_prefix": "JWT"},
        "GET",
        "/protected",
        [(b"x-auth", b"Bearer {t}")],
        422,
    ),
    # refresh tokens read from their own header
    (
        "x-refresh-refresh-route",
        {"refresh_jwt_header_key": "X-Refresh"},
        "POST",
        "/refresh",
        [(b"x-refresh", b"Bearer {r}")],
        200,
    ),
    (
        "x-refresh-authorization-ignored",
        {"refresh_jwt_header_key": "X-Refresh"},
        "POST",
        "/refresh",
        auth(b"Bearer {r}"),
        401,
    ),
    (
        "x-refresh-access-token-refused",
        {"refresh_jwt_header_key": "X-Refresh"},
        "POST",
        "/refresh",
        [(b"x-refresh", b"Bearer {t}")],
        422,
    ),
    (
        "x-refresh-malformed",
        {"refresh_jwt_header_key": "X-Refresh"},
        "POST",
        "/refresh",
        [(b"x-refresh", b"Basic {r}")],
        422,
    ),
    (
        "x-refresh-twice",
        {"refresh_jwt_header_key": "X-Refresh"},
        "POST",
        "/refresh",
        [(b"x-refresh", b"Bearer {r}"), (b"x-refresh", b"Bearer {r}")],
        422,
    ),
    (
        "x-refresh-access-route-uses-authorization",
        {"refresh_jwt_header_key": "X-Refresh"},
        "GET",
        "/protected",
        auth(b"Bearer {t}"),
        200,
    ),
    (
        "x-refresh-not-read-by-access-route",
        {"refresh_jwt_header_key": "X-Refresh"},
        "GET",
        "/protected",
        [(b"x-refresh", b"Bearer {t}")],
        401,
    ),
    (
        "x-refresh-with-jwt-prefix",
        {"refresh_jwt_header_key": "X-Refresh", "jwt_header_prefix": "JWT"},
        "POST",
        "/refresh",
        [(b"x-refresh", b"JWT {r}")],
        200,
    ),
]


@pytest.mark.parametrize(
    ("options", "method", "path", "headers", "status"), [row[1:] for row in CUSTOM], ids=[row[0] for row in CUSTOM]
)
def test_custom_header_key_and_prefix(
    options: dict[str, Any], method: str, path: str, headers: Headers, status: int
) -> None:
    app, manager = make_app("custom_header", **options)
    response = send(Client(app), method, path, render(headers, tokens_for(manager)))
    if status == 200:
        assert_ok(response, kind="refresh" if path == "/refresh" else "access")
        return
    assert_error(response, status)
    if status == 401:
        challenge = response.headers.get("www-authenticate")
        assert challenge is not None
        assert challenge.startswith("Bearer")


@pytest.mark.parametrize(
    ("options", "method", "path", "header"),
    [
        ({"jwt_header_key": "X-Auth"}, "GET", "/protected", "X-Auth"),
        ({"refresh_jwt_header_key": "X-Refresh"}, "POST", "/refresh", "X-Refresh"),
    ],
    ids=["access-x-auth", "refresh-x-refresh"],
)
def test_missing_token_message_names_the_configured_header(
    options: dict[str, Any], method: str, path: str, header: str
) -> None:
    app, _ = make_app("named_header", **options)
    message = assert_error(Client(app).request(method, path), 401)
    assert header in message


# -- invalid_token_status = 401 (strict RFC 6750) ---------------------------------------------


@pytest.fixture
def strict_app_tokens() -> tuple[Client, dict[bytes, str]]:
    app, manager = make_app("strict", invalid_token_status=401)
    return Client(app), tokens_for(manager)


def _assert_strict_401(response: Any, error: str) -> None:
    assert_error(response, 401)
    challenge = response.headers.get("www-authenticate")
    assert challenge is not None
    assert CHALLENGE.match(challenge), challenge
    assert f'error="{error}"' in challenge


@pytest.mark.parametrize("headers", [row[1] for row in MALFORMED_HEADER], ids=[row[0] for row in MALFORMED_HEADER])
def test_strict_status_malformed_header_is_401_invalid_request(
    strict_app_tokens: tuple[Client, dict[bytes, str]], headers: Headers
) -> None:
    client, tokens = strict_app_tokens
    _assert_strict_401(send(client, "GET", "/protected", render(headers, tokens)), "invalid_request")


@pytest.mark.parametrize("headers", [row[1] for row in MALFORMED_TOKEN], ids=[row[0] for row in MALFORMED_TOKEN])
def test_strict_status_malformed_token_is_401_invalid_token(
    strict_app_tokens: tuple[Client, dict[bytes, str]], headers: Headers
) -> None:
    client, tokens = strict_app_tokens
    _assert_strict_401(send(client, "GET", "/protected", render(headers, tokens)), "invalid_token")


def test_strict_status_keeps_missing_header_bare(strict_app_tokens: tuple[Client, dict[bytes, str]]) -> None:
    client, _ = strict_app_tokens
    response = send(client, "GET", "/protected", [])
    assert_error(response, 401)
    assert response.headers.get("www-authenticate") == "Bearer"


def test_strict_status_still_accepts_valid_header(strict_app_tokens: tuple[Client, dict[bytes, str]]) -> None:
    client, tokens = strict_app_tokens
    assert_ok(send(client, "GET", "/protected", render(auth(b"Bearer {t}"), tokens)))


def test_error_body_is_json(app_tokens: tuple[Client, dict[bytes, str]]) -> None:
    client, _ = app_tokens
    response = send(client, "GET", "/protected", auth(b"Basic xyz"))
    assert response.headers.get("content-type", "").startswith("application/json")
    assert json.loads(response.body) == response.json
