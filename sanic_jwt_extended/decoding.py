"""Decoding a token for one app: from the raw string to a verified ``Token``.

The keys (local, remote, or what a ``decode_key_loader`` picks), the verified-token cache,
the header memo and the claim rules of the app's settings. ``verification.Verifier`` adds
the request steps on top. Sanic-free.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import codec
from .cache import VerifiedCache
from .exceptions import ConfigurationError, ExpiredSignatureError
from .jwks import RemoteKeys
from .key_loading import LoaderKeys
from .tokens import Reading, Token

if TYPE_CHECKING:
    from .keys import KeySet, VerificationKey
    from .settings import Settings

__all__ = ("DecodeKeyLoader", "TokenDecoder")

# (unverified header, unverified claims) -> key, list of keys, or None; or an awaitable of one.
DecodeKeyLoader = Callable[[dict[str, Any], dict[str, Any]], Any]


class TokenDecoder:
    """Verifies raw tokens into ``Token`` objects for one app, remembering verdicts in its cache."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache: VerifiedCache,
        keys: KeySet | RemoteKeys,
        remote: RemoteKeys | None = None,
        revoker: Callable[[Token], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.keys = keys
        self.remote = remote
        self.revoker = revoker
        self.key_loader: DecodeKeyLoader | None = None
        self.loader_keys = LoaderKeys(settings.keys, allow_weak=settings.allow_weak_secret)
        # What verification accepts (aud and iss: what issuing writes is the fallback).
        self.rules = codec.Rules.of(settings)
        # The few JOSE headers this app's tokens carry, parsed once each (never a verdict).
        self.headers = codec.HeaderMemo()
        # How its tokens read their claims: one object all of them share.
        self.reading = Reading(
            settings.identity_claim,
            settings.acl_claim,
            settings.public_claim_namespace,
            settings.private_claim_prefix,
            revoker,
        )

    def decode(self, raw: str, *, header: bool = False, probe: bool = True, allow_expired: bool = False) -> Token:
        """Verify ``raw`` (signature, exp/nbf/iat, aud, iss, required claims) into a ``Token``.

        ``header``: ``raw`` came from the token header; ``probe``: look in the cache first
        (the request path has already looked its header value up). ``allow_expired``: skip
        the expiry check only; such a token is not remembered.
        """
        if self.key_loader is not None:
            chosen = self._choose(raw)
            if inspect.isawaitable(chosen):
                _close(chosen)
                raise ConfigurationError(
                    "decode_key_loader: is async, so tokens can only be verified on the request path "
                    "(decorators, verify_jwt_in_request); decode_token() and revoke(str) are "
                    "synchronous and need a synchronous loader."
                )
            return self._decode_with(raw, chosen, allow_expired)
        if probe:
            hit = self.cache.by_token(raw, header=header)
            if hit is not None:
                return hit
        # The token keeps its cache key ("Bearer <token>" for a header token) and reads itself
        # out of it: an entry holds one copy of the token, not two.
        key = self.cache.key(raw, header)
        token = self._verify(raw, self.keys, allow_expired, kept=key)
        if not allow_expired:
            self.cache.put(key, token, self.cache.leeway)
        return token

    def decode_loaded(self, raw: str, *, allow_expired: bool = False) -> Token | Awaitable[Token]:
        """``decode`` with the key(s) the ``decode_key_loader`` picks from the UNVERIFIED header
        and claims; an awaitable only when the loader is async."""
        chosen = self._choose(raw)
        if inspect.isawaitable(chosen):
            return self._loaded_after(raw, chosen, allow_expired)
        return self._decode_with(raw, chosen, allow_expired)

    def _choose(self, raw: str) -> Any:
        assert self.key_loader is not None  # noqa: S101 - only called with a loader
        jose_header, claims = codec.unverified_claims(raw, max_bytes=self.settings.max_token_bytes)
        return self.key_loader(jose_header, claims)

    async def _loaded_after(self, raw: str, chosen: Awaitable[Any], allow_expired: bool) -> Token:
        return self._decode_with(raw, await chosen, allow_expired)

    def _decode_with(self, raw: str, chosen: Any, allow_expired: bool) -> Token:
        loaded = self.loader_keys.verification(chosen)
        # Keyed on the key as well as the token: once the loader stops returning a key (a
        # tenant's key withdrawn), tokens it verified stop hitting. "\n" never occurs in a
        # token or a header value, so these keys cannot meet the other two kinds.
        now, leeway = time.time(), self.settings.leeway
        for fingerprint in loaded.fingerprints:
            hit = self.cache.get(f"{fingerprint}\n{raw}", now, leeway)
            if hit is not None:
                return hit
        token = self._verify(raw, loaded.keys, allow_expired)
        # Which of several keys verified is not known here: only a single key is remembered.
        if len(loaded.keys) == 1 and not allow_expired:
            self.cache.put(f"{loaded.fingerprints[0]}\n{raw}", token, leeway)
        return token

    def _verify(
        self,
        raw: str,
        keys: KeySet | RemoteKeys | Sequence[VerificationKey],
        allow_expired: bool,
        kept: str | None = None,
    ) -> Token:
        try:
            jose_header, payload = codec.decode_with(raw, keys, self.rules, not allow_expired, self.headers)
        except ExpiredSignatureError as error:
            if error.verified is not None:
                error.token = self._token(raw, *error.verified)
            raise
        return self._token(raw, jose_header, payload, kept)

    def _token(self, raw: str, jose_header: dict[str, Any], payload: dict[str, Any], kept: str | None = None) -> Token:
        if kept is None:
            return Token(raw, payload, jose_header, reading=self.reading)
        return Token(kept, payload, jose_header, reading=self.reading, raw_offset=len(kept) - len(raw))


def _close(outcome: Awaitable[Any]) -> None:
    close = getattr(outcome, "close", None)
    if close is not None:
        close()  # no "coroutine was never awaited" warning for a refused call
