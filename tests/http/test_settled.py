"""Settled tokens: a header value that went through a route's checks once skips only the
checks that hang on the token string alone (steps.STRING_BOUND) on that route, and nowhere
else. Every answer must be the one a first-time token would get."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import time_machine
from sanic import Request
from sanic.compat import Header
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import InMemoryBlocklist, Token, jwt_required
from sanic_jwt_extended.requirements import Requirements
from sanic_jwt_extended.steps import STEPS, STRING_BOUND, Pass, methods, ordinary
from sanic_jwt_extended.verification import verifier_of

from ..helpers import Client, bearer, make_app


def _roles_app(name: str) -> tuple[Any, Any]:
    app, manager = make_app(name, use_acl=True)

    @app.get("/admins")
    @jwt_required(allow="admin")
    async def admins(request: Request, token: Token) -> HTTPResponse:
        return json({"who": token.identity})

    @app.get("/no-admins")
    @jwt_required(deny="admin")
    async def no_admins(request: Request, token: Token) -> HTTPResponse:
        return json({"who": token.identity})

    return app, manager


def test_a_token_settled_on_one_route_is_checked_afresh_on_another() -> None:
    app, manager = _roles_app("settled_routes")
    client = Client(app)
    admin = manager.create_access_token("root", role="admin")
    refresh = manager.create_refresh_token("root")
    for _ in range(3):  # miss, hit (settles), settled
        assert client.get("/admins", token=admin).status == 200
        assert client.get("/no-admins", token=admin).status == 403
        assert client.post("/refresh", headers=bearer(refresh)).status == 200
        assert client.get("/protected", token=refresh).status == 422  # a refresh token, settled elsewhere
        assert client.get("/fresh", token=admin).status == 401  # not fresh: never string-bound


def test_a_settled_token_is_still_refused_once_revoked_or_expired() -> None:
    app, manager = make_app(
        "settled_revoked", use_blocklist=True, blocklist=InMemoryBlocklist(), access_token_expires=60
    )
    client = Client(app)
    token = manager.create_access_token("alice")
    for _ in range(3):
        assert client.get("/protected", token=token).status == 200
    asyncio.run(manager.revoke(token))
    assert client.get("/protected", token=token).status == 401

    other = manager.create_access_token("bob")
    for _ in range(3):
        assert client.get("/protected", token=other).status == 200
    with time_machine.travel(manager.decode_token(other).exp, tick=False):
        response = client.get("/protected", token=other)
    assert response.status == 401
    assert "expired" in response.json["msg"].lower()


def test_a_settled_token_meets_the_method_rules_like_any_other() -> None:
    app, manager = make_app("settled_methods", exempt_methods=["HEAD"])
    ran: list[str] = []

    @app.route("/any", methods=["GET", "HEAD", "OPTIONS", "DELETE"])
    @jwt_required
    async def anything(request: Request, token: Token | None) -> HTTPResponse:
        ran.append(request.method)
        return json({"who": None if token is None else token.identity})

    client = Client(app)
    token = manager.create_access_token("alice")
    for _ in range(3):
        assert client.get("/any", token=token).json == {"who": "alice"}
    preflight = {**bearer(token), "Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
    assert client.request("options", "/any", headers=preflight).status == 204
    assert client.request("options", "/any", headers=bearer(token)).json == {"who": "alice"}
    assert client.request("delete", "/any", headers=bearer(token)).json == {"who": "alice"}
    assert client.request("head", "/any").status == 200  # exempt: no token needed
    assert ran.count("OPTIONS") == 1  # the preflight never reached the view


def test_the_settled_path_sets_the_request_context_and_a_fresh_user_each_time() -> None:
    app, manager = make_app("settled_ctx")
    users: list[object] = []

    @manager.user_lookup_loader
    def load(token: Token) -> dict[str, str]:
        users.append(object())
        return {"name": str(token.identity)}

    @app.get("/me")
    @jwt_required
    async def me(request: Request, token: Token) -> HTTPResponse:
        assert request.ctx.token is token
        return json({"user": token.user, "where": request.ctx.jwt_location, "same": token.user is request.ctx.jwt_user})

    client = Client(app)
    token = manager.create_access_token("alice")
    for _ in range(3):
        assert client.get("/me", token=token).json == {"user": {"name": "alice"}, "where": "headers", "same": True}
    assert len(users) == 3  # user lookup is not string-bound: it ran every time


def test_routes_beyond_the_plans_that_can_settle_still_check_everything() -> None:
    app, manager = make_app("settled_many", use_acl=True)
    for index in range(70):

        async def view(request: Request, token: Token) -> HTTPResponse:
            return json({"ok": True})

        app.add_route(jwt_required(allow=f"role{index}")(view), f"/r{index}", name=f"r{index}")
    client = Client(app)
    for index in range(70):
        holder = manager.create_access_token("u", role=f"role{index}")
        outsider = manager.create_access_token("u", role=f"role{index + 1}")
        for _ in range(2):
            assert client.get(f"/r{index}", token=holder).status == 200
            assert client.get(f"/r{index}", token=outsider).status == 403
    marks = [verifier_of(app).plan(Requirements.build(allow=f"role{index}")).mark for index in range(70)]
    given = [mark for mark in marks if mark]
    assert len(set(given)) == len(given) >= 50  # never shared
    assert 0 in marks  # past 62 plans: never settled, and still correct (above)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"])
@pytest.mark.parametrize("exempt", [(), ("HEAD",), ("GET", "OPTIONS")])
def test_ordinary_methods_are_ones_the_methods_step_lets_through(method: str, exempt: tuple[str, ...]) -> None:
    app, _ = make_app(f"settled_ordinary_{method}_{len(exempt)}", exempt_methods=list(exempt))
    plan = verifier_of(app).plan(Requirements.build())
    assert plan.exempt_methods == exempt
    request = Request(b"/", _preflight_headers(), "1.1", method, None, app)
    if ordinary(method, plan):
        assert methods(verifier_of(app), Pass(request, plan)) is None
    else:
        assert method == "OPTIONS" or method in exempt


def test_settled_steps_keep_the_order_of_steps() -> None:
    app, manager = make_app("settled_order", use_blocklist=True, blocklist=InMemoryBlocklist())
    manager.claims_verification_loader(lambda token: True)
    manager.user_lookup_loader(lambda token: {"name": token.identity})
    plan = verifier_of(app).plan(Requirements.build(fresh_required=True))
    assert plan.settled_steps == tuple(
        step for step in STEPS if step in plan.steps and step not in STRING_BOUND and step is not methods
    )
    assert [step.__name__ for step in plan.settled_steps] == ["revoked", "claims_callback", "user_lookup"]


def test_a_token_fresh_until_a_time_is_never_settled_on_a_fresh_route() -> None:
    # A boolean fresh claim is fixed by the token string; "fresh until" is not, so such a token
    # goes through the fresh check on every request, and stops passing it when the time comes.
    app, manager = make_app("settled_fresh_until")
    client = Client(app)
    start = datetime(2031, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        until = manager.create_access_token("alice", fresh=timedelta(seconds=30))
        always = manager.create_access_token("bob", fresh=True)
        for _ in range(3):  # miss, hit (settles, for the boolean one), settled
            assert client.get("/fresh", token=until).status == 200
            assert client.get("/fresh", token=always).status == 200
        traveller.move_to(start + timedelta(seconds=40))
        assert client.get("/fresh", token=until).status == 401
        assert client.get("/fresh", token=always).status == 200
        assert client.get("/protected", token=until).status == 200  # still a valid token


def _preflight_headers() -> Header:
    return Header({"origin": "https://a.example", "access-control-request-method": "GET"})
