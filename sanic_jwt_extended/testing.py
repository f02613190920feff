"""Helpers for testing apps that use sanic-jwt-extended.

Every token is made by the app's own manager (``create_access_token`` /
``create_refresh_token``), so it carries what the app's configuration and loaders put
in real tokens: key and kid, ``iss``/``aud``, claim namespaces, the CSRF value of cookie
apps, the rotation family of refresh tokens. With ``track_sessions`` a refresh token starts
a session, so ``await login(...)`` makes the pair through ``manager.login``.

Time: the library reads the wall clock when it issues a token and on every check
(``exp``/``nbf``/``iat``, fresh-until, revocation). These helpers move the *token*
instead of the clock: ``issued_at=``/``age=`` re-sign a token as if it had been issued at
another moment (every time claim shifted together), which is enough to test expiry,
fresh windows, ``nbf``, leeway and "log out everywhere" without sleeping or patching time.
The library reads ``time.time()`` and ``datetime.now(timezone.utc)`` at each use, so
time-machine and freezegun move its clock too (docs/testing.md tells which way controls what).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from . import codec
from .exceptions import ConfigurationError, TokenCreationError
from .manager import JWTManager
from .sessions import LoginOptions, LoginTokens, SessionInfo

if TYPE_CHECKING:
    from sanic import Sanic
    from typing_extensions import Unpack

__all__ = ("TokenFactory", "tokens_for")

# How far past exp (beyond any leeway) an "expired" token is: far enough that no clock
# drift between minting and the request makes it valid again.
_EXPIRED_MARGIN = timedelta(minutes=1)


def _segment(segment: str) -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


@dataclass(frozen=True)
class TokenFactory:
    """Tokens, headers and cookies for one app, matching its configuration.

    Build it after the ``with JWT.initialize(app)`` block: ``tokens_for(app)``, or the
    ``jwt_tokens`` pytest fixture (``jwt_tokens(app)``).
    """

    manager: JWTManager

    # -- tokens ---------------------------------------------------------------------------

    def access(
        self,
        identity: Any = "user",
        *,
        fresh: bool | timedelta | datetime = False,
        role: str | list[str] | None = None,
        issued_at: datetime | None = None,
        age: timedelta | None = None,
        **options: Any,
    ) -> str:
        """An access token; ``options`` are those of ``create_access_token``.

        ``issued_at`` (an aware datetime) or ``age`` ("issued this long ago"; negative is
        the future) backdate or postdate every time claim together.
        """
        token = self.manager.create_access_token(identity, fresh=fresh, role=role, **options)
        return self._moved(token, issued_at, age)

    def fresh(self, identity: Any = "user", **options: Any) -> str:
        """A fresh access token, as issued right after a password check."""
        return self.access(identity, fresh=True, **options)

    def refresh(
        self,
        identity: Any = "user",
        *,
        role: str | list[str] | None = None,
        issued_at: datetime | None = None,
        age: timedelta | None = None,
        **options: Any,
    ) -> str:
        """A refresh token; ``options`` are those of ``create_refresh_token``.

        Not with ``track_sessions``: there a refresh token starts a session, so use
        ``await login(identity)``, which returns both tokens of a real one.
        """
        if self.manager.settings.track_sessions:
            raise TokenCreationError(
                "track_sessions: this app's refresh tokens start sessions, so the factory cannot mint one "
                "alone; use `await tokens.login(identity, ...)` (`asyncio.run(tokens.login(...))` in a "
                "synchronous test): the access and refresh tokens of a real session, via manager.login"
            )
        token = self.manager.create_refresh_token(identity, role=role, **options)
        return self._moved(token, issued_at, age)

    async def login(
        self,
        identity: Any = "user",
        info: SessionInfo | None = None,
        *,
        issued_at: datetime | None = None,
        age: timedelta | None = None,
        **options: Unpack[LoginOptions],
    ) -> LoginTokens:
        """A login through ``manager.login`` (``track_sessions``): a fresh access token, a
        refresh token and their session, recorded in the app's store as a real login is.

        ``issued_at``/``age`` move both tokens as for ``access()``; the session's record
        keeps the real times (it is listed, and expires with the refresh token it was given).
        """
        if issued_at is not None and age is not None:
            raise TokenCreationError("give issued_at or age, not both")  # before a session is recorded
        access, refresh, session = await self.manager.login(identity, info, **options)
        return LoginTokens(self._moved(access, issued_at, age), self._moved(refresh, issued_at, age), session)

    def expired(self, identity: Any = "user", *, refresh: bool = False, **options: Any) -> str:
        """A token whose ``exp`` passed a minute beyond the app's ``leeway``: refused as expired."""
        lifetime = options.get("expires_delta")
        if lifetime is None:
            lifetime = self.manager.settings.lifetime("refresh" if refresh else "access")
        if not isinstance(lifetime, timedelta):
            raise TokenCreationError("expired(): the token has no expiry (expires_delta=False); give expires_delta")
        age = lifetime + timedelta(seconds=self._leeway()) + _EXPIRED_MARGIN
        return self.refresh(identity, age=age, **options) if refresh else self.access(identity, age=age, **options)

    def not_yet_valid(self, identity: Any = "user", *, refresh: bool = False, **options: Any) -> str:
        """A token issued a minute beyond ``leeway`` in the future: refused (``nbf``/``iat``)."""
        age = -(timedelta(seconds=self._leeway()) + _EXPIRED_MARGIN)
        return self.refresh(identity, age=age, **options) if refresh else self.access(identity, age=age, **options)

    # -- where tokens travel --------------------------------------------------------------

    def headers(self, token: str, *, refresh: bool = False) -> dict[str, str]:
        """The request header carrying ``token``, as the app's header options expect."""
        config = self.manager.settings
        name = config.refresh_jwt_header_key if refresh else config.jwt_header_key
        prefix = config.jwt_header_prefix
        return {name: f"{prefix} {token}" if prefix else token}

    def access_headers(self, identity: Any = "user", **options: Any) -> dict[str, str]:
        """``headers(access(identity, **options))``."""
        return self.headers(self.access(identity, **options))

    def refresh_headers(self, identity: Any = "user", **options: Any) -> dict[str, str]:
        """``headers(refresh(identity, **options), refresh=True)``."""
        return self.headers(self.refresh(identity, **options), refresh=True)

    def cookies(self, token: str) -> dict[str, str]:
        """``{cookie name: token}`` for ``token`` (access or refresh, told by its ``type`` claim)."""
        config = self.manager.settings
        refresh = self.claims(token).get("type") == "refresh"
        return {config.refresh_cookie_name if refresh else config.access_cookie_name: token}

    def cookie_headers(self, token: str, *, csrf: bool = True) -> dict[str, str]:
        """A ``Cookie`` header carrying ``token``, plus the CSRF header a page script would echo.

        ``csrf=False`` leaves the CSRF header out, to test that unsafe methods are refused.
        The CSRF header is added only when the token carries a CSRF value (cookie apps with
        ``csrf_protect``).
        """
        headers = {"cookie": "; ".join(f"{name}={value}" for name, value in self.cookies(token).items())}
        claims, settings = self.claims(token), self.manager.settings
        value = claims.get("csrf")
        if csrf and isinstance(value, str):
            refresh = claims.get("type") == "refresh"
            headers[settings.refresh_csrf_header_name if refresh else settings.access_csrf_header_name] = value
        return headers

    # -- inspection -----------------------------------------------------------------------

    @staticmethod
    def claims(token: str) -> dict[str, Any]:
        """The payload of a token made here, without verification (for assertions)."""
        return _segment(token.split(".")[1])

    # -- internals ------------------------------------------------------------------------

    def _leeway(self) -> float:
        return self.manager.settings.leeway

    def _moved(self, token: str, issued_at: datetime | None, age: timedelta | None) -> str:
        if issued_at is not None and age is not None:
            raise TokenCreationError("give issued_at or age, not both")
        if issued_at is None and age is None:
            return token
        header_segment, payload_segment, _ = token.split(".")
        claims = _segment(payload_segment)
        if issued_at is not None:
            if issued_at.tzinfo is None:
                raise TokenCreationError("issued_at must be timezone-aware, e.g. datetime.now(timezone.utc)")
            shift = issued_at.timestamp() - claims["iat"]
        else:
            shift = -cast("timedelta", age).total_seconds()
        # iat truncated to the millisecond and nbf to the second, as issuing does; exp and
        # fresh-until then move by the same whole seconds as nbf, so lifetimes stay exact.
        iat = math.floor((claims["iat"] + shift) * 1000) / 1000
        whole = math.floor(iat) - math.floor(claims["iat"])
        claims["iat"] = iat
        if "nbf" in claims:
            claims["nbf"] += whole
        if "exp" in claims:
            claims["exp"] += whole
        if isinstance(claims.get("fresh"), int) and not isinstance(claims["fresh"], bool):
            claims["fresh"] += whole  # "fresh until" moves with the token
        keys = self.manager.keys
        if keys is None:
            raise ConfigurationError("the manager is used before its `with JWT.initialize(app)` block ended")
        extra = {k: v for k, v in _segment(header_segment).items() if k not in codec.FORBIDDEN_HEADERS}
        return codec.encode(claims, keys=keys, headers=extra)


def tokens_for(app: Sanic[Any, Any] | JWTManager) -> TokenFactory:
    """A ``TokenFactory`` for ``app`` (or directly for a manager)."""
    manager = app if isinstance(app, JWTManager) else JWTManager.get(app)
    return TokenFactory(manager)
