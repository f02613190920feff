"""JWT.initialize, per-app managers, app resolution, token creation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, InMemoryBlocklist, JWTManager, Token, jwt_required
from sanic_jwt_extended.exceptions import ConfigurationError, TokenCreationError

from ..helpers import SECRET, Client, make_app


def payload(token: str, secret: str = SECRET) -> dict[str, Any]:
    return jwt.decode(token, secret, algorithms=["HS256", "HS384", "HS512"], options={"verify_aud": False})


def test_get_returns_the_apps_manager(app_and_manager: tuple[Sanic, JWTManager]) -> None:
    app, manager = app_and_manager
    assert JWTManager.get(app) is manager
    with pytest.raises(ConfigurationError, match=r"JWT\.initialize"):
        JWTManager.get(Sanic("uninitialized"))


def test_initializing_twice_raises(app_and_manager: tuple[Sanic, JWTManager]) -> None:
    with pytest.raises(ConfigurationError, match="already initialized"), JWT.initialize(app_and_manager[0]):
        pass


def test_two_apps_are_independent() -> None:
    app_a, manager_a = make_app("app_a", access_token_expires=timedelta(minutes=1))
    app_b = Sanic("app_b")
    with JWT.initialize(app_b) as manager_b:
        manager_b.config.secret_key = "another-secret-" + "y" * 60
        manager_b.config.algorithm = "HS512"
        manager_b.config.jwt_header_prefix = "JWT"

    @app_b.get("/protected")
    @jwt_required
    async def protected(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity})

    @app_a.post("/issue")
    async def issue_a(request: Request) -> HTTPResponse:
        return json({"token": JWT.create_access_token("alice")})

    @app_b.post("/issue")
    async def issue_b(request: Request) -> HTTPResponse:
        return json({"token": JWT.create_access_token("bob")})

    client_a, client_b = Client(app_a), Client(app_b)
    token_a = client_a.post("/issue").json["token"]
    token_b = client_b.post("/issue").json["token"]
    # each app's JWT.create_access_token used that app's own manager
    assert jwt.get_unverified_header(token_a)["alg"] == "HS256"
    assert jwt.get_unverified_header(token_b)["alg"] == "HS512"
    assert 60 <= payload(token_a)["exp"] - payload(token_a)["iat"] < 61
    # each app accepts its own token, refuses the other's
    assert client_a.get("/protected", token_a).json["identity"] == "alice"
    assert client_b.get("/protected", headers={"Authorization": f"JWT {token_b}"}).json == {"identity": "bob"}
    assert client_a.get("/protected", token_b).status == 422
    assert client_b.get("/protected", headers={"Authorization": f"JWT {token_a}"}).status == 422
    assert manager_a.config is not manager_b.config


def test_resolution_outside_a_request() -> None:
    with pytest.raises(ConfigurationError, match="no app is initialized"):
        JWT.create_access_token("alice")
    _, manager = make_app("only")
    assert payload(JWT.create_access_token("alice"))["sub"] == "alice"
    assert JWT.decode_token(manager.create_refresh_token("bob")).identity == "bob"
    keep = make_app("second")
    with pytest.raises(ConfigurationError, match=r"manager.create_access_token"):
        JWT.create_refresh_token("alice")
    assert keep


def test_resolution_follows_sanics_app_registry() -> None:
    # Sanic's registry says which initialized apps still exist, and which app a name means.
    def lifetime() -> float:
        claims = payload(JWT.create_access_token("alice"))
        return float(claims["exp"] - claims["iat"])

    first, _ = make_app("registry_a")
    second, _ = make_app("registry_b", access_token_expires=timedelta(seconds=30))
    with pytest.raises(ConfigurationError, match="2 apps are initialized"):
        JWT.create_access_token("alice")
    Sanic.unregister_app(first)  # still referenced here, but no longer an app Sanic serves
    assert lifetime() < 31
    Sanic("registry_b")  # the name now means an app without a manager (test_mode replaces it)
    with pytest.raises(ConfigurationError, match="no app is initialized"):
        JWT.create_access_token("alice")
    third, _ = make_app("registry_b", access_token_expires=timedelta(seconds=60))
    assert 59 < lifetime() < 61  # the app the name means now, not the one it replaced
    assert first and second and third


def test_access_token_claims(manager: JWTManager) -> None:
    before = int(datetime.now(timezone.utc).timestamp())
    claims = payload(manager.create_access_token("alice", fresh=True))
    assert claims["sub"] == "alice" and claims["type"] == "access" and claims["fresh"] is True
    assert claims["nbf"] == int(claims["iat"]) >= before  # iat keeps milliseconds
    assert 15 * 60 <= claims["exp"] - claims["iat"] < 15 * 60 + 1  # exp rounded up, never short
    assert isinstance(claims["jti"], str) and re.fullmatch(r"[A-Za-z0-9_-]{22}", claims["jti"])  # 128 bits
    refresh = payload(manager.create_refresh_token("alice"))
    assert refresh["type"] == "refresh" and "fresh" not in refresh
    assert 30 * 24 * 3600 <= refresh["exp"] - refresh["iat"] < 30 * 24 * 3600 + 1


def test_token_ids_are_22_base64url_characters_and_never_repeat() -> None:
    # 16 random bytes each: a UUID4's 128 bits in 22 characters instead of 36.
    _, manager = make_app("token_ids", refresh_token_rotation=True, use_blocklist=True, blocklist=InMemoryBlocklist())
    tokens = [payload(manager.create_refresh_token("alice")) for _ in range(20)]
    for claim in ("jti", "fam"):
        values = [claims[claim] for claims in tokens]
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", value) for value in values), values
        assert len(set(values)) == len(values)


def test_fresh_until(manager: JWTManager) -> None:
    claims = payload(manager.create_access_token("a", fresh=timedelta(minutes=5)))
    # Rounded up from the instant of issue, never down (tests/http/test_parity_verification.py).
    assert claims["fresh"] in (claims["nbf"] + 300, claims["nbf"] + 301)
    assert claims["fresh"] >= claims["iat"] + 300
    until = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert payload(manager.create_access_token("a", fresh=until))["fresh"] == int(until.timestamp())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"expires_delta": timedelta(0)},
        {"expires_delta": timedelta(seconds=-1)},
        {"expires_delta": 0},
        {"expires_delta": 60},
        {"expires_delta": True},
        {"expires_delta": False},  # refused while require_exp is on
        {"fresh": "yes"},
        {"fresh": timedelta(0)},
        {"fresh": datetime(2030, 1, 1)},  # noqa: DTZ001 - naive on purpose
        {"public_claims": {"sub": "mallory"}},
        {"public_claims": {"type": "refresh"}},
        {"private_claims": {"exp": 1}},
        {"private_claims": {"fresh": True}},
        {"public_claims": {"a": 1}, "private_claims": {"a": 2}},
        {"additional_headers": {"alg": "none"}},
        {"additional_headers": {"KID": "x"}},
        {"additional_headers": {"jku": "https://evil"}},
        {"role": "admin"},  # use_acl is off
    ],
    ids=repr,
)
def test_invalid_creation_arguments(manager: JWTManager, kwargs: dict[str, Any]) -> None:
    with pytest.raises(TokenCreationError):
        manager.create_access_token("alice", **kwargs)


def test_identity_must_be_a_string_unless_a_loader_converts_it(manager: JWTManager) -> None:
    with pytest.raises(TypeError, match="identity must be a string"):
        manager.create_access_token(42)
    app = Sanic("loader")
    with JWT.initialize(app) as loader_manager:
        loader_manager.config.secret_key = SECRET

        @loader_manager.user_identity_loader
        def to_str(user: Any) -> str:
            return str(user["id"])

    assert payload(loader_manager.create_access_token({"id": 42}))["sub"] == "42"


def test_no_expiry_when_explicit_and_allowed() -> None:
    _, manager = make_app("noexp", require_exp=False)
    token = manager.create_access_token("a", expires_delta=False)
    assert "exp" not in payload(token)
    assert manager.decode_token(token).exp is None


def test_roles_claims_and_headers() -> None:
    app = Sanic("claims")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_acl = True
        manager.config.public_claim_namespace = "https://example.com/"
        manager.config.private_claim_prefix = "_"

        @manager.additional_claims_loader
        def extra(identity: str) -> dict[str, Any]:
            return {"tenant": "t1", "plan": "free"}

        @manager.additional_headers_loader
        def extra_headers(identity: str) -> dict[str, Any]:
            return {"x-app": "claims"}

    token = manager.create_access_token(
        "alice",
        role=["admin", "ops"],
        public_claims={"plan": "pro"},
        private_claims={"uid": 7},
        additional_headers={"x-req": "1"},
    )
    claims = payload(token)
    assert claims["role"] == ["admin", "ops"]
    assert claims["https://example.com/tenant"] == "t1"
    assert claims["https://example.com/plan"] == "pro"  # arguments win over the loader
    assert claims["_uid"] == 7
    header = jwt.get_unverified_header(token)
    assert header["x-app"] == "claims" and header["x-req"] == "1" and header["alg"] == "HS256"
    decoded = manager.decode_token(token)
    assert decoded.public_claims == {"tenant": "t1", "plan": "pro"}
    assert decoded.private_claims == {"uid": 7}
    assert decoded.roles == {"admin", "ops"}
    assert manager.decode_token(manager.create_access_token("a", role="admin")).role == "admin"


def test_default_iss_and_aud_are_written_and_verified() -> None:
    _, manager = make_app("issaud", default_iss="https://auth.example.com", default_aud=["api", "web"])
    claims = payload(manager.create_access_token("a"))
    assert claims["iss"] == "https://auth.example.com" and claims["aud"] == ["api", "web"]
    assert manager.decode_token(manager.create_access_token("a")).iss == "https://auth.example.com"


def test_verify_only_app_cannot_issue() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    issuer = Sanic("issuer")
    with JWT.initialize(issuer) as issuing:
        issuing.config.algorithm = "ES256"
        issuing.config.private_key = private
    verifier = Sanic("verifier")
    with JWT.initialize(verifier) as verifying:
        verifying.config.algorithm = "ES256"
        verifying.config.public_key = private.public_key()
    token = issuing.create_access_token("alice")
    assert verifying.decode_token(token).identity == "alice"
    with pytest.raises(ConfigurationError, match="private_key"):
        verifying.create_access_token("alice")


def test_manager_repr_and_create_before_block_ends() -> None:
    app = Sanic("early")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        with pytest.raises(ConfigurationError, match="before"):
            manager.create_access_token("a")
    assert repr(manager) == "JWTManager(app='early', algorithm='HS256')"


@pytest.mark.parametrize("name", ["create_access_token", "create_refresh_token"])
def test_facade_declares_every_token_option(name: str) -> None:
    # Explicit keywords, not **kwargs: help(), IDEs and mypy see the options (a typo such
    # as fressh=True is a type error, and a TypeError at run time).
    import inspect

    facade = inspect.signature(getattr(JWT, name)).parameters
    method = inspect.signature(getattr(JWTManager, name)).parameters
    assert list(facade) == [p for p in method if p != "self"]
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in facade.values())
    assert {n: p.default for n, p in facade.items()} == {n: p.default for n, p in method.items() if n != "self"}
