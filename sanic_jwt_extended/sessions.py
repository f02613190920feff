"""Sessions: a login's refresh family, listed and ended one by one (``config.track_sessions``).

``manager.login`` starts one: a new family id (the session id) in the ``fam`` claim of both
tokens, and a record in the store (created, last used, metadata). Every token issued in the
session carries that id, so ending it is a family revocation: refused at once, on access and
refresh tokens, with the same local lookup as any revoked family. The record expires with
the refresh token, and a login beyond ``config.max_sessions`` ends the identity's oldest.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from .blocklist.base import SessionRecord, SessionStore
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .issuing import Issuer
    from .revocation import Revocation
    from .tokens import Token

__all__ = ("ENDED_REASONS", "SESSION_ENDED", "LoginOptions", "LoginTokens", "Session", "SessionBook", "SessionInfo")

# The signal (events.py) told of every ended session, with why: one of ENDED_REASONS.
SESSION_ENDED = "jwt.session.ended"
ENDED_REASONS = ("ended", "others_ended", "evicted", "reuse")

logger = logging.getLogger("sanic_jwt_extended")

# Metadata comes from the client (a User-Agent header): stored cut to these lengths.
_LIMITS = {"user_agent": 512, "ip": 64, "label": 128}


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What to remember about a device at login; every field optional, kept as given (cut
    to a few hundred characters). Shown back by ``manager.sessions``, never checked."""

    user_agent: str | None = None
    ip: str | None = None
    label: str | None = None

    def cut(self) -> SessionInfo:
        def clip(name: str, value: Any) -> str | None:
            return None if value is None else str(value)[: _LIMITS[name]]

        return SessionInfo(clip("user_agent", self.user_agent), clip("ip", self.ip), clip("label", self.label))


def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, tz=timezone.utc)


@dataclass(frozen=True, slots=True)
class Session:
    """One live session of an identity (``await manager.sessions(identity)``)."""

    id: str
    """The session id: ``token.session_id`` of every token issued in it."""
    created: datetime
    """Login time (aware UTC)."""
    last_used: datetime
    """Last refresh (``rotate``/``refresh_access_token``), or the login time."""
    expires: datetime | None
    """When the session's current refresh token expires, and the session with it."""
    user_agent: str | None
    ip: str | None
    label: str | None

    @classmethod
    def from_record(cls, record: SessionRecord) -> Session:
        expires = None if record.until is None else _utc(record.until)
        return cls(
            record.id,
            _utc(record.created),
            _utc(record.last_used),
            expires,
            record.user_agent,
            record.ip,
            record.label,
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (ISO 8601 times), e.g. for a ``GET /sessions`` route."""
        return {
            "id": self.id,
            "created": self.created.isoformat(),
            "last_used": self.last_used.isoformat(),
            "expires": None if self.expires is None else self.expires.isoformat(),
            "user_agent": self.user_agent,
            "ip": self.ip,
            "label": self.label,
        }


class LoginOptions(TypedDict, total=False):
    """Token options of ``manager.login``: those of ``create_access_token`` that make sense
    for both tokens of a login (``fresh`` applies to the access token only)."""

    fresh: bool | timedelta | datetime
    role: str | Sequence[str] | None
    public_claims: Mapping[str, Any] | None
    private_claims: Mapping[str, Any] | None
    additional_headers: Mapping[str, Any] | None
    iss: str | None
    aud: str | Sequence[str] | None


class LoginTokens(NamedTuple):
    """What ``manager.login`` returns."""

    access_token: str
    refresh_token: str
    session: Session


class SessionBook:
    """One app's sessions, over its ``Issuer`` and its ``Revocation`` store."""

    def __init__(self, issuer: Issuer, revocation: Revocation | None) -> None:
        self.issuer = issuer
        self.revocation = revocation

    def _revocation(self) -> Revocation:
        if self.revocation is None:
            raise ConfigurationError("track_sessions: sessions need config.use_blocklist and config.track_sessions")
        return self.revocation

    @property
    def store(self) -> SessionStore:
        return self._revocation().session_store()

    def _subject(self, identity: Any) -> str:
        # The sub string as tokens carry it; anything else goes through user_identity_loader.
        return identity if isinstance(identity, str) else self.issuer.subject(identity)

    async def login(self, identity: Any, info: SessionInfo | None, options: LoginOptions) -> LoginTokens:
        """A fresh (by default) access token, a refresh token, and their new session."""
        store, revocation = self.store, self._revocation()
        session_id = secrets.token_urlsafe(16)
        common: dict[str, Any] = {
            "role": options.get("role"),
            "expires_delta": None,
            "public_claims": options.get("public_claims"),
            "private_claims": options.get("private_claims"),
            "additional_headers": options.get("additional_headers"),
            "iss": options.get("iss"),
            "aud": options.get("aud"),
            "session_id": session_id,
        }
        fresh = options.get("fresh", True)
        access = self.issuer.create("access", identity, fresh=fresh, **common)
        refresh = self.issuer.create("refresh", identity, fresh=None, **common)
        subject = self.issuer.subject(identity)
        meta = (info or SessionInfo()).cut()
        now = time.time()
        record = SessionRecord(session_id, now, now, revocation.session_until(), meta.user_agent, meta.ip, meta.label)
        cap = self.issuer.settings.max_sessions
        evicted = await store.add_session(subject, record, cap, revocation.ended_until())
        if evicted:
            logger.info("max_sessions=%d reached for identity=%s: ended sessions %s", cap, subject, evicted)
            self._announce(subject, evicted, "evicted")
        return LoginTokens(access, refresh, Session.from_record(record))

    async def list(self, identity: Any) -> list[Session]:
        return [Session.from_record(record) for record in await self.store.list_sessions(self._subject(identity))]

    async def end(self, identity: Any, session_id: str, *, reason: str = "ended") -> bool:
        store = self.store
        if not isinstance(session_id, str) or not session_id:
            return False
        subject = self._subject(identity)
        ended = await store.end_session(subject, session_id, self._revocation().ended_until())
        if ended:
            self._announce(subject, [session_id], reason)
        return ended

    async def end_others(self, token: Token) -> int:
        keep, identity = token.session_id, str(token.identity)
        ended = 0
        for session in await self.list(identity):
            if session.id != keep and await self.end(identity, session.id, reason="others_ended"):
                ended += 1
        return ended

    def _announce(self, subject: str, session_ids: Sequence[str], reason: str) -> None:
        # Ending a session is a revocation: told like the others (Revocation.on_event).
        notify = self._revocation().on_event
        if notify is not None:
            for session_id in session_ids:
                notify(SESSION_ENDED, {"identity": subject, "session_id": session_id, "reason": reason})

    async def refresh_access(self, token: Token) -> str:
        """A new non-fresh access token in ``token``'s session (no rotation), touching it."""
        if token.type != "refresh":
            raise ConfigurationError("refresh_access_token() takes the refresh token of a @refresh_jwt_required view")
        if self.revocation is not None:
            await self.revocation.touch_session(token)
        return self.issuer.reissue(token, "access")
