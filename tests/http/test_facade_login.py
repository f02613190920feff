"""``JWT.login``: the façade starts a session on the app serving the request, else on the only
initialized app, else fails naming the manager method."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, JWTManager, Token, jwt_required
from sanic_jwt_extended.exceptions import ConfigurationError
from sanic_jwt_extended.sessions import SessionInfo

from ..helpers import SECRET, Client


def session_app(name: str, **options: Any) -> tuple[Client, JWTManager]:
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET + name
        manager.config.use_blocklist = True
        manager.config.track_sessions = True
        for option, value in options.items():
            setattr(manager.config, option, value)

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        info = SessionInfo(user_agent=request.headers.get("user-agent"), label=name)
        access, refresh, session = await JWT.login("alice", info, role="admin")
        return json({"access": access, "refresh": refresh, "id": session.id})

    @app.get("/sessions")
    @jwt_required
    async def sessions(request: Request, token: Token) -> HTTPResponse:
        listed = await manager.sessions(token.identity)
        return json({"ids": [s.id for s in listed], "labels": [s.label for s in listed], "fresh": token.fresh})

    return Client(app), manager


def test_login_in_a_request_uses_that_apps_manager() -> None:
    first, first_manager = session_app("first", use_acl=True)
    second, second_manager = session_app("second", use_acl=True)
    one = first.post("/login", headers={"User-Agent": "phone"}).json
    two = second.post("/login").json
    assert first.get("/sessions", one["access"]).json == {"ids": [one["id"]], "labels": ["first"], "fresh": True}
    assert second.get("/sessions", two["access"]).json == {"ids": [two["id"]], "labels": ["second"], "fresh": True}
    # Each session lives in its own app: the other app refuses the token (another key).
    assert second.get("/sessions", one["access"]).status == 422
    assert first_manager.decode_token(one["refresh"]).session_id == one["id"]
    assert first_manager.decode_token(one["access"]).role == "admin"
    assert asyncio.run(second_manager.sessions("alice"))[0].id == two["id"]


def test_login_outside_a_request_with_one_app() -> None:
    client, manager = session_app("only")
    access, refresh, session = asyncio.run(JWT.login("bob", SessionInfo(label="script"), fresh=False))
    assert manager.decode_token(access).fresh is False
    assert manager.decode_token(refresh).session_id == session.id
    assert client.get("/sessions", access).json == {"ids": [session.id], "labels": ["script"], "fresh": False}


def test_login_outside_a_request_needs_exactly_one_app() -> None:
    with pytest.raises(ConfigurationError, match="no app is initialized"):
        asyncio.run(JWT.login("alice"))
    keep = session_app("a"), session_app("b")
    with pytest.raises(ConfigurationError, match=r"manager\.login\(\.\.\.\)"):
        asyncio.run(JWT.login("alice"))
    assert keep


def test_login_without_sessions_names_the_option() -> None:
    app = Sanic("no_sessions")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
    with pytest.raises(ConfigurationError, match="track_sessions"):
        asyncio.run(JWT.login("alice"))
