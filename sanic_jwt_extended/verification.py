"""THE one place a request's token is checked.

Order (authentication before authorization, cheap checks before I/O):
extract (first location holding a token) → decode (signature, exp/nbf/iat, aud, iss,
required claims) → CSRF (cookie-borne tokens) → type → revoked → freshness → roles
→ claims-verification callback → user lookup.
"""

from __future__ import annotations

import hmac
import inspect
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .exceptions import (
    AccessDeniedError,
    ClaimsVerificationError,
    ConfigurationError,
    CORSPreflight,
    CSRFError,
    FreshTokenRequiredError,
    NoAuthorizationError,
    UnknownKeyError,
    UserLookupError,
    WrongTokenError,
)
from .locations import (
    describe_locations,
    token_from_cookies,
    token_from_headers,
    token_from_json,
    token_from_query,
)
from .tokens import Token
from .validate import normalize_locations

if TYPE_CHECKING:
    from sanic import Request

    from .jwks import RemoteKeys
    from .manager import JWTManager
    from .settings import Settings

__all__ = (
    "STATE_ATTR",
    "Requirements",
    "authenticate",
    "fast_header_key",
    "manager_of",
    "manager_of_app",
    "skips_authentication",
    "verify_jwt_in_request",
    "verify_now",
    "verify_request",
)

# Where the manager lives on ``app.ctx``; per app, so two apps never share state.
STATE_ATTR = "_sanic_jwt_extended"


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a route demands of its token."""

    token_type: str = "access"
    fresh_required: bool = False
    optional: bool = False
    allow: frozenset[str] | None = None
    deny: frozenset[str] | None = None
    locations: tuple[str, ...] | None = None
    # Derived once here rather than on every request.
    refresh: bool = field(init=False, repr=False, compare=False)
    uses_roles: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "refresh", self.token_type == "refresh")
        object.__setattr__(self, "uses_roles", self.allow is not None or self.deny is not None)

    @classmethod
    def build(
        cls,
        *,
        token_type: str = "access",
        fresh_required: bool = False,
        optional: bool = False,
        allow: str | Iterable[str] | None = None,
        deny: str | Iterable[str] | None = None,
        locations: str | Iterable[str] | None = None,
    ) -> Requirements:
        return cls(
            token_type=token_type,
            fresh_required=bool(fresh_required),
            optional=bool(optional),
            allow=_role_set(allow, "allow"),
            deny=_role_set(deny, "deny"),
            locations=None if locations is None else _location_tuple(locations),
        )


def _role_set(roles: str | Iterable[str] | None, name: str) -> frozenset[str] | None:
    if roles is None:
        return None
    items = (roles,) if isinstance(roles, str) else tuple(roles)
    if not all(isinstance(item, str) for item in items):
        raise ConfigurationError(f"{name}=: must be a role name or a list of role names, got {roles!r}")
    return frozenset(items)


def _location_tuple(locations: str | Iterable[str]) -> tuple[str, ...]:
    return normalize_locations((locations,) if isinstance(locations, str) else tuple(locations), "locations=")


def manager_of_app(app: Any) -> JWTManager:
    """The manager stored on ``app.ctx``; raises ``ConfigurationError`` if there is none."""
    manager: JWTManager | None = getattr(app.ctx, STATE_ATTR, None)
    if manager is None:
        raise ConfigurationError(
            f"app {app.name!r} has no JWT manager; call `with JWT.initialize(app) as manager:` first."
        )
    return manager


def manager_of(request: Request) -> JWTManager:
    return manager_of_app(request.app)


def _extract(request: Request, manager: JWTManager, req: Requirements) -> tuple[str, str] | None:
    """``(raw token, location)`` from the first location holding a token."""
    config = manager.settings
    refresh = req.refresh
    locations = req.locations or config.token_location
    for location in locations:
        if location == "headers":
            header_key = manager.settings.header_keys[refresh]
            raw = token_from_headers(request, header_key, config.jwt_header_prefix)
        elif location == "cookies":
            raw = token_from_cookies(request, config.refresh_cookie_name if refresh else config.access_cookie_name)
        elif location == "query_string":
            raw = token_from_query(request, config.jwt_query_param_name, config.jwt_query_param_value_prefix)
        else:
            raw = token_from_json(request, config.refresh_json_key if refresh else config.json_key)
        # A token that is present but bad fails in decode: no falling through to the next location.
        if raw is not None:
            return raw, location
    if req.optional:
        return None
    tried = describe_locations(config, tuple(locations), refresh)
    raise NoAuthorizationError(f"Missing token: looked in {tried}", locations=tuple(locations))


def _check_csrf(request: Request, token: Token, config: Settings) -> None:
    """Only for cookie-borne tokens (the caller checks the location)."""
    # Double submit (OWASP CSRF cheat sheet): a cross-site form can make the browser send
    # the cookie, but cannot read the CSRF cookie to echo it in a header.
    if not config.csrf_protect or request.method not in config.csrf_request_methods:
        return
    expected = token.csrf
    if not isinstance(expected, str) or not expected:
        raise CSRFError("Missing CSRF claim in the token")
    supplied = request.headers.get(config.csrf_header_name)
    if not supplied and config.csrf_check_form:
        supplied = _form_field(request, config.csrf_field_name)
    if not supplied:
        raise CSRFError(f"Missing CSRF token: send it in the {config.csrf_header_name} header")
    # compare_digest takes ASCII str as is; our CSRF values are ASCII, so anything else
    # cannot match (and would make compare_digest raise).
    if not (supplied.isascii() and expected.isascii() and hmac.compare_digest(supplied, expected)):
        raise CSRFError("CSRF double submit tokens do not match")


def _form_field(request: Request, name: str) -> str | None:
    try:
        form = request.form
    except Exception:  # an unparsable body simply has no CSRF field
        return None
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else None


def _check_roles(token: Token, req: Requirements, use_acl: bool) -> None:
    if not use_acl:
        raise ConfigurationError("allow=/deny= need config.use_acl = True")
    roles = token.roles
    if req.allow is not None and roles.isdisjoint(req.allow):
        raise AccessDeniedError(roles=sorted(roles))
    if req.deny is not None and not roles.isdisjoint(req.deny):
        raise AccessDeniedError(roles=sorted(roles))


async def _call(callback: Any, *args: Any) -> Any:
    result = callback(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def skips_authentication(request: Request, exempt_methods: Sequence[str]) -> bool:
    """``True`` when ``request.method`` is in ``config.exempt_methods`` (the view runs without a
    token); raises ``CORSPreflight`` for a CORS preflight; ``False`` for anything to authenticate.

    Only OPTIONS with both preflight headers is a preflight (Fetch standard, CORS-preflight
    request): any other OPTIONS is authenticated like GET, so a view body never runs
    unauthenticated because of its method alone.
    """
    method = request.method
    if method in exempt_methods:
        return True
    if method == "OPTIONS":
        headers = request.headers
        if "origin" in headers and "access-control-request-method" in headers:
            request.ctx.token = None  # for response middleware reading it
            raise CORSPreflight()
    return False


def fast_header_key(manager: JWTManager, req: Requirements) -> str | None:
    """The header to look up in the verified-token cache before anything else, or ``None``
    when another location comes first for ``req`` (or keys are fetched remotely)."""
    locations = req.locations or manager.settings.token_location
    if locations[0] != "headers" or manager.remote_keys is not None:
        return None
    return manager.settings.header_keys[req.refresh]


def authenticate(request: Request, manager: JWTManager, req: Requirements) -> tuple[Token, str] | None:
    """Extract, decode, CSRF and type: ``(token, location)``, or ``None`` when optional and absent.

    Plain code, no I/O: the keys are in memory (remote keys are refreshed by the caller).
    """
    found = _extract(request, manager, req)
    if found is None:
        return None
    raw, location = found
    # Header tokens are cached as "<prefix> <token>", the header value verify_now looks up.
    prefix = manager.settings.jwt_header_prefix
    token = manager._decode(raw, f"{prefix} {raw}" if location == "headers" and prefix else raw)
    if location == "cookies":
        _check_csrf(request, token, manager.settings)
    if token._data.get("type") != req.token_type:
        raise WrongTokenError(f"Only {req.token_type} tokens are allowed", expected=req.token_type)
    return token, location


def verify_now(
    request: Request, manager: JWTManager, req: Requirements, header_key: str | None
) -> Token | Coroutine[Any, Any, Token | None] | None:
    """Every step for ``req``: the result when no step needs to wait, else a coroutine to await.

    Most requests need no I/O (a cached or in-memory key, a local revocation answer, no
    callbacks), and skipping the coroutine is a measurable share of a fast route's cost.
    Anything else is handed to ``_authorize`` whole, which runs the remaining steps in order.
    ``header_key`` comes from ``fast_header_key``. Raises ``JWTExtendedException`` on failure.
    """
    if manager.remote_keys is not None:
        return _verify_with_remote_keys(request, manager, req)
    token: Token | None = None
    if header_key is not None:
        # The usual request: a header this process has verified before is found by its
        # exact value, without parsing. Header tokens are cached as "<prefix> <token>",
        # which parses back to that token and nothing else, so a hit of the right type is
        # exactly what authenticate() would return (the cache re-checks exp/nbf). Such
        # keys hold a space and token keys never do (cache.py): only look up a value of
        # the kind this header's entries are.
        values = request.headers.getall(header_key, None)
        if values is not None and len(values) == 1 and (" " in values[0]) is bool(manager.settings.jwt_header_prefix):
            token = manager.verified.get(values[0], time.time(), manager.settings.leeway)
    if token is not None and token._data.get("type") == req.token_type:
        location = "headers"
    else:
        found = authenticate(request, manager, req)
        if found is None:
            request.ctx.token = None
            return None
        token, location = found
    revocation = manager.revocation
    if (
        (revocation is None or revocation.passes(token))
        and (not req.fresh_required or token.fresh is True)
        and not req.uses_roles
        and manager.claims_verification_callback is None
        and manager.user_lookup_callback is None
    ):
        ctx = request.ctx
        ctx.jwt_location = location
        ctx.token = token
        return token
    return _authorize(request, manager, req, token, location)


async def _authorize(request: Request, manager: JWTManager, req: Requirements, token: Token, location: str) -> Token:
    """The steps after authentication, in order; sets ``request.ctx``."""
    revocation = manager.revocation
    if revocation is not None and not revocation.passes(token):
        await revocation.check(token)
    if req.fresh_required and token.fresh is not True:
        raise FreshTokenRequiredError()
    if req.uses_roles:
        _check_roles(token, req, manager.settings.use_acl)
    check = manager.claims_verification_callback
    # Anything falsy refuses: a forgotten `return` must not accept every token.
    if check is not None and not await _call(check, token):
        raise ClaimsVerificationError()
    ctx = request.ctx
    if manager.user_lookup_callback is not None:
        user = await _call(manager.user_lookup_callback, token)
        if user is None:
            raise UserLookupError()
        token = token._with_user(user)
        ctx.jwt_user = user
    ctx.jwt_location = location
    ctx.token = token
    return token


async def _verify_with_remote_keys(request: Request, manager: JWTManager, req: Requirements) -> Token | None:
    remote = cast("RemoteKeys", manager.remote_keys)
    if remote.stale:
        await remote.refresh()
    try:
        found = authenticate(request, manager, req)
    except UnknownKeyError as error:
        await remote.ensure(error)  # a key rotated at the issuer: refetch once, rate limited
        found = authenticate(request, manager, req)
    if found is None:
        request.ctx.token = None
        return None
    return await _authorize(request, manager, req, *found)


async def verify_request(request: Request, manager: JWTManager, req: Requirements) -> Token | None:
    """Run every step for ``req``; returns ``None`` only on an optional route without a token.

    Sets ``request.ctx.token`` (``None`` too) and ``request.ctx.jwt_location`` (where the
    token was found). Methods are handled as by ``@jwt_required``: ``None`` on an exempt
    method, ``CORSPreflight`` (an empty 204) on a CORS preflight.
    """
    exempt = manager.settings.exempt_methods
    if (request.method == "OPTIONS" or exempt) and skips_authentication(request, exempt):
        request.ctx.token = None
        return None
    outcome = verify_now(request, manager, req, fast_header_key(manager, req))
    if outcome is None or isinstance(outcome, Token):
        return outcome
    return await outcome


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

    Sets ``request.ctx.token`` and returns the token (``None`` when ``optional`` and absent).
    Raises a ``JWTExtendedException`` that the app renders as the contract's error response.
    """
    req = Requirements.build(
        token_type="refresh" if refresh else "access",
        fresh_required=fresh_required,
        optional=optional,
        allow=allow,
        deny=deny,
        locations=locations,
    )
    return await verify_request(request, manager_of(request), req)
