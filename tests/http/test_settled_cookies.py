"""Settled cookie tokens: when no earlier location can hold a token, the token cookie's exact
value is looked up before anything else, and a token settled on the route skips the checks that
hang on the string alone, but never the CSRF check (it reads another header). Every answer must
be the one a first-time token would get."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import time_machine
from sanic import Request
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import InMemoryBlocklist, Token, jwt_required
from sanic_jwt_extended.requirements import Requirements
from sanic_jwt_extended.verification import verifier_of

from ..helpers import Client, bearer, make_app

NAME = "access_token_cookie"


def _app(name: str, **options: Any) -> tuple[Any, Any]:
    options.setdefault("token_location", ["headers", "cookies"])
    app, manager = make_app(name, cookie_secure=False, exempt_methods=["HEAD"], **options)

    @app.route("/write", methods=["POST", "PUT", "GET", "HEAD", "OPTIONS"])
    @jwt_required
    async def write(request: Request, token: Token | None) -> HTTPResponse:
        if token is None:
            return json({"identity": None})  # an exempt method
        return json({"identity": token.identity, "where": request.ctx.jwt_location})

    return app, manager


def _cookie(raw: str, csrf: str | None = None, extra: str = "") -> dict[str, str]:
    headers = {"cookie": f"theme=dark; {NAME}={raw}{extra}"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return headers


def _settled(app: Any, raw: str) -> bool:
    verifier = verifier_of(app)
    hit = verifier.cache.by_token(raw)
    return hit is not None and hit.settled_for(verifier.plan(Requirements.build()).mark)


@pytest.mark.parametrize(
    ("method", "csrf", "extra", "status"),
    [
        ("POST", "good", "", 200),
        ("POST", None, "", 401),  # no CSRF header: refused, settled or not
        ("POST", "wrong", "", 401),
        ("PUT", "wrong", "", 401),
        ("GET", None, "", 200),  # not a CSRF method
        ("HEAD", None, "", 200),  # exempt: no token at all
        ("POST", "good", "; access_token_cookie=planted", 422),  # a second cookie of the name
    ],
)
def test_a_settled_cookie_token_gets_the_answer_of_a_first_time_one(
    method: str, csrf: str | None, extra: str, status: int
) -> None:
    app, manager = _app(f"settled_cookie_{method}_{csrf}_{bool(extra)}")
    client = Client(app)
    raw = manager.create_access_token("alice")
    good = manager.decode_token(raw).csrf
    for _ in range(3):  # miss, hit (settles), settled
        assert client.request("POST", "/write", headers=_cookie(raw, good)).status == 200
    assert _settled(app, raw)
    supplied = good if csrf == "good" else csrf
    response = client.request(method, "/write", headers=_cookie(raw, supplied, extra))
    assert response.status == status
    if status == 200 and method == "POST":
        assert response.json == {"identity": "alice", "where": "cookies"}


def test_a_header_token_still_comes_first() -> None:
    app, manager = _app("settled_cookie_header_first")
    client = Client(app)
    alice, bob = manager.create_access_token("alice"), manager.create_access_token("bob")
    csrf = manager.decode_token(alice).csrf
    for _ in range(3):
        assert client.request("POST", "/write", headers=_cookie(alice, csrf)).json["identity"] == "alice"
    both = {**_cookie(alice, csrf), **bearer(bob)}
    assert client.request("POST", "/write", headers=both).json == {"identity": "bob", "where": "headers"}
    broken = {**_cookie(alice, csrf), "Authorization": "Bearer"}
    assert client.request("POST", "/write", headers=broken).status == 422  # never falls back to the cookie


def test_a_settled_cookie_token_is_still_refused_once_revoked_or_expired() -> None:
    app, manager = _app(
        "settled_cookie_revoked", use_blocklist=True, blocklist=InMemoryBlocklist(), access_token_expires=60
    )
    client = Client(app)
    for identity in ("alice", "bob"):
        raw = manager.create_access_token(identity)
        csrf = manager.decode_token(raw).csrf
        for _ in range(3):
            assert client.request("POST", "/write", headers=_cookie(raw, csrf)).status == 200
        if identity == "alice":
            asyncio.run(manager.revoke(raw))
            assert client.request("POST", "/write", headers=_cookie(raw, csrf)).status == 401
        else:
            with time_machine.travel(manager.decode_token(raw).exp, tick=False):
                response = client.request("POST", "/write", headers=_cookie(raw, csrf))
            assert response.status == 401
            assert "expired" in response.json["msg"].lower()


def test_cookies_first_settle_too() -> None:
    app, manager = _app("settled_cookie_first", token_location=["cookies", "headers"])
    client = Client(app)
    raw = manager.create_access_token("alice")
    csrf = manager.decode_token(raw).csrf
    for _ in range(3):
        assert client.request("POST", "/write", headers=_cookie(raw, csrf)).status == 200
    assert _settled(app, raw)
    assert client.request("POST", "/write", headers=_cookie(raw)).status == 401


@pytest.mark.parametrize(
    ("locations", "verify_type", "probed"),
    [
        (["headers", "cookies"], True, True),
        (["cookies"], True, True),
        (["cookies", "headers"], True, True),
        (["headers", "query_string", "cookies"], True, False),  # a query token would come first
        (["query_string", "cookies"], True, False),
        (["headers", "cookies"], False, False),  # both types: two cookie names to search
        (["headers"], True, False),
    ],
)
def test_the_cookie_is_probed_only_when_nothing_before_it_can_hold_a_token(
    locations: list[str], verify_type: bool, probed: bool
) -> None:
    app, _ = make_app(f"cookie_probe_{len(locations)}_{'_'.join(locations)}_{verify_type}", token_location=locations)
    plan = verifier_of(app).plan(Requirements.build(verify_type=verify_type))
    assert (plan.probe_cookie is not None) is probed
    if probed:
        assert [step.__name__ for step in plan.settled_cookie_steps] == ["csrf"]


def test_a_query_token_before_the_cookie_still_wins() -> None:
    app, manager = _app("settled_cookie_query_first", token_location=["headers", "query_string", "cookies"])
    client = Client(app)
    alice, bob = manager.create_access_token("alice"), manager.create_access_token("bob")
    csrf = manager.decode_token(alice).csrf
    for _ in range(3):
        assert client.request("POST", "/write", headers=_cookie(alice, csrf)).json["identity"] == "alice"
    response = client.request("POST", "/write", headers=_cookie(alice, csrf), params={"jwt": bob})
    assert response.json == {"identity": "bob", "where": "query_string"}
