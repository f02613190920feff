"""The checks a token goes through, one small function each, and ``STEPS``, their order.

Written once (authentication before authorization, cheap checks before I/O): methods
(preflight, exempt) → extract (first location holding a token) → decode (signature,
exp/nbf/iat, aud, iss, required claims) → CSRF (cookie-borne tokens) → type → revoked →
fresh → roles → claims-verification callback → user lookup.

A step returns ``None`` when done, ``STOP`` to end early (no token on an optional route, an
exempt method), or an awaitable when it has to wait; ``verification.Verifier`` runs them.
A new check: one function here, its place in ``STEPS`` (maybe a line in ``Verifier._make_plan``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from .csrf import check_double_submit
from .exceptions import (
    AccessDeniedError,
    ClaimsVerificationError,
    ConfigurationError,
    FreshTokenRequiredError,
    JWTExtendedException,
    NoAuthorizationError,
    UnknownKeyError,
    UserLookupError,
    WrongTokenError,
)
from .locations import LOCATIONS
from .tokens import Token

if TYPE_CHECKING:
    from sanic import Request

    from .cache import VerifiedCache
    from .jwks import RemoteKeys
    from .requirements import Requirements
    from .revocation import Revocation
    from .settings import Settings

__all__ = ("STEPS", "STOP", "STRING_BOUND", "Checker", "Pass", "Plan", "Step", "decode_loaded", "ordinary", "settles")

STOP: Final = object()


class Checker(Protocol):
    """What the steps use of the verifier running them."""

    settings: Settings
    cache: VerifiedCache
    remote: RemoteKeys | None
    revocation: Revocation | None
    claims_check: Callable[[Token], Any] | None
    user_loader: Callable[[Token], Any] | None

    def decode(self, raw: str, *, header: bool = False, probe: bool = True) -> Token: ...
    def decode_loaded(self, raw: str) -> Token | Awaitable[Token]: ...


class Pass:
    """One request on its way through the steps."""

    __slots__ = ("location", "plan", "preflight", "probed", "raw", "request", "token", "verified")

    def __init__(self, request: Request, plan: Plan, hit: Token | None = None, probed: str = "") -> None:
        self.request = request
        self.plan = plan
        # The verified token as cached and shared (``token`` may become a copy with the user).
        self.verified = self.token = hit
        self.location = probed if hit is not None else ""
        self.raw = ""
        self.probed = probed  # where the exact value was looked up in the cache: headers, cookies or ""
        self.preflight = False

    def annotate(self, error: JWTExtendedException) -> None:
        """The one place errors learn the request's token (set only once the signature
        verified; an expired token arrives on the error itself, from decode) and location."""
        if self.location:
            error.location = self.location
        if self.token is not None:
            error.token = self.token


Step = Callable[[Checker, "Pass"], object]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one ``Requirements`` needs on one app: the steps that apply, and their inputs."""

    req: Requirements
    steps: tuple[Step, ...]
    locations: tuple[str, ...]
    searches: tuple[tuple[str, bool], ...]  # (location, refresh names?) in the order tried
    probe_header: str | None  # the header looked up in the cache before anything is parsed
    probe_cookie: str | None  # the cookie looked up next, when no earlier location can hold a token
    settled_steps: tuple[Step, ...]  # what a settled token goes through on an ordinary method
    settled_cookie_steps: tuple[Step, ...]  # the same, for a token from the cookie: CSRF too
    mark: int  # this plan's bit in a token's settled marks; 0: never settled
    token_type: str
    exempt_methods: tuple[str, ...]
    watched_methods: frozenset[str]  # the ones `methods` looks at: the exempt ones and OPTIONS


def methods(v: Checker, p: Pass) -> object:
    """Exempt methods run without a token; a CORS preflight gets an empty 204.

    Only OPTIONS with both preflight headers is a preflight (Fetch standard): any other OPTIONS
    is authenticated like GET, so a view body never runs unauthenticated for its method alone.
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


def ordinary(method: str, plan: Plan) -> bool:
    """Whether ``methods`` lets ``method`` through unseen (neither exempt nor OPTIONS)."""
    return method not in plan.watched_methods


def extract(v: Checker, p: Pass) -> object:
    """The raw token of the first location holding one (unless the runner's probe found the
    token-header value in the cache already)."""
    if p.token is not None:
        return None
    plan, request = p.plan, p.request
    for location, refresh in plan.searches:
        raw = LOCATIONS[location].extract(request, v.settings, refresh)
        # A token that is present but bad fails in decode: no falling through to the next location.
        if raw is not None:
            p.raw, p.location = raw, location
            return None
    if plan.req.optional:
        return STOP
    tried = ", ".join(dict.fromkeys(LOCATIONS[loc].describe(v.settings, refresh) for loc, refresh in plan.searches))
    raise NoAuthorizationError(f"Missing token: looked in {tried}", locations=plan.locations)


def decode(v: Checker, p: Pass) -> object:
    if p.token is not None:
        return None  # found in the cache by extract
    remote = v.remote
    if remote is not None and remote.stale:
        return _decode_after(v, p, None)
    try:
        p.verified = p.token = v.decode(p.raw, header=p.location == "headers", probe=not p.probed)
    except UnknownKeyError as error:
        if remote is None:
            raise
        return _decode_after(v, p, error)
    return None


async def _decode_after(v: Checker, p: Pass, error: UnknownKeyError | None) -> None:
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
        p.verified = p.token = v.decode(p.raw, header=header, probe=not p.probed)
    except UnknownKeyError as again:
        if error is not None:
            raise
        await remote.ensure(again)
        p.verified = p.token = v.decode(p.raw, header=header, probe=False)


def decode_loaded(v: Checker, p: Pass) -> object:
    """``decode`` when a ``decode_key_loader`` picks the key: it waits only for an async loader."""
    outcome = v.decode_loaded(p.raw)
    if isinstance(outcome, Token):
        p.verified = p.token = outcome
        return None
    return _loaded_after(p, outcome)


async def _loaded_after(p: Pass, outcome: Awaitable[Token]) -> None:
    p.verified = p.token = await outcome


def csrf(v: Checker, p: Pass) -> object:
    if p.location == "cookies":
        check_double_submit(p.request, _token(p), v.settings)
    return None


def token_type(v: Checker, p: Pass) -> object:
    expected = p.plan.token_type
    token = p.token
    if token is None or token.type != expected:
        raise WrongTokenError(f"Only {expected} tokens are allowed", expected=expected)
    return None


def revoked(v: Checker, p: Pass) -> object:
    revocation, token = v.revocation, p.token
    assert token is not None  # noqa: S101 - decode ran before (written out: a settled step)
    if revocation is None or revocation.passes(token):
        return None
    return revocation.check(token)


def fresh(v: Checker, p: Pass) -> object:
    if _token(p).fresh is not True:
        raise FreshTokenRequiredError()
    return None


def roles(v: Checker, p: Pass) -> object:
    if not v.settings.use_acl:
        raise ConfigurationError("allow=/deny= need config.use_acl = True")
    req, held = p.plan.req, _token(p).roles
    allowed = req.allow is None or not held.isdisjoint(req.allow)
    if not allowed or (req.deny is not None and not held.isdisjoint(req.deny)):
        raise AccessDeniedError(roles=sorted(held))
    return None


def claims_callback(v: Checker, p: Pass) -> object:
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


def user_lookup(v: Checker, p: Pass) -> object:
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


# Steps whose verdict on a header token depends only on the header's exact value and the plan:
# not on the clock (a probe hit re-checks exp and nbf), the rest of the request, a store or user
# code. A token that passed a plan is settled on it (``Token.settle``): the same value then runs
# only the plan's other steps (from the cookie, ``csrf`` too: it reads another header). A new step
# is not listed unless it qualifies; ``fresh`` only for a boolean claim (see ``settles``).
STRING_BOUND: frozenset[Step] = frozenset((extract, decode, csrf, token_type, fresh, roles))


def settles(plan: Plan, token: Token) -> bool:
    """Whether the verdicts of ``plan``'s string-bound steps on ``token`` hold for good."""
    return fresh not in plan.steps or isinstance(token.get("fresh"), bool)


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
