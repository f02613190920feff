"""THE one place a request's token is checked: ``Verifier`` runs ``steps.STEPS`` in order.

The runner calls the steps without a coroutine; at the first step that has to wait it
hands the rest to one coroutine. Most requests never wait (a cached token, a local
revocation answer, no callbacks), and skipping the coroutine is a measurable share of a
fast route's cost. The plan of a ``Requirements`` (which steps apply) is computed once per
verifier, and ``request.ctx.token`` is set in one place, ``_publish``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from .cache import VerifiedCache
from .decoding import DecodeKeyLoader, TokenDecoder
from .exceptions import ConfigurationError, CORSPreflight, JWTExtendedException
from .jwks import RemoteKeys
from .locations import search_order
from .requirements import Requirements
from .steps import (
    STEPS,
    STOP,
    STRING_BOUND,
    Pass,
    Plan,
    Step,
    claims_callback,
    csrf,
    decode,
    decode_loaded,
    fresh,
    methods,
    ordinary,
    revoked,
    roles,
    settles,
    token_type,
    user_lookup,
)
from .tokens import Token

if TYPE_CHECKING:
    from sanic import Request

    from .keys import KeySet
    from .revocation import Revocation
    from .settings import Settings

__all__ = (
    "VERIFIER_ATTR",
    "DecodeKeyLoader",
    "Outcome",
    "Requirements",
    "Verifier",
    "verifier_of",
    "verify_jwt_in_request",
)

Outcome = Token | None | Coroutine[Any, Any, Token | None]


class Verifier(TokenDecoder):
    """Verifies requests for one app: the steps, on top of decoding (with the verified-token cache)."""

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
        super().__init__(settings, cache=cache, keys=keys, remote=remote, revoker=revoker)
        self.revocation = revocation
        self.claims_check: Callable[[Token], Any] | None = None
        self.user_loader: Callable[[Token], Any] | None = None
        # Called with each authenticated request; events.py sets it only when someone listens.
        self.on_success: Callable[[Request, Token], None] | None = None
        self._plans: dict[Requirements, Plan] = {}
        self._marks = 0

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
        steps = tuple(swap.get(step, step) for step in STEPS if not skip.get(step, False))
        return Plan(
            req=req,
            steps=steps,
            locations=locations,
            searches=search_order(s, locations, refresh, both=not req.verify_type),
            probe_header=s.header_keys[refresh] if locations[0] == "headers" and not loader else None,
            settled_steps=tuple(step for step in steps if step not in STRING_BOUND and step is not methods),
            mark=self._next_mark(),
            token_type=req.token_type,
            exempt_methods=s.exempt_methods,
            watched_methods=frozenset((*s.exempt_methods, "OPTIONS")),
        )

    def _next_mark(self) -> int:
        # Never reused, even after set_callbacks remade the plans: a cached token's marks
        # must not speak for a plan made since. Beyond 62 plans: 0, never settled.
        self._marks += 1
        return 1 << self._marks if self._marks < 63 else 0

    def verify(self, request: Request, req: Requirements) -> Outcome:
        """Every step for ``req``: the token (``None`` when optional and absent, or on an exempt
        method) when no step waits, else a coroutine to await. Raises ``JWTExtendedException``."""
        plan = self._plans.get(req) or self.plan(req)
        steps, hit, probed = plan.steps, None, False
        # The probe: the exact token-header value verified before, found before anything is
        # parsed (not while remote keys are stale: they are refreshed first, by decode).
        header = plan.probe_header
        if header is not None and (self.remote is None or not self.remote.stale):
            values = request.headers.getall(header, None)
            if values is not None and len(values) == 1:
                probed = True
                hit = self.cache.by_header(values[0])
                # Settled, on a method `methods` has nothing to say about: the other steps only.
                if hit is not None and hit.settled_for(plan.mark) and ordinary(request.method, plan):
                    steps = plan.settled_steps
                    if not steps:
                        return _publish(request, hit, "headers", self.on_success)
        p = Pass(request, plan, hit, probed)
        index = 0
        try:
            for step in steps:
                index += 1
                outcome = step(self, p)
                if outcome is None:
                    continue
                if outcome is STOP:
                    _stopped(p)
                    return None
                return self._finish(p, outcome, steps[index:], steps is plan.steps)  # type: ignore[arg-type]
        except JWTExtendedException as error:
            p.annotate(error)
            raise
        return self._done(p, steps is plan.steps)

    async def _finish(self, p: Pass, pending: Awaitable[Any], steps: tuple[Step, ...], full: bool) -> Token | None:
        try:
            await pending
            for step in steps:
                outcome = step(self, p)
                if outcome is STOP:
                    _stopped(p)
                    return None
                if outcome is not None:
                    await outcome  # type: ignore[misc]
        except JWTExtendedException as error:
            p.annotate(error)
            raise
        return self._done(p, full)

    def _done(self, p: Pass, full: bool) -> Token:
        token = p.token
        assert token is not None  # noqa: S101 - every step passed
        # After every step of the plan: the next request with this header value skips the
        # string-bound ones.
        verified = p.verified
        if full and p.probed and p.location == "headers" and verified is not None and settles(p.plan, verified):
            verified.settle(p.plan.mark)
        return _publish(p.request, token, p.location, self.on_success)


def _stopped(p: Pass) -> None:
    # A step ended the request's checks early: no token (none on an optional route, or an
    # exempt method or CORS preflight, even when the probe found one), for response
    # middleware too.
    p.request.ctx.token = None
    if p.preflight:
        raise CORSPreflight()


def _publish(
    request: Request, token: Token, location: str, on_success: Callable[[Request, Token], None] | None
) -> Token:
    # The one place request.ctx learns an authenticated outcome (_stopped sets None).
    ctx = request.ctx
    ctx.token = token
    ctx.jwt_location = location
    if on_success is not None:  # set only while a jwt.auth.succeeded listener exists
        on_success(request, token)
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
