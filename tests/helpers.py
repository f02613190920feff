"""Helpers shared by the test modules (fixtures stay in conftest.py)."""

from __future__ import annotations

import asyncio
import base64
import socket
from typing import Any

from cryptography.hazmat.primitives import serialization
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, JWTManager, Token, jwt_optional, jwt_required, refresh_jwt_required

__all__ = (
    "SECRET",
    "Client",
    "add_routes",
    "b64url",
    "bearer",
    "free_port",
    "make_app",
    "private_pem",
    "public_pem",
)

SECRET = "test-secret-that-is-long-enough-for-hs512-" + "x" * 32


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS segments are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_pem(key: Any) -> bytes:
    """PKCS#8 PEM of a ``cryptography`` private key."""
    return bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def public_pem(key: Any, fmt: serialization.PublicFormat = serialization.PublicFormat.SubjectPublicKeyInfo) -> bytes:
    """PEM of the public half of a ``cryptography`` key (private or public)."""
    public = key.public_key() if hasattr(key, "public_key") else key
    return bytes(public.public_bytes(serialization.Encoding.PEM, fmt))


class Client:
    """Synchronous facade over ``app.asgi_client``: one event loop per request."""

    def __init__(self, app: Sanic) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        _, response = asyncio.run(self.app.asgi_client.request(method, path, **kwargs))
        return response

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("GET", path, **_auth(token, kwargs))

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, **_auth(token, kwargs))


def _auth(token: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    if token is not None:
        kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {token}"
    return kwargs


def make_app(name: str = "test_app", **options: Any) -> tuple[Sanic, JWTManager]:
    """An initialized app with the standard protected routes."""
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        for option, value in options.items():
            setattr(manager.config, option, value)
    add_routes(app)
    return app, manager


def add_routes(app: Sanic) -> None:
    def body(token: Token | None) -> dict[str, Any]:
        if token is None:
            return {"identity": None}
        return {"identity": token.identity, "fresh": token.fresh, "type": token.type}

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request, token: Token) -> HTTPResponse:
        return json(body(token))

    @app.get("/fresh")
    @jwt_required(fresh_required=True)
    async def fresh(request: Request, token: Token) -> HTTPResponse:
        return json(body(token))

    @app.post("/refresh")
    @refresh_jwt_required
    async def refresh(request: Request, token: Token) -> HTTPResponse:
        return json(body(token))

    @app.get("/optional")
    @jwt_optional
    async def optional(request: Request, token: Token | None) -> HTTPResponse:
        return json(body(token))
