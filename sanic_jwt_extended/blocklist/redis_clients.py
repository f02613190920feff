"""``RedisClients``: the Redis connections of one ``RedisBlocklist``.

A ``client=`` is used as it is, for everything. A ``url=`` gets clients per event loop,
because a ``redis.asyncio`` connection belongs to the loop that opened it (tests and some
servers run several loops): one for commands, with one silent retry, and one for the
mirror, without.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any

from ..exceptions import ConfigurationError

__all__ = ("RedisClients",)


class RedisClients:
    """Opens and closes the clients of one store; fails at construction without ``redis``."""

    def __init__(self, url: str | None, client: Any | None, *, cluster: bool, timeout: float) -> None:
        try:
            import redis.asyncio  # noqa: F401 - fail at startup, not on the first request
            from redis.asyncio.cluster import RedisCluster
        except ImportError as error:
            raise ConfigurationError(
                "blocklist: RedisBlocklist needs the redis package: pip install 'sanic-jwt-extended[redis]'."
            ) from error
        self._url = url
        self._client = client
        self.cluster = cluster or isinstance(client, RedisCluster)
        self._timeout = timeout
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._mirror_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def commands(self) -> Any:
        """The client for the running event loop."""
        if self._client is not None:
            return self._client
        loop = asyncio.get_running_loop()
        client = self._per_loop.get(loop)
        if client is None:
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
            from redis.exceptions import ConnectionError as RedisConnectionError

            # One immediate retry: after a Redis restart the pooled connections are dead, and
            # the first command on each would otherwise fail although Redis is back.
            client = self._connect(retry=Retry(NoBackoff(), 1), retry_on_error=[RedisConnectionError])
            self._per_loop[loop] = client
        return client

    async def eval_replicated(
        self, script: str, keys: Sequence[str], args: Sequence[str], replicas: int, timeout_ms: int
    ) -> tuple[Any, int]:
        """Run ``script``, then WAIT for ``replicas``: its reply, and how many replicas
        acknowledged it within ``timeout_ms``.

        WAIT counts the writes made on the connection it arrives on, so both go in one
        pipeline (one connection). On a cluster both go to the node of the first key, with
        redirections refused: a write redirected to another node would be "confirmed" by a
        connection that never made it, so a redirection fails (the next write finds the
        new owner).
        """
        client = self.commands()
        pipe = client.pipeline(transaction=False)
        pipe.eval(script, len(keys), *keys, *args)
        if not self.cluster:
            pipe.execute_command("WAIT", replicas, timeout_ms)
            reply, acknowledged = await pipe.execute()
            return reply, int(acknowledged)
        await client.initialize()  # the slot table, for the node of the key (a no-op once known)
        pipe.execute_command("WAIT", replicas, timeout_ms, target_nodes=client.get_node_from_key(keys[0]))
        reply, acknowledged = await pipe.execute(allow_redirections=False)
        return reply, int(acknowledged)

    def mirror(self) -> Any:
        """The mirror's own connection (URL form): no silent retries, so every drop is seen
        and counted; resuming is the mirror's job, by stream ID."""
        if self._client is not None:
            return self._client
        loop = asyncio.get_running_loop()
        client = self._mirror_clients.get(loop)
        if client is None:
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            client = self._connect(retry=Retry(NoBackoff(), 0))
            self._mirror_clients[loop] = client
        return client

    def _connect(self, **options: Any) -> Any:
        timeouts = {"socket_timeout": self._timeout, "socket_connect_timeout": self._timeout}
        if self.cluster:
            from redis.asyncio.cluster import RedisCluster

            return RedisCluster.from_url(str(self._url), **timeouts, **options)
        from redis.asyncio import from_url

        return from_url(str(self._url), **timeouts, **options)

    async def close(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the clients opened for ``loop`` (never a ``client=`` one)."""
        for clients in (self._mirror_clients, self._per_loop):
            client = clients.pop(loop, None)
            if client is not None:
                await client.aclose()
