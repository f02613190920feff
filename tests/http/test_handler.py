"""The contract's error table, every row over HTTP, plus response customisation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json, text

from sanic_jwt_extended import JWT, JWTManager, Token, jwt_required
from sanic_jwt_extended.exceptions import ExpiredSignatureError, JWTExtendedException

from ..helpers import SECRET, Client, add_routes, make_app


def forge(manager: JWTManager, secret: str = SECRET, algorithm: str = "HS256", **overrides: Any) -> str:
    """A token with valid defaults, any claim replaced (None removes it)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "alice", "type": "access", "jti": "j1", "iat": now, "nbf": now, "exp": now + 60}
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm=algorithm)


def roles_app() -> tuple[Sanic, JWTManager]:
    app, manager = make_app("roles", use_acl=True)

    @app.get("/admin")
    @jwt_required(allow=["admin"])
    async def admin(request: Request, token: Token) -> HTTPResponse:
        return json({"ok": True})

    return app, manager


def callbacks_app(user: Any = None, claims_ok: bool = True) -> tuple[Sanic, JWTManager]:
    app = Sanic("callbacks")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET

        @manager.user_lookup_loader
        async def lookup(token: Token) -> Any:
            return user

        @manager.claims_verification_loader
        def check(token: Token) -> bool:
            return claims_ok

    add_routes(app)
    return app, manager


def revoked(manager: JWTManager) -> str:
    token = manager.create_access_token("a")
    asyncio.run(manager.revoke(token))
    return token


def csrf_app() -> tuple[Sanic, JWTManager]:
    app, manager = make_app("csrf", token_location=("cookies",))

    @app.post("/write")
    @jwt_required
    async def write(request: Request) -> HTTPResponse:
        return json({})

    return app, manager


def csrf_cookie_only(manager: JWTManager) -> dict[str, str]:
    return {"cookie": f"access_token_cookie={manager.create_access_token('a')}"}


# (id, app builder, method, path, headers builder, status)
Row = tuple[str, Callable[[], tuple[Sanic, JWTManager]], str, str, Callable[[JWTManager], dict[str, str]], int]


def bearer(make: Callable[[JWTManager], str]) -> Callable[[JWTManager], dict[str, str]]:
    return lambda m: {"Authorization": f"Bearer {make(m)}"}


ERROR_TABLE: list[Row] = [
    ("no token", make_app, "GET", "/protected", lambda m: {}, 401),
    ("wrong scheme", make_app, "GET", "/protected", lambda m: {"Authorization": "Basic abc"}, 422),
    ("missing token after scheme", make_app, "GET", "/protected", lambda m: {"Authorization": "Bearer"}, 422),
    ("extra parts", make_app, "GET", "/protected", lambda m: {"Authorization": "Bearer a b"}, 422),
    (
        "token over max_token_bytes",
        make_app,
        "GET",
        "/protected",
        lambda m: {"Authorization": "Bearer " + "a" * 9000},
        422,
    ),
    ("expired", make_app, "GET", "/protected", bearer(lambda m: forge(m, exp=int(time.time()) - 100)), 401),
    ("bad signature", make_app, "GET", "/protected", bearer(lambda m: forge(m, secret="other-" + SECRET)), 422),
    ("malformed token", make_app, "GET", "/protected", lambda m: {"Authorization": "Bearer not.a.jwt"}, 422),
    ("algorithm not allowed", make_app, "GET", "/protected", bearer(lambda m: forge(m, algorithm="HS512")), 422),
    (
        "wrong aud",
        lambda: make_app("aud", default_aud="api"),
        "GET",
        "/protected",
        bearer(lambda m: forge(m, aud="other")),
        422,
    ),
    ("missing aud", lambda: make_app("aud", default_aud="api"), "GET", "/protected", bearer(lambda m: forge(m)), 422),
    (
        "wrong iss",
        lambda: make_app("iss", default_iss="me"),
        "GET",
        "/protected",
        bearer(lambda m: forge(m, iss="evil")),
        422,
    ),
    ("missing sub", make_app, "GET", "/protected", bearer(lambda m: forge(m, sub=None)), 422),
    ("missing exp", make_app, "GET", "/protected", bearer(lambda m: forge(m, exp=None)), 422),
    ("missing type", make_app, "GET", "/protected", bearer(lambda m: forge(m, type=None)), 422),
    ("missing jti", make_app, "GET", "/protected", bearer(lambda m: forge(m, jti=None)), 422),
    ("nbf in the future", make_app, "GET", "/protected", bearer(lambda m: forge(m, nbf=int(time.time()) + 600)), 422),
    ("iat in the future", make_app, "GET", "/protected", bearer(lambda m: forge(m, iat=int(time.time()) + 600)), 422),
    ("refresh where access needed", make_app, "GET", "/protected", bearer(lambda m: m.create_refresh_token("a")), 422),
    ("access where refresh needed", make_app, "POST", "/refresh", bearer(lambda m: m.create_access_token("a")), 422),
    ("fresh required", make_app, "GET", "/fresh", bearer(lambda m: m.create_access_token("a")), 401),
    ("role not allowed", roles_app, "GET", "/admin", bearer(lambda m: m.create_access_token("a", role="user")), 403),
    ("no role at all", roles_app, "GET", "/admin", bearer(lambda m: m.create_access_token("a")), 403),
    ("revoked", lambda: make_app("revoked", use_blocklist=True), "GET", "/protected", bearer(revoked), 401),
    ("CSRF missing (cookie location)", csrf_app, "POST", "/write", csrf_cookie_only, 401),
    (
        "user lookup returned nothing",
        callbacks_app,
        "GET",
        "/protected",
        bearer(lambda m: m.create_access_token("a")),
        401,
    ),
    (
        "claims verification returned False",
        lambda: callbacks_app(user="u", claims_ok=False),
        "GET",
        "/protected",
        bearer(lambda m: m.create_access_token("a")),
        400,
    ),
]


@pytest.mark.parametrize(
    ("case", "build", "method", "path", "headers", "status"), ERROR_TABLE, ids=[r[0] for r in ERROR_TABLE]
)
def test_error_table(
    case: str,
    build: Callable[[], tuple[Sanic, JWTManager]],
    method: str,
    path: str,
    headers: Callable[[JWTManager], dict[str, str]],
    status: int,
) -> None:
    app, manager = build()
    response = Client(app).request(method, path, headers=headers(manager))
    assert response.status == status, response.text
    assert isinstance(response.json["msg"], str) and response.json["msg"]
    if status in (401, 422):  # every token error carries the challenge (RFC 6750 §3, RFC 9110 §11.6.1)
        assert response.headers["www-authenticate"].startswith("Bearer")
    else:
        assert status == 403 or "www-authenticate" not in response.headers


def test_bare_challenge_when_no_credentials(client: Client) -> None:
    # RFC 6750 §3.1: no error code when the request carried no credentials.
    assert client.get("/protected").headers["www-authenticate"] == "Bearer"


def test_challenge_names_the_error(client: Client, manager: JWTManager) -> None:
    response = client.get("/protected", forge(manager, exp=int(time.time()) - 100))
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token", error_description="Token has expired"'


def test_forbidden_carries_insufficient_scope() -> None:
    app, manager = roles_app()
    response = Client(app).get("/admin", manager.create_access_token("a", role="user"))
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'


@pytest.mark.parametrize(
    ("headers", "error"),
    [({"Authorization": "Basic x"}, "invalid_request"), ({"Authorization": "Bearer x.y.z"}, "invalid_token")],
)
def test_invalid_token_status_401(headers: dict[str, str], error: str) -> None:
    app, _ = make_app("strict", invalid_token_status=401)
    response = Client(app).get("/protected", headers=headers)
    assert response.status == 401
    assert f'error="{error}"' in response.headers["www-authenticate"]


def test_error_message_key() -> None:
    app, _ = make_app("key", error_message_key="detail")
    assert Client(app).get("/protected").json == {"detail": "Missing token: looked in Authorization header"}


@pytest.mark.parametrize("is_async", [False, True])
def test_replace_a_response(is_async: bool) -> None:
    app = Sanic("custom")

    def sync_handler(request: Request, exception: JWTExtendedException) -> HTTPResponse:
        return text(f"custom: {exception.message}", status=419)

    async def async_handler(request: Request, exception: JWTExtendedException) -> HTTPResponse:
        return sync_handler(request, exception)

    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.handler.expired_signature = async_handler if is_async else sync_handler
    add_routes(app)
    client = Client(app)
    expired = client.get("/protected", forge(manager, exp=int(time.time()) - 100))
    assert (expired.status, expired.text) == (419, "custom: Token has expired")
    # other errors keep their default response
    assert client.get("/protected").status == 401


def test_handler_rejects_unknown_names_and_late_changes(manager: JWTManager) -> None:
    with pytest.raises(AttributeError, match="unknown response"):
        manager.handler.expired = lambda r, e: None
    with pytest.raises(AttributeError, match="frozen"):
        manager.handler.expired_signature = lambda r, e: None


def test_error_description_is_sanitised(manager: JWTManager) -> None:
    error = ExpiredSignatureError('bad "quoted" \\ text')
    app = manager.app
    response = manager.handler.default(None, error)  # type: ignore[arg-type]
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token", error_description="bad quoted  text"'
    assert app is manager.app


def test_all_exceptions_are_one_family() -> None:
    from sanic_jwt_extended import exceptions

    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), JWTExtendedException)


def test_handler_names_are_the_exception_family_s() -> None:
    # One list: every error class names a response the handler has, and the handler has
    # no response no error uses.

    from sanic_jwt_extended import exceptions
    from sanic_jwt_extended.handler import HANDLER_NAMES, Handler

    classes = [
        value
        for value in vars(exceptions).values()
        if isinstance(value, type) and issubclass(value, exceptions.JWTExtendedException)
    ]
    assert {cls.handler_name for cls in classes} == set(HANDLER_NAMES)
    annotated = {name for name in Handler.__annotations__ if not name.startswith("_")}
    assert annotated == set(HANDLER_NAMES)
