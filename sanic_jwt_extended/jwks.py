"""Resource-server mode: verification keys fetched from a JWK Set URL.

The fetch runs in a worker thread (urllib via PyJWT's client), never on the event loop.
An unknown kid triggers at most one refetch per ``jwks_refetch_interval``, so a flood of
made-up kids cannot turn the app into a request amplifier against the key server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientError

from .exceptions import DecodeError, UnknownKeyError
from .keys import KeySet, VerificationKey, parse_jwk_set

__all__ = ("RemoteKeys",)

logger = logging.getLogger("sanic_jwt_extended")


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
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.local = local
        self.decode_algorithms = tuple(decode_algorithms)
        self.refetch_interval = refetch_interval
        self.cache_seconds = cache_seconds
        self.keys: dict[str, VerificationKey] = {}
        self.fetched_at = float("-inf")  # last attempt, successful or not
        self.refetched_at = float("-inf")  # last attempt caused by an unknown kid
        self.fetches = 0
        self._client = PyJWKClient(url, cache_jwk_set=False, cache_keys=False, timeout=timeout)
        self._lock: asyncio.Lock | None = None
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
        """Fetch the JWK Set again; ``False`` if rate limited or the fetch failed."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = time.monotonic()
            if unknown_kid:
                if now - self.refetched_at < self.refetch_interval:
                    return False
                self.refetched_at = now
            elif now - self.fetched_at <= self.cache_seconds:
                return True  # another request refreshed it while we waited
            self.fetched_at = now
            self.fetches += 1
            try:
                data = await asyncio.to_thread(self._client.fetch_data)
            except (PyJWKClientError, OSError, ValueError) as error:
                logger.warning(
                    "fetching the JWK Set failed (%s); keeping %d cached keys", type(error).__name__, len(self.keys)
                )
                return False
            keys = parse_jwk_set(data, self.decode_algorithms)
            if keys.keys() != self.keys.keys() and self._on_change is not None:
                self._on_change()  # a key left (or came): cached verdicts may be stale
            self.keys = keys
            return True

    async def ensure(self, kid_error: UnknownKeyError) -> None:
        """After an unknown kid: refetch once (rate limited), else re-raise ``kid_error``."""
        if not await self.refresh(unknown_kid=True):
            raise kid_error
