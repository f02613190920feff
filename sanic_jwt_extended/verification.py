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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import normalize_locations
from .exceptions import (
    AccessDeniedError,
    ClaimsVerificationError,
    ConfigurationError,
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

if TYPE_CHECKING:
    from sanic import Request

    from .config import Config
    from .jwks import RemoteKeys
    from .manager import JWTManager
    from .tokens import Token

__all__ = (
    "STATE_ATTR",
    "Requirements",
    "fast_header_key",
    "manager_of",
    "manager_of_app",
    "verify_cached",
    "verify_jwt_in_request",
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
    config = manager.config
    refresh = req.refresh
    locations = req.locations or config.token_location
    for location in locations:
        if location == "headers":
            header_key = manager._header_keys[refresh]
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


def _check_csrf(request: Request, token: Token, config: Config) -> None:
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
    if not hmac.compare_digest(str(supplied).encode("utf-8", "replace"), expected.encode("utf-8", "replace")):
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


async def _decode_with_remote_keys(manager: JWTManager, remote: RemoteKeys, raw: str) -> Token:
    if remote.stale:
        await remote.refresh()
    try:
        return manager.decode_token(raw)
    except UnknownKeyError as error:
        await remote.ensure(error)  # a key rotated at the issuer: refetch once, rate limited
        return manager.decode_token(raw)


async def verify_request(request: Request, manager: JWTManager, req: Requirements) -> Token | None:
    """Run every step for ``req``; returns ``None`` only on an optional route without a token.

    Sets ``request.ctx.token`` (``None`` too) and ``request.ctx.jwt_location`` (where the
    token was found).
    """
    config = manager.config
    found = _extract(request, manager, req)
    if found is None:
        request.ctx.token = None
        return None
    raw, location = found
    remote = manager.remote_keys
    if remote is not None:
        token = await _decode_with_remote_keys(manager, remote, raw)
    else:
        # Header tokens are cached under the whole header value, for verify_cached().
        prefix = config.jwt_header_prefix
        token = manager._decode(raw, f"{prefix} {raw}" if location == "headers" and prefix else raw)
    # Each step is guarded inline: on the common route most of them have nothing to do.
    if location == "cookies":
        _check_csrf(request, token, manager.config)
    if token._data.get("type") != req.token_type:
        raise WrongTokenError(f"Only {req.token_type} tokens are allowed", expected=req.token_type)
    revocation = manager.revocation
    if revocation is not None and not revocation.passes(token):
        await revocation.check(token)
    if req.fresh_required and token.fresh is not True:
        raise FreshTokenRequiredError()
    if req.uses_roles:
        _check_roles(token, req, manager.config.use_acl)
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


def fast_header_key(manager: JWTManager, req: Requirements) -> str | None:
    """The header ``verify_cached`` reads for ``req`` on this manager's app, or ``None``
    when the route cannot take the fast path (another location comes first, remote keys)."""
    locations = req.locations or manager.config.token_location
    if locations[0] != "headers" or manager.remote_keys is not None:
        return None
    return manager._header_keys[req.refresh]


def verify_cached(request: Request, manager: JWTManager, req: Requirements, header_key: str) -> Token | None:
    """``verify_request`` for the usual request, in plain (not async) code: a token this
    process has verified before, in the header, with nothing that needs I/O.

    Returns ``None`` whenever any step has more to do than a passing check, and the caller
    then runs ``verify_request`` from the start, which decides (and raises) exactly as
    always. So this can only accept what ``verify_request`` accepts:
    - the header comes first among the route's locations (``fast_header_key``), and its
      single value is found in the verified-token cache, which keys header tokens as
      "<prefix> <token>": a value that parses to that token and nothing else, so a hit is
      the token the full path would extract and decode (exp/nbf re-checked by the cache);
    - no CSRF step (header tokens have none), the type matches, the store knows the token
      is not revoked without I/O (and no loader callback), freshness and roles pass, and
      no claims or user callback is registered.
    """
    values = request.headers.getall(header_key, None)
    if values is None or len(values) != 1:
        return None
    token = manager.verified.get(values[0], time.time(), manager._leeway)
    if token is None or token._data.get("type") != req.token_type:
        return None
    revocation = manager.revocation
    if revocation is not None and not revocation.passes(token):
        return None
    if req.fresh_required and token.fresh is not True:
        return None
    if req.uses_roles:
        _check_roles(token, req, manager.config.use_acl)
    if manager.claims_verification_callback is not None or manager.user_lookup_callback is not None:
        return None
    ctx = request.ctx
    ctx.jwt_location = "headers"
    ctx.token = token
    return token


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
