"""Resource-server mode against a hostile or broken key server: a real HTTP server on loopback.

Every row is a key server misbehaving (garbage, a huge document, a trickle, alg "none", a key
replaced under its kid); the app must never answer 500, never block its event loop, and never
lose the keys it already had.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sanic import Request, Sanic
from sanic.response import HTTPResponse, text

import sanic_jwt_extended.jwks_download as jwks_module
from sanic_jwt_extended import JWT, JWTManager
from sanic_jwt_extended.exceptions import ConfigurationError

from ..helpers import Client, add_routes

RSA_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_A = ec.generate_private_key(ec.SECP256R1())


def public_jwk(private: Any, kid: str, **extra: Any) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
    jwk: dict[str, Any] = algorithm.to_jwk(private.public_key(), as_dict=True)
    return {**jwk, "kid": kid, **extra}


def sign(private: Any, kid: str, algorithm: str = "RS256", sub: str = "alice") -> str:
    now = int(time.time())
    claims = {"sub": sub, "type": "access", "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 600}
    return jwt.encode(claims, private, algorithm=algorithm, headers={"kid": kid})


class KeyServer:
    """A JWK Set server on loopback. ``respond`` decides each answer; it runs in the server's thread."""

    def __init__(self) -> None:
        self.fetches = 0
        self.scheme = "http"
        self.respond: Callable[[BaseHTTPRequestHandler], None] = self.json({"keys": []})
        self.stop = threading.Event()
        self.disconnected = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                try:
                    outer.respond(self)
                except OSError:  # the client hung up: what a deadline does to a trickle
                    outer.disconnected.set()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    @staticmethod
    def raw(body: bytes, content_length: bool = True) -> Callable[[BaseHTTPRequestHandler], None]:
        def respond(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            if content_length:
                handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body)

        return respond

    @classmethod
    def json(cls, document: Any) -> Callable[[BaseHTTPRequestHandler], None]:
        return cls.raw(json.dumps(document).encode())

    def trickle(self, *, in_headers: bool) -> Callable[[BaseHTTPRequestHandler], None]:
        """One byte every 50 ms, for up to 10 s: far past any deadline the tests set."""

        def respond(handler: BaseHTTPRequestHandler) -> None:
            if in_headers:
                stream = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 10_000
            else:
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.end_headers()
                stream = b" " * 10_000
            for index in range(200):
                if self.stop.is_set():
                    return
                handler.wfile.write(stream[index : index + 1])
                handler.wfile.flush()
                time.sleep(0.05)

        return respond


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    server.thread.start()
    yield server
    server.stop.set()
    server.server.shutdown()
    server.server.server_close()


def api(name: str, url: str, **options: Any) -> tuple[Sanic, JWTManager]:
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.algorithm = "RS256"
        manager.config.decode_algorithms = ["RS256", "ES256", "EdDSA"]
        manager.config.jwks_url = url
        for option, value in {"jwks_refetch_interval": 0.01, **options}.items():
            setattr(manager.config, option, value)
    add_routes(app)

    @app.get("/public")
    async def public(request: Request) -> HTTPResponse:
        return text("ok")

    return app, manager


GOOD = public_jwk(RSA_A, "good")

# Entries a key server might send: each must be skipped alone, the good key kept.
BAD_ENTRIES = [
    ("alg-none", {**public_jwk(RSA_B, "bad"), "alg": "none"}),
    ("alg-None-capitals", {**public_jwk(RSA_B, "bad"), "alg": "None"}),
    ("alg-unknown", {**public_jwk(RSA_B, "bad"), "alg": "RS1024"}),
    ("alg-not-a-string", {**public_jwk(RSA_B, "bad"), "alg": ["RS256"]}),
    ("kty-unknown", {"kty": "XYZ", "kid": "bad", "n": "AQAB", "e": "AQAB"}),
    ("kty-missing", {"kid": "bad", "n": "AQAB", "e": "AQAB"}),
    ("crv-unknown", {**public_jwk(EC_A, "bad"), "crv": "P-999"}),
    ("ec-point-off-curve", {**public_jwk(EC_A, "bad"), "y": public_jwk(EC_A, "x")["x"]}),
    ("ec-coordinate-not-base64", {**public_jwk(EC_A, "bad"), "x": "!!!"}),
    ("rsa-modulus-not-base64", {**public_jwk(RSA_B, "bad"), "n": "***"}),
    ("rsa-modulus-a-number", {**public_jwk(RSA_B, "bad"), "n": 12345}),
    ("rsa-exponent-missing", {k: v for k, v in public_jwk(RSA_B, "bad").items() if k != "e"}),
    ("okp-unknown-curve", {"kty": "OKP", "crv": "X448", "x": "AAAA", "kid": "bad"}),
    ("private-key", {**json.loads(RSAAlgorithm.to_jwk(RSA_B)), "kid": "bad"}),
    ("hmac-secret", {"kty": "oct", "k": "c2VjcmV0", "kid": "bad"}),
    ("use-enc", {**public_jwk(RSA_B, "bad"), "use": "enc"}),
    ("key-ops-without-verify", {**public_jwk(RSA_B, "bad"), "key_ops": ["encrypt"]}),
    ("kid-not-a-string", {**public_jwk(RSA_B, "bad"), "kid": 7}),
    ("not-an-object", "bad"),
    ("null", None),
]


@pytest.mark.parametrize("entry", [row[1] for row in BAD_ENTRIES], ids=[row[0] for row in BAD_ENTRIES])
def test_a_bad_entry_is_skipped_and_the_others_kept(
    key_server: KeyServer, entry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    key_server.respond = key_server.json({"keys": [entry, GOOD]})
    app, manager = api("bad_entry", key_server.url)
    client = Client(app)
    with caplog.at_level(logging.DEBUG, logger="sanic_jwt_extended"):
        assert client.get("/protected", sign(RSA_A, "good")).json["identity"] == "alice"
    assert manager.remote_keys is not None and set(manager.remote_keys.keys) == {"good"}
    assert any("skipping key 0" in record.getMessage() for record in caplog.records)
    # a token naming the bad entry is refused like any unknown kid, never a 500
    for forged in (sign(RSA_B, "bad"), jwt.encode({"sub": "a"}, None, algorithm="none", headers={"kid": "bad"})):
        assert client.get("/protected", forged).status == 422


def test_a_second_key_under_the_same_kid_is_ignored(key_server: KeyServer) -> None:
    key_server.respond = key_server.json({"keys": [GOOD, {**public_jwk(RSA_B, "good")}]})
    app, _ = api("same_kid_twice", key_server.url)
    client = Client(app)
    assert client.get("/protected", sign(RSA_A, "good")).status == 200
    assert client.get("/protected", sign(RSA_B, "good")).status == 422


GARBAGE = [
    ("not-json", b"<html>502 Bad Gateway</html>"),
    ("not-utf8", b'{"keys": ["\xff\xfe"]}'),
    ("json-array", b"[1, 2, 3]"),
    ("keys-not-a-list", b'{"keys": {"kid": "x"}}'),
    ("empty-body", b""),
    ("nested-deep", b'{"keys": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"),
    ("nan", b'{"keys": [NaN]}'),
    ("only-bad-entries", json.dumps({"keys": [BAD_ENTRIES[0][1], "junk"]}).encode()),
    ("too-many-keys", json.dumps({"keys": [GOOD] * 101}).encode()),
    ("over-512-kib", json.dumps({"keys": [GOOD], "pad": "x" * (512 * 1024)}).encode()),
]


@pytest.mark.parametrize("content_length", [True, False], ids=["content-length", "streamed"])
@pytest.mark.parametrize("body", [row[1] for row in GARBAGE], ids=[row[0] for row in GARBAGE])
def test_a_garbage_document_keeps_the_previous_keys(
    key_server: KeyServer, body: bytes, content_length: bool, caplog: pytest.LogCaptureFixture
) -> None:
    key_server.respond = key_server.json({"keys": [GOOD]})
    app, manager = api("garbage", key_server.url)
    client = Client(app)
    assert client.get("/protected", sign(RSA_A, "good")).status == 200
    key_server.respond = key_server.raw(body, content_length)
    time.sleep(0.02)  # past jwks_refetch_interval: the unknown kid below refetches
    with caplog.at_level(logging.WARNING, logger="sanic_jwt_extended"):
        assert client.get("/protected", sign(RSA_B, "new")).status == 422
    assert key_server.fetches == 2
    assert any("keeping 1 cached keys" in record.getMessage() for record in caplog.records)
    # the earlier key still verifies (a fresh token: no help from the verified-token cache)
    assert client.get("/protected", sign(RSA_A, "good", sub="bob")).json["identity"] == "bob"
    assert manager.remote_keys is not None and set(manager.remote_keys.keys) == {"good"}


def test_the_caps_are_configurable(key_server: KeyServer) -> None:
    key_server.respond = key_server.json({"keys": [GOOD, public_jwk(RSA_B, "second")]})
    app, _ = api("caps", key_server.url, jwks_max_keys=1)
    assert Client(app).get("/protected", sign(RSA_A, "good")).status == 422  # refused: two keys
    app, _ = api("caps_bytes", key_server.url, jwks_max_bytes=200)
    assert Client(app).get("/protected", sign(RSA_A, "good")).status == 422  # refused: too large
    app, _ = api("caps_ok", key_server.url, jwks_max_keys=2, jwks_max_bytes=4096)
    assert Client(app).get("/protected", sign(RSA_A, "good")).status == 200


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("jwks_timeout", 0),
        ("jwks_timeout", "5"),
        ("jwks_max_bytes", 0),
        ("jwks_max_bytes", 1.5),
        ("jwks_max_keys", -1),
        ("jwks_max_keys", True),
    ],
)
def test_bad_limits_fail_at_startup(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{option}"):
        api("bad_limit", "https://idp.example/jwks.json", **{option: value})


@pytest.mark.parametrize("in_headers", [False, True], ids=["trickling-body", "trickling-headers"])
def test_a_trickling_key_server_gets_one_deadline_then_503(key_server: KeyServer, in_headers: bool) -> None:
    key_server.respond = key_server.trickle(in_headers=in_headers)
    app, _ = api("trickle", key_server.url, jwks_timeout=1.0)

    async def scenario() -> list[Any]:
        # Five requests need the refresh; the sixth does not: it must not wait behind them.
        waiting = [
            asyncio.ensure_future(app.asgi_client.get("/protected", headers={"Authorization": f"Bearer {t}"}))
            for t in [sign(RSA_A, "good") for _ in range(5)]
        ]
        _, public = await app.asgi_client.get("/public")
        assert not any(task.done() for task in waiting)  # answered while the fetch is in flight
        # a request arriving mid-fetch joins it (no second fetch) and shares its outcome
        await asyncio.sleep(0.5)
        late = app.asgi_client.get("/protected", headers={"Authorization": f"Bearer {sign(RSA_A, 'good')}"})
        waiting.append(asyncio.ensure_future(late))
        return [public, *[response for _, response in await asyncio.gather(*waiting)]]

    public, *answers = asyncio.run(scenario())
    assert public.status == 200
    for answer in answers:
        assert answer.status == 503
        assert answer.json == {"msg": "The token's signing keys cannot be fetched right now; try again shortly"}
    assert key_server.fetches == 1  # one shared fetch, not one per request
    assert key_server.disconnected.wait(5)  # the deadline closed the connection


@pytest.fixture
def tls_key_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[KeyServer]:
    """The key server over HTTPS, with a certificate for 127.0.0.1 the client is told to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # read by the client's default trust store
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = KeyServer()
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    server.scheme = "https"
    server.thread.start()
    yield server
    server.stop.set()
    server.server.shutdown()
    server.server.server_close()


def test_https_key_server_and_a_trickle_over_tls(tls_key_server: KeyServer) -> None:
    tls_key_server.respond = tls_key_server.json({"keys": [GOOD]})
    app, _ = api("tls", tls_key_server.url, jwks_timeout=1.0)
    assert tls_key_server.url.startswith("https://")
    assert Client(app).get("/protected", sign(RSA_A, "good")).status == 200
    # TLS reads have their own per-call deadline, which a trickle never trips either
    tls_key_server.respond = tls_key_server.trickle(in_headers=True)
    app, _ = api("tls_trickle", tls_key_server.url, jwks_timeout=0.5)
    assert Client(app).get("/protected", sign(RSA_A, "good")).status == 503
    assert tls_key_server.disconnected.wait(5)


def test_a_recovered_key_server_is_used_again(key_server: KeyServer) -> None:
    key_server.respond = key_server.trickle(in_headers=False)
    app, _ = api("recovered", key_server.url, jwks_timeout=0.3)
    client = Client(app)
    assert client.get("/protected", sign(RSA_A, "good")).status == 503
    key_server.respond = key_server.json({"keys": [GOOD]})
    time.sleep(0.02)  # past jwks_refetch_interval
    assert client.get("/protected", sign(RSA_A, "good")).status == 200


def test_parsing_runs_off_the_event_loop(key_server: KeyServer, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    parse = jwks_module.parse_jwk_set

    def recording(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return parse(*args)

    monkeypatch.setattr(jwks_module, "parse_jwk_set", recording)
    key_server.respond = key_server.json({"keys": [public_jwk(RSA_A, f"k{index}") for index in range(100)]})
    app, _ = api("off_loop", key_server.url)
    loop_threads: list[int] = []

    @app.get("/loop-thread")
    async def loop_thread(request: Request) -> HTTPResponse:
        loop_threads.append(threading.get_ident())
        return text("ok")

    client = Client(app)
    assert client.get("/protected", sign(RSA_A, "k99")).status == 200
    assert client.get("/loop-thread").status == 200
    assert threads and threads[0] != loop_threads[0]


def test_a_key_replaced_under_the_same_kid_empties_the_cache(key_server: KeyServer) -> None:
    key_server.respond = key_server.json({"keys": [public_jwk(RSA_A, "k1")]})
    app, manager = api("rekey", key_server.url, jwks_cache_seconds=0.05)
    client = Client(app)
    withdrawn = sign(RSA_A, "k1")
    assert client.get("/protected", withdrawn).status == 200
    assert len(manager.verified) == 1
    # the issuer re-keys and keeps its kid
    key_server.respond = key_server.json({"keys": [public_jwk(RSA_B, "k1")]})
    time.sleep(0.06)  # past jwks_cache_seconds: the next request refreshes the set
    assert client.get("/protected", sign(RSA_B, "k1")).status == 200
    assert key_server.fetches == 2
    # the token verified with the withdrawn key is no longer answered from the cache
    refused = client.get("/protected", withdrawn)
    assert refused.status == 422
    assert refused.json == {"msg": "Signature verification failed"}


def test_an_unchanged_key_set_keeps_the_cache(key_server: KeyServer) -> None:
    key_server.respond = key_server.json({"keys": [public_jwk(RSA_A, "k1"), public_jwk(EC_A, "k2")]})
    app, manager = api("same_keys", key_server.url, jwks_cache_seconds=0.05)
    client = Client(app)
    assert client.get("/protected", sign(RSA_A, "k1")).status == 200
    # same material, other order and extra members: nothing a verdict depends on changed
    key_server.respond = key_server.json(
        {"keys": [public_jwk(EC_A, "k2", use="sig"), public_jwk(RSA_A, "k1", x5t="ignored")]}
    )
    time.sleep(0.06)
    assert client.get("/protected", sign(EC_A, "k2", "ES256")).status == 200
    assert key_server.fetches == 2
    assert len(manager.verified) == 2  # the first verdict survived the refresh


def test_a_narrowed_algorithm_under_the_same_kid_empties_the_cache(key_server: KeyServer) -> None:
    key_server.respond = key_server.json({"keys": [public_jwk(RSA_A, "k1")]})
    app, _ = api("narrowed", key_server.url, decode_algorithms=["RS256", "PS256"], jwks_cache_seconds=0.05)
    client = Client(app)
    ps_token = sign(RSA_A, "k1", "PS256")
    assert client.get("/protected", ps_token).status == 200
    key_server.respond = key_server.json({"keys": [public_jwk(RSA_A, "k1", alg="RS256")]})
    time.sleep(0.06)
    assert client.get("/protected", sign(RSA_A, "k1")).status == 200
    assert client.get("/protected", ps_token).status == 422
