"""OpenAPI security for protected routes, through sanic-ext when it is installed.

sanic-ext keeps what ``@openapi.*`` decorators record in one process-wide registry keyed
by the decorated function object (``OperationStore``), and its startup listener reads the
entry of each route's handler. ``functools.wraps`` copies ``__dict__`` and sets
``__wrapped__`` but cannot re-key that registry, so whatever was recorded on a view below
``@jwt_required`` sat under the inner function, which no route points at, and was lost.
At startup, before sanic-ext builds its document, we merge the entries of the wrapped
functions into the one sanic-ext will read, then add the route's security requirement.

Nothing here imports sanic-ext unless the app serves sanic-ext's OpenAPI document, and
nothing is registered at all when sanic-ext is not installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .config import Config
from .decorators import REQUIREMENTS_ATTR
from .requirements import Requirements

if TYPE_CHECKING:
    from sanic import Sanic

    from .settings import Settings

__all__ = ("SCHEME_NAMES", "add_openapi")

logger = logging.getLogger("sanic_jwt_extended")

# Security scheme names, by (location, refresh). The body location has none: OpenAPI
# security schemes live in headers, cookies and the query string only.
SCHEME_NAMES: dict[tuple[str, bool], str] = {
    ("headers", False): "jwt_header",
    ("cookies", False): "jwt_cookie",
    ("query_string", False): "jwt_query",
    ("headers", True): "jwt_refresh_header",
    ("cookies", True): "jwt_refresh_cookie",
    ("query_string", True): "jwt_refresh_query",
}
_BUILDERS = "sanic_ext.extensions.openapi.builders"  # the registry's home (checked against 25.12)
_SPEC_ROUTE = "openapi.spec"  # name of sanic-ext's openapi.json route, under the app's name
# Base scheme name -> (name in this app's document, add_security_scheme arguments).
Schemes = dict[str, tuple[str, dict[str, Any]]]


def add_openapi(app: Sanic[Any, Any], config: Settings) -> bool:
    """Document ``app``'s protected routes in sanic-ext's OpenAPI document, if sanic-ext is installed.

    Returns whether a startup listener was registered. The work runs at startup, so routes
    added after ``JWT.initialize`` are covered.
    """
    # find_spec locates the package without running it (and honours a None entry in
    # sys.modules, which is how tests make it unimportable).
    if importlib.util.find_spec("sanic_ext") is None:
        return False

    async def document_security(app: Sanic[Any, Any], *_: Any) -> None:
        _document(app, config)

    # Priority 0 runs before sanic-ext's own listener (priority -1000), which reads the registry.
    app.register_listener(document_security, "before_server_start")
    return True


def _document(app: Sanic[Any, Any], config: Settings) -> None:
    if not any(route.name == f"{app.name}.{_SPEC_ROUTE}" for route in app.router.routes):
        return  # not extended, or OAS turned off: leave the process-wide registry alone
    try:
        builders: Any = importlib.import_module(_BUILDERS)
        store: Any = builders.OperationStore()
        defaults = vars(builders.OperationBuilder())
        # The builder openapi.json is served from (app.ext.openapi caches the first one it saw).
        specification: Any = builders.SpecificationBuilder()
    except (ImportError, AttributeError) as error:
        # sanic-ext is not pinned: a release that moves these must not stop the app from serving.
        logger.warning("OpenAPI: protected routes are not documented, this sanic-ext is not supported (%s)", error)
        return
    schemes = _schemes(app, config)
    used: set[str] = set()
    for target, req in _protected_operations(app):
        for inner in _wrapped_chain(target):
            if inner in store:
                _merge(store[target], store[inner], defaults)
        requirement = _requirement(req, config, schemes)
        used.update(name for alternative in requirement for name in alternative)
        operation = store[target]
        # A hand-written requirement wins: it may combine ours with the app's own schemes.
        if not operation.security:
            for alternative in requirement:
                operation.secured(alternative)
    # Also the schemes a hand-written requirement names, e.g. on a verify_jwt_in_request guard.
    for function in _documented_functions(app):
        if function in store:
            used.update(name for alternative in store[function].security for name in alternative)
    for name, definition in schemes.values():
        if name in used:
            specification.add_security_scheme(name, **definition)


def _protected_operations(app: Sanic[Any, Any]) -> Iterator[tuple[Any, Requirements]]:
    """(function sanic-ext documents, its requirements) for every protected route method."""
    for route in app.router.routes:
        handler = route.handler
        outer: Requirements | None = getattr(handler, REQUIREMENTS_ATTR, None)
        view_class = getattr(handler, "view_class", None)
        if view_class is None:
            if outer is not None:
                yield handler, outer
            continue
        # sanic-ext documents an HTTPMethodView through its methods; `decorators = [...]`
        # protects them all from the as_view() function, a method decorator only itself.
        for method in route.methods:
            function = getattr(view_class, method.lower(), None)
            if function is None:
                continue
            req = getattr(function, REQUIREMENTS_ATTR, None) or outer
            if req is not None:
                yield function, req


def _documented_functions(app: Sanic[Any, Any]) -> Iterator[Any]:
    """Every function sanic-ext documents for ``app``, protected or not."""
    for route in app.router.routes:
        view_class = getattr(route.handler, "view_class", None)
        if view_class is None:
            yield route.handler
        else:
            yield from (getattr(view_class, method.lower(), None) for method in route.methods)


def _wrapped_chain(function: Any) -> Iterator[Any]:
    seen = {id(function)}
    inner = getattr(function, "__wrapped__", None)
    while inner is not None and id(inner) not in seen:
        seen.add(id(inner))
        yield inner
        inner = getattr(inner, "__wrapped__", None)


def _merge(target: Any, inner: Any, defaults: dict[str, Any]) -> None:
    """Copy what was recorded on ``inner`` into ``target``; ``target``'s own values win.

    Generic over the builder's attributes, so an attribute sanic-ext adds later is carried
    too. Idempotent (startup runs again on every server start): list items are added once,
    and a value is only copied onto a default.
    """
    missing = object()
    for name, value in vars(inner).items():
        default = defaults.get(name, missing)
        if value == default:
            continue
        # The instance's own value: a class-level default (``deprecated = False``) is no value.
        current = vars(target).get(name, missing)
        if isinstance(value, list) and isinstance(current, list):
            current.extend(item for item in value if item not in current)
        elif isinstance(value, dict) and isinstance(current, dict):
            for key, item in value.items():
                current.setdefault(key, item)
        elif current is missing or current == default:
            setattr(target, name, value)


def _requirement(req: Requirements, config: Settings, schemes: Schemes) -> list[dict[str, list[str]]]:
    """OpenAPI security alternatives (any one suffices) for a route's requirements."""
    locations = req.locations if req.locations is not None else tuple(config.token_location)
    # verify_type=False: either type is accepted in each location, the route's own first (as searched).
    kinds = (req.refresh,) if req.verify_type else (req.refresh, not req.refresh)
    alternatives: list[dict[str, list[str]]] = [
        {schemes[base][0]: []}
        for location in locations
        for kind in kinds
        if (base := SCHEME_NAMES.get((location, kind)))
    ]
    if req.optional and alternatives:
        alternatives.append({})  # anonymous requests are let through
    return alternatives


def _schemes(app: Sanic[Any, Any], config: Settings) -> Schemes:
    """Base name -> (scheme name, add_security_scheme arguments) for ``config``.

    sanic-ext keeps one set of components for every app of the process: a scheme whose
    definition differs from the library defaults is named after the app too, so two apps
    with different configs never overwrite each other's definition.
    """
    defaults = _definitions(Config())
    return {
        base: (base if definition == defaults[base] else f"{base}.{app.name}", definition)
        for base, definition in _definitions(config).items()
    }


def _definitions(config: Settings | Config) -> dict[str, dict[str, Any]]:
    definitions: dict[str, dict[str, Any]] = {}
    for refresh in (False, True):
        kind = "Refresh token (JWT)" if refresh else "Access token (JWT)"
        only = " Only refresh routes (and routes accepting either type) accept it." if refresh else ""
        for location, scheme in _SCHEMES.items():
            definitions[SCHEME_NAMES[location, refresh]] = scheme(config, refresh, kind, only)
    return definitions


def _header_scheme(config: Settings | Config, refresh: bool, kind: str, only: str) -> dict[str, Any]:
    header = config.refresh_jwt_header_key if refresh else config.jwt_header_key
    prefix = config.jwt_header_prefix
    if header.lower() == "authorization" and prefix.lower() == "bearer":
        return {
            "type": "http",
            "scheme": "bearer",
            "bearer_format": "JWT",
            "description": f"{kind} in the Authorization header.{only}",
        }
    shape = f"'{prefix} <JWT>'" if prefix else "the bare token"
    return {
        "type": "apiKey",
        "location": "header",
        "name": header,
        "description": f"{kind} in the {header} header, as {shape}.{only}",
    }


def _cookie_scheme(config: Settings | Config, refresh: bool, kind: str, only: str) -> dict[str, Any]:
    cookie = config.refresh_cookie_name if refresh else config.access_cookie_name
    description = f"{kind} in the {cookie} cookie.{only}"
    if config.csrf_protect and config.csrf_request_methods:
        csrf_cookie = config.refresh_csrf_cookie_name if refresh else config.access_csrf_cookie_name
        # An unsealed Config leaves the per-type names None: they fall back to the shared one.
        csrf_header = config.refresh_csrf_header_name if refresh else config.access_csrf_header_name
        description += (
            f" On {', '.join(config.csrf_request_methods)} also send the "
            f"{csrf_header or config.csrf_header_name} header with the value of "
            + (f"the {csrf_cookie} cookie." if config.csrf_in_cookies else "the CSRF token the app hands out.")
        )
    return {"type": "apiKey", "location": "cookie", "name": cookie, "description": description}


def _query_scheme(config: Settings | Config, refresh: bool, kind: str, only: str) -> dict[str, Any]:
    name, value_prefix = config.jwt_query_param_name, config.jwt_query_param_value_prefix
    shape = f", as '{value_prefix}<JWT>'" if value_prefix else ""
    return {
        "type": "apiKey",
        "location": "query",
        "name": name,
        "description": f"{kind} in the {name} query parameter{shape}.{only}",
    }


# One security scheme per token location (the keys of SCHEME_NAMES).
_SCHEMES: dict[str, Callable[[Settings | Config, bool, str, str], dict[str, Any]]] = {
    "headers": _header_scheme,
    "cookies": _cookie_scheme,
    "query_string": _query_scheme,
}
