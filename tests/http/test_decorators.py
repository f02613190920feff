"""Decorators over HTTP: every kind of Sanic view, injection rules, OPTIONS, optional routes."""

from __future__ import annotations

from typing import Any

import pytest
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json
from sanic.views import HTTPMethodView

from sanic_jwt_extended import JWTManager, Token, jwt_optional, jwt_required, verify_jwt_in_request

from ..helpers import Client, make_app


def identity(token: Token | None) -> Any:
    return None if token is None else token.identity


@pytest.fixture
def app_manager() -> tuple[Sanic, JWTManager]:
    app, manager = make_app("views")

    @app.get("/no-parens")
    @jwt_required
    async def no_parens(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": identity(token), "ctx": identity(request.ctx.token)})

    @app.get("/parens")
    @jwt_required()
    async def parens(request: Request) -> HTTPResponse:
        # the view does not declare `token`: it is on request.ctx only
        return json({"ctx": identity(request.ctx.token)})

    @app.get("/sync")
    @jwt_required
    def sync_view(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": identity(token)})

    @app.get("/items/<token:str>")
    @jwt_required
    async def path_param(request: Request, token: str) -> HTTPResponse:
        return json({"path": token, "ctx": identity(request.ctx.token)})

    @app.route("/cors", methods=["GET", "OPTIONS"])
    @jwt_required
    async def cors(request: Request, token: Token | None) -> HTTPResponse:
        return json({"identity": identity(token)})

    class Methods(HTTPMethodView):
        @jwt_required
        async def get(self, request: Request, token: Token) -> HTTPResponse:
            return json({"identity": identity(token)})

        @jwt_required(fresh_required=True)
        async def post(self, request: Request, token: Token) -> HTTPResponse:
            return json({"identity": identity(token)})

    class Decorated(HTTPMethodView):
        decorators = [jwt_required]  # noqa: RUF012 - Sanic reads a plain list

        async def get(self, request: Request, token: Token) -> HTTPResponse:
            return json({"identity": identity(token)})

        async def post(self, request: Request) -> HTTPResponse:
            return json({"ctx": identity(request.ctx.token)})

    app.add_route(Methods.as_view(), "/methods")
    app.add_route(Decorated.as_view(), "/decorated")

    bp = Blueprint("bp", url_prefix="/bp")

    @bp.get("/protected")
    @jwt_optional
    async def bp_view(request: Request, token: Token | None) -> HTTPResponse:
        return json({"identity": identity(token)})

    app.blueprint(bp)

    @app.get("/guard")
    async def guard(request: Request) -> HTTPResponse:
        token = await verify_jwt_in_request(request, fresh_required=True)
        return json({"identity": identity(token), "ctx": identity(request.ctx.token)})

    return app, manager


@pytest.fixture
def views(app_manager: tuple[Sanic, JWTManager]) -> tuple[Client, str, str]:
    app, manager = app_manager
    return Client(app), manager.create_access_token("alice", fresh=True), manager.create_access_token("bob")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/no-parens", {"identity": "alice", "ctx": "alice"}),
        ("GET", "/parens", {"ctx": "alice"}),
        ("GET", "/sync", {"identity": "alice"}),
        ("GET", "/items/my-path-value", {"path": "my-path-value", "ctx": "alice"}),
        ("GET", "/cors", {"identity": "alice"}),
        ("GET", "/methods", {"identity": "alice"}),
        ("POST", "/methods", {"identity": "alice"}),
        ("GET", "/decorated", {"identity": "alice"}),
        ("POST", "/decorated", {"ctx": "alice"}),
        ("GET", "/bp/protected", {"identity": "alice"}),
        ("GET", "/guard", {"identity": "alice", "ctx": "alice"}),
    ],
)
def test_every_view_kind_gets_the_token(views: tuple[Client, str, str], method: str, path: str, expected: Any) -> None:
    client, fresh, _ = views
    response = client.request(method, path, headers={"Authorization": f"Bearer {fresh}"})
    assert response.status == 200, response.text
    assert response.json == expected


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no-parens", 401),
        ("GET", "/sync", 401),
        ("GET", "/items/x", 401),
        ("GET", "/methods", 401),
        ("GET", "/decorated", 401),
        ("POST", "/decorated", 401),
        ("GET", "/guard", 401),
    ],
)
def test_every_view_kind_refuses_without_token(
    views: tuple[Client, str, str], method: str, path: str, status: int
) -> None:
    assert views[0].request(method, path).status == status


def test_fresh_required_on_a_method_view(views: tuple[Client, str, str]) -> None:
    client, _, stale = views
    assert client.request("POST", "/methods", headers={"Authorization": f"Bearer {stale}"}).status == 401
    assert client.get("/guard", stale).status == 401
    assert client.get("/methods", stale).status == 200


def test_options_preflight_is_answered_without_the_view(views: tuple[Client, str, str]) -> None:
    client, fresh, _ = views
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    response = client.request("OPTIONS", "/cors", headers=preflight)
    assert (response.status, response.body) == (204, b"")
    # any other OPTIONS is authenticated like GET (tests/security/test_security_regressions.py has more)
    assert client.request("OPTIONS", "/cors").status == 401
    authorized = client.request("OPTIONS", "/cors", headers={"Authorization": f"Bearer {fresh}"})
    assert authorized.json == {"identity": "alice"}


def test_optional_routes(views: tuple[Client, str, str]) -> None:
    client, fresh, _ = views
    assert client.get("/bp/protected").json == {"identity": None}
    assert client.get("/bp/protected", fresh).json == {"identity": "alice"}
    # optional tolerates a missing token only: a bad one still fails
    assert client.get("/bp/protected", "bad.token.value").status == 422
    assert client.get("/bp/protected", headers={"Authorization": "Basic x"}).status == 422


def test_optional_route_with_expired_token_fails(app_and_manager: tuple[Sanic, JWTManager]) -> None:
    from datetime import timedelta

    app, manager = app_and_manager
    token = manager.create_access_token("a", expires_delta=timedelta(seconds=1))
    import time

    time.sleep(manager.decode_token(token).exp.timestamp() - time.time() + 0.05)  # type: ignore[union-attr]
    assert Client(app).get("/optional", token).status == 401


def test_allow_without_acl_fails_at_startup() -> None:
    app, _ = make_app("acl_off")

    @app.get("/admin")
    @jwt_required(allow=["admin"])
    async def admin(request: Request) -> HTTPResponse:
        return json({})

    with pytest.raises(Exception, match="use_acl"):
        Client(app).get("/protected")


def test_deny_on_method_view_without_acl_fails_at_startup() -> None:
    app, _ = make_app("acl_off_view")

    class View(HTTPMethodView):
        @jwt_required(deny="banned")
        async def get(self, request: Request) -> HTTPResponse:
            return json({})

    app.add_route(View.as_view(), "/view")
    with pytest.raises(Exception, match="use_acl"):
        Client(app).get("/protected")


def test_guard_with_roles_on_acl_free_app_is_a_server_error() -> None:
    # Startup cannot see inside a view body: a guard with allow= on an ACL-free app is a
    # programming error and surfaces as a 500, never as a silent 403.
    app, manager = make_app("guard_acl")

    @app.get("/guarded")
    async def guarded(request: Request) -> HTTPResponse:
        await verify_jwt_in_request(request, allow=["admin"])
        return json({})

    assert Client(app).get("/guarded", manager.create_access_token("a")).status == 500
