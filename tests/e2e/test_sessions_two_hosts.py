"""Sessions over HTTP (issue 17): two devices signed in on two hosts sharing one real Redis.

Host A is ``python example_app.py --redis URL`` (direct checks), host B the same with
``--mirror`` (checks from its local copy): a mixed fleet. Each device is an HTTP client with
its own User-Agent.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..helpers import bearer
from ..processes import serve
from ..redis_server import RedisServer

CREDENTIALS = {"username": "test", "password": "test"}
MIRROR_MAX_LAG = 1.0  # RedisBlocklist's default, which example_app.py keeps


@pytest.fixture
def hosts(redis_binary: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    data = tmp_path / "redis"
    data.mkdir()
    redis = RedisServer(redis_binary, data)
    redis.start()
    env = {"SANIC_JWT_SECRET_KEY": secrets.token_urlsafe(64)}
    with ExitStack() as stack:
        stack.callback(redis.stop)
        base_a = stack.enter_context(serve("example_app.py", tmp_path / "a.log", "--redis", redis.url, env=env))
        base_b = stack.enter_context(
            serve("example_app.py", tmp_path / "b.log", "--redis", redis.url, "--mirror", env=env)
        )
        yield (
            stack.enter_context(httpx.Client(base_url=base_a, timeout=10)),
            stack.enter_context(httpx.Client(base_url=base_b, timeout=10)),
        )


def login(host: httpx.Client, device: str) -> dict[str, Any]:
    response = host.post("/login", json=CREDENTIALS, headers={"User-Agent": device})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def listed(host: httpx.Client, access: str) -> list[dict[str, Any]]:
    response = host.get("/sessions", headers=bearer(access))
    assert response.status_code == 200
    return response.json()["sessions"]  # type: ignore[no-any-return]


def refused_within(host: httpx.Client, access: str, seconds: float) -> float:
    """Seconds until ``host`` refuses ``access`` with 401; fails after ``seconds``."""
    start = time.monotonic()
    while (status := host.get("/protected", headers=bearer(access)).status_code) == 200:
        assert time.monotonic() - start < seconds, "the ended session's token is still accepted"
        time.sleep(0.02)
    assert status == 401
    return time.monotonic() - start


def test_a_device_ends_another_devices_session_on_the_other_host(hosts: tuple[httpx.Client, httpx.Client]) -> None:
    host_a, host_b = hosts
    phone = login(host_a, "phone")
    laptop = login(host_b, "laptop")
    # each host lists both devices, oldest first, the caller's marked current
    for host in hosts:
        sessions = listed(host, laptop["access_token"])
        assert [s["user_agent"] for s in sessions] == ["phone", "laptop"]
        assert [s["current"] for s in sessions] == [False, True]
        assert [s["id"] for s in sessions] == [phone["session_id"], laptop["session_id"]]
    # the laptop signs the phone out through host A (direct): host A refuses it at once ...
    assert host_a.delete(f"/sessions/{phone['session_id']}", headers=bearer(laptop["access_token"])).json() == {
        "msg": "Session ended"
    }
    assert host_a.get("/protected", headers=bearer(phone["access_token"])).status_code == 401
    # ... host B (mirror) within mirror_max_lag, the refresh token too
    refused_within(host_b, phone["access_token"], MIRROR_MAX_LAG + 1.0)
    assert host_b.post("/refresh", headers=bearer(phone["refresh_token"])).status_code == 401
    assert [s["user_agent"] for s in listed(host_b, laptop["access_token"])] == ["laptop"]
    # the laptop goes on working everywhere, and ending the phone again is a 404
    for host in hosts:
        assert host.get("/protected", headers=bearer(laptop["access_token"])).status_code == 200
    gone = host_b.delete(f"/sessions/{phone['session_id']}", headers=bearer(laptop["access_token"]))
    assert gone.status_code == 404


def test_refresh_on_either_host_keeps_the_session_and_moves_last_used(
    hosts: tuple[httpx.Client, httpx.Client],
) -> None:
    host_a, host_b = hosts
    phone = login(host_a, "phone")
    time.sleep(0.05)
    rotated = host_b.post("/refresh", headers=bearer(phone["refresh_token"]))
    assert rotated.status_code == 200
    (session,) = listed(host_a, rotated.json()["access_token"])
    assert session["id"] == phone["session_id"] and session["current"] is True
    assert datetime.fromisoformat(session["last_used"]) > datetime.fromisoformat(session["created"])
    # the session's new tokens die with it, on both hosts
    assert host_a.delete(f"/sessions/{session['id']}", headers=bearer(phone["access_token"])).status_code == 200
    refused_within(host_b, rotated.json()["access_token"], MIRROR_MAX_LAG + 1.0)
    assert host_a.post("/refresh", headers=bearer(rotated.json()["refresh_token"])).status_code == 401


def test_sign_out_other_devices_and_everywhere(hosts: tuple[httpx.Client, httpx.Client]) -> None:
    host_a, host_b = hosts
    devices = [login(host, name) for host, name in ((host_a, "phone"), (host_b, "tablet"), (host_a, "laptop"))]
    phone, tablet, laptop = devices
    ended = host_b.post("/sessions/end-others", headers=bearer(laptop["access_token"]))
    assert ended.json() == {"msg": "2 other session(s) ended"}
    for gone in (phone, tablet):
        assert host_a.get("/protected", headers=bearer(gone["access_token"])).status_code == 401
        refused_within(host_b, gone["access_token"], MIRROR_MAX_LAG + 1.0)
    assert [s["user_agent"] for s in listed(host_a, laptop["access_token"])] == ["laptop"]
    # log out everywhere through B: no session left, every token refused, a new login works
    assert host_b.post("/logout-everywhere", headers=bearer(laptop["access_token"])).status_code == 200
    refused_within(host_b, laptop["access_token"], MIRROR_MAX_LAG + 1.0)
    assert host_a.get("/protected", headers=bearer(laptop["access_token"])).status_code == 401
    fresh = login(host_b, "laptop")
    assert [s["id"] for s in listed(host_a, fresh["access_token"])] == [fresh["session_id"]]
