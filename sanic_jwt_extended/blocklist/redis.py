"""Revocation shared through Redis (``redis.asyncio``), for several workers and hosts.

Keys carry a TTL equal to the remaining life of what they revoke, so Redis forgets an
entry exactly when it stops mattering. A check is one pipelined round trip.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
import weakref
from typing import TYPE_CHECKING, Any

from ..exceptions import BlocklistUnavailableError, ConfigurationError
from .base import RevocationState
from .mirror import Mirror, MirrorState, encode_event
from .redis_clients import RedisClients
from .redis_sessions import RedisSessions

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ("RedisBlocklist",)

logger = logging.getLogger("sanic_jwt_extended")
_SHORT_OF_REPLICAS = "blocklist: a revocation reached %d of %d replicas within %d ms; answering 503"

# Every write runs as one script with its event: the key, then XADD to the stream (and the
# pub/sub message older mirrors listen for). A write can never exist without its event.
# KEYS: the entry, the stream, the event counter. ARGV: value, PXAT ms or '', table, name,
# stream MAXLEN, pub/sub channel, pub/sub message.
_EVENT = """
local seq = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 's', seq, 't', ARGV[3], 'k', ARGV[4], 'v', value, 'u', ARGV[2])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
"""

# ARGV[8]: 'nx' to write only a new key (refresh-token use: exactly one of two rotations wins).
_SET = (
    """
local value = ARGV[1]
local command = {'SET', KEYS[1], value}
if ARGV[2] ~= '' then table.insert(command, 'PXAT'); table.insert(command, ARGV[2]) end
if ARGV[8] == 'nx' then table.insert(command, 'NX') end
if not redis.call(unpack(command)) then return 0 end
"""
    + _EVENT
)

# Keep the larger cutoff: hosts may call revoke_all in any order.
_MAX_CUTOFF = (
    """
local value = ARGV[1]
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(value) then
  value = current
else
  redis.call('SET', KEYS[1], value)
end
if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
"""
    + _EVENT
)


class RedisBlocklist(RedisSessions):
    """A ``Blocklist`` in Redis. Give it ``url=`` (a client per event loop is made for you;
    ``cluster=True`` for a Redis Cluster) or a ready ``client=`` (``redis.asyncio.Redis``
    or ``redis.asyncio.cluster.RedisCluster``).

    ``local_mirror=True`` keeps a copy in each process, trusted for at most
    ``mirror_max_lag`` seconds after it last heard from Redis. Every write, in either mode,
    appends to an event stream capped near ``stream_maxlen`` entries. ``min_replicas=N``:
    a revocation counts as done only once N replicas acknowledged it (else 503), so a
    failover to a replica cannot lose it.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | Any | None = None,
        key_prefix: str = "sanic-jwt:",
        socket_timeout: float = 2.0,
        local_mirror: bool = False,
        mirror_max_lag: float | None = None,
        stream_maxlen: int = 100_000,
        cluster: bool = False,
        min_replicas: int = 0,
        health_check_interval: float | None = None,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("blocklist: RedisBlocklist needs exactly one of url= or client=.")
        self.local_mirror = local_mirror
        self.mirror_max_lag = _mirror_max_lag(mirror_max_lag, health_check_interval)
        if not isinstance(stream_maxlen, int) or stream_maxlen < 100:
            raise ConfigurationError("blocklist: RedisBlocklist(stream_maxlen=) must be an integer of at least 100.")
        if cluster and client is not None:
            raise ConfigurationError("blocklist: cluster=True goes with url=; a client= is used as it is.")
        if not isinstance(min_replicas, int) or isinstance(min_replicas, bool) or min_replicas < 0:
            raise ConfigurationError(
                "blocklist: RedisBlocklist(min_replicas=) must be a whole number of replicas (0: none)."
            )
        self.min_replicas = min_replicas
        self._clients = RedisClients(url, client, cluster=cluster, timeout=socket_timeout)
        # On a cluster every key shares the hash tag {prefix}: one slot, so a write and its
        # event stay one atomic script, and a check one round trip.
        cluster = self._clients.cluster
        self._prefix = key_prefix if not cluster or _has_hash_tag(key_prefix) else "{" + key_prefix + "}"
        self._timeout = socket_timeout
        self._maxlen = str(stream_maxlen)
        self._channel = f"{key_prefix}events"
        self._stream = f"{self._prefix}stream"
        self._seq = f"{self._prefix}seq"
        self._mirrors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Mirror] = weakref.WeakKeyDictionary()
        self._last: tuple[asyncio.AbstractEventLoop | None, Mirror | None] = (None, None)

    _EVENT_SCRIPT = _EVENT  # ending a session writes its event as every other write does

    def __repr__(self) -> str:
        # The URL may hold a password: never print it.
        return f"RedisBlocklist(key_prefix={self._prefix!r}, local_mirror={self.local_mirror})"

    def mirror(self) -> Mirror | None:
        """The running loop's mirror (started on first use), or ``None`` in direct mode."""
        if not self.local_mirror:
            return None
        loop = asyncio.get_running_loop()
        if loop is self._last[0]:
            return self._last[1]  # the usual case: one loop per worker, no weakref lookup
        mirror = self._mirrors.get(loop)
        if mirror is None:
            # The blocking read times out well inside the lag (an idle stream must still
            # prove the link alive) and inside the socket timeout.
            block = min(self.mirror_max_lag / 4, self._timeout / 2)
            mirror = Mirror(self._clients.mirror(), self._prefix, self._stream, self._seq, self.mirror_max_lag, block)
            self._mirrors[loop] = mirror
            mirror.start()
        self._last = (loop, mirror)
        return mirror

    def mirror_state(self) -> MirrorState | None:
        """The running loop's mirror state (synced, lag, last event ID, reconnects), or
        ``None`` in direct mode."""
        mirror = self.mirror()
        return None if mirror is None else mirror.state()

    async def _write(
        self, script: str, table: str, name: str, value: str, until: float | None, *, nx: bool = False
    ) -> Any:
        expire = "" if until is None else str(int(until * 1000))
        legacy = encode_event(table, name, _legacy_value(table, value), until)
        keys = (self._key(table, name), self._stream, self._seq)
        args = (value, expire, table, name, self._maxlen, self._channel, legacy, "nx" if nx else "")
        return await self._eval(script, keys, args)

    async def _eval(self, script: str, keys: tuple[str, ...], args: tuple[str, ...]) -> Any:
        """A revoking write; with ``min_replicas``, done only once that many replicas hold it
        (WAIT, up to half the socket timeout), else 503: a failover to a replica that missed
        it would silently un-revoke the token (Redis replicates asynchronously)."""
        if not self.min_replicas:
            return await self._run(self.client().eval(script, len(keys), *keys, *args))
        wait_ms = max(1, int(self._timeout * 500))
        reply, acknowledged = await self._run(
            self._clients.eval_replicated(script, keys, args, self.min_replicas, wait_ms)
        )
        if acknowledged < self.min_replicas:
            logger.warning(_SHORT_OF_REPLICAS, acknowledged, self.min_replicas, wait_ms)
            raise BlocklistUnavailableError()
        return reply

    def _published(self, table: str, name: str, value: str, until: float | None) -> None:
        """After a write: our own mirror learns it at once (the stream brings it back later)."""
        mirror = self.mirror()
        if mirror is not None:
            mirror.record(table, name, value, until)

    def client(self) -> Any:
        """The Redis client for the running event loop."""
        return self._clients.commands()

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    async def _run(self, operation: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return await operation
        except (RedisError, OSError, asyncio.TimeoutError) as error:
            raise BlocklistUnavailableError() from error
        except Exception as error:
            # A client library's internal error (a cluster slot table mid-failover, say) is
            # still "the store did not answer": fail closed with 503, never a 500.
            logger.warning("blocklist: unexpected %s from the Redis client; answering 503", type(error).__name__)
            raise BlocklistUnavailableError() from error

    async def revoke(self, jti: str, until: float | None) -> None:
        if until is not None and until <= time.time():
            return  # the token is already dead
        await self._write(_SET, "jti", jti, "revoked", until)
        self._published("jti", jti, "revoked", until)

    async def revoke_identity(self, identity: str, issued_before: float, until: float | None) -> None:
        cutoff = repr(float(issued_before))
        await self._write(_MAX_CUTOFF, "id", identity, cutoff, until)
        self._published("id", identity, cutoff, until)

    async def revoke_family(self, family: str, until: float | None) -> None:
        await self._write(_SET, "fam", family, "1", until)
        self._published("fam", family, "1", until)

    async def mark_used(self, jti: str, until: float | None) -> bool:
        # SET NX in the script: of two concurrent rotations of one refresh token, exactly one wins.
        done = await self._write(_SET, "jti", jti, "used", until, nx=True)
        if done:
            self._published("jti", jti, "used", until)
        return bool(done)

    def check_local(self, jti: str, identity: str, issued_at: float, family: str | None) -> RevocationState | None:
        """The fresh mirror's answer, or ``None`` when only Redis can tell (direct mode, or a
        mirror that has not heard from Redis within ``mirror_max_lag``)."""
        mirror = self.mirror()
        if mirror is not None and time.monotonic() < mirror.fresh_until:
            return mirror.store.check_local(jti, identity, issued_at, family)
        return None

    async def check(self, jti: str, identity: str, issued_at: float, family: str | None) -> RevocationState:
        mirror = self.mirror()
        if mirror is not None and time.monotonic() < mirror.fresh_until:
            return mirror.store.check_local(jti, identity, issued_at, family)

        async def fetch() -> list[Any]:
            pipe = self.client().pipeline(transaction=False)
            pipe.get(self._key("jti", jti))
            pipe.get(self._key("id", identity))
            if family is not None:
                pipe.get(self._key("fam", family))
            return await pipe.execute()  # type: ignore[no-any-return]

        values = await self._run(fetch())
        state = values[0]
        if state == b"used" or state == "used":
            return RevocationState.REUSED
        if state is not None:
            return RevocationState.REVOKED
        if family is not None and values[2] is not None:
            return RevocationState.REVOKED
        if values[1] is not None and issued_at < float(values[1]):
            return RevocationState.REVOKED
        return RevocationState.VALID

    async def close(self) -> None:
        """Close the clients this store opened for the running loop (never a ``client=`` one).

        The manager calls this when the server stops.
        """
        loop = asyncio.get_running_loop()
        mirror = self._mirrors.pop(loop, None)
        if self._last[0] is loop:
            self._last = (None, None)
        if mirror is not None:
            await mirror.stop()
        await self._clients.close(loop)


def _mirror_max_lag(mirror_max_lag: float | None, health_check_interval: float | None) -> float:
    if health_check_interval is not None:
        warnings.warn(
            "RedisBlocklist(health_check_interval=) is replaced by mirror_max_lag=, the staleness bound",
            DeprecationWarning,
            stacklevel=3,  # the caller of RedisBlocklist(...)
        )
        if mirror_max_lag is None:
            # The old mirror noticed a dead link within about twice the interval.
            mirror_max_lag = min(1.0, 2 * health_check_interval)
    if mirror_max_lag is None:
        mirror_max_lag = 1.0
    if not mirror_max_lag > 0:
        raise ConfigurationError("blocklist: RedisBlocklist(mirror_max_lag=) must be a positive number of seconds.")
    return float(mirror_max_lag)


def _has_hash_tag(prefix: str) -> bool:
    start = prefix.find("{")
    return start != -1 and prefix.find("}", start + 2) != -1


def _legacy_value(table: str, value: str) -> Any:
    """The value as mirrors before the stream decoded it (a RevocationState value for jtis)."""
    if table == "id":
        return float(value)
    if table == "fam":
        return True
    return RevocationState.REUSED.value if value == "used" else RevocationState.REVOKED.value
