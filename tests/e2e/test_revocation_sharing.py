"""Revocation shared across hosts through one real Redis, and what happens when Redis dies.

Two `python example_app.py --redis URL` processes on two ports stand for two hosts.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..helpers import bearer
from ..processes import serve
from ..redis_server import RedisServer

CREDENTIALS = {"username": "test", "password": "test"}


@pytest.fixture
def cluster(redis_binary: str, tmp_path: Path) -> Iterator[tuple[RedisServer, httpx.Client, httpx.Client]]:
    data = tmp_path / "redis"
    data.mkdir()
    redis = RedisServer(redis_binary, data, persistent=True)
    redis.start()
    env = {"SANIC_JWT_SECRET_KEY": secrets.token_urlsafe(64)}  # both hosts verify each other's tokens
    with ExitStack() as stack:
        stack.callback(redis.stop)
        bases = [
            stack.enter_context(serve("example_app.py", tmp_path / f"host{i}.log", "--redis", redis.url, env=env))
            for i in (1, 2)
        ]
        host_a = stack.enter_context(httpx.Client(base_url=bases[0], timeout=10))
        host_b = stack.enter_context(httpx.Client(base_url=bases[1], timeout=10))
        yield redis, host_a, host_b


def login(host: httpx.Client) -> dict[str, Any]:
    response = host.post("/login", json=CREDENTIALS)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_revocation_on_one_host_is_refused_by_the_other(
    cluster: tuple[RedisServer, httpx.Client, httpx.Client],
) -> None:
    _, host_a, host_b = cluster
    tokens = login(host_a)
    access = tokens["access_token"]
    assert host_b.get("/protected", headers=bearer(access)).status_code == 200
    assert host_a.post("/logout", headers=bearer(access)).status_code == 200
    assert host_b.get("/protected", headers=bearer(access)).status_code == 401

    # log out everywhere on B: A refuses every earlier token, then accepts a new login
    other = login(host_a)["access_token"]
    assert host_b.post("/logout-everywhere", headers=bearer(other)).status_code == 200
    assert host_a.get("/protected", headers=bearer(other)).status_code == 401
    assert host_a.get("/protected", headers=bearer(login(host_b)["access_token"])).status_code == 200


def test_refresh_reuse_across_hosts_revokes_the_family(
    cluster: tuple[RedisServer, httpx.Client, httpx.Client],
) -> None:
    _, host_a, host_b = cluster
    stolen = login(host_a)["refresh_token"]
    rotated = host_a.post("/refresh", headers=bearer(stolen))
    assert rotated.status_code == 200
    assert host_b.post("/refresh", headers=bearer(stolen)).status_code == 401  # replay on another host
    assert host_a.post("/refresh", headers=bearer(rotated.json()["refresh_token"])).status_code == 401


def test_redis_outage_fails_closed_and_loses_nothing(
    cluster: tuple[RedisServer, httpx.Client, httpx.Client],
) -> None:
    redis, host_a, host_b = cluster
    revoked = login(host_a)["access_token"]
    valid = login(host_a)["access_token"]
    assert host_a.post("/logout", headers=bearer(revoked)).status_code == 200

    redis.stop(kill=True)  # SIGKILL: no chance to save on the way out
    for host in (host_a, host_b):
        outage = host.get("/protected", headers=bearer(valid))
        assert outage.status_code == 503
        assert "msg" in outage.json()

    redis.start()  # same port, same data directory: the append-only file is replayed
    assert host_b.get("/protected", headers=bearer(valid)).status_code == 200
    assert host_a.get("/protected", headers=bearer(revoked)).status_code == 401
    assert host_b.get("/protected", headers=bearer(revoked)).status_code == 401


def test_a_mixed_fleet_plain_and_mirror_hosts_agree_within_the_lag(redis_binary: str, tmp_path: Path) -> None:
    # Rolling local_mirror out one host at a time: the plain host's revocations reach the
    # mirror host, and the other way round, within mirror_max_lag.
    lag = 0.3
    redis = RedisServer(redis_binary, tmp_path)
    redis.start()
    env = {"SANIC_JWT_SECRET_KEY": secrets.token_urlsafe(64)}
    common = ("--redis", redis.url, "--lag", str(lag))
    with ExitStack() as stack:
        stack.callback(redis.stop)
        plain_url = stack.enter_context(serve("tests/e2e/blocklist_app.py", tmp_path / "plain.log", *common, env=env))
        mirror_url = stack.enter_context(
            serve("tests/e2e/blocklist_app.py", tmp_path / "mirror.log", *common, "--mirror", env=env)
        )
        plain = stack.enter_context(httpx.Client(base_url=plain_url, timeout=10))
        mirror = stack.enter_context(httpx.Client(base_url=mirror_url, timeout=10))
        for writer, reader in ((plain, mirror), (mirror, plain)):
            tokens = [writer.post("/login/alice").json()["access_token"] for _ in range(20)]
            for token in tokens:
                assert reader.get("/protected", headers=bearer(token)).status_code == 200
                assert writer.post("/logout", headers=bearer(token)).status_code == 200
            time.sleep(lag)
            assert {reader.get("/protected", headers=bearer(token)).status_code for token in tokens} == {401}
