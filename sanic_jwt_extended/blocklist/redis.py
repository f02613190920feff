"""Revocation shared through Redis (``redis.asyncio``), for several workers and hosts.

Keys carry a TTL equal to the remaining life of what they revoke, so Redis forgets an
entry exactly when it stops mattering. A check is one pipelined round trip.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import TYPE_CHECKING, Any

from ..exceptions import BlocklistUnavailableError, ConfigurationError
from .base import RevocationState
from .mirror import Mirror, encode_event

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ("RedisBlocklist",)

# Keep the larger cutoff: hosts may call revoke_all in any order.
_MAX_CUTOFF = """
local current = redis.call('GET', KEYS[1])
if (not current) or tonumber(current) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
return 1
"""


class RedisBlocklist:
    """A ``Blocklist`` in Redis. Give it ``url=`` (a client per event loop is made for you)
    or a ready ``client=`` (``redis.asyncio.Redis`` or ``RedisCluster``)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | Any | None = None,
        key_prefix: str = "sanic-jwt:",
        socket_timeout: float = 2.0,
        local_mirror: bool = False,
        health_check_interval: float = 1.0,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("blocklist: RedisBlocklist needs exactly one of url= or client=.")
        try:
            import redis.asyncio  # noqa: F401 - fail at startup, not on the first request
        except ImportError as error:
            raise ConfigurationError(
                "blocklist: RedisBlocklist needs the redis package: pip install 'sanic-jwt-extended[redis]'."
            ) from error
        self._url = url
        self._client = client
        self._prefix = key_prefix
        self._timeout = socket_timeout
        # A redis.asyncio connection belongs to the loop that opened it; tests and some
        # servers run several loops, so a URL gets one client per loop.
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self.local_mirror = local_mirror
        self._health_check_interval = health_check_interval
        self._channel = f"{key_prefix}events"
        self._mirrors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Mirror] = weakref.WeakKeyDictionary()
        self._last: tuple[asyncio.AbstractEventLoop | None, Mirror | None] = (None, None)

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
            mirror = Mirror(self.client(), self._prefix, self._channel, self._health_check_interval)
            self._mirrors[loop] = mirror
            mirror.start()
        self._last = (loop, mirror)
        return mirror

    async def _published(self, table: str, key: str, value: Any, until: float | None) -> None:
        """After a write: tell every mirror, and update ours at once."""
        mirror = self.mirror()
        if mirror is None:
            return
        mirror.store.record(table, key, value, until)
        event = encode_event(table, key, value.value if isinstance(value, RevocationState) else value, until)
        await self._run(self.client().publish(self._channel, event))

    def client(self) -> Any:
        """The Redis client for the running event loop."""
        if self._client is not None:
            return self._client
        loop = asyncio.get_running_loop()
        client = self._per_loop.get(loop)
        if client is None:
            from redis.asyncio import from_url
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
            from redis.exceptions import ConnectionError as RedisConnectionError

            # One immediate retry: after a Redis restart the pooled connections are dead, and
            # the first command on each would otherwise fail although Redis is back.
            client = from_url(
                str(self._url),
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[RedisConnectionError],
            )
            self._per_loop[loop] = client
        return client

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    @staticmethod
    def _expiry(until: float | None) -> dict[str, int]:
        return {} if until is None else {"pxat": int(until * 1000)}

    async def _run(self, operation: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return await operation
        except (RedisError, OSError, asyncio.TimeoutError) as error:
            raise BlocklistUnavailableError() from error

    async def revoke(self, jti: str, until: float | None) -> None:
        if until is not None and until <= time.time():
            return  # the token is already dead
        await self._run(self.client().set(self._key("jti", jti), b"revoked", **self._expiry(until)))
        await self._published("jti", jti, RevocationState.REVOKED, until)

    async def revoke_identity(self, identity: str, issued_before: float, until: float | None) -> None:
        expire = "" if until is None else str(int(until * 1000))
        script = self.client().eval(_MAX_CUTOFF, 1, self._key("id", identity), repr(issued_before), expire)
        await self._run(script)
        await self._published("id", identity, issued_before, until)

    async def revoke_family(self, family: str, until: float | None) -> None:
        await self._run(self.client().set(self._key("fam", family), b"1", **self._expiry(until)))
        await self._published("fam", family, True, until)

    async def mark_used(self, jti: str, until: float | None) -> bool:
        # SET NX: of two concurrent rotations of one refresh token, exactly one sets the key.
        done = await self._run(self.client().set(self._key("jti", jti), b"used", nx=True, **self._expiry(until)))
        if done:
            await self._published("jti", jti, RevocationState.REUSED, until)
        return bool(done)

    def check_local(self, jti: str, identity: str, issued_at: float, family: str | None) -> RevocationState | None:
        """The synced mirror's answer, or ``None`` when only Redis can tell (direct mode, or
        a mirror that is not in sync)."""
        mirror = self.mirror()
        if mirror is not None and mirror.synced:
            return mirror.store.check_local(jti, identity, issued_at, family)
        return None

    async def check(self, jti: str, identity: str, issued_at: float, family: str | None) -> RevocationState:
        mirror = self.mirror()
        if mirror is not None and mirror.synced:
            return await mirror.store.check(jti, identity, issued_at, family)

        async def fetch() -> list[Any]:
            pipe = self.client().pipeline(transaction=False)
            pipe.get(self._key("jti", jti))
            pipe.get(self._key("id", identity))
            if family is not None:
                pipe.get(self._key("fam", family))
            return await pipe.execute()  # type: ignore[no-any-return]

        values = await self._run(fetch())
        state = values[0]
        if state == b"used":
            return RevocationState.REUSED
        if state is not None:
            return RevocationState.REVOKED
        if family is not None and values[2] is not None:
            return RevocationState.REVOKED
        if values[1] is not None and issued_at <= float(values[1]):
            return RevocationState.REVOKED
        return RevocationState.VALID

    async def close(self) -> None:
        """Close the client this store opened for the running loop (never a ``client=`` one).

        The manager calls this when the server stops.
        """
        loop = asyncio.get_running_loop()
        mirror = self._mirrors.pop(loop, None)
        if self._last[0] is loop:
            self._last = (None, None)
        if mirror is not None:
            await mirror.stop()
        client = self._per_loop.pop(loop, None)
        if client is not None:
            await client.aclose()
