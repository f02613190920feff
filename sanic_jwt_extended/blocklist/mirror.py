"""A process-local mirror of a Redis blocklist, kept current through pub/sub.

Revocations are rare and checks are constant, so each process keeps a copy and checks it
without a round trip. The copy is trusted only while its subscription is alive: the
subscription is opened before the snapshot is read (no event can fall between the two),
and health checks notice a dead connection within ``health_check_interval`` seconds, after
which checks go straight to Redis until a new subscription and snapshot are in place. So a
revocation is missed for at most the pub/sub delivery delay while connected, and at most
``health_check_interval`` (plus one read timeout) when the connection silently dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from .base import RevocationState
from .memory import InMemoryBlocklist

__all__ = ("Mirror",)

logger = logging.getLogger("sanic_jwt_extended")
_STATES = {b"revoked": RevocationState.REVOKED, b"used": RevocationState.REUSED}


def encode_event(table: str, key: str, value: Any, until: float | None) -> str:
    return json.dumps({"t": table, "k": key, "v": value, "u": until}, separators=(",", ":"))


class Mirror:
    """One event loop's copy of the blocklist and the task that keeps it in step."""

    def __init__(self, client: Any, prefix: str, channel: str, health_check_interval: float) -> None:
        self.client = client
        self.prefix = prefix
        self.channel = channel
        self.health_check_interval = health_check_interval
        self.store = InMemoryBlocklist()
        self.synced = False
        self.task: asyncio.Task[None] | None = None
        # Cancelling alone is not enough: on Python 3.11 a cancel that lands as redis-py's
        # read timeout expires is turned into that timeout (asyncio.timeout), and the loop
        # would go on. The flag ends it at the next turn whatever happened to the cancel.
        self._stopping = False

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="sanic-jwt-blocklist-mirror")

    async def stop(self) -> None:
        self.synced = False
        self._stopping = True
        if self.task is not None:
            self.task.cancel()
            # Bounded: a connection stuck mid-handshake must not hang the server's shutdown.
            await asyncio.wait({self.task}, timeout=2)
            self.task = None

    def apply(self, message: str | bytes) -> None:
        try:
            event = json.loads(message)
            table, key, value, until = event["t"], event["k"], event["v"], event["u"]
            if table == "jti":
                value = RevocationState(value)
            self.store.record(table, key, value, until)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed blocklist event")

    async def _snapshot(self) -> None:
        now = time.time()
        async for raw_key in self.client.scan_iter(match=f"{self.prefix}*", count=1000):
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            table, _, name = key[len(self.prefix) :].partition(":")
            if table not in ("jti", "id", "fam"):
                continue
            pipe = self.client.pipeline(transaction=False)
            pipe.get(key)
            pipe.pttl(key)
            value, ttl = await pipe.execute()
            if value is None:
                continue  # expired between SCAN and GET
            until = None if ttl is None or ttl < 0 else now + ttl / 1000
            if table == "jti":
                self.store.record("jti", name, _STATES.get(value, RevocationState.REVOKED), until)
            elif table == "id":
                self.store.record("id", name, float(value), until)
            else:
                self.store.record("fam", name, True, until)

    async def _run(self) -> None:
        from redis.exceptions import RedisError

        delay = 0.1
        while not self._stopping:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                # Subscribed first, snapshot second: events during the snapshot are queued.
                await self._snapshot()
                self.synced = True
                delay = 0.1
                last_seen = time.monotonic()
                while not self._stopping:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self.health_check_interval
                    )
                    now = time.monotonic()
                    if message is not None:
                        last_seen = now  # a pong counts: the link is alive
                        if message.get("type") == "message":
                            self.apply(message["data"])
                    elif now - last_seen > 2 * self.health_check_interval:
                        # A silently dead link answers nothing, not even a ping.
                        raise asyncio.TimeoutError("no pong from the subscription")
                    else:
                        await pubsub.ping()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, asyncio.TimeoutError) as error:
                if self._stopping:
                    return
                if self.synced:
                    logger.warning("blocklist mirror lost Redis (%s); checking Redis directly", type(error).__name__)
                self.synced = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), timeout=1)
