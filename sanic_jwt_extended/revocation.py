"""Revocation: checking tokens against the blocklist, revoking, and refresh-reuse detection.

Everything keys on the verified ``jti`` (and identity/family), never on the token string:
several strings verify to the same claims (base64 padding, ECDSA malleability).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .blocklist.base import Blocklist, RevocationState, SessionStore
from .exceptions import BlocklistUnavailableError, ConfigurationError, RevokedTokenError

if TYPE_CHECKING:
    from .settings import Settings
    from .tokens import Token

__all__ = ("Revocation",)

logger = logging.getLogger("sanic_jwt_extended")


class Revocation:
    """One app's revocation policy over its store and/or ``token_in_blocklist_loader``."""

    def __init__(self, config: Settings, store: Blocklist | None, loader: Callable[[Token], Any] | None) -> None:
        self.store = store
        self.loader = loader
        # The store's synchronous lookup, when it has one and no loader callback must run too.
        self._local: Callable[[str, str, float, Any], RevocationState | None] | None = (
            getattr(store, "check_local", None) if loader is None else None
        )
        self.types = frozenset(config.blocklist_token_types)
        self._every_type = self.types >= {"access", "refresh"}  # the default: no type to look at
        self.fail_open = config.blocklist_unavailable == "fail_open"
        self.rotation = config.refresh_token_rotation
        self.sessions = config.track_sessions
        self.refresh_lifetime = config.refresh_token_expires
        lifetimes = [
            life for life in (config.access_token_expires, config.refresh_token_expires) if isinstance(life, timedelta)
        ]
        # How long to remember a revocation made without the token at hand (a bare jti, a
        # family): until the longest-lived default token has expired. None: tokens may
        # never expire, so remember forever.
        self.horizon: float | None = max(life.total_seconds() for life in lifetimes) if len(lifetimes) == 2 else None
        # (event name, context): told of revocations and reuse; events.py turns them into signals.
        self.on_event: Callable[[str, dict[str, Any]], None] | None = None

    def _event(self, name: str, **context: Any) -> None:
        if self.on_event is not None:
            self.on_event(name, context)

    def _until(self, token: Token | None) -> float | None:
        if token is not None:
            exp = token.exp
            return None if exp is None else exp.timestamp()  # no exp: remember forever
        return None if self.horizon is None else time.time() + self.horizon

    def _need_store(self) -> Blocklist:
        if self.store is None:
            raise ConfigurationError("blocklist: revoking needs a store; this app only has a token_in_blocklist_loader")
        return self.store

    def session_store(self) -> SessionStore:
        """The store's session methods; ``ConfigurationError`` unless ``track_sessions`` is on."""
        store = self.store
        if not self.sessions or not isinstance(store, SessionStore):
            raise ConfigurationError("track_sessions: sessions need config.track_sessions = True")
        return store

    def session_until(self) -> float | None:
        """When a refresh token issued now expires, and its session with it."""
        life = self.refresh_lifetime
        return None if life is False else float(int(time.time() + life.total_seconds()) + 1)

    def ended_until(self) -> float | None:
        """How long an ended session's family revocation is kept: every token it may have has expired."""
        return self._until(None)

    def passes(self, token: Token) -> bool:
        """``True`` when ``token`` is known not revoked without I/O; otherwise ``check`` decides.

        Only a VALID answer short-cuts: anything else (revoked, reused, unknown, a loader
        callback that may be async) goes through ``check``, which handles it in full.
        """
        if not self._every_type and token.type not in self.types:
            return True
        local = self._local
        return local is not None and local(*token.revocation_key()) is RevocationState.VALID

    async def check(self, token: Token) -> None:
        """Raise ``RevokedTokenError`` for a revoked token; detect refresh-token reuse."""
        if token.type not in self.types:
            return
        try:
            await self._check(token)
        except BlocklistUnavailableError:
            if not self.fail_open:
                raise
            # The token itself is never logged: only its jti.
            logger.warning("blocklist unreachable; accepting token jti=%s (fail_open)", token.jti)

    async def _check(self, token: Token) -> None:
        if self.loader is not None:
            revoked = self.loader(token)
            if inspect.isawaitable(revoked):
                revoked = await revoked
            if revoked:
                raise RevokedTokenError()
        if self.store is None:
            return
        # Built once per token (the cache shares tokens between requests).
        state = await self.store.check(*token.revocation_key())
        if state is RevocationState.REUSED:
            await self._reuse_detected(token)
        if state is not RevocationState.VALID:
            raise RevokedTokenError()

    async def _reuse_detected(self, token: Token) -> None:
        # RFC 9700 §4.14.2: a rotated refresh token presented again means one of its holders
        # is an attacker; revoking the family logs out both, the victim can log in again.
        family = token.family
        if family is not None and self.sessions:
            # The session ends with its family: gone from the list, its access tokens refused.
            ended = await self.session_store().end_session(str(token.identity), family, self._until(None))
            if ended:
                self._event("jwt.session.ended", identity=str(token.identity), session_id=family, reason="reuse")
            else:
                await self._need_store().revoke_family(family, self._until(None))
        elif family is not None:
            await self._need_store().revoke_family(family, self._until(None))
        logger.warning("refresh token reuse detected for family=%s jti=%s", family, token.jti)
        self._event("jwt.refresh.reused", jti=token.jti, identity=token.identity, family=family)
        raise RevokedTokenError("Refresh token reuse detected; log in again")

    async def use_refresh_token(self, token: Token) -> None:
        """Mark a refresh token as rotated; a second use (even concurrent) is reuse."""
        if not self.rotation:
            raise ConfigurationError("refresh_token_rotation: rotate() needs config.refresh_token_rotation = True")
        if token.type != "refresh":
            raise ConfigurationError("rotate() takes the refresh token of a @refresh_jwt_required view")
        if not await self._need_store().mark_used(str(token.jti), self._until(token)):
            await self._reuse_detected(token)
        await self.touch_session(token)

    async def touch_session(self, token: Token) -> None:
        """A refresh in ``token``'s session: its last-used time, and its new expiry."""
        if self.sessions and token.family is not None:
            await self.session_store().touch_session(
                str(token.identity), token.family, time.time(), self.session_until()
            )

    async def revoke(self, token: Token | None, jti: str) -> None:
        await self._need_store().revoke(jti, self._until(token))
        self._event("jwt.token.revoked", jti=jti, identity=None if token is None else token.identity)

    async def revoke_all(self, identity: str) -> None:
        """Refuse every token of ``identity`` issued before this returns, and none after.

        ``iat`` carries whole milliseconds (truncated), and the store refuses ``iat <
        cutoff``. The cutoff is a millisecond still ahead of the clock when the store has
        acknowledged it (so every token issued until then is older), and we return only
        once the clock has reached it (so every token issued after is not).
        """
        store = self._need_store()
        margin = 1  # ms ahead of the clock: one is enough for an in-process store
        while True:
            cutoff = time.time_ns() // 1_000_000 + margin
            # Kept without expiry: a token created with a long custom expires_delta must
            # not outlive "log out everywhere". One entry per identity stays small.
            await store.revoke_identity(identity, cutoff / 1000, None)
            if time.time_ns() // 1_000_000 < cutoff:
                break
            # The write took longer than the margin: a token issued meanwhile could carry
            # the cutoff's millisecond. Cutoffs only grow, so a later one is simply stricter.
            margin *= 4
        # At most `margin` ms; a sleep, not an event: nothing but the clock can end it.
        while (left := cutoff * 1_000_000 - time.time_ns()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left / 1e9)
        if self.sessions:
            # Every session's tokens are refused by the cutoff already; the list follows.
            await self.session_store().drop_sessions(identity)
        self._event("jwt.identity.revoked", identity=identity)
