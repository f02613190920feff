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

from . import codec
from .cache import VerifiedCache
from .exceptions import ConfigurationError, CORSPreflight, JWTExtendedException
from .jwks import RemoteKeys
from .requirements import Requirements
from .steps import (
    STEPS,
    STOP,
    Pass,
    Plan,
    Step,
    claims_callback,
    csrf,
    fresh,
    revoked,
    roles,
    user_lookup,
)
from .tokens import Token

if TYPE_CHECKING:
    from sanic import Request

    from .keys import KeySet
    from .revocation import Revocation
    from .settings import Settings

__all__ = ("VERIFIER_ATTR", "Outcome", "Requirements", "Verifier", "verifier_of", "verify_jwt_in_request")

Outcome = Token | None | Coroutine[Any, Any, Token | None]


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
        # Called with each authenticated request; events.py sets it only when someone listens.
        self.on_success: Callable[[Request, Token], None] | None = None
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

    def decode(self, raw: str, *, header: bool = False, probe: bool = True) -> Token:
        """Verify ``raw`` (signature, exp/nbf/iat, aud, iss, required claims) into a ``Token``.

        ``header``: ``raw`` came from the token header; ``probe``: look in the cache first
        (the request path has already looked its header value up).
        """
        if probe:
            hit = self.cache.by_token(raw, header=header)
            if hit is not None:
                return hit
        s = self.settings
        jose_header, payload = codec.decode(
            raw,
            keys=self.keys,
            audience=s.default_aud,
            issuer=s.default_iss,
            leeway=s.leeway,
            required=s.required_claims,
            max_bytes=s.max_token_bytes,
        )
        token = Token(
            raw,
            payload,
            jose_header,
            identity_claim=s.identity_claim,
            acl_claim=s.acl_claim,
            public_claim_namespace=s.public_claim_namespace,
            private_claim_prefix=s.private_claim_prefix,
            revoker=self.revoker,
        )
        self.cache.remember(raw, token, header=header)
        return token

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
            revoked: self.revocation is None,
            fresh: not req.fresh_required,
            roles: req.allow is None and req.deny is None,
            claims_callback: self.claims_check is None,
            user_lookup: self.user_loader is None,
        }
        return Plan(
            req=req,
            steps=tuple(step for step in STEPS if not skip.get(step, False)),
            locations=locations,
            probe_header=s.header_keys[refresh] if locations[0] == "headers" else None,
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
            return _publish(p, self.on_success)
        except JWTExtendedException as error:
            error.token, error.location = p.token, p.location or None
            raise

    async def _finish(self, p: Pass, pending: Awaitable[Any], steps: tuple[Step, ...]) -> Token | None:
        try:
            await pending
            for step in steps:
                outcome = step(self, p)
                if outcome is STOP:
                    break
                if outcome is not None:
                    await outcome  # type: ignore[misc]
            return _publish(p, self.on_success)
        except JWTExtendedException as error:
            error.token, error.location = p.token, p.location or None
            raise


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
) -> Token | None:
    """Check the request's token as ``@jwt_required`` would, for custom guards and middleware.

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
    )
    outcome = verifier_of(request.app).verify(request, req)
    if outcome is None or isinstance(outcome, Token):
        return outcome
    return await outcome
