"""OpenAPI security through the real sanic-ext: the document is read over HTTP, as a client would."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json
from sanic.views import HTTPMethodView
from sanic_ext import openapi
from sanic_ext.extensions.openapi.builders import OperationStore, SpecificationBuilder

from sanic_jwt_extended import (
    JWT,
    JWTManager,
    jwt_optional,
    jwt_required,
    refresh_jwt_required,
    verify_jwt_in_request,
)
from sanic_jwt_extended import openapi as openapi_module
from sanic_jwt_extended.openapi import add_openapi

from ..helpers import SECRET, Client

BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


@pytest.fixture(autouse=True)
def _fresh_sanic_ext() -> Iterator[None]:
    # sanic-ext keeps its registry and specification per process: start each test clean.
    OperationStore.reset()
    SpecificationBuilder.reset()
    yield
    OperationStore.reset()
    SpecificationBuilder.reset()


def new_app(name: str = "oas_app", **options: Any) -> tuple[Sanic, JWTManager]:
    app = Sanic(name)
    app.config.AUTO_EXTEND = True  # conftest turns it off for the rest of the suite
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        for option, value in options.items():
            setattr(manager.config, option, value)
    return app, manager


def document(app: Sanic) -> dict[str, Any]:
    response = Client(app).get("/docs/openapi.json")
    assert response.status == 200
    result: dict[str, Any] = response.json
    return result


def security(doc: dict[str, Any], path: str, method: str = "get") -> Any:
    return doc["paths"][path][method].get("security")


def schemes(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = doc.get("components", {}).get("securitySchemes", {})
    return result


def scheme(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found = dict(schemes(doc)[name])
    found.pop("description")
    return found


async def ok(request: Request) -> HTTPResponse:
    return json({})


def route(app: Sanic, path: str, decorator: Any, method: str = "GET") -> None:
    """``decorator(view)`` on ``path``, with a route name of its own."""
    app.add_route(decorator(ok), path, methods=[method], name=path.strip("/"))


# -- locations --------------------------------------------------------------------------------

COOKIE = {"type": "apiKey", "in": "cookie", "name": "access_token_cookie"}
QUERY = {"type": "apiKey", "in": "query", "name": "jwt"}


@pytest.mark.parametrize(
    ("options", "expected_security", "expected_schemes"),
    [
        ({}, [{"jwt_header": []}], {"jwt_header": BEARER}),
        ({"token_location": ["cookies"]}, [{"jwt_cookie": []}], {"jwt_cookie": COOKIE}),
        ({"token_location": ["query_string"]}, [{"jwt_query": []}], {"jwt_query": QUERY}),
        (
            {"token_location": ["headers", "cookies", "query_string"]},
            [{"jwt_header": []}, {"jwt_cookie": []}, {"jwt_query": []}],
            {"jwt_header": BEARER, "jwt_cookie": COOKIE, "jwt_query": QUERY},
        ),
        # A body location has no OpenAPI security scheme: documented, not invented.
        ({"token_location": ["headers", "json"]}, [{"jwt_header": []}], {"jwt_header": BEARER}),
        ({"token_location": ["json"]}, None, {}),
        # Anything but "Authorization: Bearer" is an API key in its header.
        (
            {"jwt_header_key": "X-Auth", "jwt_header_prefix": ""},
            [{"jwt_header.oas_app": []}],
            {"jwt_header.oas_app": {"type": "apiKey", "in": "header", "name": "X-Auth"}},
        ),
        (
            {"token_location": ["cookies"], "access_cookie_name": "sid"},
            [{"jwt_cookie.oas_app": []}],
            {"jwt_cookie.oas_app": {**COOKIE, "name": "sid"}},
        ),
        (
            {"token_location": ["query_string"], "jwt_query_param_name": "t"},
            [{"jwt_query.oas_app": []}],
            {"jwt_query.oas_app": {**QUERY, "name": "t"}},
        ),
    ],
    ids=[
        "header",
        "cookie",
        "query",
        "all-three",
        "header-and-json",
        "json-only",
        "custom-header",
        "custom-cookie",
        "custom-query",
    ],
)
def test_route_documents_the_configured_locations(
    options: dict[str, Any], expected_security: Any, expected_schemes: dict[str, Any]
) -> None:
    app, _ = new_app(**options)
    route(app, "/me", jwt_required)
    doc = document(app)
    assert security(doc, "/me") == expected_security
    assert {name: scheme(doc, name) for name in schemes(doc)} == expected_schemes


def test_per_route_locations_override_the_config() -> None:
    app, _ = new_app(token_location=["headers"])
    route(app, "/cookie", jwt_required(locations=["cookies"]))
    route(app, "/query", jwt_optional(locations="query_string"))
    route(app, "/header", jwt_required)
    doc = document(app)
    assert security(doc, "/cookie") == [{"jwt_cookie": []}]
    assert security(doc, "/query") == [{"jwt_query": []}, {}]
    assert security(doc, "/header") == [{"jwt_header": []}]


def test_cookie_scheme_tells_about_the_csrf_header() -> None:
    app, _ = new_app(token_location=["cookies"])
    route(app, "/me", jwt_required, "POST")
    description = schemes(document(app))["jwt_cookie"]["description"]
    assert "X-CSRF-Token" in description
    assert "csrf_access_token" in description


def test_refresh_route_uses_the_refresh_schemes() -> None:
    app, _ = new_app(token_location=["headers", "cookies"])
    route(app, "/refresh", refresh_jwt_required, "POST")
    route(app, "/me", jwt_required)
    doc = document(app)
    assert security(doc, "/refresh", "post") == [{"jwt_refresh_header": []}, {"jwt_refresh_cookie": []}]
    assert security(doc, "/me") == [{"jwt_header": []}, {"jwt_cookie": []}]
    assert scheme(doc, "jwt_refresh_header") == BEARER
    assert scheme(doc, "jwt_refresh_cookie") == {**COOKIE, "name": "refresh_token_cookie"}
    assert "Refresh token" in schemes(doc)["jwt_refresh_header"]["description"]
    assert "Refresh token" not in schemes(doc)["jwt_header"]["description"]


@pytest.mark.parametrize(
    ("decorator", "expected"),
    [
        (
            jwt_required(verify_type=False),
            [{"jwt_header": []}, {"jwt_refresh_header": []}, {"jwt_cookie": []}, {"jwt_refresh_cookie": []}],
        ),
        (
            refresh_jwt_required(verify_type=False),
            [{"jwt_refresh_header": []}, {"jwt_header": []}, {"jwt_refresh_cookie": []}, {"jwt_cookie": []}],
        ),
        (jwt_required(verify_type=False, locations="query_string"), [{"jwt_query": []}, {"jwt_refresh_query": []}]),
        (jwt_optional(verify_type=False, locations="cookies"), [{"jwt_cookie": []}, {"jwt_refresh_cookie": []}, {}]),
    ],
    ids=["access-route", "refresh-route", "per-route-location", "optional"],
)
def test_a_route_accepting_either_type_lists_both_schemes(decorator: Any, expected: Any) -> None:
    app, _ = new_app(token_location=["headers", "cookies"])
    route(app, "/logout", decorator, "POST")
    route(app, "/me", jwt_required)
    doc = document(app)
    assert security(doc, "/logout", "post") == expected
    assert security(doc, "/me") == [{"jwt_header": []}, {"jwt_cookie": []}]
    # Every scheme a requirement names is defined, the refresh ones as refresh tokens.
    for alternative in expected:
        for name in alternative:
            assert ("Refresh token" in schemes(doc)[name]["description"]) == ("refresh" in name)


def test_optional_route_allows_anonymous() -> None:
    app, _ = new_app()
    route(app, "/maybe", jwt_optional)
    route(app, "/also", jwt_required(optional=True))
    doc = document(app)
    assert security(doc, "/maybe") == [{"jwt_header": []}, {}]
    assert security(doc, "/also") == [{"jwt_header": []}, {}]


def test_unprotected_routes_stay_unsecured() -> None:
    app, _ = new_app()
    app.get("/open")(ok)
    route(app, "/me", jwt_required)
    doc = document(app)
    assert security(doc, "/open") is None
    assert list(schemes(doc)) == ["jwt_header"]


# -- our decorators next to sanic-ext's -------------------------------------------------------


def test_manual_secured_is_kept_once_above_or_below() -> None:
    app, _ = new_app()

    @app.get("/above")
    @openapi.secured("api_key")
    @jwt_required
    async def above(request: Request) -> HTTPResponse:
        return json({})

    @app.get("/below")
    @jwt_required
    @openapi.secured("api_key")
    async def below(request: Request) -> HTTPResponse:
        return json({})

    @app.get("/both")
    @openapi.secured("api_key")
    @jwt_required
    @openapi.secured("api_key")
    async def both(request: Request) -> HTTPResponse:
        return json({})

    first = document(app)
    second = document(app)  # every server start runs the listeners again
    for doc in (first, second):
        for path in ("/above", "/below", "/both"):
            # A hand-written requirement wins over ours (it may combine ours with other schemes).
            assert security(doc, path) == [{"api_key": []}], path
        assert "jwt_header" in schemes(doc)


def test_document_over_a_real_server() -> None:
    # The ASGI client above runs the startup listeners through the lifespan; a real server
    # runs them from its own startup: same order, same document.
    app, _ = new_app(token_location=["headers", "query_string"])
    route(app, "/me", jwt_required)
    _, response = app.test_client.get("/docs/openapi.json")
    assert response.status == 200
    assert response.json["paths"]["/me"]["get"]["security"] == [{"jwt_header": []}, {"jwt_query": []}]
    assert set(response.json["components"]["securitySchemes"]) == {"jwt_header", "jwt_query"}


def test_a_custom_guard_can_name_our_schemes() -> None:
    # verify_jwt_in_request inside a view is invisible from outside: the view says it itself.
    app, _ = new_app(token_location=["headers", "cookies"])

    @app.get("/custom")
    @openapi.secured("jwt_cookie")
    async def custom(request: Request) -> HTTPResponse:
        await verify_jwt_in_request(request, locations=["cookies"])
        return json({})

    doc = document(app)
    assert security(doc, "/custom") == [{"jwt_cookie": []}]
    assert list(schemes(doc)) == ["jwt_cookie"]
    assert Client(app).get("/custom").status == 401


@pytest.mark.parametrize("position", ["above", "below"])
def test_other_openapi_decorators_survive_either_order(position: str) -> None:
    app, _ = new_app()

    def documented(view: Any) -> Any:
        for decorate in (
            openapi.summary("Who am I"),
            openapi.description("The caller's identity."),
            openapi.tag("account"),
            openapi.response(200, {"application/json": {"identity": str}}, "The identity"),
            openapi.deprecated(),
        ):
            view = decorate(view)
        return view

    async def me(request: Request) -> HTTPResponse:
        return json({})

    async def hidden(request: Request) -> HTTPResponse:
        return json({})

    if position == "above":
        app.get("/me")(documented(jwt_required(me)))
        app.get("/hidden")(openapi.exclude()(jwt_required(hidden)))
    else:
        app.get("/me")(jwt_required(documented(me)))
        app.get("/hidden")(jwt_required(openapi.exclude()(hidden)))
    doc = document(app)
    operation = doc["paths"]["/me"]["get"]
    assert operation["summary"] == "Who am I"
    assert operation["description"] == "The caller's identity."
    assert operation["tags"] == ["account"]
    assert operation["responses"]["200"]["description"] == "The identity"
    assert operation["deprecated"] is True
    assert operation["security"] == [{"jwt_header": []}]
    assert "/hidden" not in doc["paths"]


def test_body_validation_below_our_decorator_is_documented() -> None:
    app, _ = new_app()

    @app.post("/items")
    @jwt_required
    @openapi.body({"application/json": {"name": str}})
    async def items(request: Request) -> HTTPResponse:
        return json({})

    operation = document(app)["paths"]["/items"]["post"]
    assert "application/json" in operation["requestBody"]["content"]
    assert operation["security"] == [{"jwt_header": []}]


def test_the_view_body_does_not_run_to_build_the_document() -> None:
    app, _ = new_app()
    calls: list[str] = []

    @app.get("/me")
    @jwt_required
    async def me(request: Request) -> HTTPResponse:
        calls.append("ran")
        return json({})

    document(app)
    assert Client(app).get("/me").status == 401
    assert calls == []


# -- views, blueprints, several apps ------------------------------------------------------------


def test_http_method_view_methods() -> None:
    app, _ = new_app()

    class Items(HTTPMethodView):
        @jwt_required
        async def get(self, request: Request) -> HTTPResponse:
            return json({})

        @refresh_jwt_required
        @openapi.summary("Replace")
        async def put(self, request: Request) -> HTTPResponse:
            return json({})

        async def post(self, request: Request) -> HTTPResponse:
            return json({})

    class Guarded(HTTPMethodView):
        decorators = [jwt_optional]  # noqa: RUF012 (Sanic's own idiom)

        async def get(self, request: Request) -> HTTPResponse:
            return json({})

        # Not cookies: a CSRF-checked cookie method on a header-only app fails at startup.
        @jwt_required(locations=["query_string"])
        async def delete(self, request: Request) -> HTTPResponse:
            return json({})

    app.add_route(Items.as_view(), "/items")
    app.add_route(Guarded.as_view(), "/guarded")
    doc = document(app)
    assert security(doc, "/items", "get") == [{"jwt_header": []}]
    assert security(doc, "/items", "put") == [{"jwt_refresh_header": []}]
    assert doc["paths"]["/items"]["put"]["summary"] == "Replace"
    assert security(doc, "/items", "post") is None
    assert security(doc, "/guarded", "get") == [{"jwt_header": []}, {}]
    # The method's own decorator is the stricter, innermost one.
    assert security(doc, "/guarded", "delete") == [{"jwt_query": []}]


def test_blueprint_routes() -> None:
    app, _ = new_app(token_location=["headers", "cookies"])
    bp = Blueprint("account", url_prefix="/account")

    @bp.get("/me")
    @jwt_required
    async def me(request: Request) -> HTTPResponse:
        return json({})

    @bp.post("/refresh")
    @refresh_jwt_required(locations=["cookies"])
    async def refresh(request: Request) -> HTTPResponse:
        return json({})

    app.blueprint(bp)
    doc = document(app)
    assert security(doc, "/account/me") == [{"jwt_header": []}, {"jwt_cookie": []}]
    assert security(doc, "/account/refresh", "post") == [{"jwt_refresh_cookie": []}]
    assert doc["paths"]["/account/me"]["get"]["tags"] == ["account"]


def test_two_apps_with_different_configs_in_one_process() -> None:
    first, _ = new_app("first")
    second, _ = new_app("second", token_location=["cookies"], access_cookie_name="session")
    route(first, "/one", jwt_required)
    route(second, "/two", jwt_required)
    route(second, "/three", jwt_required(locations=["headers"]))
    for _ in range(2):  # start order must not matter
        first_doc, second_doc = document(first), document(second)
        # sanic-ext lists every app's paths, but only the app's own operations under them.
        assert first_doc["paths"].get("/two", {}) == first_doc["paths"].get("/three", {}) == {}
        assert second_doc["paths"].get("/one", {}) == {}
        assert security(first_doc, "/one") == [{"jwt_header": []}]
        assert security(second_doc, "/two") == [{"jwt_cookie.second": []}]
        assert security(second_doc, "/three") == [{"jwt_header": []}]
        assert scheme(second_doc, "jwt_cookie.second") == {**COOKIE, "name": "session"}
        assert scheme(first_doc, "jwt_header") == BEARER


# -- when sanic-ext is not there, or not in use -------------------------------------------------


@pytest.mark.parametrize("option", ["OAS", "AUTO_EXTEND"])
def test_app_without_the_openapi_extension_leaves_the_registry_alone(option: str) -> None:
    app, manager = new_app()
    app.config[option] = False
    view = jwt_required(ok)
    app.get("/me")(view)
    assert add_openapi(Sanic("probe"), manager.config) is True  # sanic-ext is installed here
    assert Client(app).get("/docs/openapi.json").status == 404
    assert Client(app).get("/me").status == 401
    assert view not in OperationStore()


def test_unsupported_sanic_ext_logs_and_serves(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A future sanic-ext without the names we use: the app still starts and says why.
    monkeypatch.setattr(openapi_module, "_BUILDERS", "sanic_ext.extensions.openapi.moved")
    app, _ = new_app()
    route(app, "/me", jwt_required)
    with caplog.at_level(logging.WARNING, logger="sanic_jwt_extended"):
        doc = document(app)
    assert security(doc, "/me") is None
    assert any("not documented" in record.getMessage() for record in caplog.records)
    assert Client(app).get("/me").status == 401


def test_without_sanic_ext_nothing_is_registered_or_imported() -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.modules["sanic_ext"] = None  # makes `import sanic_ext` fail, as if not installed
        from sanic import Sanic, json
        from sanic_jwt_extended import JWT, jwt_required
        from sanic_jwt_extended.openapi import add_openapi
        Sanic.test_mode = True
        app = Sanic("plain")
        with JWT.initialize(app) as manager:
            manager.config.secret_key = {SECRET!r}
        @app.get("/me")
        @jwt_required
        async def me(request):
            return json({{}})
        probe = Sanic("probe")
        before = len(probe.signal_router.routes)
        assert add_openapi(probe, manager.config) is False
        assert len(probe.signal_router.routes) == before
        for path, status in (("/me", 401), ("/docs/openapi.json", 404)):
            _, response = asyncio.run(app.asgi_client.get(path))
            assert response.status == status, (path, response.status)
        loaded = sorted(name for name in sys.modules if name.startswith("sanic_ext"))
        assert loaded == ["sanic_ext"] and sys.modules["sanic_ext"] is None, loaded
        print("ok")
        """
    )
    env = {**os.environ, "SANIC_AUTO_EXTEND": "true"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


@pytest.mark.parametrize(
    ("options", "access_text", "refresh_text"),
    [
        ({}, "X-CSRF-Token header with the value of the csrf_access_token", "the csrf_refresh_token cookie"),
        (
            {"access_csrf_header_name": "X-A", "refresh_csrf_header_name": "X-R"},
            "X-A header with the value of the csrf_access_token",
            "X-R header with the value of the csrf_refresh_token",
        ),
        (
            {"csrf_in_cookies": False},
            "X-CSRF-Token header with the value of the CSRF token the app hands out",
            "hands out",
        ),
    ],
)
def test_cookie_schemes_name_the_csrf_header_per_token_type(
    options: dict[str, Any], access_text: str, refresh_text: str
) -> None:
    app, _ = new_app(f"oas_csrf_{len(options)}_{'csrf_in_cookies' in options}", token_location=["cookies"], **options)
    route(app, "/me", jwt_required, "POST")
    route(app, "/refresh", refresh_jwt_required, "POST")
    # A definition that differs from the defaults is named after the app.
    found = {name.split(".")[0]: definition for name, definition in schemes(document(app)).items()}
    assert access_text in found["jwt_cookie"]["description"]
    assert refresh_text in found["jwt_refresh_cookie"]["description"]
