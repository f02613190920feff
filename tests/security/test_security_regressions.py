"""Findings of the outside review (issue 11), each over HTTP: OPTIONS, the challenge header, nesting.

The JWKS findings are in tests/http/test_jwks_server.py (they need a key server).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any, ClassVar

import pytest
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sanic.views import HTTPMethodView
from sanic_ext import Extend

from sanic_jwt_extended import JWT, JWTManager, Token, jwt_required, verify_jwt_in_request
from sanic_jwt_extended.exceptions import ConfigurationError

from ..helpers import SECRET, Client, b64url

PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def guarded_app(name: str, **options: Any) -> tuple[Sanic, JWTManager, list[str]]:
    """Routes that count every run of their body, protected in each supported way."""
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_acl = True
        for option, value in options.items():
            setattr(manager.config, option, value)
    ran: list[str] = []

    @app.route("/admin", methods=METHODS)
    @jwt_required(allow=["admin"])
    async def admin(request: Request, token: Token) -> HTTPResponse:
        ran.append("admin")
        return json_response({"identity": token.identity})

    @app.route("/guard", methods=METHODS)
    async def guard(request: Request) -> HTTPResponse:
        token = await verify_jwt_in_request(request, allow=["admin"])
        ran.append("guard")
        return json_response({"identity": token.identity if token else None})

    class Resource(HTTPMethodView):
        decorators: ClassVar[list[Any]] = [jwt_required]

        async def get(self, request: Request) -> HTTPResponse:
            ran.append("view")
            return json_response({"identity": request.ctx.token.identity})

        async def options(self, request: Request) -> HTTPResponse:
            ran.append("view")
            return json_response({"identity": request.ctx.token.identity})

    app.add_route(Resource.as_view(), "/view")
    return app, manager, ran


def admin_token(manager: JWTManager, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {manager.create_access_token('alice', role=role)}"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        (m, p)
        for p in ("/admin", "/guard", "/view")
        for m in (*METHODS, "HEAD")
        if p != "/view" or m in "GET OPTIONS HEAD"
    ],
)
def test_no_method_runs_a_protected_body_without_a_token(method: str, path: str) -> None:
    app, _, ran = guarded_app("no_token")
    response = Client(app).request(method, path)
    # HEAD: 401 where a HEAD route exists (sanic-ext adds them), else 405
    assert response.status in ((401, 405) if method == "HEAD" else (401,))
    assert ran == []


@pytest.mark.parametrize("path", ["/admin", "/guard", "/view"])
def test_options_is_authenticated_like_get(path: str) -> None:
    app, manager, ran = guarded_app("options")
    client = Client(app)
    if path != "/view":
        assert client.request("OPTIONS", path, headers=admin_token(manager, "user")).status == 403
    allowed = client.request("OPTIONS", path, headers=admin_token(manager))
    assert (allowed.status, allowed.json) == (200, {"identity": "alice"})
    assert ran == [path.strip("/")]
    # an Origin alone, or Access-Control-Request-Method alone, does not make a preflight
    for partial in ({"Origin": "https://app.example"}, {"Access-Control-Request-Method": "GET"}):
        assert client.request("OPTIONS", path, headers=partial).status == 401
    assert len(ran) == 1


@pytest.mark.parametrize("path", ["/admin", "/guard", "/view"])
def test_a_preflight_gets_an_empty_204_without_the_view(path: str) -> None:
    app, _, ran = guarded_app("preflight")
    response = Client(app).request("OPTIONS", path, headers=PREFLIGHT)
    assert (response.status, response.body) == (204, b"")
    assert "www-authenticate" not in response.headers
    assert ran == []


def test_a_guard_in_blueprint_middleware_answers_the_preflight() -> None:
    app, manager, ran = guarded_app("middleware")
    admin = Blueprint("admin_area", url_prefix="/area")

    @admin.on_request
    async def require_admin(request: Request) -> None:
        await verify_jwt_in_request(request, allow=["admin"])

    @admin.route("/stats", methods=["GET", "OPTIONS"])
    async def stats(request: Request) -> HTTPResponse:
        ran.append("stats")
        return json_response({"identity": request.ctx.token.identity})

    app.blueprint(admin)
    client = Client(app)
    assert client.request("OPTIONS", "/area/stats", headers=PREFLIGHT).status == 204
    assert client.request("OPTIONS", "/area/stats").status == 401
    assert client.request("OPTIONS", "/area/stats", headers=admin_token(manager, "user")).status == 403
    assert ran == []
    assert client.request("OPTIONS", "/area/stats", headers=admin_token(manager)).json == {"identity": "alice"}


def test_sanic_ext_cors_still_decorates_the_preflight() -> None:
    app, manager, ran = guarded_app("cors")
    app.config.CORS_ORIGINS = "https://app.example"
    app.config.CORS_AUTOMATIC_OPTIONS = True
    Extend(app)

    @app.get("/auto-options")
    @jwt_required
    async def auto_options(request: Request) -> HTTPResponse:
        ran.append("auto")
        return json_response({})

    client = Client(app)
    for path in ("/admin", "/guard", "/auto-options"):  # the last: sanic-ext's own OPTIONS route
        response = client.request("OPTIONS", path, headers=PREFLIGHT)
        assert response.status == 204, path
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert "GET" in response.headers["access-control-allow-methods"]
    assert ran == []
    # the actual request after the preflight: authenticated, and decorated too
    actual = client.get("/admin", headers={**admin_token(manager), "Origin": "https://app.example"})
    assert actual.status == 200
    assert actual.headers["access-control-allow-origin"] == "https://app.example"
    refused = client.get("/admin", headers={"Origin": "https://app.example"})
    assert refused.status == 401
    assert refused.headers["access-control-allow-origin"] == "https://app.example"


def test_exempt_methods_is_an_explicit_opt_out() -> None:
    app, _, ran = guarded_app("exempt", exempt_methods=["options"])
    client = Client(app)
    # the documented risk: the body runs with no token on an exempt method, preflight or not
    for headers in ({}, PREFLIGHT):
        assert client.request("OPTIONS", "/guard", headers=headers).json == {"identity": None}
    assert ran == ["guard", "guard"]
    assert client.get("/admin").status == 401  # other methods are untouched
    _, manager, _ = guarded_app("exempt_default")
    assert manager.config.exempt_methods == ()


@pytest.mark.parametrize("value", ["", ["GET POST"], [7], ["OPT\nIONS"]])
def test_bad_exempt_methods_fail_at_startup(value: Any) -> None:
    if value == "":  # an empty string is the env-var spelling of "none": accepted
        guarded_app("exempt_empty", exempt_methods=value)
        return
    with pytest.raises(ConfigurationError, match=r"^exempt_methods"):
        guarded_app("exempt_bad", exempt_methods=value)


def test_a_replaced_preflight_response() -> None:
    app = Sanic("custom_preflight")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.handler.cors_preflight = lambda request, exception: HTTPResponse(status=200, headers={"x-seen": "1"})

    @app.route("/x", methods=["GET", "OPTIONS"])
    @jwt_required
    async def view(request: Request) -> HTTPResponse:
        raise AssertionError("never runs")

    response = Client(app).request("OPTIONS", "/x", headers=PREFLIGHT)
    assert (response.status, response.headers["x-seen"]) == (200, "1")


# -- WWW-Authenticate on every token error ------------------------------------------------------

# RFC 6750 §3: the challenge, with error_description limited to its character set.
CHALLENGE = re.compile(
    r'Bearer( error="(invalid_token|invalid_request)", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*")?'
)


def signed(header: dict[str, Any] | str, payload: dict[str, Any] | str) -> str:
    def part(value: dict[str, Any] | str) -> str:
        return b64url(value.encode() if isinstance(value, str) else json.dumps(value).encode())

    signing_input = f"{part(header)}.{part(payload)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "alice",
        "type": "access",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 86400,
    } | extra


HOSTILE = '"\\\r\nX-Injected: 1\x00\u2028'
ERRORS = [
    ("no-token", {}, 401, None),
    ("wrong-scheme", {"Authorization": "Basic abc"}, 422, "invalid_request"),
    ("extra-parts", {"Authorization": "Bearer a b"}, 422, "invalid_request"),
    ("malformed-token", {"Authorization": "Bearer not-a-jwt"}, 422, "invalid_token"),
    ("bad-signature", {"Authorization": f"Bearer {signed({'alg': 'HS256'}, claims())[:-4]}AAAA"}, 422, "invalid_token"),
    ("expired", {"Authorization": f"Bearer {signed({'alg': 'HS256'}, claims(exp=1))}"}, 401, "invalid_token"),
    (
        "hostile-kid",
        {"Authorization": f"Bearer {signed({'alg': 'HS256', 'kid': HOSTILE}, claims())}"},
        422,
        "invalid_token",
    ),
    (
        "hostile-type",
        {"Authorization": f"Bearer {signed({'alg': 'HS256'}, claims(type=HOSTILE))}"},
        422,
        "invalid_token",
    ),
]


@pytest.mark.parametrize("invalid_token_status", [422, 401, 400])
@pytest.mark.parametrize(("headers", "status", "error"), [r[1:] for r in ERRORS], ids=[r[0] for r in ERRORS])
def test_every_token_error_carries_a_safe_challenge(
    headers: dict[str, str], status: int, error: str | None, invalid_token_status: int
) -> None:
    app, _, _ = guarded_app("challenge", invalid_token_status=invalid_token_status)
    response = Client(app).get("/admin", headers=headers)
    assert response.status == (invalid_token_status if status == 422 else status)
    challenge = response.headers["www-authenticate"]
    assert CHALLENGE.fullmatch(challenge), challenge
    if error is None:
        assert challenge == "Bearer"  # RFC 6750 §3.1: no error code without credentials
    else:
        assert f'error="{error}"' in challenge
    assert "X-Injected" not in challenge and "x-injected" not in response.headers


def test_no_challenge_where_the_token_is_not_the_problem() -> None:
    app, manager, _ = guarded_app("no_challenge")
    client = Client(app)
    forbidden = client.get("/admin", headers=admin_token(manager, "user"))
    assert forbidden.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
    assert "www-authenticate" not in client.request("OPTIONS", "/admin", headers=PREFLIGHT).headers


# -- JSON nesting, whatever the interpreter ----------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("depth", "status"), [(31, 200), (32, 422), (1_000, 422), (2_500, 422)], ids=lambda v: str(v))
def test_payload_nesting_limit(depth: int, status: int) -> None:
    # a claim at depth+1 (the payload object is one level): 31 nested arrays are 32 levels
    payload = json.dumps(claims())[:-1] + f', "deep": {nested(depth)}}}'
    app, _, _ = guarded_app("nesting")
    response = Client(app).get("/admin", headers={"Authorization": f"Bearer {signed({'alg': 'HS256'}, payload)}"})
    if status == 200:
        assert response.status == 403  # verified; the token simply has no admin role
    else:
        assert response.status == 422
        assert response.json == {"msg": "Token payload nests deeper than 32 levels"}


def test_header_nesting_limit_and_brackets_inside_strings() -> None:
    app, _, _ = guarded_app("header_nesting")
    client = Client(app)
    deep_header = '{"alg": "HS256", "x": ' + nested(40) + "}"
    refused = client.get("/admin", headers={"Authorization": f"Bearer {signed(deep_header, claims())}"})
    assert refused.json == {"msg": "Token header nests deeper than 32 levels"}
    # brackets inside strings (escaped quotes too) are text, not nesting
    text = '\\"' + "[" * 100 + "\\\\"
    payload = json.dumps(claims(role="admin", note=text))
    accepted = client.get("/admin", headers={"Authorization": f"Bearer {signed({'alg': 'HS256'}, payload)}"})
    assert accepted.json == {"identity": "alice"}
