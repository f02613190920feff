"""``JWT`` (the stateless façade) and ``JWTManager`` (one app's state).

The manager lives on ``app.ctx`` (per app, never global); ``app_hooks`` wires it into the
app: error handler, startup checks, JWKS route, implicit refresh.
"""

from __future__ import annotations

import gc
import logging
import secrets
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, TypeVar

from sanic import Request, Sanic
from sanic.exceptions import SanicException

from . import codec
from .app_hooks import register_hooks
from .cache import VerifiedCache
from .config import Config
from .exceptions import ConfigurationError, TokenCreationError
from .handler import Handler
from .jwks import RemoteKeys
from .keys import KeySet
from .openapi import add_openapi
from .revocation import Revocation
from .settings import Settings
from .tokens import Token
from .verification import STATE_ATTR, manager_of_app

__all__ = ("JWT", "JWTManager")

logger = logging.getLogger("sanic_jwt_extended")

C = TypeVar("C", bound=Callable[..., Any])


class JWTManager:
    """Configuration, keys, callbacks and error responses of one Sanic app."""

    def __init__(self, app: Sanic[Any, Any]) -> None:
        self.app = app
        self.config = Config.from_app_config(app.config)
        self.handler = Handler()
        self.keys: KeySet | None = None
        self.identity_callback: Callable[[Any], Any] | None = None
        self.additional_claims_callback: Callable[[Any], Mapping[str, Any]] | None = None
        self.additional_headers_callback: Callable[[Any], Mapping[str, Any]] | None = None
        self.user_lookup_callback: Callable[[Token], Any] | None = None
        self.claims_verification_callback: Callable[[Token], Any] | None = None
        self.token_in_blocklist_callback: Callable[[Token], Any] | None = None
        self.revocation: Revocation | None = None
        self.remote_keys: RemoteKeys | None = None
        self.verified = VerifiedCache(0)
        self._settings: Settings | None = None

    def __repr__(self) -> str:
        return f"JWTManager(app={self.app.name!r}, algorithm={self.config.algorithm!r})"

    @classmethod
    def get(cls, app: Sanic[Any, Any]) -> JWTManager:
        """The manager of ``app``; raises ``ConfigurationError`` if it was never initialized."""
        return manager_of_app(app)

    # -- loaders (decorators) ------------------------------------------------------------

    def user_identity_loader(self, fn: C) -> C:
        """``fn(identity) -> str``: turns what you pass as ``identity`` into the ``sub`` string."""
        self.identity_callback = fn
        return fn

    def additional_claims_loader(self, fn: C) -> C:
        """``fn(identity) -> dict``: public claims added to every new token (arguments win)."""
        self.additional_claims_callback = fn
        return fn

    def additional_headers_loader(self, fn: C) -> C:
        """``fn(identity) -> dict``: JOSE headers added to every new token (arguments win)."""
        self.additional_headers_callback = fn
        return fn

    def user_lookup_loader(self, fn: C) -> C:
        """``fn(token) -> user`` (sync or async) on every protected request.

        The result is ``token.user`` and ``request.ctx.jwt_user``; ``None`` means 401.
        """
        self.user_lookup_callback = fn
        return fn

    def token_in_blocklist_loader(self, fn: C) -> C:
        """``fn(token) -> bool`` (sync or async): ``True`` means revoked (401). Needs ``use_blocklist``."""
        self.token_in_blocklist_callback = fn
        return fn

    def claims_verification_loader(self, fn: C) -> C:
        """``fn(token) -> bool`` (sync or async) on every protected request; ``False`` means 400."""
        self.claims_verification_callback = fn
        return fn

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The validated configuration, once the with-block has ended."""
        if self._settings is None:
            raise ConfigurationError("the manager is used before its `with JWT.initialize(app)` block ended")
        return self._settings

    def _seal(self) -> None:
        settings = self._settings = self.config.seal(blocklist_loader=self.token_in_blocklist_callback is not None)
        self.keys = settings.keys
        self.verified = VerifiedCache(settings.verify_cache_size)
        if settings.jwks_url is not None:
            self.remote_keys = RemoteKeys(
                settings.jwks_url,
                settings.keys,
                settings.decode_algorithms,
                refetch_interval=settings.jwks_refetch_interval,
                cache_seconds=settings.jwks_cache_seconds,
                timeout=settings.jwks_timeout,
                max_bytes=settings.jwks_max_bytes,
                max_keys=settings.jwks_max_keys,
                on_change=self.verified.clear,
            )
        if settings.use_blocklist:
            self.revocation = Revocation(settings, settings.blocklist, self.token_in_blocklist_callback)
        self.handler.seal(settings)

    def _register(self) -> None:
        setattr(self.app.ctx, STATE_ATTR, self)
        register_hooks(self)
        add_openapi(self.app, self.settings)

    def _reissue(self, token: Token, token_type: str) -> str:
        """A new token with the same identity, roles, custom claims and family; never fresh."""
        config, keys = self.settings, self._keys()
        custom = {k: v for k, v in token.raw_data.items() if k not in codec.REGISTERED_CLAIMS}
        custom.pop(config.identity_claim, None)
        role = custom.pop(config.acl_claim, None)
        claims = codec.build_claims(
            identity=token.identity,
            token_type=token_type,
            now=datetime.now(timezone.utc),
            expires_delta=config.lifetime(token_type),
            identity_claim=config.identity_claim,
            fresh=False if token_type == "access" else None,
            role=role,
            acl_claim=config.acl_claim,
            public_claims=custom,  # already namespaced/prefixed: copied as they are
            iss=token.iss,
            aud=token.aud,
            csrf=secrets.token_urlsafe(32) if config.csrf_claims else None,
            family=token.family if token_type == "refresh" else None,
        )
        return codec.encode(claims, keys=keys, headers=None)

    # -- revocation ------------------------------------------------------------------------

    def _revocation(self) -> Revocation:
        if self.revocation is None:
            raise ConfigurationError("use_blocklist: revocation needs config.use_blocklist = True")
        return self.revocation

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
        return self._reissue(token, "access"), self._reissue(token, "refresh")

    # -- tokens --------------------------------------------------------------------------

    def _keys(self) -> KeySet:
        if self.keys is None:
            raise ConfigurationError("the manager is used before its `with JWT.initialize(app)` block ended")
        return self.keys

    def _create(
        self,
        token_type: str,
        identity: Any,
        *,
        fresh: bool | timedelta | datetime | None,
        role: str | Sequence[str] | None,
        expires_delta: timedelta | bool | None,
        public_claims: Mapping[str, Any] | None,
        private_claims: Mapping[str, Any] | None,
        additional_headers: Mapping[str, Any] | None,
        iss: str | None,
        aud: str | Sequence[str] | None,
    ) -> str:
        keys, config = self._keys(), self.settings
        subject = self.identity_callback(identity) if self.identity_callback else identity
        if not isinstance(subject, str):
            raise TypeError(
                f"identity must be a string, got {type(subject).__name__}; convert it or register "
                "@manager.user_identity_loader"
            )
        if expires_delta is None:
            expires_delta = config.lifetime(token_type)
        elif expires_delta is False and config.require_exp:
            raise TokenCreationError(
                "expires_delta=False makes a token without exp, which this app refuses; "
                "set config.require_exp = False to allow non-expiring tokens"
            )
        if role is not None and not config.use_acl:
            raise TokenCreationError("role= needs config.use_acl = True")
        extra_claims = dict(self.additional_claims_callback(identity)) if self.additional_claims_callback else {}
        extra_claims.update(public_claims or {})
        headers = dict(self.additional_headers_callback(identity)) if self.additional_headers_callback else {}
        headers.update(additional_headers or {})
        claims = codec.build_claims(
            identity=subject,
            token_type=token_type,
            now=datetime.now(timezone.utc),
            expires_delta=expires_delta,
            identity_claim=config.identity_claim,
            fresh=fresh,
            role=role,
            acl_claim=config.acl_claim,
            public_claims=extra_claims,
            private_claims=private_claims,
            public_claim_namespace=config.public_claim_namespace,
            private_claim_prefix=config.private_claim_prefix,
            iss=iss if iss is not None else config.default_iss,
            aud=aud if aud is not None else config.default_aud,
            csrf=secrets.token_urlsafe(32) if config.csrf_claims else None,
            # Each login starts a rotation family; rotate() passes it on (RFC 9700 §4.14.2).
            family=secrets.token_urlsafe(16) if token_type == "refresh" and config.refresh_token_rotation else None,
        )
        return codec.encode(claims, keys=keys, headers=headers)

    def create_access_token(
        self,
        identity: Any,
        *,
        fresh: bool | timedelta | datetime = False,
        role: str | Sequence[str] | None = None,
        expires_delta: timedelta | bool | None = None,
        public_claims: Mapping[str, Any] | None = None,
        private_claims: Mapping[str, Any] | None = None,
        additional_headers: Mapping[str, Any] | None = None,
        iss: str | None = None,
        aud: str | Sequence[str] | None = None,
    ) -> str:
        """A signed access token for ``identity``; ``fresh=True`` right after a password check."""
        return self._create(
            "access",
            identity,
            fresh=fresh,
            role=role,
            expires_delta=expires_delta,
            public_claims=public_claims,
            private_claims=private_claims,
            additional_headers=additional_headers,
            iss=iss,
            aud=aud,
        )

    def create_refresh_token(
        self,
        identity: Any,
        *,
        role: str | Sequence[str] | None = None,
        expires_delta: timedelta | bool | None = None,
        public_claims: Mapping[str, Any] | None = None,
        private_claims: Mapping[str, Any] | None = None,
        additional_headers: Mapping[str, Any] | None = None,
        iss: str | None = None,
        aud: str | Sequence[str] | None = None,
    ) -> str:
        """A signed refresh token for ``identity`` (never fresh)."""
        return self._create(
            "refresh",
            identity,
            fresh=None,
            role=role,
            expires_delta=expires_delta,
            public_claims=public_claims,
            private_claims=private_claims,
            additional_headers=additional_headers,
            iss=iss,
            aud=aud,
        )

    def decode_token(self, raw_jwt: str) -> Token:
        """Verify ``raw_jwt`` (signature, exp/nbf/iat, aud, iss, required claims) into a ``Token``."""
        return self._decode(raw_jwt, raw_jwt)

    def _decode(self, raw_jwt: str, cache_key: str) -> Token:
        # cache_key is what the caller will look up next time: the token itself, or the
        # whole "<prefix> <token>" header value on the request path. A token with a space
        # is never valid, and must not find such a header entry.
        if isinstance(raw_jwt, str) and " " not in raw_jwt:
            hit = self.verified.get(cache_key, time.time(), self.settings.leeway)
            if hit is not None:
                return hit
        config = self.settings
        header, payload = codec.decode(
            raw_jwt,
            keys=self.remote_keys or self._keys(),
            audience=config.default_aud,
            issuer=config.default_iss,
            leeway=config.leeway,
            required=config.required_claims,
            max_bytes=config.max_token_bytes,
        )
        token = Token(
            raw_jwt,
            payload,
            header,
            identity_claim=config.identity_claim,
            acl_claim=config.acl_claim,
            public_claim_namespace=config.public_claim_namespace,
            private_claim_prefix=config.private_claim_prefix,
        )
        token._revoker = self.revoke
        self.verified.put(cache_key, token, config.leeway)
        return token


class JWT:
    """Entry point: ``JWT.initialize(app)`` and app-resolving shortcuts for token creation."""

    # Weak: the index must not keep apps alive; the state itself lives on each app.
    _managers: ClassVar[weakref.WeakSet[JWTManager]] = weakref.WeakSet()

    @classmethod
    @contextmanager
    def initialize(cls, app: Sanic[Any, Any]) -> Iterator[JWTManager]:
        """Configure ``app``: set options on ``manager.config`` inside the block.

        Leaving the block validates and freezes the configuration; if the block raises,
        nothing is registered on the app.
        """
        if not isinstance(app, Sanic):
            raise ConfigurationError(f"JWT.initialize expects a Sanic app, got {type(app).__name__}")
        if getattr(app.ctx, STATE_ATTR, None) is not None:
            raise ConfigurationError(f"app {app.name!r} is already initialized; call JWT.initialize once per app")
        manager = JWTManager(app)
        yield manager
        manager._seal()
        manager._register()
        cls._managers.add(manager)

    @classmethod
    def _resolve(cls) -> JWTManager:
        try:
            request = Request.get_current()
        except SanicException:
            request = None
        if request is not None:
            return JWTManager.get(request.app)
        managers = list(cls._managers)
        if len(managers) > 1:
            gc.collect()  # apps dropped but not yet collected must not make this ambiguous
            managers = list(cls._managers)
        if len(managers) == 1:
            return managers[0]
        reason = "no app is initialized" if not managers else f"{len(managers)} apps are initialized"
        raise ConfigurationError(
            f"JWT cannot tell which app to use outside a request ({reason}); call the same method "
            "on the manager instead (`manager.create_access_token(...)`, or `JWTManager.get(app)`)."
        )

    @classmethod
    def create_access_token(cls, identity: Any, **kwargs: Any) -> str:
        """``JWTManager.create_access_token`` on the app serving this request (or the only one)."""
        return cls._resolve().create_access_token(identity, **kwargs)

    @classmethod
    def create_refresh_token(cls, identity: Any, **kwargs: Any) -> str:
        """``JWTManager.create_refresh_token`` on the app serving this request (or the only one)."""
        return cls._resolve().create_refresh_token(identity, **kwargs)

    @classmethod
    def decode_token(cls, raw_jwt: str) -> Token:
        """``JWTManager.decode_token`` on the app serving this request (or the only one)."""
        return cls._resolve().decode_token(raw_jwt)
