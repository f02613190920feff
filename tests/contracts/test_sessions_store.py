"""The SessionStore contract (issue 17), run against every backend: in-memory, a real
redis-server (direct and mirrored), a real Redis Cluster; and an ended session reaching
another host's mirror within ``mirror_max_lag``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from sanic_jwt_extended import InMemoryBlocklist, RedisBlocklist
from sanic_jwt_extended.blocklist import RevocationState
from sanic_jwt_extended.blocklist.base import SessionRecord, SessionStore

from ..redis_server import RedisClusterServers
from .test_blocklist import run
from .test_mirror import LAG, _true, synced_mirror, wait_for

VALID, REVOKED = RevocationState.VALID, RevocationState.REVOKED


@pytest.fixture(params=["memory", "redis", "redis-mirror"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryBlocklist()
    mirror = request.param == "redis-mirror"
    return RedisBlocklist(request.getfixturevalue("clean_redis"), key_prefix="test:", local_mirror=mirror)


def record(session_id: str, created: float | None = None, life: float | None = 60, **meta: str) -> SessionRecord:
    now = time.time() if created is None else created
    return SessionRecord(session_id, now, now, None if life is None else time.time() + life, **meta)


def ids(records: list[SessionRecord]) -> list[str]:
    return [item.id for item in records]


def test_protocol(store: Any) -> None:
    assert isinstance(store, SessionStore)


def test_add_list_keeps_metadata_oldest_first_per_identity(store: Any) -> None:
    async def scenario() -> tuple[Any, ...]:
        await store.add_session("alice", record("s2", created=time.time()), 10, None)
        await store.add_session("alice", record("s1", created=time.time() - 5, user_agent="ua", ip="::1"), 10, None)
        await store.add_session("bob", record("b1"), 10, None)
        return await store.list_sessions("alice"), await store.list_sessions("bob"), await store.list_sessions("eve")

    alice, bob, nobody = run(scenario, store)
    assert ids(alice) == ["s1", "s2"] and ids(bob) == ["b1"] and nobody == []
    assert (alice[0].user_agent, alice[0].ip, alice[0].label) == ("ua", "::1", None)


def test_end_session_revokes_its_family_and_only_for_its_identity(store: Any) -> None:
    async def scenario() -> tuple[Any, ...]:
        await store.add_session("alice", record("s1"), 10, None)
        await store.add_session("alice", record("s2"), 10, None)
        foreign = await store.end_session("bob", "s1", time.time() + 60)  # not bob's session
        after_foreign = await store.check("j", "alice", time.time(), "s1")
        ended = await store.end_session("alice", "s1", time.time() + 60)
        again = await store.end_session("alice", "s1", time.time() + 60)
        states = [await store.check("j", "alice", time.time(), family) for family in ("s1", "s2")]
        return foreign, after_foreign, ended, again, states, ids(await store.list_sessions("alice"))

    assert run(scenario, store) == (False, VALID, True, False, [REVOKED, VALID], ["s2"])


def test_cap_ends_the_oldest(store: Any) -> None:
    async def scenario() -> tuple[Any, ...]:
        start = time.time() - 100
        evicted = [await store.add_session("alice", record(f"s{n}", created=start + n), 3, None) for n in range(5)]
        states = [await store.check("j", "alice", time.time(), f"s{n}") for n in range(5)]
        return evicted, states, ids(await store.list_sessions("alice"))

    evicted, states, live = run(scenario, store)
    assert evicted == [[], [], [], ["s0"], ["s1"]]
    assert states == [REVOKED, REVOKED, VALID, VALID, VALID]
    assert live == ["s2", "s3", "s4"]


def test_sessions_expire_with_their_refresh_token_and_touch_extends(store: Any) -> None:
    async def scenario() -> tuple[Any, ...]:
        await store.add_session("alice", record("short", life=0.3), 10, None)
        await store.add_session("alice", record("touched", life=0.3), 10, None)
        await store.add_session("alice", record("forever", life=None), 10, None)
        used = time.time()
        touched = await store.touch_session("alice", "touched", used, time.time() + 60)
        missing = await store.touch_session("alice", "nope", used, time.time() + 60)
        await asyncio.sleep(0.5)
        live = await store.list_sessions("alice")
        # an expired session takes no place under the cap: nothing is evicted
        evicted = await store.add_session("alice", record("new"), 3, None)
        return touched, missing, live, evicted

    touched, missing, live, evicted = run(scenario, store)
    assert (touched, missing, evicted) == (True, False, [])
    assert sorted(ids(live)) == ["forever", "touched"]
    refreshed = next(item for item in live if item.id == "touched")
    assert refreshed.last_used > refreshed.created and refreshed.until is not None and refreshed.until > time.time()


def test_drop_sessions_forgets_the_list(store: Any) -> None:
    async def scenario() -> list[SessionRecord]:
        await store.add_session("alice", record("s1"), 10, None)
        await store.drop_sessions("alice")
        return await store.list_sessions("alice")

    assert run(scenario, store) == []


def test_memory_store_stays_bounded() -> None:
    store = InMemoryBlocklist()

    async def scenario() -> None:
        for n in range(200):
            await store.add_session(f"user{n % 20}", record(f"s{n}", life=0.05), 3, time.time() + 0.05)
        await asyncio.sleep(0.1)
        await store.add_session("late", record("x"), 3, None)

    asyncio.run(scenario())
    # every earlier record and every family revocation of the cap has expired and been
    # purged, also for identities never seen again: only the last login's record is left
    assert len(store) == 1


def test_redis_keys_share_the_hash_tag_and_expire(clean_redis: str) -> None:
    from redis.asyncio import from_url

    async def scenario() -> tuple[list[bytes], int]:
        store = RedisBlocklist(clean_redis, key_prefix="{app}:")
        await store.add_session("alice", record("s1", life=60), 1, time.time() + 60)
        await store.add_session("alice", record("s2", life=120), 1, time.time() + 60)
        client = from_url(clean_redis)
        keys = sorted(key for key in await client.keys("*") if not key.endswith((b"stream", b"seq")))
        ttl = await client.pttl(b"{app}:sess:alice")
        await client.aclose()
        await store.close()
        return keys, ttl

    keys, ttl = asyncio.run(scenario())
    assert keys == [b"{app}:fam:s1", b"{app}:sess:alice"]
    assert 60_000 < ttl <= 120_000  # the longest-lived record's expiry


def test_an_ended_or_evicted_session_reaches_another_hosts_mirror(clean_redis: str) -> None:
    async def scenario() -> list[float]:
        host_a = RedisBlocklist(clean_redis, local_mirror=True, mirror_max_lag=LAG)
        host_b = RedisBlocklist(clean_redis, local_mirror=True, mirror_max_lag=LAG)
        await synced_mirror(host_b)
        await host_a.add_session("alice", record("s1", created=time.time() - 10), 2, time.time() + 60)
        await host_a.add_session("alice", record("s2", created=time.time() - 5), 2, time.time() + 60)
        assert host_b.check_local("j", "alice", time.time(), "s1") is VALID
        await host_a.end_session("alice", "s1", time.time() + 60)
        ended = await wait_for(lambda: _true(host_b.check_local("j", "alice", time.time(), "s1") is REVOKED))
        await host_a.add_session("alice", record("s3"), 2, time.time() + 60)
        await host_a.add_session("alice", record("s4"), 2, time.time() + 60)  # evicts s2
        evicted = await wait_for(lambda: _true(host_b.check_local("j", "alice", time.time(), "s2") is REVOKED))
        # a host started afterwards learns both from its snapshot
        host_c = RedisBlocklist(clean_redis, local_mirror=True, mirror_max_lag=LAG)
        await synced_mirror(host_c)
        assert [host_c.check_local("j", "alice", time.time(), s) for s in ("s1", "s2", "s3")] == [
            REVOKED,
            REVOKED,
            VALID,
        ]
        for host in (host_a, host_b, host_c):
            await host.close()
        return [ended, evicted]

    assert all(delay < LAG for delay in asyncio.run(scenario()))


def test_sessions_on_a_redis_cluster(redis_binary: str, tmp_path: Path) -> None:
    data = tmp_path / "cluster"
    data.mkdir()
    servers = RedisClusterServers(redis_binary, data)
    servers.start()

    async def scenario() -> tuple[Any, ...]:
        writer = RedisBlocklist(servers.url, cluster=True)
        reader = RedisBlocklist(servers.url, cluster=True, local_mirror=True, mirror_max_lag=LAG)
        await synced_mirror(reader)
        for n in range(3):
            await writer.add_session(f"user{n}", record("a", created=time.time() - 1), 1, time.time() + 60)
            await writer.add_session(f"user{n}", record(f"b{n}"), 1, time.time() + 60)
        await writer.end_session("user0", "b0", time.time() + 60)
        await wait_for(lambda: _true(reader.check_local("j", "user0", time.time(), "b0") is REVOKED))
        listed = [ids(await writer.list_sessions(f"user{n}")) for n in range(3)]
        state = reader.check_local("j", "user1", time.time(), "b1")
        await writer.close()
        await reader.close()
        return listed, state

    try:
        listed, state = asyncio.run(scenario())
    finally:
        servers.stop()
    assert listed == [[], ["b1"], ["b2"]] and state is VALID
