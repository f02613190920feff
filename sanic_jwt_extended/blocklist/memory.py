"""In-process revocation store: O(1) checks, entries leave when their tokens expire."""

from __future__ import annotations

import heapq
import time
from typing import Any

from .base import RevocationState, SessionRecord

__all__ = ("InMemoryBlocklist",)

_FOREVER = float("inf")


class InMemoryBlocklist:
    """The default store for one process. Several workers or hosts need ``RedisBlocklist``."""

    def __init__(self) -> None:
        # Each table maps a key to (value, until).
        self._jti: dict[str, tuple[Any, float]] = {}
        self._id: dict[str, tuple[Any, float]] = {}
        self._fam: dict[str, tuple[Any, float]] = {}
        self._tables = {"jti": self._jti, "id": self._id, "fam": self._fam}
        # identity -> session id -> record; at most `cap` live records per identity, each
        # purged when its refresh token expires (a "sess" item in the expiry heap).
        self._sessions: dict[str, dict[str, SessionRecord]] = {}
        # Expired entries are purged on writes, so memory follows the number of live
        # tokens, not the number ever revoked.
        self._expiry: list[tuple[float, str, str]] = []

    def __repr__(self) -> str:
        return f"InMemoryBlocklist(entries={len(self)})"

    def __len__(self) -> int:
        self._purge(time.time())
        sessions = sum(len(records) for records in self._sessions.values())
        return sessions + sum(len(table) for table in self._tables.values())

    def _purge(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            until, table, key = heapq.heappop(self._expiry)
            if table == "sess":
                self._reschedule(key, now)
                continue
            entry = self._tables[table].get(key)
            # Only drop the entry this heap item was pushed for, not a newer one.
            if entry is not None and entry[1] == until:
                del self._tables[table][key]

    def record(self, table: str, key: str, value: Any, until: float | None) -> None:
        """Store an entry as a Redis mirror learns it: ``table`` is "jti", "id" or "fam".

        Identity cutoffs only ever grow, so replaying events out of order is harmless.
        """
        if table == "id":
            previous = self._get("id", key, time.time())
            value = max(float(value), previous or float(value))
        self._set(table, key, value, until)

    def _set(self, table: str, key: str, value: Any, until: float | None) -> None:
        self._purge(time.time())
        deadline = _FOREVER if until is None else until
        if deadline != _FOREVER:
            heapq.heappush(self._expiry, (deadline, table, key))
        self._tables[table][key] = (value, deadline)

    def _get(self, table: str, key: str, now: float) -> Any:
        entry = self._tables[table].get(key)
        return entry[0] if entry is not None and entry[1] > now else None

    async def revoke(self, jti: str, until: float | None) -> None:
        self._set("jti", jti, RevocationState.REVOKED, until)

    async def revoke_identity(self, identity: str, issued_before: float, until: float | None) -> None:
        previous = self._get("id", identity, time.time())
        self._set("id", identity, max(issued_before, previous or issued_before), until)

    async def revoke_family(self, family: str, until: float | None) -> None:
        self._set("fam", family, True, until)

    async def mark_used(self, jti: str, until: float | None) -> bool:
        # No await between the check and the write: atomic on one event loop.
        if self._get("jti", jti, time.time()) is not None:
            return False
        self._set("jti", jti, RevocationState.REUSED, until)
        return True

    async def check(self, jti: str, identity: str, issued_at: float, family: str | None) -> RevocationState:
        return self.check_local(jti, identity, issued_at, family)

    def check_local(self, jti: str, identity: str, issued_at: float, family: str | None) -> RevocationState:
        """``check`` without a coroutine: an in-process store always knows the answer."""
        # Inlined lookups, and the clock read only for an entry found: this runs on every
        # request, and most tokens have none.
        entry = self._jti.get(jti)
        if entry is not None and entry[1] > time.time():
            return entry[0]  # type: ignore[no-any-return]
        if family is not None:
            revoked = self._fam.get(family)
            if revoked is not None and revoked[1] > time.time():
                return RevocationState.REVOKED
        cutoff = self._id.get(identity)
        if cutoff is not None and issued_at < cutoff[0] and cutoff[1] > time.time():
            return RevocationState.REVOKED
        return RevocationState.VALID

    # -- sessions (config.track_sessions) ---------------------------------------------------

    def _purge_sessions(self, identity: str, now: float) -> dict[str, SessionRecord]:
        records = self._sessions.get(identity, {})
        for session_id in [sid for sid, record in records.items() if record.until is not None and record.until <= now]:
            del records[session_id]
        if not records:
            self._sessions.pop(identity, None)
        return records

    def _expire_with(self, identity: str, record: SessionRecord) -> None:
        if record.until is not None:
            heapq.heappush(self._expiry, (record.until, "sess", identity))

    def _reschedule(self, identity: str, now: float) -> None:
        # A refresh moves a session's expiry without a heap item of its own (one per login,
        # not per refresh): when an item falls due, the identity's next expiry takes its place.
        records = self._purge_sessions(identity, now)
        nearest = min((record.until for record in records.values() if record.until is not None), default=None)
        if nearest is not None:
            heapq.heappush(self._expiry, (nearest, "sess", identity))

    async def add_session(self, identity: str, record: SessionRecord, cap: int, end_until: float | None) -> list[str]:
        now = time.time()
        self._purge(now)
        records = self._purge_sessions(identity, now)
        self._sessions[identity] = records
        records[record.id] = record
        self._expire_with(identity, record)
        evicted: list[str] = []
        # Oldest first; the new session is the newest, so it is never the one evicted.
        for old in sorted(records.values(), key=lambda item: item.created)[: max(0, len(records) - cap)]:
            if old.id != record.id:
                await self.end_session(identity, old.id, end_until)
                evicted.append(old.id)
        return evicted

    async def touch_session(self, identity: str, session_id: str, last_used: float, until: float | None) -> bool:
        records = self._purge_sessions(identity, time.time())
        record = records.get(session_id)
        if record is None:
            return False
        records[session_id] = SessionRecord(
            record.id, record.created, last_used, until, record.user_agent, record.ip, record.label
        )
        return True

    async def end_session(self, identity: str, session_id: str, end_until: float | None) -> bool:
        records = self._purge_sessions(identity, time.time())
        if records.pop(session_id, None) is None:
            return False
        if not records:
            self._sessions.pop(identity, None)
        self._set("fam", session_id, True, end_until)
        return True

    async def list_sessions(self, identity: str) -> list[SessionRecord]:
        records = self._purge_sessions(identity, time.time())
        return sorted(records.values(), key=lambda item: item.created)

    async def drop_sessions(self, identity: str) -> None:
        self._sessions.pop(identity, None)
