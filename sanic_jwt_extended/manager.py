"""``JWTManager``: one app's state, composed of an ``Issuer``, a ``Verifier`` and a ``Revocation``.

The manager lives on ``app.ctx`` (per app, never global); ``hooks`` wires it into the
app: error handler, startup checks, JWKS route, implicit refresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sanic import Sanic

from .cache import VerifiedCache
from .config import Config
from .exceptions import ConfigurationError
from .handler import Handler
from .hooks import (
    add_blocklist_close,
    add_error_handler,
    add_implicit_refresh,
    add_jwks_route,
    add_startup_checks,
)
from .issuing import AccessTokenOptions, Issuer, RefreshTokenOptions, check_options, shows_options
from .jwks import RemoteKeys
from .keys import KeySet
from .loaders import Loaders
from .openapi import add_openapi
from .revocation import Revocation
from .sessions import LoginOptions, LoginTokens, Session, SessionBook, SessionInfo
from .settings import Settings
from .tokens import Token
from .verification import VERIFIER_ATTR, Verifier

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ("STATE_ATTR", "JWTManager", "initialized")

# Where the manager lives on ``app.ctx``; per app, so two apps never share state.
STATE_ATTR = "_sanic_jwt_extended"

_UNSEALED = "the manager is used before its `with JWT.initialize(app)` block ended"


class JWTManager(Loaders):
    """Configuration, keys, callbacks and error responses of one Sanic app."""

    def __init__(self, app: Sanic[Any, Any]) -> None:
        self.app = app
        super().__init__()
        self.config = Config.from_app_config(app.config)
        self.handler = Handler()
        self._settings: Settings | None = None
        self._verifier: Verifier | None = None
        self._issuer: Issuer | None = None

    def __repr__(self) -> str:
        return f"JWTManager(app={self.app.name!r}, algorithm={self.config.algorithm!r})"

    @classmethod
    def get(cls, app: Sanic[Any, Any]) -> JWTManager:
        """The manager of ``app``; raises ``ConfigurationError`` if it was never initialized."""
        manager: JWTManager | None = getattr(app.ctx, STATE_ATTR, None)
        if manager is None:
            raise ConfigurationError(
                f"app {app.name!r} has no JWT manager; call `with JWT.initialize(app) as manager:` first."
            )
        return manager

    # -- what the manager is made of (after the with-block) ---------------------------------

    @property
    def verifier(self) -> Verifier:
        """Checks this app's tokens (the ordered steps of verification.py)."""
        if self._verifier is None:
            raise ConfigurationError(_UNSEALED)
        return self._verifier

    @property
    def issuer(self) -> Issuer:
        """Creates this app's tokens."""
        if self._issuer is None:
            raise ConfigurationError(_UNSEALED)
        return self._issuer

    @property
    def keys(self) -> KeySet | None:
        """The signing and verification keys; ``None`` until the with-block ends."""
        return None if self._settings is None else self._settings.keys

    @property
    def verified(self) -> VerifiedCache:
        """The verified-token cache."""
        return self.verifier.cache

    @property
    def revocation(self) -> Revocation | None:
        return self.verifier.revocation

    @property
    def remote_keys(self) -> RemoteKeys | None:
        return self.verifier.remote

    def _callbacks_changed(self) -> None:
        # A loader may be registered after the with-block: hand it on (the verifier plans again).
        if self._issuer is not None:
            self._issuer.identity_callback = self.identity_callback
            self._issuer.additional_claims_callback = self.additional_claims_callback
            self._issuer.additional_headers_callback = self.additional_headers_callback
            self._issuer.key_loader = self.encode_key_callback
        if self._verifier is not None:
            self._verifier.set_key_loader(self.decode_key_callback)
            self._verifier.set_callbacks(
                claims_check=self.claims_verification_callback, user_loader=self.user_lookup_callback
            )

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The validated configuration, once the with-block has ended."""
        if self._settings is None:
            raise ConfigurationError(_UNSEALED)
        return self._settings

    def _seal(self) -> None:
        settings = self._settings = self.config.seal(blocklist_loader=self.token_in_blocklist_callback is not None)
        revocation = None
        if settings.use_blocklist:
            revocation = Revocation(settings, settings.blocklist, self.token_in_blocklist_callback)
        self._verifier = Verifier.build(settings, revocation=revocation, revoker=self.revoke)
        self._issuer = Issuer(settings)
        self._callbacks_changed()
        self.handler.seal(settings)

    def _register(self) -> None:
        setattr(self.app.ctx, STATE_ATTR, self)
        setattr(self.app.ctx, VERIFIER_ATTR, self.verifier)
        app, settings = self.app, self.settings
        add_error_handler(app, self.handler, settings, self.verifier)
        add_startup_checks(app, settings)
        if settings.jwks_endpoint is not None:
            add_jwks_route(app, settings.jwks_endpoint, settings.keys, settings.jwks_max_age)
        close = getattr(settings.blocklist, "close", None)
        if close is not None:
            add_blocklist_close(app, close)
        if settings.implicit_refresh is not None:
            add_implicit_refresh(
                app, settings.implicit_refresh, settings.access_cookie_name, self.verifier, self.issuer
            )
        add_openapi(app, settings)

    def reissue(self, token: Token, token_type: str) -> str:
        """A new ``token_type`` token with ``token``'s identity, roles, custom claims and family;
        never fresh (what implicit refresh and ``rotate()`` issue)."""
        return self.issuer.reissue(token, token_type)

    def get_csrf_token(self, raw_jwt: str) -> str | None:
        """The CSRF value of an encoded token of this app (verified first); works outside a request."""
        return self.verifier.decode(raw_jwt).csrf

    # -- revocation ------------------------------------------------------------------------

    def _revocation(self) -> Revocation:
        revocation = self.verifier.revocation
        if revocation is None:
            raise ConfigurationError("use_blocklist: revocation needs config.use_blocklist = True")
        return revocation

    async def revoke(self, token: Token | str) -> None:
        """Revoke a ``Token``, an encoded token (verified first) or a bare ``jti``."""
        if isinstance(token, str) and token.count(".") == 2:
            token = self.decode_token(token)
        if isinstance(token, Token):
            await self._revocation().revoke(token, str(token.jti))
        else:
            await self._revocation().revoke(None, token)

    async def revoke_all(self, identity: str) -> None:
        """Log out everywhere: every token of ``identity`` issued until now stops working."""
        await self._revocation().revoke_all(identity)

    async def rotate(self, token: Token) -> tuple[str, str]:
        """Spend a refresh token: a new (non-fresh) access token and the family's next refresh token.

        A refresh token can be rotated once; presenting it again revokes its whole family.
        """
        await self._revocation().use_refresh_token(token)
        return self.reissue(token, "access"), self.reissue(token, "refresh")

    # -- sessions (sessions.py, docs/sessions.md) ------------------------------------------

    def _book(self) -> SessionBook:
        return SessionBook(self.issuer, self.revocation)

    async def login(
        self, identity: Any, info: SessionInfo | None = None, **options: Unpack[LoginOptions]
    ) -> LoginTokens:
        """Start a session: a fresh access token, a refresh token and the session (``track_sessions``)."""
        return await self._book().login(identity, info, options)

    async def sessions(self, identity: Any) -> list[Session]:
        """The live sessions of ``identity``, oldest first."""
        return await self._book().list(identity)

    async def end_session(self, identity: Any, session_id: str) -> bool:
        """End one session of ``identity`` (its tokens are refused at once); ``False`` if it has none such."""
        return await self._book().end(identity, session_id)

    async def end_other_sessions(self, token: Token) -> int:
        """End every session of ``token.identity`` except ``token``'s own; returns how many ended."""
        return await self._book().end_others(token)

    async def refresh_access_token(self, token: Token) -> str:
        """Without rotation: a new non-fresh access token in the refresh ``token``'s session."""
        return await self._book().refresh_access(token)

    # -- tokens --------------------------------------------------------------------------

    @shows_options(AccessTokenOptions, fresh=False)
    def create_access_token(self, identity: Any, **options: Unpack[AccessTokenOptions]) -> str:
        """A signed access token for ``identity``; ``fresh=True`` right after a password check.

        The options (``AccessTokenOptions``) are keyword arguments, each optional.
        """
        check_options("create_access_token", options, AccessTokenOptions)
        options.setdefault("fresh", False)
        return self.issuer.create("access", identity, **options)

    @shows_options(RefreshTokenOptions)
    def create_refresh_token(self, identity: Any, **options: Unpack[RefreshTokenOptions]) -> str:
        """A signed refresh token for ``identity`` (never fresh).

        The options (``RefreshTokenOptions``) are keyword arguments, each optional.
        """
        check_options("create_refresh_token", options, RefreshTokenOptions)
        return self.issuer.create("refresh", identity, **options)

    def decode_token(self, raw_jwt: str, *, allow_expired: bool = False) -> Token:
        """Verify ``raw_jwt`` (signature, exp/nbf/iat, aud, iss, claims; not exp if ``allow_expired``)."""
        return self.verifier.decode(raw_jwt, allow_expired=allow_expired)


@contextmanager
def initialized(app: Sanic[Any, Any]) -> Iterator[JWTManager]:
    """The manager of ``app`` for its with-block; sealed and registered when the block ends
    (nothing is registered if it raises). ``JWT.initialize`` is the public spelling."""
    if not isinstance(app, Sanic):
        raise ConfigurationError(f"JWT.initialize expects a Sanic app, got {type(app).__name__}")
    if getattr(app.ctx, STATE_ATTR, None) is not None:
        raise ConfigurationError(f"app {app.name!r} is already initialized; call JWT.initialize once per app")
    manager = JWTManager(app)
    yield manager
    manager._seal()
    manager._register()
