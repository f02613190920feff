"""Key ids, key rotation, the JWKS endpoint and resource-server mode (jwks_url)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import RSAAlgorithm
from sanic import Sanic

from sanic_jwt_extended import JWT, JWTManager
from sanic_jwt_extended.exceptions import ConfigurationError
from sanic_jwt_extended.keys import thumbprint

from ..helpers import SECRET, Client, add_routes, make_app

RSA_OLD = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_NEW = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def asymmetric_app(name: str, **options: Any) -> tuple[Sanic, JWTManager]:
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        for option, value in options.items():
            setattr(manager.config, option, value)
    add_routes(app)
    return app, manager


def test_rfc7638_thumbprint_example() -> None:
    # RFC 7638 §3.1, the worked example.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPeb"
        "WKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicA"
        "taSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPks"
        "INHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_every_token_carries_the_thumbprint_kid() -> None:
    _, manager = asymmetric_app("kid", algorithm="RS256", private_key=RSA_OLD)
    header = jwt.get_unverified_header(manager.create_access_token("a"))
    expected = thumbprint(RSAAlgorithm.to_jwk(RSA_OLD.public_key(), as_dict=True))
    assert header["kid"] == expected
    _, hmac_manager = make_app("hmac_kid")
    assert jwt.get_unverified_header(hmac_manager.create_access_token("a"))["kid"]
    _, named = asymmetric_app("named", algorithm="ES256", private_key=EC_KEY, key_id="2026-11")
    assert jwt.get_unverified_header(named.create_access_token("a"))["kid"] == "2026-11"


def test_keys_as_jwk_dicts() -> None:
    private_jwk = json.loads(RSAAlgorithm.to_jwk(RSA_OLD))
    _, manager = asymmetric_app("jwk", algorithm="RS256", private_key=private_jwk)
    public_jwk = RSAAlgorithm.to_jwk(RSA_OLD.public_key(), as_dict=True)  # kid: the thumbprint
    _, verifier = asymmetric_app("jwk_verify", algorithm="RS256", public_key=public_jwk)
    assert verifier.decode_token(manager.create_access_token("alice")).identity == "alice"
    with pytest.raises(ConfigurationError, match=r"^public_key"):
        asymmetric_app("jwk_private_as_public", algorithm="RS256", public_key=private_jwk)
    with pytest.raises(ConfigurationError, match=r"^private_key"):
        asymmetric_app("jwk_wrong_family", algorithm="ES256", private_key=private_jwk)


def test_rotation_keeps_old_tokens_valid_until_they_expire() -> None:
    _, before = asymmetric_app("before", algorithm="RS256", private_key=RSA_OLD)
    old_token = before.create_access_token("alice")
    app, after = asymmetric_app("after", algorithm="RS256", private_key=RSA_NEW, decode_keys=[RSA_OLD.public_key()])
    client = Client(app)
    assert client.get("/protected", old_token).json["identity"] == "alice"
    new_token = after.create_access_token("bob")
    assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    assert client.get("/protected", new_token).status == 200
    # once the old key is dropped from decode_keys, its tokens stop working
    gone, _ = asymmetric_app("gone", algorithm="RS256", private_key=RSA_NEW)
    refused = Client(gone).get("/protected", old_token)
    assert refused.status == 422
    assert refused.json == {"msg": "The token's key id (kid) is not known"}


def test_rotation_from_hmac_to_rsa_pins_each_key_to_its_family() -> None:
    _, legacy = make_app("legacy")
    legacy_token = legacy.create_access_token("alice")
    app, manager = asymmetric_app(
        "migrated",
        algorithm="RS256",
        private_key=RSA_NEW,
        decode_algorithms=["RS256", "HS256"],
        decode_keys={"legacy-hmac": SECRET},
    )
    client = Client(app)
    # the legacy token names the HMAC key by its thumbprint kid, which is not "legacy-hmac"
    assert client.get("/protected", legacy_token).status == 422
    relabelled = jwt.encode(
        jwt.decode(legacy_token, SECRET, algorithms=["HS256"]), SECRET, headers={"kid": "legacy-hmac"}
    )
    assert client.get("/protected", relabelled).status == 200
    # the RSA key never verifies an HS256 token, whatever the header says
    rsa_kid = jwt.get_unverified_header(manager.create_access_token("a"))["kid"]
    forged = jwt.encode({"sub": "a"}, SECRET, headers={"kid": rsa_kid})
    assert client.get("/protected", forged).status == 422


def test_jwks_endpoint_serves_public_keys_a_separate_service_can_use() -> None:
    app, manager = asymmetric_app(
        "issuer",
        algorithm="RS256",
        private_key=RSA_NEW,
        decode_keys=[RSA_OLD.public_key()],
        jwks_endpoint="/.well-known/jwks.json",
    )
    response = Client(app).get("/.well-known/jwks.json")
    assert response.status == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    data = response.json
    assert len(data["keys"]) == 2
    assert all("d" not in key and "p" not in key for key in data["keys"])  # no private members
    token = manager.create_access_token("alice")
    # A separate service: only PyJWT and the JWK Set.
    key_set = jwt.PyJWKSet.from_dict(data)
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, key_set[kid].key, algorithms=["RS256"])
    assert claims["sub"] == "alice"


def test_jwks_endpoint_needs_asymmetric_keys() -> None:
    with pytest.raises(ConfigurationError, match=r"^jwks_endpoint"):
        make_app("hmac_jwks", jwks_endpoint="/.well-known/jwks.json")
    with pytest.raises(ConfigurationError, match=r"^jwks_endpoint"):
        asymmetric_app(
            "bad_path", algorithm="EdDSA", private_key=ed25519.Ed25519PrivateKey.generate(), jwks_endpoint="jwks"
        )


class _JWKSServer:
    """A key server on loopback that counts fetches; its JWK Set can be swapped."""

    def __init__(self) -> None:
        self.body: dict[str, Any] = {"keys": []}
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                payload = json.dumps(outer.body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"


@pytest.fixture
def key_server() -> Iterator[_JWKSServer]:
    server = _JWKSServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_resource_server_mode(key_server: _JWKSServer) -> None:
    issuer_app, issuer = asymmetric_app("idp", algorithm="RS256", private_key=RSA_OLD, jwks_endpoint="/jwks")
    key_server.body = Client(issuer_app).get("/jwks").json
    app, _ = asymmetric_app("api", algorithm="RS256", jwks_url=key_server.url, jwks_refetch_interval=3600)
    client = Client(app)
    assert client.get("/protected", issuer.create_access_token("alice")).json["identity"] == "alice"
    assert client.get("/protected", issuer.create_access_token("bob")).status == 200
    assert key_server.fetches == 1  # cached

    # a token from an unknown key: one refetch, then 422; more unknown kids are rate limited
    _, stranger = asymmetric_app("stranger", algorithm="RS256", private_key=RSA_NEW)
    for _ in range(5):
        assert client.get("/protected", stranger.create_access_token("mallory")).status == 422
    assert key_server.fetches == 2


def test_resource_server_picks_up_a_rotated_key(key_server: _JWKSServer) -> None:
    _, old_issuer = asymmetric_app("idp_old", algorithm="RS256", private_key=RSA_OLD)
    rotated_app, new_issuer = asymmetric_app(
        "idp_new", algorithm="RS256", private_key=RSA_NEW, decode_keys=[RSA_OLD.public_key()], jwks_endpoint="/jwks"
    )
    key_server.body = {"keys": [RSAAlgorithm.to_jwk(RSA_OLD.public_key(), as_dict=True)]}
    key_server.body["keys"][0]["kid"] = jwt.get_unverified_header(old_issuer.create_access_token("x"))["kid"]
    app, api = asymmetric_app("api2", algorithm="RS256", jwks_url=key_server.url, jwks_refetch_interval=0.01)
    client = Client(app)
    assert client.get("/protected", old_issuer.create_access_token("alice")).status == 200
    assert len(api.verified) == 1
    key_server.body = Client(rotated_app).get("/jwks").json  # the issuer rotated
    assert client.get("/protected", new_issuer.create_access_token("bob")).json["identity"] == "bob"
    assert key_server.fetches == 2
    assert len(api.verified) == 1  # the key set changed: earlier verdicts were forgotten


def test_resource_server_ignores_private_and_hmac_jwks_entries(key_server: _JWKSServer) -> None:
    private = json.loads(RSAAlgorithm.to_jwk(RSA_OLD)) | {"kid": "leaked"}
    hmac_secret = "s" * 64
    hmac_jwk = {"kty": "oct", "k": jwt.utils.base64url_encode(hmac_secret.encode()).decode(), "kid": "hmac"}
    key_server.body = {"keys": [private, hmac_jwk, "junk", {"kid": 5}]}
    app, _ = asymmetric_app("api3", algorithm="RS256", decode_algorithms=["RS256", "HS256"], jwks_url=key_server.url)
    client = Client(app)
    forged_hmac = jwt.encode({"sub": "a", "type": "access"}, hmac_secret, headers={"kid": "hmac"})
    assert client.get("/protected", forged_hmac).status == 422
    _, issuer = asymmetric_app("leaky", algorithm="RS256", private_key=RSA_OLD, key_id="leaked")
    # the private JWK is never used as a verification key either
    assert client.get("/protected", issuer.create_access_token("a")).status == 422


def test_jwks_url_must_be_http() -> None:
    with pytest.raises(ConfigurationError, match=r"^jwks_url"):
        asymmetric_app("file_url", algorithm="RS256", jwks_url="file:///etc/passwd")
