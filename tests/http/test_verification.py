"""The verification pipeline over HTTP: freshness, roles, callbacks and their order."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, JWTManager, Token, jwt_required

from ..helpers import SECRET, Client, add_routes, make_app


@pytest.mark.parametrize(
    ("fresh", "status"),
    [
        (True, 200),
        (False, 401),
        (timedelta(minutes=5), 200),
        (datetime.now(timezone.utc) - timedelta(seconds=5), 401),
        (datetime.now(timezone.utc) + timedelta(hours=1), 200),
    ],
    ids=["true", "false", "fresh-for-5-min", "freshness-over", "fresh-until-later"],
)
def test_freshness(client: Client, manager: JWTManager, fresh: Any, status: int) -> None:
    response = client.get("/fresh", manager.create_access_token("a", fresh=fresh))
    assert response.status == status
    if status == 200:
        assert response.json["fresh"] is True


def test_fresh_is_none_for_refresh_tokens(client: Client, manager: JWTManager) -> None:
    assert client.post("/refresh", manager.create_refresh_token("a")).json == {
        "identity": "a",
        "fresh": None,
        "type": "refresh",
    }


def test_refresh_token_on_fresh_route_is_wrong_type(client: Client, manager: JWTManager) -> None:
    # authentication (type) is checked before freshness
    assert client.get("/fresh", manager.create_refresh_token("a")).status == 422


@pytest.fixture
def acl() -> tuple[Client, JWTManager]:
    app, manager = make_app("acl", use_acl=True, acl_claim="roles")

    @app.get("/admins")
    @jwt_required(allow=["admin", "root"])
    async def admins(request: Request, token: Token) -> HTTPResponse:
        return json({"roles": sorted(token.roles)})

    @app.get("/not-banned")
    @jwt_required(deny="banned")
    async def not_banned(request: Request) -> HTTPResponse:
        return json({})

    @app.get("/fresh-admins")
    @jwt_required(allow=["admin"], fresh_required=True)
    async def fresh_admins(request: Request) -> HTTPResponse:
        return json({})

    return Client(app), manager


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [
        ("/admins", "admin", 200),
        ("/admins", ["user", "root"], 200),
        ("/admins", "user", 403),
        ("/admins", ["user", "ops"], 403),
        ("/admins", None, 403),
        ("/not-banned", "user", 200),
        ("/not-banned", None, 200),
        ("/not-banned", "banned", 403),
        ("/not-banned", ["user", "banned"], 403),
    ],
)
def test_roles(acl: tuple[Client, JWTManager], path: str, role: Any, status: int) -> None:
    client, manager = acl
    assert client.get(path, manager.create_access_token("a", role=role, fresh=True)).status == status


def test_authentication_before_authorization(acl: tuple[Client, JWTManager]) -> None:
    client, manager = acl
    # a stale admin token is refused for freshness (401), a fresh user token for its role (403)
    assert client.get("/fresh-admins", manager.create_access_token("a", role="admin")).status == 401
    assert client.get("/fresh-admins", manager.create_access_token("a", role="user", fresh=True)).status == 403
    assert client.get("/admins", manager.create_refresh_token("a", role="admin")).status == 422


def callback_app(lookup: Any, check: Any, calls: list[str]) -> tuple[Client, JWTManager]:
    app = Sanic("callbacks")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.user_lookup_loader(lookup)
        manager.claims_verification_loader(check)

    @app.get("/me")
    @jwt_required
    async def me(request: Request, token: Token) -> HTTPResponse:
        return json({"user": token.user, "ctx": request.ctx.jwt_user})

    add_routes(app)
    return Client(app), manager


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_callbacks_sync_or_async_and_in_order(is_async: bool) -> None:
    calls: list[str] = []
    users = {"alice": {"name": "Alice"}}

    def lookup_sync(token: Token) -> Any:
        calls.append("lookup")
        return users.get(token.identity)

    def check_sync(token: Token) -> bool:
        calls.append("check")
        return token.public_claims.get("tenant") != "evil"

    async def lookup_async(token: Token) -> Any:
        return lookup_sync(token)

    async def check_async(token: Token) -> bool:
        return check_sync(token)

    client, manager = callback_app(
        lookup_async if is_async else lookup_sync, check_async if is_async else check_sync, calls
    )
    ok = client.get("/me", manager.create_access_token("alice"))
    assert ok.json == {"user": {"name": "Alice"}, "ctx": {"name": "Alice"}}
    assert calls == ["check", "lookup"]
    assert client.get("/me", manager.create_access_token("mallory")).status == 401
    calls.clear()
    assert client.get("/me", manager.create_access_token("alice", public_claims={"tenant": "evil"})).status == 400
    assert calls == ["check"]  # lookup never runs for a token that failed the claims check


def test_leeway_accepts_recently_expired_tokens() -> None:
    app, _ = make_app("leeway", leeway=30)
    now = int(time.time())
    token = jwt.encode(
        {"sub": "a", "type": "access", "jti": "j", "iat": now - 100, "nbf": now - 100, "exp": now - 10},
        SECRET,
        algorithm="HS256",
    )
    assert Client(app).get("/protected", token).status == 200
    strict, strict_manager = make_app("strict")
    assert Client(strict).get("/protected", token).status == 401
    assert strict_manager


def test_custom_identity_claim() -> None:
    app, manager = make_app("identity", identity_claim="user_id")
    token = manager.create_access_token("42")
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["user_id"] == "42"
    assert Client(app).get("/protected", token).json["identity"] == "42"


def test_decode_algorithms_allow_list_accepts_listed_algorithms() -> None:
    app, _ = make_app("multi", decode_algorithms=["HS256", "HS512"])
    now = int(time.time())
    claims = {"sub": "a", "type": "access", "jti": "j", "iat": now, "exp": now + 60}
    client = Client(app)
    assert client.get("/protected", jwt.encode(claims, SECRET, algorithm="HS512")).status == 200
    assert client.get("/protected", jwt.encode(claims, SECRET, algorithm="HS384")).status == 422


@pytest.mark.parametrize(("result", "status"), [(True, 200), ("yes", 200), (False, 400), (None, 400), (0, 400)])
def test_claims_check_fails_closed(result: Any, status: int) -> None:
    client, manager = callback_app(lambda token: "user", lambda token: result, [])
    assert client.get("/me", manager.create_access_token("a")).status == status


# --- a cached token meets every step again ---------------------------------------------------
# The first request verifies and caches the token on a route that accepts it; the second
# goes to a stricter route, where the cached path (verify_now without a coroutine) must
# refuse exactly as the full pipeline does.


def _strict_app() -> tuple[Client, JWTManager]:
    app, manager = make_app("cached_steps", use_acl=True, use_blocklist=True, token_location=["headers", "cookies"])

    @app.get("/admin")
    @jwt_required(allow="admin")
    async def admin(request: Request, token: Token) -> HTTPResponse:
        return json({})

    @app.post("/write")
    @jwt_required
    async def write(request: Request, token: Token) -> HTTPResponse:
        return json({})

    return Client(app), manager


@pytest.mark.parametrize(
    ("first", "then", "status"),
    [
        ("access", "fresh", 401),  # not fresh
        ("refresh", "protected", 422),  # wrong type
        ("access", "admin", 403),  # role missing
        ("revoked", "protected", 401),  # revoked after caching
        ("access", "cookie-without-csrf", 401),
    ],
)
def test_a_cached_token_still_meets_every_step(first: str, then: str, status: int) -> None:
    client, manager = _strict_app()
    if first == "refresh":
        token = manager.create_refresh_token("a")
        assert client.post("/refresh", token).status == 200
    else:
        token = manager.create_access_token("a", fresh=False, role="user")
        assert client.get("/protected", token).status == 200
        assert len(manager.verified) == 1
    if first == "revoked":
        asyncio.run(manager.revoke(token))
    if then == "cookie-without-csrf":
        response = client.post("/write", headers={"Cookie": f"access_token_cookie={token}"})
    else:
        response = client.get(f"/{then}", token)
    assert response.status == status


def test_callbacks_registered_after_tokens_were_cached_still_run() -> None:
    app, manager = make_app("late_callbacks")
    client = Client(app)
    token = manager.create_access_token("a")
    assert client.get("/protected", token).status == 200
    manager.claims_verification_loader(lambda token: False)
    assert client.get("/protected", token).status == 400
    manager.claims_verification_loader(lambda token: True)
    manager.user_lookup_loader(lambda token: None)
    assert client.get("/protected", token).status == 401
