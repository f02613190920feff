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
import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .codec import MAX_JSON_DEPTH, too_deep
from .exceptions import DecodeError, KeySetUnavailableError, UnknownKeyError
from .jwk_set import parse_jwk_set
from .keys import KeySet, VerificationKey, thumbprint

__all__ = ("RemoteKeys",)

logger = logging.getLogger("sanic_jwt_extended")
_AGENT = "sanic-jwt-extended"


class _Refused(Exception):
    """The document was fetched but is not used (too large, not a JWK Set...)."""


class _Download:
    """One GET in a worker thread; ``abort()``, from any thread, ends it at once."""

    def __init__(self, url: str, timeout: float, max_bytes: int) -> None:
        self.url = url
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._sockets: list[socket.socket] = []
        self._aborted = False
        self._guard = threading.Lock()

    def opened(self, sock: socket.socket) -> None:
        with self._guard:
            self._sockets.append(sock)
            aborted = self._aborted
        if aborted:
            _shut(sock)

    def abort(self) -> None:
        # A per-read timeout cannot stop a server that sends one byte just in time, forever:
        # shutting the socket wakes the blocked read in the worker thread.
        with self._guard:
            self._aborted = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def run(self) -> bytes:
        deadline = time.monotonic() + self.timeout
        opener = urllib.request.build_opener(_HTTPHandler(self), _HTTPSHandler(self), _Redirects())
        # The scheme was checked at startup (http/https only) and redirects are held to it.
        request = urllib.request.Request(  # noqa: S310
            self.url, headers={"Accept": "application/jwk-set+json, application/json", "User-Agent": _AGENT}
        )
        with opener.open(request, timeout=self.timeout) as response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > self.max_bytes:
                raise _Refused(f"the document is {int(length)} bytes, over jwks_max_bytes={self.max_bytes}")
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read1(65536):  # returns after one read, however small
                size += len(chunk)
                if size > self.max_bytes:
                    raise _Refused(f"the document is over jwks_max_bytes={self.max_bytes}")
                if time.monotonic() > deadline:
                    raise TimeoutError("jwks_timeout")
                chunks.append(chunk)
        return b"".join(chunks)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def _tracked(base: type[http.client.HTTPConnection], download: _Download) -> Any:
    class Connection(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            download.opened(self.sock)

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, download: _Download) -> None:
        super().__init__()
        self._connection = _tracked(http.client.HTTPConnection, download)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, download: _Download) -> None:
        super().__init__(context=_TrackingContext.create(download))


class _TrackingContext(ssl.SSLContext):
    """The default HTTPS verification; hands the socket to the download before the handshake,
    so a peer trickling the handshake (no certificate needed for that) is cut off too."""

    download: _Download

    @classmethod
    def create(cls, download: _Download) -> _TrackingContext:
        # What ssl.create_default_context() sets up: certificate and host name checked.
        context = cls(ssl.PROTOCOL_TLS_CLIENT)
        context.load_default_certs()
        context.download = download
        return context

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        wrapped = super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )
        self.download.opened(wrapped)
        if do_handshake_on_connect:
            try:
                wrapped.do_handshake()
            except BaseException:
                wrapped.close()  # as the stdlib does when its own handshake fails
                raise
        return wrapped


class _Redirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        # urllib would follow a redirect to ftp://; a key set only ever comes over HTTP(S).
        if not newurl.startswith(("https://", "http://")):
            raise _Refused("redirected away from http(s)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _parse_document(body: bytes, decode_algorithms: Sequence[str], max_keys: int) -> dict[str, VerificationKey]:
    """The usable keys of a downloaded document; raises ``_Refused`` if it cannot be used."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("the document is not UTF-8") from None
    if too_deep(text):
        raise _Refused(f"the document nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise _Refused("the document is not JSON") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise _Refused("the document has no 'keys' list")
    if len(entries) > max_keys:
        raise _Refused(f"the document lists {len(entries)} keys, over jwks_max_keys={max_keys}")
    keys = parse_jwk_set(data, decode_algorithms)
    if entries and not keys:
        # Every entry broken is a broken document, not an issuer withdrawing all its keys.
        raise _Refused("no key in the document is usable")
    return keys


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


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
        download = _Download(self.url, self.timeout, self.max_bytes)
        try:
            try:
                body = await asyncio.wait_for(asyncio.to_thread(download.run), self.timeout)
            finally:
                # Past the deadline, or cancelled by a loop shutting down: the worker thread
                # must not outlive us (asyncio.run waits for it).
                download.abort()
            keys = await asyncio.to_thread(_parse_document, body, self.decode_algorithms, self.max_keys)
        except asyncio.TimeoutError:
            logger.warning(
                "fetching the JWK Set took longer than jwks_timeout=%ss; keeping %d cached keys",
                self.timeout,
                len(self.keys),
            )
            # Every request waiting on this fetch waited as long as allowed: 503 for all,
            # whichever of the two deadlines fired first.
            raise KeySetUnavailableError() from None
        except _Refused as error:
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
