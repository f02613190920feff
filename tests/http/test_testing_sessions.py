"""The testing helpers with ``track_sessions`` on, as a user's suite uses them: ``await
tokens.login(...)`` gives the pair of a real session (via ``manager.login``), over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, Token, jwt_required, refresh_jwt_required
from sanic_jwt_extended.exceptions import ConfigurationError, TokenCreationError
from sanic_jwt_extended.sessions import LoginTokens, SessionInfo
from sanic_jwt_extended.testing import TokenFactory, tokens_for

from ..helpers import SECRET, Client, make_app

Tokens = Callable[[Any], TokenFactory]


def sessions_app(name: str = "testing_sessions", **options: Any) -> Sanic:
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_blocklist = True
        manager.config.track_sessions = True
        manager.config.refresh_token_rotation = True
        manager.config.use_acl = True
        for option, value in options.items():
            setattr(manager.config, option, value)

    @app.get("/me")
    @jwt_required
    async def me(request: Request, token: Token) -> HTTPResponse:
        return json({"session": token.session_id, "fresh": token.fresh, "roles": sorted(token.roles)})

    @app.get("/sessions")
    @jwt_required
    async def sessions(request: Request, token: Token) -> HTTPResponse:
        return json([s.as_dict() for s in await manager.sessions(token.identity)])

    @app.post("/refresh")
    @refresh_jwt_required
    async def refresh(request: Request, token: Token) -> HTTPResponse:
        access, refresh = await manager.rotate(token)
        return json({"access": access, "refresh": refresh})

    @app.post("/sign-out")
    @jwt_required
    async def sign_out(request: Request, token: Token) -> HTTPResponse:
        return json({"ended": await manager.end_session(token.identity, str(token.session_id))})

    return app


def test_login_gives_the_pair_of_a_real_session(jwt_tokens: Tokens) -> None:
    app = sessions_app()
    tokens = jwt_tokens(app)
    pair = asyncio.run(tokens.login("alice", SessionInfo(label="ci"), role="admin"))
    assert isinstance(pair, LoginTokens)
    client = Client(app)
    me = client.get("/me", pair.access_token)
    assert (me.status, me.json) == (200, {"session": pair.session.id, "fresh": True, "roles": ["admin"]})
    [listed] = client.get("/sessions", pair.access_token).json
    assert (listed["id"], listed["label"]) == (pair.session.id, "ci")
    rotated = client.post("/refresh", headers=tokens.headers(pair.refresh_token, refresh=True))
    assert rotated.status == 200
    assert client.get("/me", rotated.json["access"]).json["session"] == pair.session.id
    # Ended like any session: both tokens of the pair are refused from now on.
    assert client.post("/sign-out", pair.access_token).json == {"ended": True}
    assert client.get("/me", pair.access_token).status == 401
    assert client.post("/refresh", headers=tokens.headers(rotated.json["refresh"], refresh=True)).status == 401


def test_login_awaited_in_the_tests_own_event_loop() -> None:
    app = sessions_app()

    async def scenario() -> list[int]:
        tokens = tokens_for(app)
        pair = await tokens.login("alice", fresh=False)
        _, me = await app.asgi_client.get("/me", headers=tokens.headers(pair.access_token))
        _, refreshed = await app.asgi_client.post("/refresh", headers=tokens.headers(pair.refresh_token, refresh=True))
        return [me.status, int(me.json["fresh"]), refreshed.status]

    assert asyncio.run(scenario()) == [200, 0, 200]


def test_a_backdated_login_gives_an_expired_refresh_token_in_a_live_session() -> None:
    app = sessions_app()
    tokens = tokens_for(app)
    pair = asyncio.run(tokens.login("alice", age=timedelta(days=31)))
    refused = Client(app).post("/refresh", headers=tokens.headers(pair.refresh_token, refresh=True))
    assert (refused.status, refused.json) == (401, {"msg": "Token has expired"})
    assert tokens.claims(pair.refresh_token)["fam"] == pair.session.id
    with pytest.raises(TokenCreationError, match="issued_at or age, not both"):
        asyncio.run(tokens.login("bob", age=timedelta(1), issued_at=pair.session.created))
    assert asyncio.run(tokens.manager.sessions("bob")) == []  # refused before any session was recorded


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t.refresh("alice"),
        lambda t: t.refresh_headers("alice"),
        lambda t: t.expired("alice", refresh=True),
        lambda t: t.not_yet_valid("alice", refresh=True),
    ],
    ids=["refresh", "refresh_headers", "expired-refresh", "not-yet-valid-refresh"],
)
def test_the_sync_refresh_helpers_say_what_to_use_instead(jwt_tokens: Tokens, make: Any) -> None:
    tokens = jwt_tokens(sessions_app())
    with pytest.raises(TokenCreationError, match=r"track_sessions: .*`await tokens\.login\(identity, \.\.\.\)`"):
        make(tokens)
    assert tokens.access("alice")  # access tokens outside a session still work


def test_login_without_sessions_names_the_option(jwt_tokens: Tokens) -> None:
    app, _ = make_app("no_sessions", use_blocklist=True)
    with pytest.raises(ConfigurationError, match="track_sessions"):
        asyncio.run(jwt_tokens(app).login("alice"))
