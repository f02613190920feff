"""THE one place a request's token is checked: ``Verifier`` runs ``steps.STEPS`` in order.

The runner calls the steps without a coroutine; at the first step that has to wait it
hands the rest to one coroutine. Most requests never wait (a cached token, a local
revocation answer, no callbacks), and skipping the coroutine is a measurable share of a
fast route's cost. The plan of a ``Requirements`` (which steps apply) is computed once per
verifier, and ``request.ctx.token`` is set in one place, ``_publish``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import codec
from .cache import VerifiedCache
from .exceptions import ConfigurationError, CORSPreflight, ExpiredSignatureError, JWTExtendedException
from .jwks import RemoteKeys
from .key_loading import LoaderKeys
from .locations import LOCATIONS
from .requirements import Requirements
from .steps import (
    STEPS,
    STOP,
    Pass,
    Plan,
    Step,
    claims_callback,
    csrf,
    decode,
    decode_loaded,
    fresh,
    revoked,
    roles,
    token_type,
    user_lookup,
)
from .tokens import Token

if TYPE_CHECKING:
    from sanic import Request

    from .keys import KeySet, VerificationKey
    from .revocation import Revocation
    from .settings import Settings

__all__ = ("VERIFIER_ATTR", "Outcome", "Requirements", "Verifier", "verifier_of", "verify_jwt_in_request")

Outcome = Token | None | Coroutine[Any, Any, Token | None]
# (unverified header, unverified claims) -> key, list of keys, or None; or an awaitable of one.
DecodeKeyLoader = Callable[[dict[str, Any], dict[str, Any]], Any]


class Verifier:
    """Verifies tokens for one app: decoding (with the verified-token cache) and the steps."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache: VerifiedCache,
        keys: KeySet | RemoteKeys,
        remote: RemoteKeys | None = None,
        revocation: Revocation | None = None,
        revoker: Callable[[Token], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.keys = keys
        self.remote = remote
        self.revocation = revocation
        self.revoker = revoker
        self.claims_check: Callable[[Token], Any] | None = None
        self.user_loader: Callable[[Token], Any] | None = None
        self.key_loader: DecodeKeyLoader | None = None
        self.loader_keys = LoaderKeys(settings.keys, allow_weak=settings.allow_weak_secret)
        # What verification accepts; what issuing writes (default_aud/iss) is the fallback.
        self.audience = settings.default_aud if settings.decode_audience is None else settings.decode_audience
        self.issuer = settings.default_iss if settings.decode_issuer is None else settings.decode_issuer
        # Called with each authenticated request; events.py sets it only when someone listens.
        self.on_success: Callable[[Request, Token], None] | None = None
        # The few JOSE headers this app's tokens carry, parsed once each (never a verdict).
        self.headers = codec.HeaderMemo()
        self._plans: dict[Requirements, Plan] = {}

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        revocation: Revocation | None,
        revoker: Callable[[Token], Awaitable[None]] | None,
    ) -> Verifier:
        """A verifier with its cache and, in resource-server mode (``jwks_url``), remote keys."""
        cache = VerifiedCache(settings.verify_cache_size, prefix=settings.jwt_header_prefix, leeway=settings.leeway)
        remote = None
        if settings.jwks_url is not None:
            remote = RemoteKeys(
                settings.jwks_url,
                settings.keys,
                settings.decode_algorithms,
                refetch_interval=settings.jwks_refetch_interval,
                cache_seconds=settings.jwks_cache_seconds,
                timeout=settings.jwks_timeout,
                max_bytes=settings.jwks_max_bytes,
                max_keys=settings.jwks_max_keys,
                on_change=cache.clear,  # a key changed: earlier verdicts may no longer hold
            )
        keys = remote or settings.keys
        return cls(settings, cache=cache, keys=keys, remote=remote, revocation=revocation, revoker=revoker)

    def set_callbacks(
        self, *, claims_check: Callable[[Token], Any] | None, user_loader: Callable[[Token], Any] | None
    ) -> None:
        """The claims-verification and user-lookup callbacks; plans are made again."""
        self.claims_check, self.user_loader = claims_check, user_loader
        self._plans.clear()

    def set_key_loader(self, loader: DecodeKeyLoader | None) -> None:
        """The ``decode_key_loader``; plans are made again (their decode step changes)."""
        self.key_loader = loader
        self._plans.clear()

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
        token = self._verify(raw, self.keys, allow_expired)
        if not allow_expired:
            self.cache.remember(raw, token, header=header)
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

    def _verify(self, raw: str, keys: KeySet | RemoteKeys | Sequence[VerificationKey], allow_expired: bool) -> Token:
        s = self.settings
        try:
            jose_header, payload = codec.decode(
                raw,
                keys=keys,
                audience=self.audience,
                issuer=self.issuer,
                leeway=s.leeway,
                required=s.required_claims,
                max_bytes=s.max_token_bytes,
                verify_exp=not allow_expired,
                verify_sub=s.verify_sub,
                memo=self.headers,
            )
        except ExpiredSignatureError as error:
            if error.verified is not None:
                error.token = self._token(raw, *error.verified)
            raise
        return self._token(raw, jose_header, payload)

    def _token(self, raw: str, jose_header: dict[str, Any], payload: dict[str, Any]) -> Token:
        s = self.settings
        return Token(
            raw,
            payload,
            jose_header,
            identity_claim=s.identity_claim,
            acl_claim=s.acl_claim,
            public_claim_namespace=s.public_claim_namespace,
            private_claim_prefix=s.private_claim_prefix,
            revoker=self.revoker,
        )

    def plan(self, req: Requirements) -> Plan:
        """The steps ``req`` needs here, made once (``Requirements`` hash by identity)."""
        plan = self._plans.get(req)
        if plan is None:
            plan = self._plans[req] = self._make_plan(req)
        return plan

    def _make_plan(self, req: Requirements) -> Plan:
        s = self.settings
        locations = req.locations or s.token_location
        refresh = req.token_type == "refresh"
        skip: dict[Step, bool] = {
            csrf: "cookies" not in locations,
            token_type: not req.verify_type,
            revoked: self.revocation is None or req.skip_revocation_check,
            fresh: not req.fresh_required,
            roles: req.allow is None and req.deny is None,
            claims_callback: self.claims_check is None,
            user_lookup: self.user_loader is None,
        }
        # A decode loader picks the key per token: the cache is probed per key, after it ran.
        loader = self.key_loader is not None
        swap: dict[Step, Step] = {decode: decode_loaded} if loader else {}
        return Plan(
            req=req,
            steps=tuple(swap.get(step, step) for step in STEPS if not skip.get(step, False)),
            locations=locations,
            searches=_searches(s, locations, refresh, both=not req.verify_type),
            probe_header=s.header_keys[refresh] if locations[0] == "headers" and not loader else None,
            refresh=refresh,
            token_type=req.token_type,
            exempt_methods=s.exempt_methods,
        )

    def verify(self, request: Request, req: Requirements) -> Outcome:
        """Every step for ``req``: the token (``None`` when optional and absent, or on an exempt
        method) when no step waits, else a coroutine to await. Raises ``JWTExtendedException``."""
        plan = self._plans.get(req) or self.plan(req)
        p = Pass(request, plan)
        index = 0
        try:
            for step in plan.steps:
                index += 1
                outcome = step(self, p)
                if outcome is None:
                    continue
                if outcome is STOP:
                    break
                return self._finish(p, outcome, plan.steps[index:])  # type: ignore[arg-type]
        except JWTExtendedException as error:
            _annotate(error, p)
            raise
        return _publish(p, self.on_success)

    async def _finish(self, p: Pass, pending: Awaitable[Any], steps: tuple[Step, ...]) -> Token | None:
        try:
            await pending
            for step in steps:
                outcome = step(self, p)
                if outcome is STOP:
                    break
                if outcome is not None:
                    await outcome  # type: ignore[misc]
        except JWTExtendedException as error:
            _annotate(error, p)
            raise
        return _publish(p, self.on_success)


def _annotate(error: JWTExtendedException, p: Pass) -> None:
    # The one place errors learn the request's token: p.token is set only once the signature
    # verified (an expired token arrives on the error itself, from decode).
    if p.location:
        error.location = p.location
    if p.token is not None:
        error.token = p.token


def _searches(
    settings: Settings, locations: tuple[str, ...], refresh: bool, *, both: bool
) -> tuple[tuple[str, bool], ...]:
    """(location, refresh names?) pairs, in order. With ``both`` (``verify_type=False``) each
    location is searched under the route's own names, then the other type's; a place both
    types share (the same header, the query parameter) is searched once."""
    if not both:
        return tuple((location, refresh) for location in locations)
    out: dict[str, tuple[str, bool]] = {}
    for location in locations:
        for kind in (refresh, not refresh):
            out.setdefault(LOCATIONS[location].describe(settings, kind), (location, kind))
    return tuple(out.values())


def _close(outcome: Awaitable[Any]) -> None:
    close = getattr(outcome, "close", None)
    if close is not None:
        close()  # no "coroutine was never awaited" warning for a refused call


def _publish(p: Pass, on_success: Callable[[Request, Token], None] | None) -> Token | None:
    # The one place request.ctx learns the outcome (None too, for response middleware).
    ctx = p.request.ctx
    token = ctx.token = p.token
    if token is None:
        if p.preflight:
            raise CORSPreflight()
    else:
        ctx.jwt_location = p.location
        if on_success is not None:  # set only while a jwt.auth.succeeded listener exists
            on_success(p.request, token)
    return token


# -- finding an app's verifier -----------------------------------------------------------------

# Where the verifier lives on ``app.ctx``; per app, so two apps never share state.
VERIFIER_ATTR = "_sanic_jwt_extended_verifier"


def verifier_of(app: Any) -> Verifier:
    """The verifier stored on ``app.ctx``; raises ``ConfigurationError`` if there is none."""
    verifier: Verifier | None = getattr(app.ctx, VERIFIER_ATTR, None)
    if verifier is None:
        raise ConfigurationError(
            f"app {app.name!r} has no JWT manager; call `with JWT.initialize(app) as manager:` first."
        )
    return verifier


async def verify_jwt_in_request(
    request: Request,
    *,
    fresh_required: bool = False,
    optional: bool = False,
    refresh: bool = False,
    allow: str | Iterable[str] | None = None,
    deny: str | Iterable[str] | None = None,
    locations: str | Iterable[str] | None = None,
    skip_revocation_check: bool = False,
    verify_type: bool = True,
) -> Token | None:
    """Check the request's token as ``@jwt_required`` would, for custom guards and middleware.

    ``skip_revocation_check``: accept a revoked token (a logout route); ``verify_type=False``:
    accept an access or a refresh token (``refresh`` then only says which names are tried first).

    Sets ``request.ctx.token`` and returns the token (``None`` when ``optional`` and absent,
    or on an exempt method). Raises a ``JWTExtendedException`` that the app renders as the
    contract's error response (``CORSPreflight``, an empty 204, on a CORS preflight).
    """
    req = Requirements.build(
        token_type="refresh" if refresh else "access",
        fresh_required=fresh_required,
        optional=optional,
        allow=allow,
        deny=deny,
        locations=locations,
        skip_revocation_check=skip_revocation_check,
        verify_type=verify_type,
    )
    outcome = verifier_of(request.app).verify(request, req)
    if outcome is None or isinstance(outcome, Token):
        return outcome
    return await outcome
