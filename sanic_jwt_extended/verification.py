"""THE one place a request's token is checked: ``Verifier`` and its ordered steps.

``STEPS`` is the order, written once (authentication before authorization, cheap checks
before I/O): methods (preflight, exempt) → extract (first location holding a token) →
decode (signature, exp/nbf/iat, aud, iss, required claims) → CSRF (cookie-borne tokens) →
type → revoked → fresh → roles → claims-verification callback → user lookup.

A step returns ``None`` when done, ``STOP`` to end early (no token on an optional route, an
exempt method), or an awaitable when it has to wait. The runner calls the steps in order
without a coroutine; at the first awaitable it hands the rest to one coroutine. Most
requests never wait (a cached token, a local revocation answer, no callbacks), and skipping
the coroutine is a measurable share of a fast route's cost. The plan of a ``Requirements``
(which steps apply) is computed once per verifier.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from . import codec
from .csrf import check_double_submit
from .exceptions import (
    AccessDeniedError,
    ClaimsVerificationError,
    ConfigurationError,
    CORSPreflight,
    FreshTokenRequiredError,
    NoAuthorizationError,
    UnknownKeyError,
    UserLookupError,
    WrongTokenError,
)
from .locations import LOCATIONS, describe_locations
from .requirements import Requirements
from .tokens import Token

if TYPE_CHECKING:
    from sanic import Request

    from .cache import VerifiedCache
    from .jwks import RemoteKeys
    from .keys import KeySet
    from .revocation import Revocation
    from .settings import Settings

__all__ = ("STEPS", "STOP", "VERIFIER_ATTR", "Requirements", "Verifier", "verifier_of", "verify_jwt_in_request")

Outcome = Token | None | Coroutine[Any, Any, Token | None]
STOP: Final = object()


class Pass:
    """One request on its way through the steps."""

    __slots__ = ("location", "plan", "preflight", "probed", "raw", "request", "token")

    def __init__(self, request: Request, plan: Plan) -> None:
        self.request = request
        self.plan = plan
        self.token: Token | None = None
        self.location = ""
        self.raw = ""
        self.probed = False  # the exact token-header value was looked up in the cache
        self.preflight = False


Step = Callable[["Verifier", Pass], object]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one ``Requirements`` needs on one app: the steps that apply, and their inputs."""

    req: Requirements
    steps: tuple[Step, ...]
    locations: tuple[str, ...]
    probe_header: str | None  # the header looked up in the cache before anything is parsed
    refresh: bool
    token_type: str
    exempt_methods: tuple[str, ...]


# -- the steps, in order -----------------------------------------------------------------------


def methods(v: Verifier, p: Pass) -> object:
    """Exempt methods run without a token; a CORS preflight gets an empty 204.

    Only OPTIONS with both preflight headers is a preflight (Fetch standard, CORS-preflight
    request): any other OPTIONS is authenticated like GET, so a view body never runs
    unauthenticated because of its method alone.
    """
    method = p.request.method
    if method in p.plan.exempt_methods:
        return STOP
    if method == "OPTIONS":
        headers = p.request.headers
        if "origin" in headers and "access-control-request-method" in headers:
            p.preflight = True
            return STOP
    return None


def extract(v: Verifier, p: Pass) -> object:
    """The usual request: a header this process verified before, found by its exact value.
    Otherwise the raw token of the first location holding one."""
    plan, request = p.plan, p.request
    header = plan.probe_header
    if header is not None and (v.remote is None or not v.remote.stale):
        values = request.headers.getall(header, None)
        if values is not None and len(values) == 1:
            p.probed = True
            hit = v.cache.by_header(values[0])
            if hit is not None:
                p.token = hit
                p.location = "headers"
                return None
    for location in plan.locations:
        raw = LOCATIONS[location].extract(request, v.settings, plan.refresh)
        # A token that is present but bad fails in decode: no falling through to the next location.
        if raw is not None:
            p.raw, p.location = raw, location
            return None
    if plan.req.optional:
        return STOP
    tried = describe_locations(v.settings, plan.locations, plan.refresh)
    raise NoAuthorizationError(f"Missing token: looked in {tried}", locations=plan.locations)


def decode(v: Verifier, p: Pass) -> object:
    if p.token is not None:
        return None  # found in the cache by extract
    remote = v.remote
    if remote is not None and remote.stale:
        return _decode_after(v, p, None)
    try:
        p.token = v.decode(p.raw, header=p.location == "headers", probe=not p.probed)
    except UnknownKeyError as error:
        if remote is None:
            raise
        return _decode_after(v, p, error)
    return None


async def _decode_after(v: Verifier, p: Pass, error: UnknownKeyError | None) -> None:
    # Remote keys: refresh a stale set first; a kid the set lacks (a key rotated at the
    # issuer) refetches once, rate limited, and the token is decoded again.
    remote = v.remote
    assert remote is not None  # noqa: S101 - decode() only comes here with remote keys
    if error is None:
        await remote.refresh()
    else:
        await remote.ensure(error)
    header = p.location == "headers"
    try:
        p.token = v.decode(p.raw, header=header, probe=not p.probed)
    except UnknownKeyError as again:
        if error is not None:
            raise
        await remote.ensure(again)
        p.token = v.decode(p.raw, header=header, probe=False)


def csrf(v: Verifier, p: Pass) -> object:
    if p.location == "cookies":
        check_double_submit(p.request, _token(p), v.settings)
    return None


def token_type(v: Verifier, p: Pass) -> object:
    expected = p.plan.token_type
    token = p.token
    if token is None or token.type != expected:
        raise WrongTokenError(f"Only {expected} tokens are allowed", expected=expected)
    return None


def revoked(v: Verifier, p: Pass) -> object:
    revocation, token = v.revocation, _token(p)
    if revocation is None or revocation.passes(token):
        return None
    return revocation.check(token)


def fresh(v: Verifier, p: Pass) -> object:
    if _token(p).fresh is not True:
        raise FreshTokenRequiredError()
    return None


def roles(v: Verifier, p: Pass) -> object:
    if not v.settings.use_acl:
        raise ConfigurationError("allow=/deny= need config.use_acl = True")
    req, held = p.plan.req, _token(p).roles
    allowed = req.allow is None or not held.isdisjoint(req.allow)
    if not allowed or (req.deny is not None and not held.isdisjoint(req.deny)):
        raise AccessDeniedError(roles=sorted(held))
    return None


def claims_callback(v: Verifier, p: Pass) -> object:
    assert v.claims_check is not None  # noqa: S101 - in the plan only with a callback
    result = v.claims_check(_token(p))
    if inspect.isawaitable(result):
        return _claims_after(result)
    # Anything falsy refuses: a forgotten `return` must not accept every token.
    if not result:
        raise ClaimsVerificationError()
    return None


async def _claims_after(result: Awaitable[Any]) -> None:
    if not await result:
        raise ClaimsVerificationError()


def user_lookup(v: Verifier, p: Pass) -> object:
    assert v.user_loader is not None  # noqa: S101 - in the plan only with a callback
    user = v.user_loader(_token(p))
    if inspect.isawaitable(user):
        return _user_after(p, user)
    _set_user(p, user)
    return None


async def _user_after(p: Pass, user: Awaitable[Any]) -> None:
    _set_user(p, await user)


def _set_user(p: Pass, user: Any) -> None:
    if user is None:
        raise UserLookupError()
    # Tokens are shared between requests (the cache), so the user goes on a copy.
    p.token = _token(p).with_user(user)
    p.request.ctx.jwt_user = user


def _token(p: Pass) -> Token:
    token = p.token
    assert token is not None  # noqa: S101 - decode ran before every step reading it
    return token


STEPS: tuple[Step, ...] = (
    methods,
    extract,
    decode,
    csrf,
    token_type,
    revoked,
    fresh,
    roles,
    claims_callback,
    user_lookup,
)


# -- the runner --------------------------------------------------------------------------------


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
        self._plans: dict[Requirements, Plan] = {}

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
        for step in plan.steps:
            index += 1
            outcome = step(self, p)
            if outcome is None:
                continue
            if outcome is STOP:
                break
            return self._finish(p, outcome, plan.steps[index:])  # type: ignore[arg-type]
        return _publish(p)

    async def _finish(self, p: Pass, pending: Awaitable[Any], steps: tuple[Step, ...]) -> Token | None:
        await pending
        for step in steps:
            outcome = step(self, p)
            if outcome is STOP:
                break
            if outcome is not None:
                await outcome  # type: ignore[misc]
        return _publish(p)


def _publish(p: Pass) -> Token | None:
    # The one place request.ctx learns the outcome (None too, for response middleware).
    ctx = p.request.ctx
    token = ctx.token = p.token
    if token is None:
        if p.preflight:
            raise CORSPreflight()
    else:
        ctx.jwt_location = p.location
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
