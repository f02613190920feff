"""A process-local mirror of a Redis blocklist, kept current by reading the store's event stream.

Revocations are rare and checks are constant, so each process keeps a copy and checks it
without a round trip. Every write to a ``RedisBlocklist`` (whatever its mode) appends an
event to one Redis stream in the same Lua script as the write itself, so no write can
exist without its event. The mirror:

- reads the stream's last entry *before* it snapshots the keys, then replays the stream
  from that entry: an event written during the snapshot is applied twice at worst, and
  every write is idempotent (cutoffs only grow);
- follows the stream with ``XREAD BLOCK`` from the last ID it applied, so after any
  disconnect it resumes exactly where it stopped;
- numbers events (``s``, a counter bumped in the same script): a hole in the numbers means
  events were trimmed away (or Redis lost them), and the mirror re-snapshots;
- trusts itself only for ``max_lag`` seconds after the last read that came back complete.
  A read sent at ``t`` returns every event committed before ``t``, so "fresh" means no
  event older than ``max_lag`` can be missing. The blocking read times out well inside
  ``max_lag``, so an idle stream still proves the link alive.

Any exception in the task is logged, the mirror stops answering, and it retries with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from .base import RevocationState
from .memory import InMemoryBlocklist

__all__ = ("Mirror", "MirrorState")

logger = logging.getLogger("sanic_jwt_extended")
_STATES = {"revoked": RevocationState.REVOKED, "used": RevocationState.REUSED}
_POSITION = """
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
return {redis.call('GET', KEYS[1]) or '0', last[1] and last[1][1] or '0-0'}
"""
_BATCH = 1000  # entries per XREAD and keys per snapshot round trip
_MIN_DELAY, _MAX_DELAY = 0.05, 2.0  # retry backoff, seconds


def encode_event(table: str, key: str, value: Any, until: float | None) -> str:
    """The pub/sub message mirrors of versions before the stream listen for (rolling upgrades)."""
    return json.dumps({"t": table, "k": key, "v": value, "u": until}, separators=(",", ":"))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class MirrorState:
    """What one event loop's mirror knows about itself (``RedisBlocklist.mirror_state()``).

    ``lag``: seconds since the mirror last heard from Redis (``None`` before the first
    read). ``reconnects``: how many errors the task has met, each followed by a new attempt
    (resuming from ``last_event_id`` when it can).
    """

    synced: bool
    lag: float | None
    last_event_id: str | None
    reconnects: int


class _Gap(Exception):
    """Events between the last applied one and the next one are gone (trimmed or lost)."""


class Mirror:
    """One event loop's copy of the blocklist and the task that keeps it in step."""

    def __init__(self, client: Any, prefix: str, stream: str, seq: str, max_lag: float, block: float) -> None:
        self.client = client
        self.prefix = prefix
        self.stream = stream
        self.seq_key = seq
        self.max_lag = max_lag
        self.block_ms = max(1, int(block * 1000))
        self.store = InMemoryBlocklist()
        # A time.monotonic() deadline: the hot path compares against it and nothing else.
        self.fresh_until = 0.0
        self.heard: float | None = None
        self.last_id: str | None = None
        self.seq = 0  # the number of the last event applied; the next must be seq + 1
        self.reconnects = 0
        self.task: asyncio.Task[None] | None = None
        # Cancelling alone is not enough: on Python 3.11 a cancel that lands as redis-py's
        # read timeout expires is turned into that timeout (asyncio.timeout), and the loop
        # would go on. The flag ends it at the next turn whatever happened to the cancel.
        self._stopping = False
        self._resume = False  # after an error: check the stream is still the one we followed

    @property
    def synced(self) -> bool:
        return time.monotonic() < self.fresh_until

    def state(self) -> MirrorState:
        lag = None if self.heard is None else max(0.0, time.monotonic() - self.heard)
        return MirrorState(self.synced, lag, self.last_id, self.reconnects)

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="sanic-jwt-blocklist-mirror")

    async def stop(self) -> None:
        self.fresh_until = 0.0
        self._stopping = True
        if self.task is not None:
            self.task.cancel()
            # Bounded: a connection stuck mid-handshake must not hang the server's shutdown.
            await asyncio.wait({self.task}, timeout=2)
            self.task = None

    # -- the task ---------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = _MIN_DELAY
        failing: str | None = None  # the reason of the current run of failures, logged once
        while not self._stopping:
            try:
                if self.last_id is None:
                    await self._resync()
                elif self._resume:
                    await self._check_position()
                self._resume = False
                async for _ in self._follow():
                    delay = _MIN_DELAY
                    if failing is not None:
                        logger.warning("blocklist mirror back in sync at event %s", self.last_id)
                        failing = None
            except asyncio.CancelledError:
                raise
            except _Gap as gap:
                self.fresh_until = 0.0
                self.last_id = None
                failing = "gap"
                logger.warning("blocklist mirror: %s; re-reading the blocklist, checking Redis directly meanwhile", gap)
                # Briefly: a stream trimmed faster than a snapshot must not become a busy loop.
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY)
            except Exception as error:  # the task must outlive anything
                if self._stopping:
                    return
                self.fresh_until = 0.0
                self._resume = True
                self.reconnects += 1
                reason = f"{type(error).__name__}: {str(error)[:200]}"
                # The reason only: no token ever reaches this task, and redis-py's messages
                # name the address, never a password. Logged once per reason, not per retry.
                log = logger.debug if reason == failing else logger.warning
                log("blocklist mirror out of sync (%s); checking Redis directly, retrying with backoff", reason)
                failing = reason
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY)

    async def _resync(self) -> None:
        """Snapshot every key, then follow the stream from the entry that was last before it."""
        # One script: the counter and the stream's last entry as of the same instant (both
        # keys share a slot on a cluster). An empty stream resumes from 0-0, and the counter
        # still tells whether its first entry is the next event or a later one.
        seq, position = await self.client.eval(_POSITION, 2, self.seq_key, self.stream)
        seq, position = int(_text(seq)), _text(position)
        await self._snapshot()
        self.last_id, self.seq = position, seq

    async def _check_position(self) -> None:
        """After an error, resume only if our last entry is still there (nothing was trimmed
        past it, and this is the same stream, not an emptied Redis refilling it)."""
        position = str(self.last_id)
        if position == "0-0":
            return  # nothing read yet: reading from the start, the numbers tell any gap
        entries = await self.client.xrange(self.stream, min=position, max=position)
        if not entries or int(_text(_field(entries[0][1], "s"))) != self.seq:
            raise _Gap(f"the stream no longer holds event {position}")

    async def _follow(self) -> Any:
        """Read the stream for ever; yields after each read that left nothing pending."""
        while not self._stopping:
            sent = time.monotonic()
            reply = await self.client.xread({self.stream: self.last_id}, count=_BATCH, block=self.block_ms)
            entries = _entries(reply)
            for entry_id, fields in entries:
                self._apply(_text(entry_id), fields)
            if len(entries) < _BATCH:
                # Every event committed before `sent` has now been applied.
                self.heard = sent
                self.fresh_until = sent + self.max_lag
                yield

    def _apply(self, entry_id: str, fields: Any) -> None:
        try:
            seq = int(_text(_field(fields, "s")))
            table, key = _text(_field(fields, "t")), _text(_field(fields, "k"))
            raw, until_ms = _text(_field(fields, "v")), _text(_field(fields, "u"))
            until = float(until_ms) / 1000 if until_ms else None
        except (KeyError, ValueError) as error:
            # Re-reading the keys still learns what this event wrote, and moves past it.
            raise _Gap(f"unreadable event {entry_id}") from error
        if seq != self.seq + 1:
            raise _Gap(f"events {self.seq + 1}..{seq - 1} are no longer in the stream")
        try:
            self.record(table, key, raw, until)
        except ValueError as error:
            raise _Gap(f"unreadable event {entry_id}") from error
        self.last_id, self.seq = entry_id, seq

    def record(self, table: str, name: str, raw: str, until: float | None) -> None:
        """Store one entry as Redis holds it (``raw`` is the key's value)."""
        if table == "jti":
            self.store.record("jti", name, _STATES.get(raw, RevocationState.REVOKED), until)
        elif table == "id":
            self.store.record("id", name, float(raw), until)
        elif table == "fam":
            self.store.record("fam", name, True, until)

    async def _snapshot(self) -> None:
        batch: list[str] = []
        async for raw_key in self.client.scan_iter(match=_glob_escape(self.prefix) + "*", count=_BATCH):
            batch.append(_text(raw_key))
            if len(batch) >= _BATCH:
                await self._load(batch)
                batch = []
        if batch:
            await self._load(batch)

    async def _load(self, keys: list[str]) -> None:
        wanted = [key for key in keys if key[len(self.prefix) :].partition(":")[0] in ("jti", "id", "fam")]
        if not wanted:
            return
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        for key in wanted:
            pipe.get(key)
            pipe.pttl(key)
        values = await pipe.execute()
        for index, key in enumerate(wanted):
            value, ttl = values[2 * index], values[2 * index + 1]
            if value is None:
                continue  # expired between SCAN and GET
            table, _, name = key[len(self.prefix) :].partition(":")
            until = None if ttl is None or ttl < 0 else now + ttl / 1000
            self.record(table, name, _text(value), until)


def _field(fields: Any, name: str) -> Any:
    value = fields.get(name.encode())
    return fields[name] if value is None else value


def _entries(reply: Any) -> list[Any]:
    """The entries of a one-stream XREAD reply, RESP2 (a list) or RESP3 (a dict)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (entries,) = reply.values()
        # redis-py nests RESP3 entries one list deeper in some versions
        if entries and isinstance(entries[0], list) and entries[0] and isinstance(entries[0][0], (list, tuple)):
            entries = entries[0]
        return list(entries)
    return list(reply[0][1])


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
