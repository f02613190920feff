"""``@jwt_required`` and friends: thin wrappers that run verification and inject the token."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, overload

from sanic import Request
from sanic.exceptions import SanicException

from .requirements import Requirements
from .tokens import Token
from .verification import verifier_of

__all__ = ("REQUIREMENTS_ATTR", "jwt_optional", "jwt_required", "refresh_jwt_required", "verify_jwt_in_request")

F = TypeVar("F", bound=Callable[..., Any])
_mark_coroutine: Callable[[Any], Any] | None = getattr(inspect, "markcoroutinefunction", None)
# Set on every wrapper (and copied outwards by functools.wraps) so the manager can check
# routes at startup, e.g. allow= on an app without ACL.
REQUIREMENTS_ATTR = "__jwt_requirements__"


@functools.lru_cache(maxsize=1024)
def _parameters(func: Callable[..., Any]) -> tuple[bool, bool]:
    """Whether ``func`` declares ``token``, and whether it takes ``**kwargs``."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False, False
    return (
        any(p.name == "token" for p in params),
        any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params),
    )


def _find_request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Request:
    # Function views get the request first, HTTPMethodView methods second: look by type.
    for arg in args:
        if isinstance(arg, Request):
            return arg
    request = kwargs.get("request")
    if isinstance(request, Request):
        return request
    try:
        return Request.get_current()
    except SanicException as error:
        raise RuntimeError("jwt_required: no request found for this call") from error


def _injects_token(view: Callable[..., Any], request: Request) -> bool:
    # `decorators = [jwt_required]` on an HTTPMethodView wraps as_view()'s `view(*a, **kw)`;
    # whether to pass the token depends on the method that will run for this request.
    view_class = getattr(request.route.handler, "view_class", None) if request.route else None
    method = getattr(view_class, request.method.lower(), None)
    return method is not None and _parameters(method)[0]


def _decorate(req: Requirements) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        # Decided once for plain views; only a **kwargs view (as_view) decides per request.
        declares, var_kwargs = _parameters(view)
        per_request = var_kwargs and not declares
        is_coroutine = inspect.iscoroutinefunction(view)

        if is_coroutine and not per_request:
            return _direct(view, req, declares)

        @functools.wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            # Function views get the request first: check that before searching.
            request = args[0] if args and isinstance(args[0], Request) else _find_request(args, kwargs)
            # Looked up per request: a blueprint's view may serve several apps.
            outcome = verifier_of(request.app).verify(request, req)
            token = outcome if outcome is None or isinstance(outcome, Token) else await outcome
            # A path parameter called `token` belongs to the route: never overwrite it.
            if (declares or (per_request and _injects_token(view, request))) and "token" not in kwargs:
                kwargs["token"] = token
            if is_coroutine:
                return await view(*args, **kwargs)
            response = view(*args, **kwargs)
            if inspect.isawaitable(response):
                response = await response
            return response

        setattr(wrapper, REQUIREMENTS_ATTR, req)
        return wrapper  # type: ignore[return-value]

    return decorator


def _direct(view: F, req: Requirements, declares: bool) -> F:
    """The wrapper of an ``async def`` view: it hands back the view's own coroutine.

    Sanic awaits whatever a handler returns, so when verification needs no waiting (nearly
    every request) the wrapper is a plain call and the request pays for no coroutine of
    ours; an error is raised before the view is even called.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = args[0] if args and isinstance(args[0], Request) else _find_request(args, kwargs)
        outcome = verifier_of(request.app).verify(request, req)
        if outcome is not None and not isinstance(outcome, Token):
            return _after(outcome, view, args, kwargs, declares)
        # A path parameter called `token` belongs to the route: never overwrite it.
        if declares and "token" not in kwargs:
            kwargs["token"] = outcome
        return view(*args, **kwargs)

    if _mark_coroutine is not None:  # Python 3.12+: still a coroutine function to inspect
        _mark_coroutine(wrapper)
    setattr(wrapper, REQUIREMENTS_ATTR, req)
    return wrapper  # type: ignore[return-value]


async def _after(
    pending: Awaitable[Token | None],
    view: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    declares: bool,
) -> Any:
    token = await pending
    if declares and "token" not in kwargs:
        kwargs["token"] = token
    return await view(*args, **kwargs)


@overload
def jwt_required(fn: F) -> F: ...
@overload
def jwt_required(
    fn: None = None,
    *,
    fresh_required: bool = False,
    optional: bool = False,
    allow: str | Iterable[str] | None = None,
    deny: str | Iterable[str] | None = None,
    locations: str | Iterable[str] | None = None,
    skip_revocation_check: bool = False,
    verify_type: bool = True,
) -> Callable[[F], F]: ...
def jwt_required(
    fn: F | None = None,
    *,
    fresh_required: bool = False,
    optional: bool = False,
    allow: str | Iterable[str] | None = None,
    deny: str | Iterable[str] | None = None,
    locations: str | Iterable[str] | None = None,
    skip_revocation_check: bool = False,
    verify_type: bool = True,
) -> F | Callable[[F], F]:
    """Require a valid access token; usable as ``@jwt_required`` or ``@jwt_required(...)``.

    Args:
        fresh_required: refuse tokens that are not fresh (401).
        optional: let requests without a token through (``token`` is ``None``); a token that
            is present but invalid still fails.
        allow: roles of which the token must hold at least one (needs ``config.use_acl``).
        deny: roles of which the token must hold none (needs ``config.use_acl``).
        locations: where to look for the token on this route, overriding
            ``config.token_location``.
        skip_revocation_check: accept a revoked token too (a logout route that must accept
            an already revoked token); every other check still runs.
        verify_type: ``False`` accepts an access or a refresh token; each location is then
            searched under the access names first, then the refresh names.
    """
    decorator: Callable[[F], F] = _decorate(
        Requirements.build(
            fresh_required=fresh_required,
            optional=optional,
            allow=allow,
            deny=deny,
            locations=locations,
            skip_revocation_check=skip_revocation_check,
            verify_type=verify_type,
        )
    )
    return decorator(fn) if fn is not None else decorator


@overload
def jwt_optional(fn: F) -> F: ...
@overload
def jwt_optional(
    fn: None = None,
    *,
    locations: str | Iterable[str] | None = None,
    skip_revocation_check: bool = False,
    verify_type: bool = True,
) -> Callable[[F], F]: ...
def jwt_optional(
    fn: F | None = None,
    *,
    locations: str | Iterable[str] | None = None,
    skip_revocation_check: bool = False,
    verify_type: bool = True,
) -> F | Callable[[F], F]:
    """Same as ``@jwt_required(optional=True)``."""
    decorator: Callable[[F], F] = _decorate(
        Requirements.build(
            optional=True,
            locations=locations,
            skip_revocation_check=skip_revocation_check,
            verify_type=verify_type,
        )
    )
    return decorator(fn) if fn is not None else decorator


@overload
def refresh_jwt_required(fn: F) -> F: ...
@overload
def refresh_jwt_required(
    fn: None = None,
    *,
    locations: str | Iterable[str] | None = None,
    skip_revocation_check: bool = False,
    verify_type: bool = True,
) -> Callable[[F], F]: ...
def refresh_jwt_required(
    fn: F | None = None,
    *,
    locations: str | Iterable[str] | None = None,
    skip_revocation_check: bool = False,
    verify_type: bool = True,
) -> F | Callable[[F], F]:
    """Require a valid refresh token (read from ``config.refresh_jwt_header_key``).

    ``skip_revocation_check`` and ``verify_type`` as for ``jwt_required``; with
    ``verify_type=False`` the refresh names are searched first.
    """
    decorator: Callable[[F], F] = _decorate(
        Requirements.build(
            token_type="refresh",
            locations=locations,
            skip_revocation_check=skip_revocation_check,
            verify_type=verify_type,
        )
    )
    return decorator(fn) if fn is not None else decorator


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
