"""The Blocklist contract, run against every backend: in-memory and a real redis-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from sanic_jwt_extended import InMemoryBlocklist, RedisBlocklist
from sanic_jwt_extended.blocklist import Blocklist, RevocationState
from sanic_jwt_extended.exceptions import BlocklistUnavailableError, ConfigurationError

from ..redis_server import free_port

T = TypeVar("T")
VALID, REVOKED, REUSED = RevocationState.VALID, RevocationState.REVOKED, RevocationState.REUSED


def run(make: Callable[[], Awaitable[T]], store: object = None) -> T:
    """Run a scenario in a fresh event loop, closing that loop's Redis client after it."""

    async def scenario() -> T:
        try:
            return await make()
        finally:
            if isinstance(store, RedisBlocklist):
                await store.close()

    return asyncio.run(scenario())


@pytest.fixture(params=["memory", "redis", "redis-mirror"])
def store(request: pytest.FixtureRequest) -> Blocklist:
    if request.param == "memory":
        return InMemoryBlocklist()
    mirror = request.param == "redis-mirror"
    return RedisBlocklist(request.getfixturevalue("clean_redis"), key_prefix="test:", local_mirror=mirror)


def later(seconds: float = 60) -> float:
    return time.time() + seconds


def test_protocol(store: Blocklist) -> None:
    assert isinstance(store, Blocklist)


def test_revoke_jti(store: Blocklist) -> None:
    async def scenario() -> tuple[Any, ...]:
        before = await store.check("j1", "alice", time.time(), None)
        await store.revoke("j1", later())
        return before, await store.check("j1", "alice", time.time(), None), await store.check("j2", "alice", 0, None)

    assert run(scenario, store) == (VALID, REVOKED, VALID)


def test_revoke_identity_cuts_by_issue_time(store: Blocklist) -> None:
    async def scenario() -> tuple[Any, ...]:
        cutoff = time.time()
        await store.revoke_identity("alice", cutoff, None)
        return (
            await store.check("a", "alice", cutoff - 0.001, None),
            await store.check("b", "alice", cutoff, None),
            await store.check("c", "alice", cutoff + 0.001, None),
            await store.check("d", "bob", cutoff - 10, None),
        )

    # strict: the cutoff names the first instant that stays valid
    assert run(scenario, store) == (REVOKED, VALID, VALID, VALID)


def test_revoke_identity_keeps_the_latest_cutoff(store: Blocklist) -> None:
    async def scenario() -> RevocationState:
        await store.revoke_identity("alice", 2000.0, None)
        await store.revoke_identity("alice", 1000.0, None)  # an older call arriving late
        return await store.check("x", "alice", 1500.0, None)

    assert run(scenario, store) is REVOKED


def test_revoke_family(store: Blocklist) -> None:
    async def scenario() -> tuple[Any, ...]:
        await store.revoke_family("fam1", later())
        return await store.check("r1", "alice", time.time(), "fam1"), await store.check("r2", "alice", 0, "fam2")

    assert run(scenario, store) == (REVOKED, VALID)


def test_mark_used_once(store: Blocklist) -> None:
    async def scenario() -> tuple[Any, ...]:
        first = await store.mark_used("r1", later())
        second = await store.mark_used("r1", later())
        await store.revoke("r2", later())
        revoked_then_used = await store.mark_used("r2", later())
        return first, second, revoked_then_used, await store.check("r1", "alice", 0, None)

    assert run(scenario, store) == (True, False, False, REUSED)


def test_concurrent_mark_used_has_one_winner(store: Blocklist) -> None:
    async def scenario() -> list[bool]:
        return list(await asyncio.gather(*(store.mark_used("race", later()) for _ in range(20))))

    results = run(scenario, store)
    assert results.count(True) == 1


def test_entries_expire_with_their_tokens(store: Blocklist) -> None:
    async def scenario() -> tuple[Any, ...]:
        await store.revoke("short", time.time() + 0.3)
        await store.revoke_family("famshort", time.time() + 0.3)
        now = await store.check("short", "a", 0, "famshort")
        await asyncio.sleep(0.5)
        return now, await store.check("short", "a", 0, "famshort")

    assert run(scenario, store) == (REVOKED, VALID)


def test_memory_store_shrinks_after_100k_short_revocations() -> None:
    store = InMemoryBlocklist()

    until = time.time() + 4

    async def scenario() -> None:
        for index in range(100_000):
            await store.revoke(f"jti-{index}", until)

    run(scenario)
    assert len(store) == 100_000
    time.sleep(max(0.0, until - time.time()) + 0.1)
    run(lambda: store.revoke("one-more", later()))
    assert len(store) == 1
    assert len(store._expiry) == 1  # the expiry heap shrank too


def test_redis_unreachable_raises_unavailable() -> None:
    store = RedisBlocklist(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5)
    with pytest.raises(BlocklistUnavailableError):
        run(lambda: store.check("j", "a", 0, None), store)


def test_redis_constructor_and_repr() -> None:
    with pytest.raises(ConfigurationError, match="exactly one"):
        RedisBlocklist()
    store = RedisBlocklist("redis://:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in repr(store)


def test_redis_with_a_client(clean_redis: str) -> None:
    from redis.asyncio import from_url

    async def scenario() -> RevocationState:
        client = from_url(clean_redis)
        store = RedisBlocklist(client=client, key_prefix="given:")
        await store.revoke("j", later())
        state = await store.check("j", "a", 0, None)
        keys = await client.keys("given:*")
        await client.aclose()
        assert sorted(keys) == [b"given:jti:j", b"given:seq", b"given:stream"]
        return state

    assert run(scenario, store) is REVOKED


def test_check_local_agrees_with_check_or_abstains(store: Blocklist) -> None:
    cases = [
        ("j1", "bob", 0.0, None),  # revoked jti
        ("j2", "alice", 0.0, None),  # identity cutoff
        ("j3", "bob", 0.0, "fam"),  # revoked family
        ("r1", "bob", 0.0, None),  # used refresh token
        ("j4", "bob", 0.0, None),  # nothing against it
    ]

    async def scenario() -> list[tuple[RevocationState, RevocationState | None]]:
        await store.revoke("j1", later())
        await store.revoke_identity("alice", time.time(), None)
        await store.revoke_family("fam", later())
        await store.mark_used("r1", later())
        local = store.check_local  # type: ignore[attr-defined]
        return [(await store.check(*case), local(*case)) for case in cases]

    answers = run(scenario, store)
    assert [checked for checked, _ in answers] == [REVOKED, REVOKED, REVOKED, REUSED, VALID]
    for checked, local in answers:
        assert local is None or local is checked
    # the in-memory store always knows; Redis without a mirror never answers locally
    if isinstance(store, InMemoryBlocklist):
        assert [local for _, local in answers] == [checked for checked, _ in answers]
    elif not store.local_mirror:  # type: ignore[attr-defined]
        assert [local for _, local in answers] == [None] * 5


def test_redis_options_are_checked_at_construction() -> None:
    url = "redis://127.0.0.1:1/0"
    for options, option in (
        ({"mirror_max_lag": 0}, "mirror_max_lag"),
        ({"stream_maxlen": 10}, "stream_maxlen"),
        ({"client": object(), "cluster": True}, "cluster"),
    ):
        arguments: dict[str, Any] = {"url": None, **options} if "client" in options else {"url": url, **options}
        with pytest.raises(ConfigurationError, match=option):
            RedisBlocklist(**arguments)
    with pytest.warns(DeprecationWarning, match="mirror_max_lag"):
        store = RedisBlocklist(url, health_check_interval=0.2)
    assert store.mirror_max_lag == pytest.approx(0.4)
    assert RedisBlocklist(url).mirror_max_lag == 1.0  # the documented default
