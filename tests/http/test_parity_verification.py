"""flask-jwt-extended parity, verification side (issue 15): allow_expired, skip_revocation_check,
verify_type, encode_nbf, verify_sub, decode_audience/decode_issuer, exception.token and
.location, fresh rounded up. Over HTTP wherever a request is involved."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
import time_machine
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, JWTManager, Token, jwt_optional, jwt_required, refresh_jwt_required
from sanic_jwt_extended import verify_jwt_in_request as verify
from sanic_jwt_extended.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    JWTExtendedException,
    MissingRequiredClaimError,
)
from sanic_jwt_extended.requirements import Requirements
from sanic_jwt_extended.steps import revoked, token_type

from ..helpers import SECRET, Client, bearer


def forge(claims: dict[str, Any], *, secret: str = SECRET, algorithm: str = "HS256") -> str:
    """A token signed with the app's secret (or another), with exactly ``claims``."""
    now = int(time.time())
    base = {"sub": "alice", "type": "access", "jti": "j1", "iat": now, "exp": now + 600}
    return jwt.encode({k: v for k, v in {**base, **claims}.items() if v is not None}, secret, algorithm=algorithm)


def app_with(name: str = "parity", **options: Any) -> tuple[Sanic, JWTManager]:
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        for option, value in options.items():
            setattr(manager.config, option, value)

    @app.post("/decode")
    async def decode(request: Request) -> HTTPResponse:
        token = JWT.decode_token(request.json["token"], allow_expired=True)
        return json(
            {"identity": token.identity, "expired": token.exp is not None and token.exp.timestamp() < time.time()}
        )

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity, "type": token.type})

    @app.post("/logout")
    @jwt_required(skip_revocation_check=True)
    async def logout(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity})

    @app.post("/logout-refresh")
    @refresh_jwt_required(skip_revocation_check=True)
    async def logout_refresh(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity})

    @app.post("/guard-logout")
    async def guard_logout(request: Request) -> HTTPResponse:
        token = await verify(request, skip_revocation_check=True)
        assert token is not None
        return json({"identity": token.identity})

    @app.get("/either")
    @jwt_required(verify_type=False)
    async def either(request: Request, token: Token) -> HTTPResponse:
        return json({"type": token.type})

    @app.get("/either-optional")
    @jwt_optional(verify_type=False)
    async def either_optional(request: Request, token: Token | None) -> HTTPResponse:
        return json({"type": None if token is None else token.type})

    @app.get("/guard-either")
    async def guard_either(request: Request) -> HTTPResponse:
        token = await verify(request, verify_type=False, refresh=True)
        assert token is not None
        return json({"type": token.type})

    return app, manager


# -- decode_token(allow_expired=True) ------------------------------------------------------------


def test_allow_expired_accepts_an_expired_token_over_http() -> None:
    app, manager = app_with()
    expired = forge({"exp": int(time.time()) - 3600})
    with pytest.raises(ExpiredSignatureError) as raised:
        manager.decode_token(expired)
    assert raised.value.token is not None and raised.value.token.identity == "alice"
    assert manager.decode_token(expired, allow_expired=True).identity == "alice"
    response = Client(app).request("POST", "/decode", json={"token": expired})
    assert response.status == 200, response.text
    assert response.json == {"identity": "alice", "expired": True}
    # An expired token is never served from the verified-token cache afterwards.
    assert Client(app).get("/protected", token=expired).status == 401


@pytest.mark.parametrize(
    ("claims", "secret", "algorithm", "error"),
    [
        ({}, "another-secret-that-is-long-enough-for-hs256!!", "HS256", InvalidSignatureError),
        ({"aud": "someone-else"}, SECRET, "HS256", InvalidAudienceError),
        ({"jti": None}, SECRET, "HS256", MissingRequiredClaimError),
        ({"nbf": int(time.time()) + 3600}, SECRET, "HS256", ImmatureSignatureError),
        ({}, SECRET, "HS512", InvalidAlgorithmError),
        ({"iss": "mallory"}, SECRET, "HS256", InvalidIssuerError),
    ],
    ids=["signature", "audience", "required-claim", "nbf", "algorithm-pinned", "issuer"],
)
def test_allow_expired_still_runs_every_other_check(
    claims: dict[str, Any], secret: str, algorithm: str, error: type[Exception]
) -> None:
    app, manager = app_with(default_iss="us")
    claims = {"iss": "us", **claims, "exp": int(time.time()) - 3600}
    token = forge(claims, secret=secret, algorithm=algorithm)
    with pytest.raises(error):
        manager.decode_token(token, allow_expired=True)
    response = Client(app).request("POST", "/decode", json={"token": token})
    assert response.status == 422, response.text


def test_allow_expired_on_the_facade_outside_a_request() -> None:
    app_with()
    expired = forge({"exp": int(time.time()) - 5})
    assert JWT.decode_token(expired, allow_expired=True).identity == "alice"
    with pytest.raises(ExpiredSignatureError):
        JWT.decode_token(expired)


# -- skip_revocation_check ----------------------------------------------------------------------


def test_skip_revocation_check_accepts_a_revoked_token_on_that_route_only() -> None:
    app, manager = app_with(use_blocklist=True)
    client = Client(app)
    access = manager.create_access_token("alice")
    refresh = manager.create_refresh_token("alice")
    for raw in (access, refresh):
        revoke_now(manager, raw)
    assert client.get("/protected", token=access).status == 401
    assert client.post("/logout", token=access).json == {"identity": "alice"}
    assert client.post("/guard-logout", token=access).status == 200
    assert client.post("/logout-refresh", token=refresh).status == 200
    # Every other check still runs: a refresh token on the access logout route is refused.
    assert client.post("/logout", token=refresh).status == 422


def revoke_now(manager: JWTManager, raw: str) -> None:
    asyncio.run(manager.revoke(raw))


def test_skip_revocation_check_is_decided_in_the_plan() -> None:
    _, manager = app_with(use_blocklist=True)
    normal = manager.verifier.plan(Requirements.build())
    skipping = manager.verifier.plan(Requirements.build(skip_revocation_check=True))
    assert revoked in normal.steps and revoked not in skipping.steps
    assert (
        token_type in skipping.steps
        and token_type not in manager.verifier.plan(Requirements.build(verify_type=False)).steps
    )


# -- verify_type=False ----------------------------------------------------------------------------


def test_verify_type_false_accepts_access_and_refresh_tokens() -> None:
    app, manager = app_with()
    client = Client(app)
    access, refresh = manager.create_access_token("a"), manager.create_refresh_token("a")
    assert client.get("/either", token=access).json == {"type": "access"}
    assert client.get("/either", token=refresh).json == {"type": "refresh"}
    assert client.get("/guard-either", token=access).json == {"type": "access"}
    assert client.get("/either-optional").json == {"type": None}
    assert client.get("/protected", token=refresh).status == 422  # the default still checks the type


def test_verify_type_false_searches_both_cookie_names_access_first() -> None:
    app, manager = app_with(token_location=["cookies"], cookie_secure=False)
    client = Client(app)
    access, refresh = manager.create_access_token("a"), manager.create_refresh_token("a")
    names = (manager.settings.access_cookie_name, manager.settings.refresh_cookie_name)
    assert client.get("/either", cookies={names[1]: refresh}).json == {"type": "refresh"}
    assert client.get("/either", cookies={names[0]: access, names[1]: refresh}).json == {"type": "access"}
    missing = client.get("/either")
    assert missing.status == 401
    assert names[0] in missing.json["msg"] and names[1] in missing.json["msg"]
    # Headers shared by both types are searched once: the message names the header once.
    header_app, _ = app_with("parity_headers")
    assert Client(header_app).get("/either").json["msg"] == "Missing token: looked in Authorization header"


# -- encode_nbf / verify_sub ----------------------------------------------------------------------


def test_encode_nbf_false_writes_no_nbf() -> None:
    app, manager = app_with(encode_nbf=False)
    token = manager.create_access_token("a")
    assert "nbf" not in jwt.decode(token, SECRET, algorithms=["HS256"])
    assert Client(app).get("/protected", token=token).status == 200
    assert "nbf" in jwt.decode(app_with("with_nbf")[1].create_access_token("a"), SECRET, algorithms=["HS256"])


@pytest.mark.parametrize(("verify_sub", "status"), [(True, 422), (False, 200)])
def test_verify_sub(verify_sub: bool, status: int) -> None:
    app, _ = app_with(verify_sub=verify_sub)
    response = Client(app).get("/protected", token=forge({"sub": 1234}))
    assert response.status == status, response.text
    if status == 200:
        assert response.json["identity"] == 1234


# -- decode_audience / decode_issuer ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"aud": "web", "iss": "idp-1"}, 200),
        ({"aud": "mobile", "iss": "idp-2"}, 200),
        ({"aud": ["other", "mobile"], "iss": "idp-1"}, 200),
        ({"aud": "other", "iss": "idp-1"}, 422),
        ({"aud": "web", "iss": "idp-3"}, 422),
        ({"iss": "idp-1"}, 422),
    ],
)
def test_decode_audience_and_issuer_accept_several(claims: dict[str, Any], status: int) -> None:
    app, manager = app_with(
        default_aud="web", default_iss="idp-1", decode_audience=["web", "mobile"], decode_issuer=("idp-1", "idp-2")
    )
    assert Client(app).get("/protected", token=forge(claims)).status == status
    # What is written stays default_aud/default_iss.
    written = jwt.decode(manager.create_access_token("a"), SECRET, algorithms=["HS256"], audience="web")
    assert (written["aud"], written["iss"]) == ("web", "idp-1")


@pytest.mark.parametrize("value", [5, "", ["ok", ""], [], ["a", 3]])
@pytest.mark.parametrize("option", ["decode_audience", "decode_issuer"])
def test_decode_audience_and_issuer_validation_names_the_option(option: str, value: Any) -> None:
    with pytest.raises(JWTExtendedException, match=option):
        app_with(**{option: value})


# -- exception.token and exception.location ---------------------------------------------------------


def test_custom_expired_handler_says_whose_token_expired() -> None:
    app = Sanic("expired_handler")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET

        def expired(request: Request, exception: JWTExtendedException) -> HTTPResponse:
            token = exception.token
            return json({"msg": f"{token.identity}'s token expired", "where": exception.location}, status=401)

        manager.handler.expired_signature = expired

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request) -> HTTPResponse:
        return json({})

    token = forge({"sub": "bob", "exp": int(time.time()) - 10})
    response = Client(app).get("/protected", token=token)
    assert response.status == 401
    assert response.json == {"msg": "bob's token expired", "where": "headers"}


def _reporting_app() -> tuple[Sanic, JWTManager]:
    app = Sanic("reporting")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_acl = True
        manager.config.use_blocklist = True
        manager.config.token_location = ["headers", "cookies"]
        manager.config.cookie_secure = False

        def report(request: Request, exception: JWTExtendedException) -> HTTPResponse:
            token = exception.token
            who = None if token is None else token.identity
            return json({"who": who, "where": exception.location, "kind": exception.code}, status=exception.status_code)

        for name in (
            "expired_signature",
            "invalid_token",
            "wrong_token",
            "fresh_token_required",
            "revoked_token",
            "csrf_error",
            "user_lookup_error",
            "access_denied",
            "claims_verification_failed",
            "no_authorization",
        ):
            setattr(manager.handler, name, report)

        @manager.user_lookup_loader
        def lookup(token: Token) -> Any:
            return None if token.identity == "ghost" else {"name": token.identity}

        @manager.claims_verification_loader
        async def claims_ok(token: Token) -> bool:
            return token.identity != "liar"

    @app.route("/admin", methods=["GET", "POST"])
    @jwt_required(allow="admin")
    async def admin(request: Request) -> HTTPResponse:
        return json({})

    @app.get("/fresh")
    @jwt_required(fresh_required=True)
    async def fresh(request: Request) -> HTTPResponse:
        return json({})

    return app, manager


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("expired", (401, "carol", "headers", "token_expired")),
        ("wrong_type", (422, "carol", "headers", "wrong_token_type")),
        ("not_fresh", (401, "carol", "headers", "fresh_token_required")),
        ("revoked", (401, "carol", "headers", "token_revoked")),
        ("role_denied", (403, "carol", "headers", "access_denied")),
        ("user_lookup", (401, "ghost", "headers", "user_lookup_failed")),
        ("claims_check", (400, "liar", "headers", "claims_verification_failed")),
        ("csrf", (401, "carol", "cookies", "csrf_error")),
        ("bad_signature", (422, None, "headers", "invalid_signature")),
        ("foreign_audience", (422, None, "headers", "invalid_audience")),
        ("no_token", (401, None, None, "no_authorization")),
    ],
)
def test_errors_carry_the_verified_token_and_its_location(case: str, expected: tuple[Any, ...]) -> None:
    app, manager = _reporting_app()
    client = Client(app)
    user = {"user_lookup": "ghost", "claims_check": "liar"}.get(case, "carol")
    token = manager.create_access_token(user, role="admin" if case != "role_denied" else "guest")
    path, method, kwargs = "/admin", "GET", {"headers": bearer(token)}
    if case == "expired":
        kwargs = {"headers": bearer(forge({"sub": "carol", "exp": int(time.time()) - 5, "role": "admin"}))}
    elif case == "wrong_type":
        kwargs = {"headers": bearer(manager.create_refresh_token("carol"))}
    elif case == "not_fresh":
        path = "/fresh"
    elif case == "revoked":
        revoke_now(manager, token)
    elif case == "csrf":
        method, kwargs = "POST", {"cookies": {manager.settings.access_cookie_name: token}}
    elif case == "bad_signature":
        kwargs = {"headers": bearer(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))}
    elif case == "foreign_audience":
        kwargs = {"headers": bearer(forge({"sub": "carol", "aud": "elsewhere", "role": "admin"}))}
    elif case == "no_token":
        kwargs = {}
    response = client.request(method, path, **kwargs)
    body = response.json
    assert (response.status, body["who"], body["where"], body["kind"]) == expected, response.text


# -- fresh=timedelta rounded up ----------------------------------------------------------------------


def test_fresh_timedelta_is_never_shorter_than_asked() -> None:
    app, manager = app_with()

    @app.get("/fresh")
    @jwt_required(fresh_required=True)
    async def fresh(request: Request) -> HTTPResponse:
        return json({})

    client = Client(app)
    start = datetime(2031, 5, 1, 12, 0, 0, 900_000, tzinfo=timezone.utc)  # 0.9 s into a second
    with time_machine.travel(start, tick=False) as traveller:
        token = manager.create_access_token("a", fresh=timedelta(seconds=1))
        assert jwt.decode(token, SECRET, algorithms=["HS256"])["fresh"] == int(start.timestamp()) + 2
        traveller.move_to(start + timedelta(milliseconds=999))
        assert client.get("/fresh", token=token).status == 200  # truncating would have ended it at +0.1 s
        traveller.move_to(start + timedelta(seconds=1, milliseconds=100))
        assert client.get("/fresh", token=token).status == 401
        until = start + timedelta(seconds=5)
        token = manager.create_access_token("a", fresh=until)
        assert jwt.decode(token, SECRET, algorithms=["HS256"])["fresh"] == int(until.timestamp()) + 1


@pytest.mark.parametrize("option", ["encode_nbf", "verify_sub"])
def test_boolean_options_are_validated(option: str) -> None:
    with pytest.raises(JWTExtendedException, match=option):
        app_with(**{option: "no"})
