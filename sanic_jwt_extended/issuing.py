"""``Issuer``: creates and reissues one app's tokens. Request-free (no Sanic import needed).

The token options are declared once, as the TypedDicts ``AccessTokenOptions`` and
``RefreshTokenOptions``. ``JWTManager.create_access_token``/``create_refresh_token`` and the
``JWT`` façade take them as ``**options: Unpack[...]``, so mypy and IDEs check each keyword;
``shows_options`` spells them out as keyword parameters for ``help()`` and
``inspect.signature``; ``check_options`` refuses an unknown one with the ``TypeError`` a
keyword parameter would give.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ForwardRef, TypedDict, TypeVar

from . import codec
from .csrf import new_csrf_value
from .exceptions import ConfigurationError, TokenCreationError
from .key_loading import LoaderKeys

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .keys import KeySet
    from .settings import Settings
    from .tokens import Token

__all__ = (
    "AccessTokenOptions",
    "EncodeKeyLoader",
    "Issuer",
    "RefreshTokenOptions",
    "check_encode_key_loader",
    "check_options",
    "shows_options",
)

# (identity, claims about to be signed) -> the signing key; synchronous (see keys.md).
EncodeKeyLoader = Callable[[Any, Mapping[str, Any]], Any]


class RefreshTokenOptions(TypedDict, total=False):
    """The options of ``create_refresh_token``, each optional (``None``: the configured default)."""

    role: str | Sequence[str] | None
    """Role(s) written into ``config.acl_claim``; needs ``config.use_acl``."""
    expires_delta: timedelta | bool | None
    """This token's lifetime instead of the configured one; ``False``: no ``exp`` (needs ``require_exp = False``)."""
    public_claims: Mapping[str, Any] | None
    """Claims written under ``config.public_claim_namespace``, over the ``additional_claims_loader``'s."""
    private_claims: Mapping[str, Any] | None
    """Claims written under ``config.private_claim_prefix``."""
    additional_headers: Mapping[str, Any] | None
    """JOSE headers of this token, over the ``additional_headers_loader``'s."""
    iss: str | None
    """The ``iss`` claim instead of ``config.default_iss``."""
    aud: str | Sequence[str] | None
    """The ``aud`` claim instead of ``config.default_aud``."""


class AccessTokenOptions(RefreshTokenOptions, total=False):
    """The options of ``create_access_token``: those of refresh tokens, and ``fresh``."""

    fresh: bool | timedelta | datetime
    """``True`` right after a password check; a timedelta or datetime: fresh until then (default ``False``)."""


def check_options(method: str, options: Mapping[str, Any], declared: type) -> None:
    """The ``TypeError`` a keyword parameter would give, for a name ``declared`` lacks."""
    unknown = sorted(options.keys() - declared.__annotations__.keys())
    if unknown:
        raise TypeError(f"{method}() got an unexpected keyword argument {unknown[0]!r}")


F = TypeVar("F", bound=Callable[..., Any])


def shows_options(options: type, **defaults: Any) -> Callable[[F], F]:
    """Gives a ``**options: Unpack[options]`` function the signature ``help()`` and
    ``inspect.signature`` show: each option a keyword parameter, ``defaults`` first in
    their order, the others defaulting to ``None``."""

    def show(function: F) -> F:
        signature = inspect.signature(function)
        kept = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        hints = options.__annotations__
        names = [*defaults, *(name for name in hints if name not in defaults)]
        spelled = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=defaults.get(name), annotation=_text(hints[name])
            )
            for name in names
        ]
        function.__signature__ = signature.replace(parameters=[*kept, *spelled])  # type: ignore[attr-defined]
        return function

    return show


def _text(annotation: Any) -> Any:
    # Under `from __future__ import annotations` a TypedDict holds ForwardRefs: show their text.
    return annotation.__forward_arg__ if isinstance(annotation, ForwardRef) else annotation


def check_encode_key_loader(loader: EncodeKeyLoader) -> EncodeKeyLoader:
    """``loader`` unless it is a coroutine function: token creation is synchronous."""
    if inspect.iscoroutinefunction(loader):
        raise ConfigurationError(
            "encode_key_loader: must be synchronous, because create_access_token() is; "
            "load the tenant keys before (at startup, or in the view) and return one from a dict."
        )
    return loader


class Issuer:
    """Signs new tokens with the app's keys, options and loader callbacks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.identity_callback: Callable[[Any], Any] | None = None
        self.additional_claims_callback: Callable[[Any], Mapping[str, Any]] | None = None
        self.additional_headers_callback: Callable[[Any], Mapping[str, Any]] | None = None
        self.key_loader: EncodeKeyLoader | None = None
        self.loader_keys = LoaderKeys(settings.keys, allow_weak=settings.allow_weak_secret)

    def create(
        self,
        token_type: str,
        identity: Any,
        *,
        fresh: bool | timedelta | datetime | None = None,
        session_id: str | None = None,
        **options: Unpack[RefreshTokenOptions],
    ) -> str:
        """A signed ``token_type`` token for ``identity`` (see ``create_access_token``).

        ``fresh=None`` writes no ``fresh`` claim (refresh tokens); ``session_id``: the session
        (``manager.login``) the token belongs to, its ``fam`` claim.
        """
        s = self.settings
        if session_id is None and token_type == "refresh" and s.track_sessions:
            # A refresh token outside any session would survive end_other_sessions (issue 17).
            raise TokenCreationError(
                "track_sessions: refresh tokens start sessions; use `await manager.login(identity, ...)`"
            )
        subject = self._subject(identity)
        lifetime = self._lifetime(token_type, options.get("expires_delta"))
        role = options.get("role")
        if role is not None and not s.use_acl:
            raise TokenCreationError("role= needs config.use_acl = True")
        extra_claims = dict(self.additional_claims_callback(identity)) if self.additional_claims_callback else {}
        extra_claims.update(options.get("public_claims") or {})
        headers = dict(self.additional_headers_callback(identity)) if self.additional_headers_callback else {}
        headers.update(options.get("additional_headers") or {})
        claims = self._new_claims(token_type, subject, lifetime, fresh, session_id, extra_claims, options)
        return codec.encode(claims, keys=self._signing_keys(identity, claims), headers=headers)

    def _new_claims(
        self,
        token_type: str,
        subject: str,
        lifetime: timedelta | bool,
        fresh: bool | timedelta | datetime | None,
        session_id: str | None,
        public_claims: Mapping[str, Any],
        options: RefreshTokenOptions,
    ) -> dict[str, Any]:
        s = self.settings
        iss, aud = options.get("iss"), options.get("aud")
        return codec.build_claims(
            identity=subject,
            token_type=token_type,
            now=datetime.now(timezone.utc),
            expires_delta=lifetime,
            identity_claim=s.identity_claim,
            fresh=fresh,
            role=options.get("role"),
            acl_claim=s.acl_claim,
            public_claims=public_claims,
            private_claims=options.get("private_claims"),
            public_claim_namespace=s.public_claim_namespace,
            private_claim_prefix=s.private_claim_prefix,
            iss=iss if iss is not None else s.default_iss,
            aud=aud if aud is not None else s.default_aud,
            csrf=new_csrf_value(s),
            # Each login starts a rotation family; rotate() passes it on (RFC 9700 §4.14.2).
            family=session_id
            or (secrets.token_urlsafe(16) if token_type == "refresh" and s.refresh_token_rotation else None),
            nbf=s.encode_nbf,
        )

    def _signing_keys(self, identity: Any, claims: Mapping[str, Any]) -> KeySet:
        if self.key_loader is None:
            return self.settings.keys
        chosen = self.key_loader(identity, MappingProxyType(dict(claims)))
        if inspect.isawaitable(chosen):
            getattr(chosen, "close", lambda: None)()
            raise ConfigurationError("encode_key_loader: returned an awaitable; it must be synchronous.")
        return self.loader_keys.signing(chosen)

    def subject(self, identity: Any) -> str:
        """``identity`` as the ``sub`` string tokens carry (through ``user_identity_loader``)."""
        return self._subject(identity)

    def _subject(self, identity: Any) -> str:
        subject = self.identity_callback(identity) if self.identity_callback else identity
        if not isinstance(subject, str):
            raise TypeError(
                f"identity must be a string, got {type(subject).__name__}; convert it or register "
                "@manager.user_identity_loader"
            )
        return subject

    def _lifetime(self, token_type: str, expires_delta: timedelta | bool | None) -> timedelta | bool:
        if expires_delta is None:
            return self.settings.lifetime(token_type)
        if expires_delta is False and self.settings.require_exp:
            raise TokenCreationError(
                "expires_delta=False makes a token without exp, which this app refuses; "
                "set config.require_exp = False to allow non-expiring tokens"
            )
        return expires_delta

    def reissue(self, token: Token, token_type: str) -> str:
        """A new token with the same identity, roles, custom claims and family; never fresh."""
        s = self.settings
        custom = {k: v for k, v in token.raw_data.items() if k not in codec.REGISTERED_CLAIMS}
        custom.pop(s.identity_claim, None)
        role = custom.pop(s.acl_claim, None)
        claims = codec.build_claims(
            identity=token.identity,
            token_type=token_type,
            now=datetime.now(timezone.utc),
            expires_delta=s.lifetime(token_type),
            identity_claim=s.identity_claim,
            fresh=False if token_type == "access" else None,
            role=role,
            acl_claim=s.acl_claim,
            public_claims=custom,  # already namespaced/prefixed: copied as they are
            iss=token.iss,
            aud=token.aud,
            csrf=new_csrf_value(s),
            # With sessions, access tokens carry the session too: ending it stops them at once.
            family=token.family if token_type == "refresh" or s.track_sessions else None,
            nbf=s.encode_nbf,
        )
        return codec.encode(claims, keys=self._signing_keys(token.identity, claims), headers=None)
