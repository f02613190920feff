"""Auth events: failed authentications logged, and Sanic signals apps can listen to.

Every failure is logged on ``sanic_jwt_extended.auth`` (at ``config.auth_failure_log_level``)
with its reason, route and location, and the jti and identity once the signature verified;
never the token. Signals (``EVENTS``) are dispatched only for the names some handler listens
to, found once when the server starts (the signal router is final then): an app without
listeners pays a set lookup per failure and nothing per successful request.

A listener runs in a task of its own, after the response is decided: a slow or failing
listener never delays or changes a response (its exception is logged here).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sanic import Request
from sanic.exceptions import SanicException
from sanic_routing.exceptions import NotFound

from .exceptions import CORSPreflight, JWTExtendedException
from .sessions import SESSION_ENDED

if TYPE_CHECKING:
    from sanic import Sanic

    from .tokens import Token

__all__ = (
    "AUTH_FAILED",
    "AUTH_SUCCEEDED",
    "EVENTS",
    "IDENTITY_REVOKED",
    "REFRESH_REUSED",
    "SESSION_ENDED",
    "TOKEN_REVOKED",
    "Events",
)

AUTH_FAILED = "jwt.auth.failed"
AUTH_SUCCEEDED = "jwt.auth.succeeded"
TOKEN_REVOKED = "jwt.token.revoked"
IDENTITY_REVOKED = "jwt.identity.revoked"
REFRESH_REUSED = "jwt.refresh.reused"
EVENTS = (AUTH_FAILED, AUTH_SUCCEEDED, TOKEN_REVOKED, IDENTITY_REVOKED, REFRESH_REUSED, SESSION_ENDED)

# A child of the package logger: apps can route (or silence) auth failures on their own.
auth_logger = logging.getLogger("sanic_jwt_extended.auth")
logger = logging.getLogger("sanic_jwt_extended")


class Events:
    """One app's events: its failure log level, the signals listened to, listener tasks."""

    def __init__(self, app: Sanic[Any, Any], log_level: int) -> None:
        self.app = app
        self.log_level = log_level
        self.listened: frozenset[str] = frozenset()
        # Strong references: the event loop keeps only weak ones to running tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    def find_listeners(self) -> frozenset[str]:
        """Which of ``EVENTS`` have a signal handler (wildcards included); call once the
        signal router is final."""
        found = set()
        for event in EVENTS:
            try:
                self.app.signal_router.get(event)
            except NotFound:
                continue
            found.add(event)
        self.listened = frozenset(found)
        return self.listened

    def auth_failed(self, request: Request, exception: JWTExtendedException, status: int) -> None:
        """Log a refused request and dispatch ``jwt.auth.failed``."""
        if isinstance(exception, CORSPreflight) or exception.status_code == 500:
            return  # a preflight is not a failure; a 500 is a programming error, not the client's
        log = auth_logger.isEnabledFor(self.log_level)
        if not log and AUTH_FAILED not in self.listened:
            return
        context = _failure_context(request, exception, status)
        if log:
            auth_logger.log(
                self.log_level,
                "authentication failed: reason=%s code=%s status=%d route=%s path=%r location=%s jti=%r identity=%r",
                *(context[field] for field in _LOGGED),
                extra={f"jwt_{field}": context[field] for field in _LOGGED},
            )
        self.emit(AUTH_FAILED, context)

    def auth_succeeded(self, request: Request, token: Token) -> None:
        """Dispatch ``jwt.auth.succeeded``; the verifier calls it only while someone listens."""
        self.emit(
            AUTH_SUCCEEDED,
            {
                "request": request,
                "token": token,
                "route": request.name,
                "path": request.path,
                "location": getattr(request.ctx, "jwt_location", None),
                "jti": token.jti,
                "identity": token.identity,
            },
        )

    def revocation_event(self, event: str, context: dict[str, Any]) -> None:
        """A revocation, a refresh-token reuse or an ended session (``Revocation.on_event``),
        with the current request when there is one."""
        if event in self.listened:
            self.emit(event, {**context, "request": _current_request()})

    def emit(self, event: str, context: dict[str, Any]) -> None:
        """Dispatch ``event`` in a task of its own when a handler listens to it."""
        if event not in self.listened:
            return
        task = asyncio.get_running_loop().create_task(self._dispatch(event, context))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, event: str, context: dict[str, Any]) -> None:
        try:
            await self.app.dispatch(event, context=context, inline=True, fail_not_found=False)
        except Exception:
            # Never the client's problem: the response is already decided.
            logger.exception("a handler of the %s signal raised", event)

    async def drain(self, timeout: float) -> None:
        """Let running listeners finish (up to ``timeout`` seconds) when the server stops."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


# The fields of a failure's log line, in order; each is also a ``jwt_<field>`` log record attribute.
_LOGGED = ("reason", "code", "status", "route", "path", "location", "jti", "identity")


def _failure_context(request: Request, exception: JWTExtendedException, status: int) -> dict[str, Any]:
    """The ``jwt.auth.failed`` context, whose ``_LOGGED`` fields the log line shows."""
    # The token verified for this request, if any: set by the verifier on the error, or
    # already published when the error comes from the view (a reused refresh token).
    token: Token | None = exception.token if exception.token is not None else getattr(request.ctx, "token", None)
    location = exception.location or (getattr(request.ctx, "jwt_location", None) if token is not None else None)
    return {
        "request": request,
        "exception": exception,
        "reason": exception.handler_name,
        "code": exception.code,
        "status": status,
        "route": request.name,
        "path": request.path,
        "location": location,
        "jti": None if token is None else token.jti,
        "identity": None if token is None else token.identity,
    }


def _current_request() -> Request | None:
    try:
        return Request.get_current()
    except SanicException:
        return None
