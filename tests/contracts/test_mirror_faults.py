"""The mirror under faults, with real redis-server processes: it never misses a revocation
once ``mirror_max_lag`` has passed, and never answers locally beyond it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis, from_url

from sanic_jwt_extended import RedisBlocklist
from sanic_jwt_extended.blocklist import RevocationState
from sanic_jwt_extended.exceptions import BlocklistUnavailableError

from ..redis_server import RedisServer
from .test_mirror import LAG, _true, synced_mirror, wait_for

REVOKED, REUSED, VALID = RevocationState.REVOKED, RevocationState.REUSED, RevocationState.VALID


def later() -> float:
    return time.time() + 60


def test_a_plain_writer_reaches_a_mirror_reader(clean_redis: str) -> None:
    # A fleet rolling local_mirror out one host at a time: hosts without it still publish.
    async def scenario() -> None:
        writer = RedisBlocklist(clean_redis)
        reader = RedisBlocklist(clean_redis, local_mirror=True, mirror_max_lag=LAG)
        await synced_mirror(reader)
        await writer.revoke("j", later())
        await writer.revoke_identity("alice", time.time(), None)
        await writer.revoke_family("fam", later())
        assert await writer.mark_used("r", later())
        await asyncio.sleep(LAG)
        assert reader.check_local("j", "a", 0, None) is REVOKED
        assert reader.check_local("x", "alice", 0, None) is REVOKED
        assert reader.check_local("y", "bob", 0, "fam") is REVOKED
        assert reader.check_local("r", "bob", 0, None) is REUSED
        assert reader.check_local("z", "bob", time.time(), None) is VALID
        state = reader.mirror_state()
        assert state is not None and state.synced and state.last_event_id not in (None, "0-0")
        assert writer.mirror_state() is None
        await writer.close()
        await reader.close()

    asyncio.run(scenario())


async def _kill_reader_connections(url: str, stop: asyncio.Event) -> int:
    """CLIENT KILL every connection blocked in XREAD, again and again until ``stop``."""
    admin = from_url(url)
    kills = 0
    try:
        while not stop.is_set():
            for client in await admin.client_list():
                if client.get("cmd") == "xread":
                    kills += int(await admin.execute_command("CLIENT", "KILL", "ID", client["id"]))
            await asyncio.sleep(0.01)
    finally:
        await admin.aclose()
    return kills


def test_killed_event_connection_misses_nothing(clean_redis: str) -> None:
    async def scenario() -> None:
        writer = RedisBlocklist(clean_redis)
        reader = RedisBlocklist(clean_redis, local_mirror=True, mirror_max_lag=LAG)
        mirror = await synced_mirror(reader)
        stop = asyncio.Event()
        killer = asyncio.create_task(_kill_reader_connections(clean_redis, stop))
        revoked = []
        for index in range(300):
            await writer.revoke(f"j{index}", later())
            revoked.append(f"j{index}")
            if index % 10 == 0:
                await asyncio.sleep(0.005)  # let the mirror reconnect between kills
        stop.set()
        kills = await killer
        assert kills > 0
        await wait_for(lambda: _true(mirror.synced), timeout=5)
        await asyncio.sleep(LAG)  # the documented bound
        missed = [jti for jti in revoked if reader.check_local(jti, "a", 0, None) is not REVOKED]
        assert missed == []
        state = reader.mirror_state()
        assert state is not None and state.reconnects >= 1
        await writer.close()
        await reader.close()

    asyncio.run(scenario())


class FlakyRedis(Redis):
    """A real client whose stream reads fail in ways redis-py never would, on demand."""

    failure: type[Exception] | None = None
    reads = 0

    async def xread(self, *args: Any, **kwargs: Any) -> Any:
        type(self).reads += 1
        if self.failure is not None:
            await asyncio.sleep(0.01)
            raise self.failure("injected fault")
        return await super().xread(*args, **kwargs)


def test_an_unexpected_exception_is_logged_and_the_mirror_recovers(
    clean_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        client = FlakyRedis.from_url(clean_redis)
        reader = RedisBlocklist(client=client, local_mirror=True, mirror_max_lag=LAG)
        writer = RedisBlocklist(clean_redis)
        mirror = await synced_mirror(reader)
        client.failure = KeyError
        await writer.revoke("during-fault", later())
        await wait_for(lambda: _true(not mirror.synced), timeout=LAG * 2)
        # out of step: checks go to Redis, which knows
        assert reader.check_local("during-fault", "a", 0, None) is None
        assert await reader.check("during-fault", "a", 0, None) is REVOKED
        client.failure = None
        await wait_for(lambda: _true(mirror.synced), timeout=5)
        assert reader.check_local("during-fault", "a", 0, None) is REVOKED
        assert mirror.task is not None and not mirror.task.done()
        await writer.close()
        await reader.close()
        await client.aclose()

    with caplog.at_level(logging.WARNING, logger="sanic_jwt_extended"):
        asyncio.run(scenario())
    messages = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("out of sync" in message and "KeyError" in message for message in messages)
    assert any("back in sync" in message for message in messages)


@pytest.mark.parametrize("stream_at_start", ["empty", "not empty"])
def test_a_trimmed_stream_makes_the_mirror_resnapshot(clean_redis: str, stream_at_start: str) -> None:
    async def scenario() -> None:
        client = FlakyRedis.from_url(clean_redis)
        writer = RedisBlocklist(clean_redis, stream_maxlen=100)
        if stream_at_start == "not empty":
            await writer.revoke("first", later())
        reader = RedisBlocklist(client=client, local_mirror=True, mirror_max_lag=LAG, stream_maxlen=100)
        mirror = await synced_mirror(reader)
        client.failure = ConnectionError  # the reader is away while the stream moves on
        await wait_for(lambda: _true(not mirror.synced), timeout=LAG * 2)
        for index in range(500):
            await writer.revoke(f"j{index}", later())
        client.failure = None
        await wait_for(lambda: _true(mirror.synced), timeout=5)
        missed = [index for index in range(500) if reader.check_local(f"j{index}", "a", 0, None) is not REVOKED]
        assert missed == []
        await writer.close()
        await reader.close()
        await client.aclose()

    asyncio.run(scenario())


def test_events_written_during_the_snapshot_are_not_lost(clean_redis: str) -> None:
    async def scenario() -> None:
        writer = RedisBlocklist(clean_redis)
        for index in range(3000):  # a snapshot of several SCAN pages
            await writer.revoke(f"old{index}", later())
        reader = RedisBlocklist(clean_redis, local_mirror=True, mirror_max_lag=LAG)
        mirror = reader.mirror()
        assert mirror is not None
        written = 0
        while not mirror.synced:
            await writer.revoke(f"new{written}", later())
            written += 1
        await asyncio.sleep(LAG)
        assert written > 0
        for name in [f"old{index}" for index in range(3000)] + [f"new{index}" for index in range(written)]:
            assert reader.check_local(name, "a", 0, None) is REVOKED, name
        await writer.close()
        await reader.close()

    asyncio.run(scenario())


def test_a_frozen_redis_stops_local_answers_within_the_bound(redis_binary: str, tmp_path: Path) -> None:
    server = RedisServer(redis_binary, tmp_path)
    server.start()
    assert server.process is not None
    pid = server.process.pid

    async def scenario() -> None:
        reader = RedisBlocklist(server.url, local_mirror=True, mirror_max_lag=LAG, socket_timeout=0.5)
        mirror = await synced_mirror(reader)
        os.kill(pid, signal.SIGSTOP)  # alive but silent: no error, no reply
        try:
            await asyncio.sleep(LAG)
            assert reader.check_local("j", "a", 0, None) is None
            state = reader.mirror_state()
            assert state is not None and not state.synced and state.lag is not None and state.lag >= LAG
            with pytest.raises(BlocklistUnavailableError):
                await reader.check("j", "a", 0, None)
        finally:
            os.kill(pid, signal.SIGCONT)
        await wait_for(lambda: _true(mirror.synced), timeout=5)
        await reader.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_writers_still_publish_the_message_older_mirrors_read(clean_redis: str) -> None:
    # During a rolling upgrade, mirrors of the version before the stream listen on pub/sub.
    async def scenario() -> list[dict[str, Any]]:
        listener = from_url(clean_redis)
        pubsub = listener.pubsub()
        await pubsub.subscribe("sanic-jwt:events")
        writer = RedisBlocklist(clean_redis)
        await writer.revoke("j", later())
        assert await writer.mark_used("r", later())
        await writer.revoke_identity("alice", 1000.5, None)
        await writer.revoke_family("fam", later())
        messages = []
        deadline = time.monotonic() + 5
        while len(messages) < 4 and time.monotonic() < deadline:
            # None for the subscription's own confirmation, and on a timeout
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                messages.append(json.loads(message["data"]))
        await pubsub.aclose()
        await listener.aclose()
        await writer.close()
        return messages

    messages = asyncio.run(scenario())
    assert [(m["t"], m["k"], m["v"]) for m in messages] == [
        ("jti", "j", "revoked"),
        ("jti", "r", "reused"),  # RevocationState values, as the old mirror decodes them
        ("id", "alice", 1000.5),
        ("fam", "fam", True),
    ]


def test_a_malformed_event_is_logged_and_skipped_by_a_resnapshot(
    clean_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        reader = RedisBlocklist(clean_redis, local_mirror=True, mirror_max_lag=LAG)
        writer = RedisBlocklist(clean_redis)
        await synced_mirror(reader)
        admin = from_url(clean_redis)
        seq = await admin.incr("sanic-jwt:seq")
        await admin.xadd("sanic-jwt:stream", {"s": seq, "t": "id", "k": "x", "v": "not a number", "u": ""})
        await admin.aclose()
        await writer.revoke("after", later())
        await wait_for(lambda: _true(reader.check_local("after", "a", 0, None) is REVOKED), timeout=5)
        await writer.close()
        await reader.close()

    with caplog.at_level(logging.WARNING, logger="sanic_jwt_extended"):
        asyncio.run(scenario())
    assert "unreadable event" in caplog.text
