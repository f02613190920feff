"""Downloading and parsing a JWK Set document, bounded in time, size and key count.

Blocking code, meant for a worker thread: ``Download.run`` fetches with urllib and
``Download.abort`` (from any thread) shuts its sockets, which is the only way to stop a
server that trickles one byte just before each read timeout. ``parse_document`` turns the
bytes into keys or raises ``Refused``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from .jwk_set import parse_jwk_set
from .keys import VerificationKey
from .segments import MAX_JSON_DEPTH, too_deep

__all__ = ("Download", "Refused", "parse_document")

_AGENT = "sanic-jwt-extended"


class Refused(Exception):
    """The document was fetched but is not used (too large, not a JWK Set...)."""


class Download:
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
                raise Refused(f"the document is {int(length)} bytes, over jwks_max_bytes={self.max_bytes}")
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read1(65536):  # returns after one read, however small
                size += len(chunk)
                if size > self.max_bytes:
                    raise Refused(f"the document is over jwks_max_bytes={self.max_bytes}")
                if time.monotonic() > deadline:
                    raise TimeoutError("jwks_timeout")
                chunks.append(chunk)
        return b"".join(chunks)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def _tracked(base: type[http.client.HTTPConnection], download: Download) -> Any:
    class Connection(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            download.opened(self.sock)

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, download: Download) -> None:
        super().__init__()
        self._connection = _tracked(http.client.HTTPConnection, download)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, download: Download) -> None:
        super().__init__(context=_TrackingContext.create(download))


class _TrackingContext(ssl.SSLContext):
    """The default HTTPS verification; hands the socket to the download before the handshake,
    so a peer trickling the handshake (no certificate needed for that) is cut off too."""

    download: Download

    @classmethod
    def create(cls, download: Download) -> _TrackingContext:
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
            raise Refused("redirected away from http(s)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def parse_document(body: bytes, decode_algorithms: Sequence[str], max_keys: int) -> dict[str, VerificationKey]:
    """The usable keys of a downloaded document; raises ``Refused`` if it cannot be used."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("the document is not UTF-8") from None
    if too_deep(text):
        raise Refused(f"the document nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise Refused("the document is not JSON") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise Refused("the document has no 'keys' list")
    if len(entries) > max_keys:
        raise Refused(f"the document lists {len(entries)} keys, over jwks_max_keys={max_keys}")
    keys = parse_jwk_set(data, decode_algorithms)
    if entries and not keys:
        # Every entry broken is a broken document, not an issuer withdrawing all its keys.
        raise Refused("no key in the document is usable")
    return keys


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
