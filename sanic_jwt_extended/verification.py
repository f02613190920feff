"""THE one place a request's token is checked: ``Verifier`` runs ``steps.STEPS`` in order.

The runner calls the steps without a coroutine; at the first step that has to wait it
hands the rest to one coroutine. Most requests never wait (a cached token, a local
revocation answer, no callbacks), and skipping the coroutine is a measurable share of a
fast route's cost. The plan of a ``Requirements`` (which steps apply) is computed once per
verifier, and ``request.ctx.token`` is set in one place, ``_publish``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from .cache import VerifiedCache
from .decoding import DecodeKeyLoader, TokenDecoder
from .exceptions import ConfigurationError, CORSPreflight, InvalidRequestError, JWTExtendedException
from .jwks import RemoteKeys
from .locations import search_order, token_from_cookies
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
        cookie = s.refresh_cookie_name if refresh else s.access_cookie_name
        cookies_next = locations[:1] == ("cookies",) or locations[:2] == ("headers", "cookies")
        swap: dict[Step, Step] = {decode: decode_loaded} if loader else {}
        steps = tuple(swap.get(step, step) for step in STEPS if not skip.get(step, False))
        return Plan(
            req=req,
            steps=steps,
            locations=locations,
            searches=search_order(s, locations, refresh, both=not req.verify_type),
            probe_header=s.header_keys[refresh] if locations[0] == "headers" and not loader else None,
            # The cookie after the header only (or first): a header found absent is the only place
            # searched before it. Not when both types are searched (two names per location).
            probe_cookie=cookie if req.verify_type and not loader and cookies_next else None,
            settled_steps=tuple(step for step in steps if step not in STRING_BOUND and step is not methods),
            settled_cookie_steps=tuple(
                step for step in steps if (step not in STRING_BOUND or step is csrf) and step is not methods
            ),
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
        steps, p = plan.steps, None
        # The probe: the exact token-header value verified before, found before anything is
        # parsed (not while remote keys are stale: they are refreshed first, by decode).
        header = plan.probe_header
        if self.remote is None or not self.remote.stale:
            values = None if header is None else request.headers.getall(header, None)
            if values is not None:
                if len(values) == 1:
                    hit = self.cache.by_header(values[0])
                    # Settled, on a method `methods` has nothing to say about: the other steps only.
                    if hit is not None and hit.settled_for(plan.mark) and ordinary(request.method, plan):
                        steps = plan.settled_steps
                        if not steps:
                            return _publish(request, hit, "headers", self.on_success)
                    p = Pass(request, plan, hit, "headers")
            elif plan.probe_cookie is not None:
                p, steps = self._probe_cookie(request, plan)
        if p is None:
            p = Pass(request, plan)
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

    def _probe_cookie(self, request: Request, plan: Plan) -> tuple[Pass | None, tuple[Step, ...]]:
        # No earlier location holds a token (the plan only probes when none can): the token
        # cookie's exact value, verified before. A cookie sent twice is left to the steps.
        try:
            raw = token_from_cookies(request, plan.probe_cookie or "")
        except InvalidRequestError:
            raw = None
        if raw is None:
            return None, plan.steps
        hit = self.cache.by_token(raw)
        p = Pass(request, plan, hit, "cookies")
        if hit is not None and hit.settled_for(plan.mark) and ordinary(request.method, plan):
            return p, plan.settled_cookie_steps  # CSRF among them: it reads another header
        return p, plan.steps

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
        # After every step of the plan: the next request with this value, where it was probed
        # (the token header or cookie), skips the string-bound ones.
        verified = p.verified
        if full and p.probed == p.location and verified is not None and settles(p.plan, verified):
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
