"""Revocation over HTTP: logout, log out everywhere, rotation with reuse detection, failure modes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, InMemoryBlocklist, JWTManager, RedisBlocklist, Token, jwt_required
from sanic_jwt_extended import refresh_jwt_required as refresh_required
from sanic_jwt_extended.blocklist.base import RevocationState
from sanic_jwt_extended.exceptions import ConfigurationError, RevokedTokenError

from ..helpers import SECRET, Client, add_routes, make_app
from ..redis_server import free_port


def revocation_app(name: str = "revocation", **options: Any) -> tuple[Sanic, JWTManager]:
    options.setdefault("use_blocklist", True)
    app, manager = make_app(name, **options)

    @app.post("/logout")
    @jwt_required
    async def logout(request: Request, token: Token) -> HTTPResponse:
        await token.revoke()
        return json({"revoked": token.jti})

    @app.post("/logout-everywhere")
    @jwt_required
    async def everywhere(request: Request, token: Token) -> HTTPResponse:
        await manager.revoke_all(token.identity)
        return json({})

    @app.post("/rotate")
    @refresh_required
    async def rotate(request: Request, token: Token) -> HTTPResponse:
        access, refresh = await manager.rotate(token)
        return json({"access_token": access, "refresh_token": refresh})

    return app, manager


@pytest.fixture
def revocation() -> tuple[Client, JWTManager]:
    app, manager = revocation_app()
    return Client(app), manager


def test_logout_revokes_only_that_token(revocation: tuple[Client, JWTManager]) -> None:
    client, manager = revocation
    first, second = manager.create_access_token("alice"), manager.create_access_token("alice")
    assert client.post("/logout", first).status == 200
    refused = client.get("/protected", first)
    assert refused.status == 401
    assert refused.json == {"msg": "Token has been revoked"}
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert client.get("/protected", second).status == 200


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "/protected", "access"),
        ("GET", "/fresh", "fresh"),
        ("POST", "/refresh", "refresh"),
        ("GET", "/optional", "access"),
    ],
)
def test_revoked_tokens_fail_on_every_kind_of_route(
    revocation: tuple[Client, JWTManager], method: str, path: str, kind: str
) -> None:
    client, manager = revocation
    token = manager.create_refresh_token("a") if kind == "refresh" else manager.create_access_token("a", fresh=True)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.request(method, path, headers=headers).status == 200
    asyncio.run(manager.revoke(token))  # an encoded token is verified, then revoked by jti
    assert client.request(method, path, headers=headers).status == 401


def test_revoke_by_bare_jti(revocation: tuple[Client, JWTManager]) -> None:
    client, manager = revocation
    token = manager.create_access_token("a")
    asyncio.run(manager.revoke(str(manager.decode_token(token).jti)))
    assert client.get("/protected", token).status == 401


def test_log_out_everywhere_then_log_in_again(revocation: tuple[Client, JWTManager]) -> None:
    client, manager = revocation
    phone, laptop = manager.create_access_token("alice"), manager.create_refresh_token("alice")
    bob = manager.create_access_token("bob")
    assert client.post("/logout-everywhere", phone).status == 200
    assert client.get("/protected", phone).status == 401
    assert client.post("/refresh", laptop).status == 401
    assert client.get("/protected", bob).status == 200
    # a login right after (same second) works: iat keeps milliseconds
    assert client.get("/protected", manager.create_access_token("alice")).status == 200


def test_blocklist_token_types() -> None:
    app, manager = revocation_app("types", blocklist_token_types=["access"])
    client = Client(app)
    refresh = manager.create_refresh_token("a")
    asyncio.run(manager.revoke(refresh))
    assert client.post("/refresh", refresh).status == 200  # refresh tokens are not checked


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_token_in_blocklist_loader(is_async: bool) -> None:
    banned: set[str] = set()
    app = Sanic("loader")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_blocklist = True

        def check(token: Token) -> bool:
            return token.identity in banned

        async def check_async(token: Token) -> bool:
            return check(token)

        manager.token_in_blocklist_loader(check_async if is_async else check)
    add_routes(app)
    client = Client(app)
    token = manager.create_access_token("mallory")
    assert client.get("/protected", token).status == 200
    banned.add("mallory")
    assert client.get("/protected", token).status == 401
    with pytest.raises(ConfigurationError, match="needs a store"):
        asyncio.run(manager.revoke(token))


class ProtocolOnlyStore:
    """A third-party store: the protocol's async methods, no ``check_local``."""

    def __init__(self) -> None:
        self.inner = InMemoryBlocklist()
        self.checks = 0

    async def revoke(self, jti: str, until: float | None) -> None:
        await self.inner.revoke(jti, until)

    async def revoke_identity(self, identity: str, issued_before: float, until: float | None) -> None:
        await self.inner.revoke_identity(identity, issued_before, until)

    async def revoke_family(self, family: str, until: float | None) -> None:
        await self.inner.revoke_family(family, until)

    async def mark_used(self, jti: str, until: float | None) -> bool:
        return await self.inner.mark_used(jti, until)

    async def check(self, jti: str, identity: str, issued_at: float, family: str | None) -> RevocationState:
        self.checks += 1
        return await self.inner.check(jti, identity, issued_at, family)


def test_a_store_without_check_local_is_awaited_on_every_request() -> None:
    store = ProtocolOnlyStore()
    app, manager = revocation_app("protocol_only", blocklist=store)
    client = Client(app)
    token = manager.create_access_token("a")
    assert client.get("/protected", token).status == 200
    assert client.get("/protected", token).status == 200
    assert store.checks == 2
    assert client.post("/logout", token).status == 200
    assert client.get("/protected", token).status == 401


def test_a_loader_runs_on_every_request_even_with_a_local_store() -> None:
    seen: list[str] = []
    app = Sanic("loader_and_store")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_blocklist = True
        manager.config.blocklist = InMemoryBlocklist()

        @manager.token_in_blocklist_loader
        def banned(token: Token) -> bool:
            seen.append(str(token.jti))
            return token.identity == "mallory"

    add_routes(app)
    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.get("/protected", token).status == 200
    assert client.get("/protected", token).status == 200
    assert len(seen) == 2
    assert client.get("/protected", manager.create_access_token("mallory")).status == 401
    asyncio.run(manager.revoke(token))
    assert client.get("/protected", token).status == 401  # the store is still consulted


# --- rotation -----------------------------------------------------------------------------


def rotation_app() -> tuple[Client, JWTManager]:
    app, manager = revocation_app("rotation", refresh_token_rotation=True)
    return Client(app), manager


def test_rotation_issues_a_new_pair_in_the_same_family() -> None:
    client, manager = rotation_app()
    login = manager.create_refresh_token("alice")
    response = client.post("/rotate", login)
    assert response.status == 200
    access = manager.decode_token(response.json["access_token"])
    refresh = manager.decode_token(response.json["refresh_token"])
    assert access.fresh is False and access.identity == "alice"
    assert refresh.family == manager.decode_token(login).family is not None
    assert refresh.jti != manager.decode_token(login).jti
    assert client.post("/rotate", response.json["refresh_token"]).status == 200


def test_reuse_revokes_the_whole_family() -> None:
    client, manager = rotation_app()
    stolen = manager.create_refresh_token("alice")
    victim_next = client.post("/rotate", stolen).json["refresh_token"]  # the victim rotates first
    reuse = client.post("/rotate", stolen)  # the attacker replays the old token
    assert reuse.status == 401
    assert "reuse" in reuse.json["msg"]
    # the victim's later token is dead too, and so is anything the attacker could have got
    assert client.post("/rotate", victim_next).status == 401
    # another login (another family) is unaffected
    assert client.post("/rotate", manager.create_refresh_token("alice")).status == 200


def test_concurrent_rotation_has_exactly_one_winner() -> None:
    client, manager = rotation_app()
    refresh = manager.create_refresh_token("alice")

    async def race() -> list[int]:
        headers = {"Authorization": f"Bearer {refresh}"}
        results = await asyncio.gather(*(client.app.asgi_client.post("/rotate", headers=headers) for _ in range(5)))
        return sorted(response.status for _, response in results)

    assert asyncio.run(race()) == [200, 401, 401, 401, 401]


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"refresh_token_rotation": True, "use_blocklist": False}, "refresh_token_rotation"),
        ({"refresh_token_rotation": True, "blocklist_token_types": ["access"]}, "refresh_token_rotation"),
        ({"blocklist": object()}, "blocklist"),
        ({"blocklist": InMemoryBlocklist(), "use_blocklist": False}, "blocklist"),
        ({"blocklist_unavailable": "shrug"}, "blocklist_unavailable"),
        ({"blocklist_token_types": ["id"]}, "blocklist_token_types"),
    ],
)
def test_revocation_config_errors(options: dict[str, Any], option: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{option}"):
        revocation_app("bad", **options)


def test_revoking_without_a_blocklist_is_a_configuration_error(manager: JWTManager) -> None:
    token = manager.decode_token(manager.create_access_token("a"))
    with pytest.raises(ConfigurationError, match="use_blocklist"):
        asyncio.run(token.revoke())


def test_rotate_needs_rotation_enabled(revocation: tuple[Client, JWTManager]) -> None:
    client, manager = revocation
    response = client.post("/rotate", manager.create_refresh_token("a"))
    assert response.status == 500  # a programming error, not client input


# --- failure modes --------------------------------------------------------------------------


def dead_redis_app(mode: str) -> tuple[Client, JWTManager]:
    store = RedisBlocklist(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5)
    app, manager = revocation_app(f"dead_{mode}", blocklist=store, blocklist_unavailable=mode)
    return Client(app), manager


def test_fail_closed_answers_503() -> None:
    client, manager = dead_redis_app("fail_closed")
    response = client.get("/protected", manager.create_access_token("a"))
    assert response.status == 503
    assert "revocation" in response.json["msg"].lower()


def test_fail_open_lets_tokens_through_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    client, manager = dead_redis_app("fail_open")
    token = manager.create_access_token("a")
    with caplog.at_level(logging.WARNING, logger="sanic_jwt_extended"):
        assert client.get("/protected", token).status == 200
    assert "fail_open" in caplog.text
    assert token not in caplog.text  # the raw token never reaches a log line


def test_warning_for_in_memory_store_with_several_workers(caplog: pytest.LogCaptureFixture) -> None:
    app, manager = revocation_app("workers")
    app.state.workers = 2
    with caplog.at_level(logging.WARNING, logger="sanic_jwt_extended"):
        Client(app).get("/protected", manager.create_access_token("a"))
    assert "RedisBlocklist" in caplog.text


def test_redis_store_over_http(clean_redis: str) -> None:
    app, manager = revocation_app("redis_http", blocklist=RedisBlocklist(clean_redis), refresh_token_rotation=True)
    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.post("/logout", token).status == 200
    assert client.get("/protected", token).status == 401
    refresh = manager.create_refresh_token("alice")
    assert client.post("/rotate", refresh).status == 200
    assert client.post("/rotate", refresh).status == 401


# --- log out everywhere, then log in, in one request ------------------------------------------


@pytest.mark.parametrize("backend", ["memory", "redis", "redis-mirror"])
def test_revoke_all_then_create_always_works_and_earlier_tokens_never_do(backend: str, request: Any) -> None:
    # iat carries milliseconds: the cutoff must fall between "issued before revoke_all
    # returned" and "issued after", 1,000 times out of 1,000.
    if backend == "memory":
        store: Any = InMemoryBlocklist()
    else:
        store = RedisBlocklist(request.getfixturevalue("clean_redis"), local_mirror=backend == "redis-mirror")
    _, manager = revocation_app(f"revoke_all_{backend.replace('-', '_')}", blocklist=store)
    revocation = manager.revocation
    assert revocation is not None

    async def state(raw: str) -> bool:
        try:
            await revocation.check(manager.decode_token(raw))
        except RevokedTokenError:
            return False
        return True

    rounds = 300 if backend == "redis-mirror" else 1000  # the mirror adds nothing to the race: fewer

    async def scenario() -> tuple[int, int]:
        refused = accepted = 0
        for _ in range(rounds):
            before = manager.create_access_token("alice")
            await manager.revoke_all("alice")
            after = manager.create_access_token("alice")
            refused += not await state(before)
            accepted += await state(after)
        if isinstance(store, RedisBlocklist):
            await store.close()
        return refused, accepted

    assert asyncio.run(scenario()) == (rounds, rounds)


def test_revoke_all_then_login_in_one_request(revocation: tuple[Client, JWTManager]) -> None:
    client, manager = revocation

    @client.app.post("/change-password")
    @jwt_required
    async def change_password(request: Request, token: Token) -> HTTPResponse:
        await manager.revoke_all(str(token.identity))
        return json({"access_token": manager.create_access_token(token.identity)})

    for _ in range(5):
        old = manager.create_access_token("alice")
        response = client.post("/change-password", old)
        assert response.status == 200
        assert client.get("/protected", response.json["access_token"]).status == 200
        assert client.get("/protected", old).status == 401
