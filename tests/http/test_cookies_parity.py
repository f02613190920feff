"""flask-jwt-extended's cookie options, over HTTP: csrf_in_cookies, per-call domain=, CSRF
header and form-field names per token type, get_csrf_token inside and outside a request."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import (
    JWT,
    JWTExtendedException,
    JWTManager,
    Token,
    get_csrf_token,
    jwt_required,
    refresh_jwt_required,
    set_access_cookies,
    set_refresh_cookies,
    unset_access_cookies,
    unset_jwt_cookies,
    unset_refresh_cookies,
)
from sanic_jwt_extended.cookies import set_token_cookies, unset_token_cookies
from sanic_jwt_extended.exceptions import ConfigurationError
from sanic_jwt_extended.testing import tokens_for

from ..helpers import SECRET, Client
from .test_cookies import parse_set_cookies

CSRF_COOKIES = {"csrf_access_token", "csrf_refresh_token"}


def parity_app(name: str, **options: Any) -> tuple[Sanic, JWTManager]:
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.token_location = ("cookies",)
        for option, value in options.items():
            setattr(manager.config, option, value)

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        access, refresh = manager.create_access_token("alice"), manager.create_refresh_token("alice")
        # What an app with csrf_in_cookies = False hands out: the values, in the body.
        response = json({"csrf_access": get_csrf_token(access), "csrf_refresh": get_csrf_token(refresh)})
        domain = request.args.get("domain")
        set_access_cookies(response, access, domain=domain)
        set_refresh_cookies(response, refresh, domain=domain)
        return response

    @app.post("/login-positional")
    async def login_positional(request: Request) -> HTTPResponse:
        # flask-jwt-extended's signatures: (response, token, max_age, domain), (response, domain).
        response = json({})
        set_access_cookies(response, manager.create_access_token("alice"), None, "p.example.com")
        set_refresh_cookies(response, manager.create_refresh_token("alice"), 60, "p.example.com")
        unset_access_cookies(response, "gone.example.com")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        response = json({})
        unset = {"access": unset_access_cookies, "refresh": unset_refresh_cookies}.get(
            request.args.get("which", ""), unset_jwt_cookies
        )
        unset(response, domain=request.args.get("domain"))
        return response

    @app.post("/write")
    @jwt_required
    async def write(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity})

    @app.post("/refresh")
    @refresh_jwt_required
    async def refresh(request: Request, token: Token) -> HTTPResponse:
        return json({"refreshed": token.identity})

    return app, manager


def session(app: Sanic, path: str = "/login") -> tuple[Client, dict[str, dict[str, Any]], dict[str, Any]]:
    client = Client(app)
    response = client.post(path)
    assert response.status == 200, response.text
    return client, parse_set_cookies(response), response.json


def cookie(cookies: dict[str, dict[str, Any]], name: str) -> dict[str, str]:
    return {"cookie": f"{name}={cookies[name]['value']}"}


# -- csrf_in_cookies ------------------------------------------------------------------------


def test_csrf_in_cookies_off_sets_no_readable_cookie_and_still_checks() -> None:
    app, _ = parity_app("csrf_no_cookies", csrf_in_cookies=False)
    client, cookies, body = session(app)
    assert set(cookies) == {"access_token_cookie", "refresh_token_cookie"}
    assert all(c["httponly"] is True for c in cookies.values())
    access = cookie(cookies, "access_token_cookie")
    # The double submit is still enforced: the cookie alone does not do.
    refused = client.post("/write", headers=access)
    assert refused.status == 401 and "CSRF" in refused.json["msg"]
    assert client.post("/write", headers={**access, "X-CSRF-Token": "wrong"}).status == 401
    assert client.post("/write", headers={**access, "X-CSRF-Token": body["csrf_access"]}).status == 200
    refresh = cookie(cookies, "refresh_token_cookie")
    assert client.post("/refresh", headers={**refresh, "X-CSRF-Token": body["csrf_refresh"]}).status == 200


def test_csrf_in_cookies_off_unsets_no_csrf_cookie() -> None:
    app, _ = parity_app("csrf_no_cookies_unset", csrf_in_cookies=False)
    unset = parse_set_cookies(Client(app).post("/logout"))
    assert set(unset) == {"access_token_cookie", "refresh_token_cookie"}


def test_csrf_in_cookies_on_by_default() -> None:
    app, _ = parity_app("csrf_cookies_default")
    _, cookies, body = session(app)
    assert set(cookies) >= CSRF_COOKIES
    assert cookies["csrf_access_token"]["value"] == body["csrf_access"]


def test_csrf_in_cookies_off_refuses_implicit_refresh() -> None:
    with pytest.raises(ConfigurationError, match="csrf_in_cookies"):
        parity_app("csrf_no_cookies_implicit", csrf_in_cookies=False, implicit_refresh=60)


# -- per-call domain= -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config_domain", "query", "expected"),
    [
        (None, "", None),
        (None, "?domain=a.example.com", "a.example.com"),
        ("example.com", "", "example.com"),
        ("example.com", "?domain=b.example.com", "b.example.com"),
    ],
)
def test_domain_per_call_on_set_and_unset(config_domain: str | None, query: str, expected: str | None) -> None:
    app, _ = parity_app(f"domain_{len(query)}_{config_domain is None}", cookie_domain=config_domain)
    client, cookies, _ = session(app, f"/login{query}")
    assert set(cookies) == {"access_token_cookie", "refresh_token_cookie", *CSRF_COOKIES}
    for which, names in (
        ("", set(cookies)),
        ("access", {"access_token_cookie", "csrf_access_token"}),
        ("refresh", {"refresh_token_cookie", "csrf_refresh_token"}),
    ):
        separator = "&" if query else "?"
        unset = parse_set_cookies(client.post(f"/logout{query}{separator}which={which}"))
        assert set(unset) == names
        cookies.update(unset)
    for attributes in cookies.values():
        assert attributes.get("domain") == expected


@pytest.mark.parametrize("domain", ["", " ", 5])
def test_domain_must_be_a_name(domain: Any) -> None:
    _, manager = parity_app(f"domain_bad_{len(str(domain))}_{type(domain).__name__}")
    with pytest.raises(ConfigurationError, match="domain"):
        set_token_cookies(manager.verifier, json({}), manager.create_access_token("a"), refresh=False, domain=domain)
    with pytest.raises(ConfigurationError, match="domain"):
        unset_token_cookies(manager.verifier, json({}), refresh=True, domain=domain)


# -- CSRF header and form-field names per token type ------------------------------------------

# (options, access header, refresh header, access field, refresh field)
NAMES: list[tuple[dict[str, Any], str, str, str, str]] = [
    ({}, "X-CSRF-Token", "X-CSRF-Token", "csrf_token", "csrf_token"),
    ({"csrf_header_name": "X-XSRF", "csrf_field_name": "xsrf"}, "X-XSRF", "X-XSRF", "xsrf", "xsrf"),
    (
        {"access_csrf_header_name": "X-Access-CSRF", "refresh_csrf_header_name": "X-Refresh-CSRF"},
        "X-Access-CSRF",
        "X-Refresh-CSRF",
        "csrf_token",
        "csrf_token",
    ),
    (
        {
            "csrf_header_name": "X-Both",
            "refresh_csrf_header_name": "X-Refresh-CSRF",
            "access_csrf_field_name": "access_csrf",
            "refresh_csrf_field_name": "refresh_csrf",
        },
        "X-Both",
        "X-Refresh-CSRF",
        "access_csrf",
        "refresh_csrf",
    ),
]


@pytest.mark.parametrize(("options", "access_header", "refresh_header", "access_field", "refresh_field"), NAMES)
def test_csrf_names_per_token_type(
    options: dict[str, Any], access_header: str, refresh_header: str, access_field: str, refresh_field: str
) -> None:
    app, manager = parity_app(
        f"csrf_names_{NAMES.index((options, access_header, refresh_header, access_field, refresh_field))}",
        csrf_check_form=True,
        **options,
    )
    assert (manager.settings.access_csrf_header_name, manager.settings.refresh_csrf_header_name) == (
        access_header,
        refresh_header,
    )
    # Resolved once: the check looks at the token's type only when the names differ.
    assert manager.settings.csrf_names_per_type == ((access_header, access_field) != (refresh_header, refresh_field))
    client, cookies, body = session(app)
    for path, cookie_name, value, header, field, other_header, other_field in (
        (
            "/write",
            "access_token_cookie",
            body["csrf_access"],
            access_header,
            access_field,
            refresh_header,
            refresh_field,
        ),
        (
            "/refresh",
            "refresh_token_cookie",
            body["csrf_refresh"],
            refresh_header,
            refresh_field,
            access_header,
            access_field,
        ),
    ):
        jar = cookie(cookies, cookie_name)
        assert client.post(path, headers={**jar, header: value}).status == 200
        assert client.post(path, data={field: value}, headers=jar).status == 200
        missing = client.post(path, headers=jar)
        assert missing.status == 401 and header in missing.json["msg"]
        if other_header.lower() != header.lower():
            assert client.post(path, headers={**jar, other_header: value}).status == 401
        if other_field != field:
            assert client.post(path, data={other_field: value}, headers=jar).status == 401


@pytest.mark.parametrize("option", ["access_csrf_header_name", "refresh_csrf_field_name"])
@pytest.mark.parametrize("value", ["", " ", 3])
def test_csrf_name_options_are_validated(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=option):
        parity_app(f"csrf_bad_{option}_{len(str(value))}", **{option: value})


# -- get_csrf_token ---------------------------------------------------------------------------


def test_manager_get_csrf_token_outside_a_request_with_several_apps() -> None:
    _, first = parity_app("csrf_outside_a")
    _, second = parity_app("csrf_outside_b", secret_key=SECRET + "-another-app")
    token = first.create_access_token("alice")
    csrf = first.get_csrf_token(token)
    assert csrf and csrf == first.decode_token(token).csrf
    assert second.get_csrf_token(second.create_refresh_token("bob"))
    # Another app's token does not verify here: the value is only handed out for a real token.
    with pytest.raises(JWTExtendedException):
        second.get_csrf_token(token)
    with pytest.raises(ConfigurationError, match=r"manager\.get_csrf_token"):
        get_csrf_token(token)


def test_get_csrf_token_in_a_request_uses_that_app() -> None:
    app, _ = parity_app("csrf_in_request_a")
    parity_app("csrf_in_request_b")
    _, cookies, body = session(app)
    assert body["csrf_access"] == cookies["csrf_access_token"]["value"]
    assert body["csrf_refresh"] == cookies["csrf_refresh_token"]["value"]


def test_testing_helper_sends_the_header_of_each_token_type() -> None:
    app, _ = parity_app("csrf_names_helper", access_csrf_header_name="X-A", refresh_csrf_header_name="X-R")
    tokens, client = tokens_for(app), Client(app)
    access, refresh = tokens.cookie_headers(tokens.access("alice")), tokens.cookie_headers(tokens.refresh("alice"))
    assert "X-A" in access and "X-R" in refresh
    assert client.post("/write", headers=access).status == 200
    assert client.post("/refresh", headers=refresh).status == 200


def test_domain_positional_as_in_flask_jwt_extended() -> None:
    app, _ = parity_app("domain_positional")
    response = Client(app).post("/login-positional")
    headers = response.headers.get_list("set-cookie")
    domains = {h.split("=", 1)[0]: h.split("Domain=", 1)[1].split(";")[0] for h in headers}
    # unset_access_cookies ran last: the last Set-Cookie of each access cookie carries its domain.
    assert domains["access_token_cookie"] == domains["csrf_access_token"] == "gone.example.com"
    assert domains["refresh_token_cookie"] == domains["csrf_refresh_token"] == "p.example.com"
    assert parse_set_cookies(response)["refresh_token_cookie"]["max-age"] == "60"


def test_get_csrf_token_outside_a_request_with_one_app() -> None:
    # A fresh process: this one holds many apps, and with several the facade refuses to guess.
    script = textwrap.dedent(
        f"""
        from sanic import Sanic
        from sanic_jwt_extended import JWT, get_csrf_token
        app = Sanic("only_app")
        with JWT.initialize(app) as manager:
            manager.config.secret_key = {SECRET!r}
            manager.config.token_location = ["cookies"]
        token = manager.create_access_token("alice")
        assert get_csrf_token(token) == manager.get_csrf_token(token) == manager.decode_token(token).csrf
        other = Sanic("second_app")
        with JWT.initialize(other) as second:
            second.config.secret_key = {SECRET!r}
        try:
            get_csrf_token(token)
        except Exception as error:
            assert "manager.get_csrf_token" in str(error), error
            print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
