"""Resource-server mode: verification keys fetched from a JWK Set URL.

The download and the parsing run in worker threads, never on the event loop. One deadline
(``jwks_timeout``) bounds the whole fetch, however slowly the server sends: past it the
socket is shut and a request still waiting gets 503. The document is capped in size
(``jwks_max_bytes``) and key count (``jwks_max_keys``); a document that breaks a cap, or
cannot be read, is refused whole and the previous keys stay in use. An unknown kid triggers
at most one refetch per ``jwks_refetch_interval``, so a flood of made-up kids cannot turn
the app into a request amplifier against the key server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .exceptions import DecodeError, KeySetUnavailableError, UnknownKeyError
from .jwks_download import Download, Refused, parse_document
from .keys import KeySet, VerificationKey, thumbprint

__all__ = ("RemoteKeys",)

logger = logging.getLogger("sanic_jwt_extended")


def _retrieve(task: asyncio.Task[bool]) -> None:
    # Waiters that gave up first never read the fetch's 503: read it here, so asyncio does
    # not log "exception was never retrieved".
    if not task.cancelled():
        task.exception()


def _material(keys: Mapping[str, VerificationKey]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """What a verdict depends on, per kid: the key's RFC 7638 thumbprint and its algorithms."""
    return {
        kid: (thumbprint(key.public_jwk) if key.public_jwk is not None else "", tuple(key.algorithms))
        for kid, key in keys.items()
    }


class RemoteKeys:
    """The cached remote JWK Set first, then local keys; a ``KeySelector`` for the codec."""

    def __init__(
        self,
        url: str,
        local: KeySet,
        decode_algorithms: Sequence[str],
        *,
        refetch_interval: float,
        cache_seconds: float,
        timeout: float = 5.0,
        max_bytes: int = 512 * 1024,
        max_keys: int = 100,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.local = local
        self.decode_algorithms = tuple(decode_algorithms)
        self.refetch_interval = refetch_interval
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_keys = max_keys
        self.keys: dict[str, VerificationKey] = {}
        self.fetched_at = float("-inf")  # last attempt, successful or not
        self.refetched_at = float("-inf")  # last attempt caused by an unknown kid
        self.fetches = 0
        self._material: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._task: asyncio.Task[bool] | None = None
        self._on_change = on_change

    def select(self, kid: Any) -> VerificationKey:
        if kid is not None and not isinstance(kid, str):
            raise DecodeError("The 'kid' header must be a string")
        if kid is not None and kid in self.keys:
            return self.keys[kid]
        return self.local.select(kid)

    @property
    def stale(self) -> bool:
        return time.monotonic() - self.fetched_at > self.cache_seconds

    async def refresh(self, *, unknown_kid: bool = False) -> bool:
        """Fetch the JWK Set again; ``False`` if rate limited or the fetch failed.

        Every caller shares the one fetch in flight and waits for it at most ``timeout``
        seconds. A caller that gives up, or whose fetch ran out of time, gets
        ``KeySetUnavailableError`` (503): it waited on a refresh as long as allowed.
        """
        loop = asyncio.get_running_loop()
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            now = time.monotonic()
            if unknown_kid:
                if now - self.refetched_at < self.refetch_interval:
                    return False
                self.refetched_at = now
            elif now - self.fetched_at <= self.cache_seconds:
                return True  # another request refreshed it a moment ago
            self.fetched_at = now
            self.fetches += 1
            task = self._task = loop.create_task(self._fetch())
            task.add_done_callback(_retrieve)
        try:
            # shield: a request giving up must not cancel the fetch others wait on.
            return await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except asyncio.TimeoutError:
            raise KeySetUnavailableError() from None

    async def _fetch(self) -> bool:
        download = Download(self.url, self.timeout, self.max_bytes)
        try:
            try:
                body = await asyncio.wait_for(asyncio.to_thread(download.run), self.timeout)
            finally:
                # Past the deadline, or cancelled by a loop shutting down: the worker thread
                # must not outlive us (asyncio.run waits for it).
                download.abort()
            keys = await asyncio.to_thread(parse_document, body, self.decode_algorithms, self.max_keys)
        except asyncio.TimeoutError:
            logger.warning(
                "fetching the JWK Set took longer than jwks_timeout=%ss; keeping %d cached keys",
                self.timeout,
                len(self.keys),
            )
            # Every request waiting on this fetch waited as long as allowed: 503 for all,
            # whichever of the two deadlines fired first.
            raise KeySetUnavailableError() from None
        except Refused as error:
            logger.error("JWK Set refused: %s; keeping %d cached keys", error, len(self.keys))
            return False
        # Whatever the network layer raises (URLError, HTTPException, ssl errors...): a broken
        # key server is logged and never becomes a 500.
        except Exception as error:
            logger.warning(
                "fetching the JWK Set failed (%s); keeping %d cached keys", type(error).__name__, len(self.keys)
            )
            return False
        material = _material(keys)
        if material != self._material and self._on_change is not None:
            # A key left, came, or changed under the same kid: cached verdicts may be stale.
            self._on_change()
        self.keys, self._material = keys, material
        return True

    async def ensure(self, kid_error: UnknownKeyError) -> None:
        """After an unknown kid: refetch once (rate limited), else re-raise ``kid_error``."""
        if not await self.refresh(unknown_kid=True):
            raise kid_error
