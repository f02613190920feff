"""The revocation store protocol. Every backend passes ``tests/contracts/test_blocklist.py``.

All times are POSIX timestamps (float seconds, UTC). ``until`` is when an entry may be
forgotten: after it, every token the entry could match has expired anyway, which is what
keeps every store bounded. ``until=None`` keeps the entry forever (tokens without ``exp``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ("Blocklist", "RevocationState", "SessionRecord", "SessionStore")


class RevocationState(enum.Enum):
    """What a store knows about one token."""

    VALID = "valid"
    REVOKED = "revoked"
    # A rotated refresh token seen again: the OAuth 2.0 Security BCP treats it as theft.
    REUSED = "reused"


@runtime_checkable
class Blocklist(Protocol):
    """An async revocation store shared by every worker that must agree on revocations."""

    async def revoke(self, jti: str, until: float | None) -> None:
        """Revoke the token whose verified ``jti`` is ``jti``."""

    async def revoke_identity(self, identity: str, issued_before: float, until: float | None) -> None:
        """Revoke every token of ``identity`` whose ``iat`` is strictly before ``issued_before``.

        Strict, so the caller can name the first instant that stays valid: ``revoke_all``
        passes the next whole millisecond (``iat`` carries milliseconds) and waits for it.
        """

    async def revoke_family(self, family: str, until: float | None) -> None:
        """Revoke every refresh token of a rotation family."""

    async def mark_used(self, jti: str, until: float | None) -> bool:
        """Atomically mark a refresh token as rotated; ``False`` if it already was (or was revoked).

        Two concurrent calls for one ``jti`` must see exactly one ``True``.
        """

    async def check(self, jti: str, identity: str, issued_at: float, family: str | None) -> RevocationState:
        """The state of one token, in a single round trip to the store.

        A store may also offer ``check_local(jti, identity, issued_at, family)``, a plain
        (not async) method returning the state when it knows it without I/O and ``None``
        otherwise; the request path then skips the coroutine when the answer is VALID.
        """


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One session (a refresh family) as a store keeps it. Times are POSIX timestamps.

    ``until``: when its refresh token expires, and the record with it (``None``: never).
    """

    id: str
    created: float
    last_used: float
    until: float | None
    user_agent: str | None = None
    ip: str | None = None
    label: str | None = None


@runtime_checkable
class SessionStore(Protocol):
    """The session methods a ``Blocklist`` offers for ``config.track_sessions``.

    Ending a session revokes its family (``revoke_family``) in the same atomic write that
    drops its record, so a mirror learns it like any revocation. ``end_until`` is how long
    that family revocation is kept: past it, every token of the session has expired.
    """

    async def add_session(self, identity: str, record: SessionRecord, cap: int, end_until: float | None) -> list[str]:
        """Store a new session; end the oldest ones beyond ``cap`` live sessions, returning their ids."""

    async def touch_session(self, identity: str, session_id: str, last_used: float, until: float | None) -> bool:
        """A refresh: record its time and the new refresh token's expiry; ``False`` if the session is gone."""

    async def end_session(self, identity: str, session_id: str, end_until: float | None) -> bool:
        """End one session of ``identity``; ``False`` (and nothing written) if it has no such live session."""

    async def list_sessions(self, identity: str) -> list[SessionRecord]:
        """The live sessions of ``identity``, oldest first."""

    async def drop_sessions(self, identity: str) -> None:
        """Forget every session record of ``identity`` (after ``revoke_all`` made its tokens worthless)."""
