"""Keys chosen per token (issue 15): ``encode_key_loader`` and ``decode_key_loader``, sync or
async, algorithms pinned by configuration, keys checked against their family, and the
verified-token cache keyed on the key used."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, JWTManager, Token, jwt_required
from sanic_jwt_extended.exceptions import ConfigurationError, InvalidAlgorithmError, UnknownKeyError

from ..helpers import SECRET, Client, bearer, private_pem, public_pem

TENANTS = {"acme": "acme-secret-" + "a" * 64, "globex": "globex-secret-" + "g" * 64}


def tenant_app(
    *, asynchronous: bool = False, keys: dict[str, Any] | None = None, **options: Any
) -> tuple[Sanic, JWTManager]:
    """Each tenant signs with its own secret, named by the token's ``tenant`` claim."""
    table = TENANTS if keys is None else keys
    app = Sanic("tenants_async" if asynchronous else "tenants")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        for option, value in options.items():
            setattr(manager.config, option, value)

        @manager.encode_key_loader
        def signing_key(identity: Any, claims: Mapping[str, Any]) -> Any:
            return table[claims["tenant"]]

        if asynchronous:

            @manager.decode_key_loader
            async def verifying_key_async(header: dict[str, Any], claims: dict[str, Any]) -> Any:
                await asyncio.sleep(0)
                return table.get(claims.get("tenant"))
        else:

            @manager.decode_key_loader
            def verifying_key(header: dict[str, Any], claims: dict[str, Any]) -> Any:
                return table.get(claims.get("tenant"))

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity, "tenant": token.get("tenant")})

    return app, manager


def issue(manager: JWTManager, tenant: str, identity: str = "alice") -> str:
    return manager.create_access_token(identity, public_claims={"tenant": tenant})


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_each_tenant_verifies_with_its_own_key(asynchronous: bool) -> None:
    app, manager = tenant_app(asynchronous=asynchronous)
    client = Client(app)
    for tenant, secret in TENANTS.items():
        token = issue(manager, tenant)
        jwt.decode(token, secret, algorithms=["HS256"])  # signed with the tenant's key, not SECRET
        for _ in range(2):  # the second request is a cache hit
            assert client.get("/protected", token=token).json == {"identity": "alice", "tenant": tenant}


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_token_claiming_another_tenant_is_refused(asynchronous: bool) -> None:
    app, _ = tenant_app(asynchronous=asynchronous)
    # Signed with globex's key but claiming to be acme's: the loader picks acme's key.
    forged = jwt.encode(
        {"sub": "mallory", "type": "access", "jti": "j", "iat": 1, "exp": 4_000_000_000, "tenant": "acme"},
        TENANTS["globex"],
        algorithm="HS256",
    )
    response = Client(app).get("/protected", token=forged)
    assert response.status == 422
    unknown = jwt.encode(
        {"sub": "m", "type": "access", "jti": "j", "iat": 1, "exp": 4_000_000_000, "tenant": "nobody"},
        SECRET,
        algorithm="HS256",
    )
    response = Client(app).get("/protected", token=unknown)
    assert response.status == 422  # the loader returned None: no key for this token
    assert response.json["msg"] == UnknownKeyError.default_message


def test_the_algorithm_stays_pinned_by_configuration() -> None:
    app, manager = tenant_app()
    token = jwt.encode(
        {"sub": "a", "type": "access", "jti": "j", "iat": 1, "exp": 4_000_000_000, "tenant": "acme"},
        TENANTS["acme"],
        algorithm="HS512",
    )
    assert Client(app).get("/protected", token=token).status == 422
    with pytest.raises(InvalidAlgorithmError):
        manager.decode_token(token)


def test_the_cache_keys_on_the_key_used() -> None:
    keys = dict(TENANTS)
    app, manager = tenant_app(keys=keys)
    client = Client(app)
    token = issue(manager, "acme")
    assert client.get("/protected", token=token).status == 200
    keys["acme"] = "acme-rotated-" + "r" * 40  # the tenant's key is withdrawn
    assert client.get("/protected", token=token).status == 422  # not a stale cache hit
    keys["acme"] = TENANTS["acme"]
    assert client.get("/protected", token=token).status == 200


def test_a_list_of_keys_tries_each() -> None:
    app = Sanic("key_list")
    old, new = "old-secret-" + "o" * 40, "new-secret-" + "n" * 40
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET

        @manager.decode_key_loader
        def both(header: dict[str, Any], claims: dict[str, Any]) -> list[str]:
            return [new, old]

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request) -> HTTPResponse:
        return json({})

    for secret in (old, new):
        token = jwt.encode({"sub": "a", "type": "access", "jti": "j", "iat": 1, "exp": 4_000_000_000}, secret)
        assert Client(app).get("/protected", token=token).status == 200
    token = jwt.encode({"sub": "a", "type": "access", "jti": "j", "iat": 1, "exp": 4_000_000_000}, SECRET)
    assert Client(app).get("/protected", token=token).status == 422


def test_asymmetric_tenants() -> None:
    keys = {"acme": rsa.generate_private_key(65537, 2048), "globex": rsa.generate_private_key(65537, 2048)}
    app = Sanic("rsa_tenants")
    with JWT.initialize(app) as manager:
        manager.config.algorithm = "RS256"
        manager.config.private_key = private_pem(rsa.generate_private_key(65537, 2048))
        manager.encode_key_loader(lambda identity, claims: private_pem(keys[claims["tenant"]]))
        manager.decode_key_loader(lambda header, claims: public_pem(keys[claims["tenant"]]))

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request, token: Token) -> HTTPResponse:
        return json({"tenant": token.get("tenant")})

    token = issue(manager, "globex")
    jwt.decode(token, public_pem(keys["globex"]), algorithms=["RS256"])
    assert Client(app).get("/protected", token=token).json == {"tenant": "globex"}


@pytest.mark.parametrize(
    ("algorithm", "returned", "message"),
    [
        ("HS256", lambda: public_pem(rsa.generate_private_key(65537, 2048)), "decode_key_loader"),
        ("HS256", lambda: "short", "decode_key_loader"),
        ("HS256", lambda: 12345, "decode_key_loader"),
        ("RS256", lambda: "a-secret-" + "s" * 40, "decode_key_loader"),
        ("RS256", lambda: public_pem(ec.generate_private_key(ec.SECP256R1())), "decode_key_loader"),
    ],
    ids=["pem-for-hmac", "weak-secret", "not-a-key", "secret-for-rsa", "ec-for-rsa"],
)
def test_a_decode_loader_returning_the_wrong_kind_of_key_is_a_server_error(
    algorithm: str, returned: Any, message: str
) -> None:
    app = Sanic("bad_loader")
    key = returned()
    with JWT.initialize(app) as manager:
        manager.config.algorithm = algorithm
        if algorithm == "HS256":
            manager.config.secret_key = SECRET
        else:
            manager.config.private_key = private_pem(rsa.generate_private_key(65537, 2048))
        manager.decode_key_loader(lambda header, claims: key)

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request) -> HTTPResponse:
        return json({})

    # The app's own loader bug: a 500 naming the loader, never a token accepted.
    with pytest.raises(ConfigurationError, match=message):
        manager.decode_token(manager.create_access_token("a"))
    response = Client(app).get("/protected", headers=bearer(manager.create_access_token("a")))
    assert response.status == 500
    assert message in response.json["msg"]


@pytest.mark.parametrize(
    "returned",
    [None, "short", public_pem(rsa.generate_private_key(65537, 2048)), 3.5],
    ids=["none", "weak", "pem-for-hmac", "number"],
)
def test_an_encode_loader_returning_an_unusable_key_raises_at_creation(returned: Any) -> None:
    app = Sanic("bad_encode_loader")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.encode_key_loader(lambda identity, claims: returned)
    with pytest.raises(ConfigurationError, match="encode_key_loader"):
        manager.create_access_token("a")


def test_an_encode_loader_must_return_a_private_key() -> None:
    app = Sanic("public_encode_loader")
    private = rsa.generate_private_key(65537, 2048)
    with JWT.initialize(app) as manager:
        manager.config.algorithm = "RS256"
        manager.config.private_key = private_pem(private)
        manager.encode_key_loader(lambda identity, claims: public_pem(private))
    with pytest.raises(ConfigurationError, match="public key"):
        manager.create_access_token("a")


def test_an_async_encode_loader_is_refused_when_registered() -> None:
    app = Sanic("async_encode_loader")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET

        async def signing_key(identity: Any, claims: Mapping[str, Any]) -> str:
            return SECRET

        with pytest.raises(ConfigurationError, match="synchronous"):
            manager.encode_key_loader(signing_key)


def test_decode_token_with_an_async_decode_loader_explains() -> None:
    _, manager = tenant_app(asynchronous=True)
    with pytest.raises(ConfigurationError, match="async"):
        manager.decode_token(issue(manager, "acme"))


def test_the_loader_sees_the_unverified_header_and_claims() -> None:
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []
    app = Sanic("loader_inputs")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET

        @manager.decode_key_loader
        def record(header: dict[str, Any], claims: dict[str, Any]) -> str:
            seen.append((header, claims))
            return SECRET

    token = manager.create_access_token("alice")
    assert manager.decode_token(token).identity == "alice"
    header, claims = seen[0]
    assert header["alg"] == "HS256" and claims["sub"] == "alice"


def test_reissued_tokens_are_signed_by_the_encode_loader_too() -> None:
    app, manager = tenant_app()
    token = manager.decode_token(issue(manager, "globex"))
    again = manager.reissue(token, "access")  # what implicit refresh and rotate() issue
    assert jwt.decode(again, TENANTS["globex"], algorithms=["HS256"])["tenant"] == "globex"
    assert Client(app).get("/protected", token=again).json == {"identity": "alice", "tenant": "globex"}
