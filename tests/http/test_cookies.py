"""Cookies, CSRF double submit, query string and JSON body locations, implicit refresh; over HTTP."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import (
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
from sanic_jwt_extended.exceptions import ConfigurationError

from ..helpers import Client, make_app


def parse_set_cookies(response: Any) -> dict[str, dict[str, Any]]:
    """Set-Cookie headers as {name: {"value": ..., attribute: value-or-True}}."""
    cookies: dict[str, dict[str, Any]] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = first.partition("=")
        parsed: dict[str, Any] = {"value": value.strip('"')}
        for attribute in attributes:
            key, eq, attr_value = attribute.partition("=")
            parsed[key.lower()] = attr_value if eq else True
        cookies[name] = parsed
    return cookies


def cookie_app(name: str = "cookies", **options: Any) -> tuple[Sanic, JWTManager]:
    options.setdefault("token_location", ("cookies", "headers"))
    app, manager = make_app(name, **options)

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        response = json({"login": True})
        max_age = request.args.get("max_age")
        set_access_cookies(
            response, manager.create_access_token("alice", fresh=True), None if max_age is None else int(max_age)
        )
        set_refresh_cookies(response, manager.create_refresh_token("alice"))
        return response

    @app.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        response = json({"logout": True})
        which = request.args.get("which")
        {"access": unset_access_cookies, "refresh": unset_refresh_cookies}.get(which or "", unset_jwt_cookies)(response)
        return response

    @app.route("/write", methods=["POST", "PUT", "PATCH", "DELETE", "GET"])
    @jwt_required
    async def write(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity, "location": request.ctx.jwt_location})

    @app.post("/cookie-refresh")
    @refresh_jwt_required
    async def cookie_refresh(request: Request, token: Token) -> HTTPResponse:
        response = json({"refreshed": token.identity})
        set_access_cookies(response, manager.create_access_token(token.identity))
        return response

    @app.get("/csrf")
    @jwt_required
    async def csrf(request: Request, token: Token) -> HTTPResponse:
        return json({"csrf": get_csrf_token(token.raw_jwt)})

    return app, manager


def login(client: Client, path: str = "/login") -> dict[str, dict[str, Any]]:
    response = client.post(path)
    assert response.status == 200
    return parse_set_cookies(response)


def test_login_sets_cookies_attribute_by_attribute() -> None:
    app, _ = cookie_app()
    cookies = login(Client(app))
    assert set(cookies) == {"access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"}
    for name in ("access_token_cookie", "refresh_token_cookie"):
        assert cookies[name]["httponly"] is True
    for name in ("csrf_access_token", "csrf_refresh_token"):
        assert "httponly" not in cookies[name]
    for cookie in cookies.values():
        assert cookie["secure"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert "max-age" not in cookie and "domain" not in cookie  # session cookies on this host
    assert cookies["access_token_cookie"]["value"].count(".") == 2


def test_cookie_options() -> None:
    app, _ = cookie_app(
        "options",
        access_cookie_name="acc",
        refresh_cookie_name="ref",
        access_csrf_cookie_name="xacc",
        refresh_csrf_cookie_name="xref",
        access_cookie_path="/api",
        refresh_cookie_path="/cookie-refresh",
        access_csrf_cookie_path="/",
        refresh_csrf_cookie_path="/",
        cookie_domain="example.com",
        cookie_secure=False,
        cookie_samesite="Strict",
        session_cookie=False,
        cookie_max_age=600,
    )
    cookies = login(Client(app))
    assert set(cookies) == {"acc", "ref", "xacc", "xref"}
    assert cookies["acc"]["path"] == "/api" and cookies["ref"]["path"] == "/cookie-refresh"
    for cookie in cookies.values():
        assert cookie["domain"] == "example.com"
        assert "secure" not in cookie
        assert cookie["samesite"] == "Strict"
        assert cookie["max-age"] == "600"


@pytest.mark.parametrize(
    ("options", "query", "max_age"),
    [
        ({"session_cookie": False, "cookie_max_age": 0}, "", "0"),  # 0 is honoured
        ({"session_cookie": False}, "", str(15 * 60)),  # follows the token's lifetime
        ({}, "?max_age=42", "42"),  # per-call override
        ({}, "?max_age=0", "0"),
    ],
)
def test_max_age(options: dict[str, Any], query: str, max_age: str) -> None:
    app, _ = cookie_app("max_age", **options)
    cookies = login(Client(app), "/login" + query)
    assert abs(int(cookies["access_token_cookie"]["max-age"]) - int(max_age)) <= 1
    assert cookies["csrf_access_token"]["max-age"] == cookies["access_token_cookie"]["max-age"]


@pytest.mark.parametrize(
    ("which", "cleared"),
    [
        ("", {"access_token_cookie", "csrf_access_token", "refresh_token_cookie", "csrf_refresh_token"}),
        ("access", {"access_token_cookie", "csrf_access_token"}),
        ("refresh", {"refresh_token_cookie", "csrf_refresh_token"}),
    ],
)
def test_unset_cookies(which: str, cleared: set[str]) -> None:
    app, _ = cookie_app()
    response = Client(app).post(f"/logout?which={which}")
    cookies = parse_set_cookies(response)
    assert set(cookies) == cleared
    for name, cookie in cookies.items():
        assert cookie["value"] == "" and cookie["max-age"] == "0"
        assert (cookie.get("httponly") is True) == name.endswith("_cookie")


def cookie_header(cookies: dict[str, dict[str, Any]], *names: str) -> str:
    return "; ".join(f"{name}={cookies[name]['value']}" for name in names)


@pytest.fixture
def session() -> tuple[Client, dict[str, dict[str, Any]]]:
    app, _ = cookie_app()
    client = Client(app)
    return client, login(client)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_csrf_double_submit(session: tuple[Client, dict[str, dict[str, Any]]], method: str) -> None:
    client, cookies = session
    headers = {"cookie": cookie_header(cookies, "access_token_cookie")}
    unsafe = method != "GET"
    missing = client.request(method, "/write", headers=headers)
    assert missing.status == (401 if unsafe else 200)
    if unsafe:
        assert "CSRF" in missing.json["msg"]
        assert missing.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    wrong = client.request(method, "/write", headers={**headers, "X-CSRF-Token": "not-the-value"})
    assert wrong.status == (401 if unsafe else 200)
    right = client.request(method, "/write", headers={**headers, "X-CSRF-Token": cookies["csrf_access_token"]["value"]})
    assert right.status == 200
    assert right.json == {"identity": "alice", "location": "cookies"}


def test_header_tokens_need_no_csrf(session: tuple[Client, dict[str, dict[str, Any]]]) -> None:
    client, cookies = session
    response = client.post("/write", cookies["access_token_cookie"]["value"])
    assert response.json == {"identity": "alice", "location": "headers"}


def test_refresh_cookie_with_its_own_csrf(session: tuple[Client, dict[str, dict[str, Any]]]) -> None:
    client, cookies = session
    headers = {"cookie": cookie_header(cookies, "refresh_token_cookie")}
    assert client.post("/cookie-refresh", headers=headers).status == 401
    access_csrf = {**headers, "X-CSRF-Token": cookies["csrf_access_token"]["value"]}
    assert client.post("/cookie-refresh", headers=access_csrf).status == 401
    ok = client.post("/cookie-refresh", headers={**headers, "X-CSRF-Token": cookies["csrf_refresh_token"]["value"]})
    assert ok.status == 200
    assert "access_token_cookie" in parse_set_cookies(ok)


def test_csrf_form_field() -> None:
    app, _ = cookie_app("form", csrf_check_form=True)
    client = Client(app)
    cookies = login(client)
    headers = {"cookie": cookie_header(cookies, "access_token_cookie")}
    ok = client.post("/write", headers=headers, data={"csrf_token": cookies["csrf_access_token"]["value"]})
    assert ok.status == 200
    assert client.post("/write", headers=headers, data={"csrf_token": "nope"}).status == 401


def test_csrf_claim_and_get_csrf_token(session: tuple[Client, dict[str, dict[str, Any]]]) -> None:
    client, cookies = session
    response = client.get("/csrf", headers={"cookie": cookie_header(cookies, "access_token_cookie")})
    assert response.json["csrf"] == cookies["csrf_access_token"]["value"]


def test_header_only_apps_put_no_csrf_claim(manager: JWTManager) -> None:
    assert manager.decode_token(manager.create_access_token("a")).csrf is None


def test_csrf_protect_off() -> None:
    app, _ = cookie_app("nocsrf", csrf_protect=False)
    client = Client(app)
    cookies = login(client)
    assert "csrf_access_token" not in cookies
    assert client.post("/write", headers={"cookie": cookie_header(cookies, "access_token_cookie")}).status == 200


def test_custom_csrf_header_and_methods() -> None:
    app, _ = cookie_app("csrfopts", csrf_header_name="X-XSRF", csrf_request_methods=["delete"])
    client = Client(app)
    cookies = login(client)
    headers = {"cookie": cookie_header(cookies, "access_token_cookie")}
    assert client.post("/write", headers=headers).status == 200  # POST no longer checked
    assert client.request("DELETE", "/write", headers=headers).status == 401
    value = cookies["csrf_access_token"]["value"]
    assert client.request("DELETE", "/write", headers={**headers, "X-XSRF": value}).status == 200


# --- query string and JSON body -------------------------------------------------------


def locations_app(**options: Any) -> tuple[Client, JWTManager]:
    app, manager = make_app("locations", **options)

    @app.post("/body")
    @jwt_required
    async def body(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity})

    return Client(app), manager


def test_query_string() -> None:
    client, manager = locations_app(token_location=["query"])
    token = manager.create_access_token("q")
    assert client.get(f"/protected?jwt={token}").json["identity"] == "q"
    assert client.get(f"/protected?jwt={token}&jwt={token}").status == 422
    assert client.get("/protected?jwt=garbage").status == 422
    assert client.get("/protected", token).status == 401  # headers are not a location here


def test_query_string_name_and_prefix() -> None:
    client, manager = locations_app(
        token_location=["query_string"], jwt_query_param_name="t", jwt_query_param_value_prefix="Bearer "
    )
    token = manager.create_access_token("q")
    assert client.get(f"/protected?t=Bearer%20{token}").status == 200
    assert client.get(f"/protected?t={token}").status == 422


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": {"access_token": "TOKEN"}}, 200),
        ({"json": {"access_token": "TOKEN", "other": 1}}, 200),
        ({"json": {"other": 1}}, 401),
        ({"json": ["TOKEN"]}, 422),
        ({"json": "TOKEN"}, 422),
        ({"json": {"access_token": 5}}, 422),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, 422),
        ({"content": b'{"access_token": "TOKEN"}', "headers": {"content-type": "text/plain"}}, 401),
        ({"content": b'{"access_token": "TOKEN"}', "headers": {"content-type": "application/vnd.api+json"}}, 200),
        ({}, 401),
    ],
    ids=[
        "object",
        "extra keys",
        "no key",
        "array",
        "string",
        "number",
        "invalid",
        "bytes",
        "not json",
        "+json",
        "empty",
    ],
)
def test_json_body(kwargs: dict[str, Any], status: int) -> None:
    client, manager = locations_app(token_location=["json"])
    token = manager.create_access_token("j")
    if "json" in kwargs:
        kwargs["json"] = _replace(kwargs["json"], token)
    if "content" in kwargs:
        kwargs["content"] = kwargs["content"].replace(b"TOKEN", token.encode())
    assert client.request("POST", "/body", **kwargs).status == status


def _replace(value: Any, token: str) -> Any:
    if value == "TOKEN":
        return token
    if isinstance(value, dict):
        return {k: _replace(v, token) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, token) for v in value]
    return value


def test_refresh_json_key() -> None:
    client, manager = locations_app(token_location=["json"])
    refresh = manager.create_refresh_token("r")
    assert client.post("/refresh", json={"refresh_token": refresh}).status == 200
    assert client.post("/refresh", json={"access_token": refresh}).status == 401


def test_first_location_wins_and_bad_tokens_never_fall_through() -> None:
    client, manager = locations_app(token_location=["headers", "query_string"])
    good = manager.create_access_token("good")
    assert client.get(f"/protected?jwt={good}").json["identity"] == "good"
    # a bad header token fails even though the query string holds a good one
    assert client.get(f"/protected?jwt={good}", "bad.token.here").status == 422
    assert client.get(f"/protected?jwt={good}", headers={"Authorization": "Basic x"}).status == 422


def test_missing_message_names_every_location() -> None:
    client, _ = locations_app(token_location=["headers", "cookies", "query_string", "json"])
    message = client.get("/protected").json["msg"]
    for place in ("Authorization header", "access_token_cookie cookie", "jwt query parameter", "access_token"):
        assert place in message


def test_per_route_locations() -> None:
    app, manager = make_app("route_locations")

    @app.get("/ws-handshake")
    @jwt_required(locations="query_string")
    async def handshake(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity})

    client = Client(app)
    token = manager.create_access_token("ws")
    assert client.get(f"/ws-handshake?jwt={token}").json == {"identity": "ws"}
    assert client.get("/ws-handshake", token).status == 401
    with pytest.raises(ConfigurationError, match="locations="):
        jwt_required(locations=["carrier-pigeon"])


def test_duplicate_cookie_is_refused(session: tuple[Client, dict[str, dict[str, Any]]]) -> None:
    client, cookies = session
    value = cookies["access_token_cookie"]["value"]
    response = client.get("/write", headers={"cookie": f"access_token_cookie={value}; access_token_cookie={value}"})
    assert response.status == 422


def test_host_prefixed_cookie_is_not_read_instead(session: tuple[Client, dict[str, dict[str, Any]]]) -> None:
    # Sanic's cookies.get() would prefer __Host-access_token_cookie; we read the exact name.
    client, cookies = session
    value = cookies["access_token_cookie"]["value"]
    response = client.get("/write", headers={"cookie": f"__Host-access_token_cookie=bad; access_token_cookie={value}"})
    assert response.status == 200


# --- implicit refresh -------------------------------------------------------------------


def implicit_app() -> tuple[Client, JWTManager]:
    app, manager = cookie_app("implicit", implicit_refresh=timedelta(minutes=10), use_acl=True)
    return Client(app), manager


def test_implicit_refresh_reissues_a_non_fresh_cookie() -> None:
    client, manager = implicit_app()
    old = manager.create_access_token(
        "alice", fresh=True, role=["admin"], public_claims={"tenant": "t1"}, expires_delta=timedelta(minutes=5)
    )
    response = client.get("/write", headers={"cookie": f"access_token_cookie={old}"})
    assert response.status == 200
    cookies = parse_set_cookies(response)
    assert set(cookies) == {"access_token_cookie", "csrf_access_token"}
    new = manager.decode_token(cookies["access_token_cookie"]["value"])
    before = manager.decode_token(old)
    assert new.identity == "alice" and new.roles == {"admin"} and new.public_claims == {"tenant": "t1"}
    assert new.fresh is False and new.jti != before.jti
    assert new.csrf == cookies["csrf_access_token"]["value"]
    assert new.exp is not None and before.exp is not None and new.exp > before.exp


@pytest.mark.parametrize(
    ("expires", "via_header"),
    [(timedelta(minutes=60), False), (timedelta(minutes=5), True)],
    ids=["not close to expiry", "header-borne"],
)
def test_no_implicit_refresh(expires: timedelta, via_header: bool) -> None:
    client, manager = implicit_app()
    token = manager.create_access_token("alice", expires_delta=expires)
    if via_header:
        response = client.get("/write", token)
    else:
        response = client.get("/write", headers={"cookie": f"access_token_cookie={token}"})
    assert response.status == 200
    assert parse_set_cookies(response) == {}


def test_no_implicit_refresh_on_logout() -> None:
    app, manager = cookie_app("implicit_logout", implicit_refresh=timedelta(minutes=10))

    @app.post("/protected-logout")
    @jwt_required
    async def protected_logout(request: Request) -> HTTPResponse:
        response = json({})
        unset_jwt_cookies(response)
        return response

    client = Client(app)
    token = manager.create_access_token("alice", expires_delta=timedelta(minutes=1))
    csrf = manager.decode_token(token).csrf
    assert csrf is not None
    response = client.post(
        "/protected-logout", headers={"cookie": f"access_token_cookie={token}", "X-CSRF-Token": csrf}
    )
    cookies = parse_set_cookies(response)
    assert cookies["access_token_cookie"]["value"] == "" and cookies["access_token_cookie"]["max-age"] == "0"


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"cookie_samesite": "none"}, "cookie_samesite"),
        ({"cookie_samesite": "None", "cookie_secure": False}, "cookie_samesite"),
        ({"cookie_max_age": 60}, "cookie_max_age"),
        ({"session_cookie": False, "cookie_max_age": -1}, "cookie_max_age"),
        ({"implicit_refresh": timedelta(0)}, "implicit_refresh"),
        ({"implicit_refresh": 60, "token_location": ["headers"]}, "implicit_refresh"),
        ({"csrf_request_methods": "POST,"}, None),
    ],
)
def test_cookie_config_validation(options: dict[str, Any], option: str | None) -> None:
    if option is None:
        _, manager = cookie_app("valid", **options)
        assert manager.config.csrf_request_methods == ("POST",)
        return
    with pytest.raises(ConfigurationError, match=rf"^{option}"):
        cookie_app("invalid", **options)


def test_cookie_helpers_outside_a_request() -> None:
    with pytest.raises(ConfigurationError, match="inside a view"):
        set_access_cookies(HTTPResponse(), "x")


def test_expired_cookie_token_is_401_not_fallthrough() -> None:
    client, manager = locations_app(token_location=["cookies", "headers"])
    expired = manager.create_access_token("a", expires_delta=timedelta(seconds=1))
    time.sleep(manager.decode_token(expired).exp.timestamp() - time.time() + 0.05)  # type: ignore[union-attr]
    good = manager.create_access_token("b")
    response = client.get("/protected", good, headers={"cookie": f"access_token_cookie={expired}"})
    assert response.status == 401


def test_no_implicit_refresh_on_error_responses() -> None:
    app, manager = cookie_app("implicit_error", implicit_refresh=timedelta(minutes=10))

    @app.get("/fails")
    @jwt_required
    async def fails(request: Request) -> HTTPResponse:
        return json({"msg": "nope"}, status=409)

    token = manager.create_access_token("alice", expires_delta=timedelta(minutes=1))
    response = Client(app).get("/fails", headers={"cookie": f"access_token_cookie={token}"})
    assert response.status == 409
    assert parse_set_cookies(response) == {}


@pytest.mark.parametrize(("methods", "fails"), [(["POST"], True), (["GET", "DELETE"], True), (["GET"], False)])
def test_cookie_route_on_header_only_app(methods: list[str], fails: bool) -> None:
    # Tokens of a header-only app carry no CSRF claim: a cookie route that CSRF-checks some
    # method could never accept it, so the mistake stops the server at startup.
    app, manager = make_app(f"cookie_route_{'_'.join(methods)}")

    @app.route("/cookie-route", methods=methods)
    @jwt_required(locations=["cookies"])
    async def cookie_route(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity})

    client = Client(app)
    if fails:
        with pytest.raises(ConfigurationError, match="token_location"):
            client.get("/protected")
        return
    access = manager.create_access_token("alice")
    response = client.get("/cookie-route", headers={"Cookie": f"access_token_cookie={access}"})
    assert response.status == 200 and response.json == {"identity": "alice"}
