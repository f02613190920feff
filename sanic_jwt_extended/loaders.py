"""``Loaders``: the callback-registering decorators of ``JWTManager`` (``@manager.user_lookup_loader``...).

Each decorator stores its function and tells the manager (``_callbacks_changed``), which
hands it on to the ``Issuer`` or the ``Verifier``: a loader may be registered after the
with-block too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .issuing import EncodeKeyLoader, check_encode_key_loader

if TYPE_CHECKING:
    from .tokens import Token
    from .verification import DecodeKeyLoader

__all__ = ("Loaders",)

C = TypeVar("C", bound=Callable[..., Any])


class Loaders:
    """The loader callbacks of one app, each ``None`` until registered."""

    def __init__(self) -> None:
        self.identity_callback: Callable[[Any], Any] | None = None
        self.additional_claims_callback: Callable[[Any], Mapping[str, Any]] | None = None
        self.additional_headers_callback: Callable[[Any], Mapping[str, Any]] | None = None
        self.user_lookup_callback: Callable[[Token], Any] | None = None
        self.claims_verification_callback: Callable[[Token], Any] | None = None
        self.token_in_blocklist_callback: Callable[[Token], Any] | None = None
        self.encode_key_callback: EncodeKeyLoader | None = None
        self.decode_key_callback: DecodeKeyLoader | None = None

    def _callbacks_changed(self) -> None:
        """Called after each registration; the manager hands the callbacks on."""

    def user_identity_loader(self, fn: C) -> C:
        """``fn(identity) -> str``: turns what you pass as ``identity`` into the ``sub`` string."""
        self.identity_callback = fn
        self._callbacks_changed()
        return fn

    def additional_claims_loader(self, fn: C) -> C:
        """``fn(identity) -> dict``: public claims added to every new token (arguments win)."""
        self.additional_claims_callback = fn
        self._callbacks_changed()
        return fn

    def additional_headers_loader(self, fn: C) -> C:
        """``fn(identity) -> dict``: JOSE headers added to every new token (arguments win)."""
        self.additional_headers_callback = fn
        self._callbacks_changed()
        return fn

    def user_lookup_loader(self, fn: C) -> C:
        """``fn(token) -> user`` (sync or async) on every protected request.

        The result is ``token.user`` and ``request.ctx.jwt_user``; ``None`` means 401.
        """
        self.user_lookup_callback = fn
        self._callbacks_changed()
        return fn

    def token_in_blocklist_loader(self, fn: C) -> C:
        """``fn(token) -> bool`` (sync or async): ``True`` means revoked (401). Needs ``use_blocklist``."""
        self.token_in_blocklist_callback = fn
        return fn

    def claims_verification_loader(self, fn: C) -> C:
        """``fn(token) -> bool`` (sync or async) on every protected request; ``False`` means 400."""
        self.claims_verification_callback = fn
        self._callbacks_changed()
        return fn

    def encode_key_loader(self, fn: C) -> C:
        """``fn(identity, claims) -> key`` (sync): the signing key of each new token (keys.md)."""
        self.encode_key_callback = check_encode_key_loader(fn)
        self._callbacks_changed()
        return fn

    def decode_key_loader(self, fn: C) -> C:
        """``fn(unverified_header, unverified_claims) -> key or keys`` (sync or async; keys.md)."""
        self.decode_key_callback = fn
        self._callbacks_changed()
        return fn
