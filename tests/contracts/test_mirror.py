"""RedisBlocklist(local_mirror=True): local checks kept current by the event stream, with a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import from_url

from sanic_jwt_extended import RedisBlocklist
from sanic_jwt_extended.blocklist import RevocationState
from sanic_jwt_extended.blocklist.mirror import Mirror
from sanic_jwt_extended.exceptions import BlocklistUnavailableError

from ..redis_server import RedisServer

REVOKED, VALID = RevocationState.REVOKED, RevocationState.VALID
LAG = 0.3  # mirror_max_lag in these tests: short, so waiting out the bound stays cheap


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> float:
    """Seconds until ``condition`` holds; fails the test after ``timeout``."""
    start = time.monotonic()
    while not await condition():
        if time.monotonic() - start > timeout:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def synced_mirror(store: RedisBlocklist) -> Mirror:
    """``store``'s mirror, once it has synced."""
    mirror = store.mirror()
    assert mirror is not None
    await wait_for(lambda: _true(mirror.synced))
    return mirror


async def get_calls(url: str) -> int:
    client = from_url(url)
    stats: dict[str, Any] = await client.info("commandstats")
    await client.aclose()
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


def test_mirror_sees_revocations_from_another_process_without_round_trips(clean_redis: str) -> None:
    async def scenario() -> None:
        writer = RedisBlocklist(clean_redis, local_mirror=True)
        await writer.revoke("before-start", time.time() + 60)
        reader = RedisBlocklist(clean_redis, local_mirror=True)
        await synced_mirror(reader)
        # the snapshot brought the revocation made before the reader started
        assert await reader.check("before-start", "a", 0, None) is REVOKED
        # a revocation made elsewhere arrives through the stream, well under 100 ms
        await writer.revoke("later", time.time() + 60)
        delay = await wait_for(lambda: _is(reader.check("later", "a", 0, None), REVOKED))
        assert delay < 0.1
        await writer.revoke_identity("alice", time.time(), None)
        await writer.revoke_family("fam", time.time() + 60)
        await wait_for(lambda: _is(reader.check("x", "alice", 0, None), REVOKED))
        await wait_for(lambda: _is(reader.check("y", "bob", 0, "fam"), REVOKED))
        # a synced mirror answers without a coroutine, and agrees with check()
        assert reader.check_local("later", "a", 0, None) is REVOKED
        assert reader.check_local("x", "alice", 0, None) is REVOKED
        assert reader.check_local("z", "bob", time.time(), None) is VALID
        # synced checks never touch Redis
        before = await get_calls(clean_redis)
        for index in range(200):
            assert await reader.check(f"j{index}", "bob", time.time(), None) is VALID
        assert await get_calls(clean_redis) == before
        await writer.close()
        await reader.close()

    asyncio.run(scenario())


def test_rotation_stays_atomic_in_mirror_mode(clean_redis: str) -> None:
    async def scenario() -> list[bool]:
        first = RedisBlocklist(clean_redis, local_mirror=True)
        second = RedisBlocklist(clean_redis, local_mirror=True)
        results = await asyncio.gather(
            *(store.mark_used("refresh-1", time.time() + 60) for store in (first, second, first, second))
        )
        await wait_for(lambda: _is(second.check("refresh-1", "a", 0, None), RevocationState.REUSED))
        await first.close()
        await second.close()
        return list(results)

    assert sorted(asyncio.run(scenario())) == [False, False, False, True]


def test_mirror_survives_a_redis_sigkill_and_aof_restart(redis_binary: str, tmp_path: Path) -> None:
    server = RedisServer(redis_binary, tmp_path, persistent=True)
    server.start()

    async def scenario() -> None:
        reader = RedisBlocklist(server.url, local_mirror=True, socket_timeout=0.5, mirror_max_lag=LAG)
        writer = RedisBlocklist(server.url)  # a plain writer: it appends to the stream all the same
        mirror = await synced_mirror(reader)
        await writer.revoke("before-crash", time.time() + 60)
        await wait_for(lambda: _true(reader.check_local("before-crash", "a", 0, None) is REVOKED))
        server.stop(kill=True)
        # within the bound the mirror stops answering; Redis is down: unavailable, not "valid"
        await asyncio.sleep(LAG)
        assert reader.check_local("j", "a", 0, None) is None
        with pytest.raises(BlocklistUnavailableError):
            await reader.check("j", "a", 0, None)
        server.start()  # same port and directory: the append-only file is replayed
        await writer.revoke("after-restart", time.time() + 60)
        await wait_for(lambda: _true(mirror.synced), timeout=10)
        await asyncio.sleep(LAG)
        assert reader.check_local("before-crash", "a", 0, None) is REVOKED
        assert reader.check_local("after-restart", "a", 0, None) is REVOKED
        state = reader.mirror_state()
        assert state is not None and state.synced and state.reconnects >= 1
        await writer.close()
        await reader.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


async def _true(value: bool) -> bool:
    return value


async def _is(check: Awaitable[RevocationState], expected: RevocationState) -> bool:
    try:
        return await check is expected
    except BlocklistUnavailableError:
        return False


def test_close_stops_the_mirror_task_promptly(clean_redis: str) -> None:
    # A cancel that lands while redis-py's read timeout expires used to be swallowed on
    # Python 3.11 (the task went on, and asyncio.run then hung while cancelling it).
    async def scenario() -> list[float]:
        took = []
        for _ in range(5):
            stores = [RedisBlocklist(clean_redis, local_mirror=True) for _ in range(2)]
            await asyncio.gather(*(store.mark_used("r", time.time() + 60) for store in stores))
            reader = stores[1]
            await wait_for(lambda reader=reader: _is(reader.check("r", "a", 0, None), RevocationState.REUSED))
            for store in stores:
                start = time.monotonic()
                await store.close()
                took.append(time.monotonic() - start)
        assert not [task for task in asyncio.all_tasks() if task.get_name() == "sanic-jwt-blocklist-mirror"]
        return took

    assert max(asyncio.run(scenario())) < 1.0
