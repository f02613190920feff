"""``sanic_jwt_extended.testing`` and its pytest plugin, used as a user's suite would use them:
tokens from the ``jwt_tokens`` fixture, requests over HTTP through ``app.asgi_client``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

import sanic_jwt_extended.pytest_plugin
from sanic_jwt_extended import JWT, jwt_required
from sanic_jwt_extended.exceptions import ConfigurationError, TokenCreationError
from sanic_jwt_extended.testing import TokenFactory, tokens_for

from ..helpers import Client, add_routes, make_app

Tokens = Callable[[Any], TokenFactory]


def test_the_plugin_is_loaded_through_its_entry_point_and_is_not_autouse(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.get_plugin("sanic_jwt_extended") is sanic_jwt_extended.pytest_plugin
    # This test did not ask for jwt_tokens, so it must not be active (no autouse fixture).
    assert "jwt_tokens" not in request.fixturenames


def test_the_fixture_is_the_factory(jwt_tokens: Tokens) -> None:
    app, manager = make_app("fixture")
    assert jwt_tokens(app) == tokens_for(app) == tokens_for(manager)
    assert jwt_tokens(app).manager is manager


# -- the usual cases, over HTTP -------------------------------------------------------------------

Make = Callable[[TokenFactory], tuple[str, dict[str, str]]]


def get(make: Callable[[TokenFactory], str]) -> Make:
    return lambda t: ("GET", t.headers(make(t)))


CASES: list[tuple[str, Make, str, int, str | None]] = [
    ("access", get(lambda t: t.access("alice")), "/protected", 200, None),
    ("access-on-fresh-route", get(lambda t: t.access("alice")), "/fresh", 401, "Fresh token required"),
    ("fresh", get(lambda t: t.fresh("alice")), "/fresh", 200, None),
    ("refresh", lambda t: ("POST", t.refresh_headers("alice")), "/refresh", 200, None),
    ("access-as-refresh", lambda t: ("POST", t.access_headers("alice")), "/refresh", 422, None),
    ("expired", get(lambda t: t.expired("alice")), "/protected", 401, "Token has expired"),
    (
        "expired-refresh",
        lambda t: ("POST", t.headers(t.expired("alice", refresh=True), refresh=True)),
        "/refresh",
        401,
        "Token has expired",
    ),
    ("not-yet-valid", get(lambda t: t.not_yet_valid("alice")), "/protected", 422, None),
    ("aged-within-lifetime", get(lambda t: t.access("alice", age=timedelta(minutes=14))), "/protected", 200, None),
    (
        "aged-past-lifetime",
        get(lambda t: t.access("alice", age=timedelta(minutes=16))),
        "/protected",
        401,
        "Token has expired",
    ),
    (
        "fresh-window-still-open",
        get(lambda t: t.access("alice", fresh=timedelta(minutes=5), age=timedelta(minutes=4))),
        "/fresh",
        200,
        None,
    ),
    (
        "fresh-window-closed",
        get(lambda t: t.access("alice", fresh=timedelta(minutes=5), age=timedelta(minutes=6))),
        "/fresh",
        401,
        "Fresh token required",
    ),
]


@pytest.mark.parametrize(("make", "path", "status", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tokens_behave_as_their_names_say(
    jwt_tokens: Tokens, make: Make, path: str, status: int, message: str | None
) -> None:
    app, _ = make_app("cases")
    method, headers = make(jwt_tokens(app))
    response = Client(app).request(method, path, headers=headers)
    assert response.status == status, response.json
    if message is not None:
        assert response.json == {"msg": message}


def test_expired_goes_past_the_leeway_and_age_stays_within_it(jwt_tokens: Tokens) -> None:
    app, _ = make_app("leeway", leeway=60)
    tokens, client = jwt_tokens(app), Client(app)
    assert client.get("/protected", tokens.expired("alice")).status == 401
    assert client.get("/protected", tokens.not_yet_valid("alice")).status == 422
    # 30 s past exp, within the 60 s leeway: still accepted.
    assert client.get("/protected", tokens.access("alice", age=timedelta(minutes=15, seconds=30))).status == 200
    assert client.get("/protected", tokens.expired("alice", expires_delta=timedelta(hours=2))).status == 401


def test_issued_at_moves_every_time_claim_together(jwt_tokens: Tokens) -> None:
    app, _ = make_app("moved")
    tokens = jwt_tokens(app)
    moment = datetime.now(timezone.utc) - timedelta(minutes=3)
    claims = tokens.claims(tokens.access("alice", fresh=timedelta(minutes=10), issued_at=moment))
    assert claims["iat"] == pytest.approx(moment.timestamp(), abs=0.001)
    assert claims["nbf"] == int(moment.timestamp())
    assert claims["exp"] - claims["nbf"] == pytest.approx(15 * 60, abs=1)
    assert claims["fresh"] - claims["nbf"] == pytest.approx(10 * 60, abs=1)
    with pytest.raises(TokenCreationError, match="timezone-aware"):
        tokens.access("alice", issued_at=datetime.now())  # noqa: DTZ005 - the mistake under test
    with pytest.raises(TokenCreationError, match="not both"):
        tokens.access("alice", issued_at=moment, age=timedelta(1))


def test_tokens_follow_the_apps_configuration_and_loaders(jwt_tokens: Tokens) -> None:
    app = Sanic("configured")
    with JWT.initialize(app) as manager:
        manager.config.algorithm = "ES256"
        manager.config.private_key = ec.generate_private_key(ec.SECP256R1())
        manager.config.default_iss = "https://issuer.example"
        manager.config.default_aud = "api"
        manager.config.public_claim_namespace = "https://example.com/"
        manager.config.jwt_header_key = "X-Auth"
        manager.config.jwt_header_prefix = ""
        manager.config.use_acl = True

        @manager.user_identity_loader
        def identity(user: dict[str, str]) -> str:
            return user["name"]

        @manager.additional_claims_loader
        def claims(user: dict[str, str]) -> dict[str, str]:
            return {"tenant": user["tenant"]}

    add_routes(app)

    @app.get("/admin")
    @jwt_required(allow=["admin"])
    async def admin(request: Request) -> HTTPResponse:
        return json({"tenant": request.ctx.token.public_claims["tenant"]})

    tokens, client = jwt_tokens(app), Client(app)
    user = {"name": "alice", "tenant": "t1"}
    token = tokens.access(user, role="admin", age=timedelta(minutes=1), additional_headers={"x-env": "test"})
    assert tokens.headers(token) == {"X-Auth": token}
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"], header["x-env"]) == ("ES256", manager.keys.kid, "test")  # type: ignore[union-attr]
    claims = tokens.claims(token)
    assert (claims["sub"], claims["iss"], claims["aud"]) == ("alice", "https://issuer.example", "api")
    response = client.request("GET", "/admin", headers=tokens.headers(token))
    assert (response.status, response.json) == (200, {"tenant": "t1"})
    assert client.request("GET", "/admin", headers=tokens.access_headers(user, role="user")).status == 403
    # The default Authorization header is not where this app looks.
    assert client.get("/protected", token).status == 401


def cookie_app() -> tuple[Sanic, Any]:
    app, manager = make_app("cookie_helpers", token_location=("cookies",))

    @app.post("/write")
    @jwt_required
    async def write(request: Request) -> HTTPResponse:
        return json({"ok": True})

    return app, manager


def test_cookie_headers_carry_the_csrf_value(jwt_tokens: Tokens) -> None:
    app, _ = cookie_app()
    tokens, client = jwt_tokens(app), Client(app)
    token = tokens.access("alice")
    assert tokens.cookies(token) == {"access_token_cookie": token}
    assert client.request("POST", "/write", headers=tokens.cookie_headers(token)).status == 200
    refused = client.request("POST", "/write", headers=tokens.cookie_headers(token, csrf=False))
    assert refused.status == 401
    assert client.request("GET", "/protected", headers=tokens.cookie_headers(token, csrf=False)).status == 200
    refresh = tokens.refresh("alice")
    assert set(tokens.cookie_headers(refresh)) == {"cookie", "X-CSRF-Token"}
    assert tokens.cookie_headers(refresh)["cookie"].startswith("refresh_token_cookie=")
    assert client.request("POST", "/refresh", headers=tokens.cookie_headers(refresh)).status == 200


def test_header_apps_get_no_csrf_header(jwt_tokens: Tokens) -> None:
    app, _ = make_app("no_csrf")
    tokens = jwt_tokens(app)
    assert set(tokens.cookie_headers(tokens.access("alice"))) == {"cookie"}


def test_backdated_tokens_and_log_out_everywhere(jwt_tokens: Tokens) -> None:
    app, manager = make_app("everywhere", use_blocklist=True, refresh_token_rotation=True)
    tokens, client = jwt_tokens(app), Client(app)
    before = tokens.access("alice", age=timedelta(minutes=1))
    asyncio.run(manager.revoke_all("alice"))
    assert client.get("/protected", before).status == 401
    assert client.get("/protected", tokens.access("alice")).status == 200
    # A backdated refresh token keeps its rotation family.
    assert tokens.claims(tokens.refresh("bob", age=timedelta(days=1)))["fam"]


def test_mistakes_are_explained(jwt_tokens: Tokens) -> None:
    app, _ = make_app("no_expiry", require_exp=False, access_token_expires=False)
    with pytest.raises(TokenCreationError, match="no expiry"):
        jwt_tokens(app).expired("alice")
    with pytest.raises(ConfigurationError, match="has no JWT manager"):
        jwt_tokens(Sanic("bare"))


# -- controlling the clock itself ------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["time_machine", "freezegun"])
def test_clock_libraries_move_the_library_clock(jwt_tokens: Tokens, tool: str) -> None:
    # The library reads time.time() and datetime.now(timezone.utc) at each use, never a
    # clock captured earlier: the documented tools move issuing and verification together.
    module = pytest.importorskip(tool)
    travel = module.travel if tool == "time_machine" else module.freeze_time
    app, _ = make_app(f"clock_{tool}")
    tokens, client = jwt_tokens(app), Client(app)
    token = tokens.access("alice", fresh=timedelta(minutes=5))
    assert client.get("/protected", token).status == 200  # cached as verified now
    with travel(datetime.now(timezone.utc) + timedelta(minutes=6), tick=False):
        assert client.get("/protected", token).status == 200
        assert client.get("/fresh", token).status == 401
    with travel(datetime.now(timezone.utc) + timedelta(minutes=16), tick=False):
        assert client.get("/protected", token).json == {"msg": "Token has expired"}
        later = tokens.access("alice")
        assert client.get("/protected", later).status == 200
    assert client.get("/protected", later).status == 422  # issued "in the future"
