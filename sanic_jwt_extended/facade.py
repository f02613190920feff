"""``JWT``: the stateless façade. ``JWT.initialize(app)`` and shortcuts that resolve the
manager of the app serving the current request (else the only initialized app)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from sanic import Request, Sanic
from sanic.exceptions import SanicException

from .exceptions import ConfigurationError
from .issuing import AccessTokenOptions, RefreshTokenOptions, shows_options
from .manager import JWTManager, initialized

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .sessions import LoginOptions, LoginTokens, SessionInfo
    from .tokens import Token

__all__ = ("JWT", "get_csrf_token")


def get_csrf_token(raw_jwt: str) -> str | None:
    """The CSRF value (``csrf`` claim) of an encoded token, verified first; ``None`` when it has none.

    For apps that hand the value out themselves (``csrf_in_cookies = False``, a server-rendered
    form). The app is the one serving the request, else the only initialized one; outside a
    request with several apps, call ``manager.get_csrf_token(token)``.
    """
    return JWT._resolve("get_csrf_token").get_csrf_token(raw_jwt)


def _manager_named(name: str) -> JWTManager | None:
    """The manager of the app Sanic's registry holds under ``name`` now, if it has one."""
    try:
        return JWTManager.get(Sanic.get_app(name))
    except (SanicException, ConfigurationError):
        return None  # unregistered, or replaced by an app that was never initialized


class JWT:
    """Entry point: ``JWT.initialize(app)`` and app-resolving shortcuts for token creation."""

    # The names of the apps initialized here, oldest first. Sanic's own registry says which of
    # them still exist and which app a name means now (one replaced under test_mode, or
    # unregistered, drops out): no app is kept alive here, nothing waits for the collector.
    _initialized: ClassVar[dict[str, None]] = {}

    @classmethod
    @contextmanager
    def initialize(cls, app: Sanic[Any, Any]) -> Iterator[JWTManager]:
        """Configure ``app``: set options on ``manager.config`` inside the block.

        Leaving the block validates and freezes the configuration; if the block raises,
        nothing is registered on the app.
        """
        with initialized(app) as manager:
            yield manager
        cls._initialized[app.name] = None

    @classmethod
    def _resolve(cls, method: str = "create_access_token") -> JWTManager:
        try:
            request = Request.get_current()
        except SanicException:
            request = None
        if request is not None:
            return JWTManager.get(request.app)
        managers = [manager for manager in map(_manager_named, list(cls._initialized)) if manager is not None]
        if len(managers) == 1:
            return managers[0]
        reason = "no app is initialized" if not managers else f"{len(managers)} apps are initialized"
        raise ConfigurationError(
            f"JWT cannot tell which app to use outside a request ({reason}); call the same method "
            f"on the manager instead (`manager.{method}(...)`, or `JWTManager.get(app).{method}(...)`)."
        )

    @classmethod
    @shows_options(AccessTokenOptions, fresh=False)
    def create_access_token(cls, identity: Any, **options: Unpack[AccessTokenOptions]) -> str:
        """``JWTManager.create_access_token`` on the app serving this request (or the only one)."""
        return cls._resolve().create_access_token(identity, **options)

    @classmethod
    @shows_options(RefreshTokenOptions)
    def create_refresh_token(cls, identity: Any, **options: Unpack[RefreshTokenOptions]) -> str:
        """``JWTManager.create_refresh_token`` on the app serving this request (or the only one)."""
        return cls._resolve().create_refresh_token(identity, **options)

    @classmethod
    async def login(
        cls, identity: Any, info: SessionInfo | None = None, **options: Unpack[LoginOptions]
    ) -> LoginTokens:
        """``JWTManager.login`` on the app serving this request (or the only one): start a session."""
        return await cls._resolve("login").login(identity, info, **options)

    @classmethod
    def decode_token(cls, raw_jwt: str, *, allow_expired: bool = False) -> Token:
        """``JWTManager.decode_token`` on the app serving this request (or the only one)."""
        return cls._resolve().decode_token(raw_jwt, allow_expired=allow_expired)
