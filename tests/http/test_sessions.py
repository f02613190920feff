"""Sessions (issue 17) over HTTP with the in-memory store: login, list, end one, end the
others, log out everywhere, the cap, expiry, refresh, reuse detection, configuration."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from sanic_jwt_extended import (
    JWT,
    InMemoryBlocklist,
    JWTManager,
    RedisBlocklist,
    Token,
    jwt_required,
    refresh_jwt_required,
)
from sanic_jwt_extended.exceptions import ConfigurationError, TokenCreationError
from sanic_jwt_extended.sessions import SessionInfo

from ..helpers import SECRET, Client, bearer, free_port
from .test_cookies import parse_set_cookies


def make(name: str = "sessions", **options: Any) -> tuple[Client, JWTManager]:
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_blocklist = True
        manager.config.track_sessions = True
        for option, value in options.items():
            setattr(manager.config, option, value)

    @app.post("/login/<user>")
    async def login(request: Request, user: str) -> HTTPResponse:
        info = SessionInfo(user_agent=request.headers.get("user-agent"), ip=request.ip, label=request.args.get("label"))
        access, refresh, session = await manager.login(user, info)
        return json_response({"access": access, "refresh": refresh, "id": session.id})

    @app.get("/me")
    @jwt_required
    async def me(request: Request, token: Token) -> HTTPResponse:
        return json_response({"session_id": token.session_id, "fresh": token.fresh})

    @app.get("/sessions")
    @jwt_required
    async def sessions(request: Request, token: Token) -> HTTPResponse:
        return json_response([s.as_dict() for s in await manager.sessions(token.identity)])

    @app.delete("/sessions/<session_id:str>")
    @jwt_required
    async def end(request: Request, token: Token, session_id: str) -> HTTPResponse:
        ok = await manager.end_session(token.identity, session_id)
        return json_response({"ended": ok}, status=200 if ok else 404)

    @app.post("/end-others")
    @jwt_required
    async def end_others(request: Request, token: Token) -> HTTPResponse:
        return json_response({"ended": await manager.end_other_sessions(token)})

    @app.post("/everywhere")
    @jwt_required
    async def everywhere(request: Request, token: Token) -> HTTPResponse:
        await manager.revoke_all(token.identity)
        return json_response({})

    @app.post("/refresh")
    @refresh_jwt_required
    async def refresh(request: Request, token: Token) -> HTTPResponse:
        if manager.config.refresh_token_rotation:
            access, refresh = await manager.rotate(token)
            return json_response({"access": access, "refresh": refresh})
        return json_response({"access": await manager.refresh_access_token(token)})

    return Client(app), manager


def login(client: Client, user: str = "alice", agent: str = "device", **params: str) -> dict[str, str]:
    response = client.post(f"/login/{user}", headers={"User-Agent": agent}, params=params)
    assert response.status == 200, response.text
    return response.json  # type: ignore[no-any-return]


def payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))  # type: ignore[no-any-return]


def status(client: Client, access: str) -> int:
    return int(client.get("/me", access).status)


def test_login_starts_a_listed_session_that_every_token_carries() -> None:
    client, _ = make()
    device = login(client, agent="Firefox on Linux", label="work laptop")
    assert payload(device["access"])["fam"] == payload(device["refresh"])["fam"] == device["id"]
    assert client.get("/me", device["access"]).json == {"session_id": device["id"], "fresh": True}
    (session,) = client.get("/sessions", device["access"]).json
    assert session["id"] == device["id"]
    assert (session["user_agent"], session["label"], session["ip"]) == (
        "Firefox on Linux",
        "work laptop",
        "mockserver",
    )  # sanic-testing's ASGI peer
    assert session["created"] == session["last_used"]
    expires = datetime.fromisoformat(session["expires"]) - datetime.fromisoformat(session["created"])
    assert timedelta(days=30) <= expires <= timedelta(days=30, seconds=2)  # with the refresh token


def test_ending_a_session_stops_its_access_and_refresh_tokens_at_once() -> None:
    client, _ = make()
    phone, laptop = login(client, agent="phone"), login(client, agent="laptop")
    bob = login(client, "bob")
    # another identity's session is not found: a 404, and it goes on working
    assert client.request("DELETE", f"/sessions/{bob['id']}", headers=bearer(laptop["access"])).status == 404
    assert status(client, bob["access"]) == 200
    assert client.request("DELETE", f"/sessions/{phone['id']}", headers=bearer(laptop["access"])).status == 200
    refused = client.get("/me", phone["access"])
    assert (refused.status, refused.json) == (401, {"msg": "Token has been revoked"})
    assert client.post("/refresh", phone["refresh"]).status == 401
    assert status(client, laptop["access"]) == 200
    assert [s["user_agent"] for s in client.get("/sessions", laptop["access"]).json] == ["laptop"]
    assert client.request("DELETE", f"/sessions/{phone['id']}", headers=bearer(laptop["access"])).status == 404


def test_end_other_sessions_keeps_the_callers() -> None:
    client, _ = make()
    devices = [login(client, agent=name) for name in ("a", "b", "c")]
    other_user = login(client, "bob")
    assert client.post("/end-others", devices[2]["access"]).json == {"ended": 2}
    assert [status(client, d["access"]) for d in devices] == [401, 401, 200]
    assert status(client, other_user["access"]) == 200
    assert [s["id"] for s in client.get("/sessions", devices[2]["access"]).json] == [devices[2]["id"]]


def test_revoke_all_ends_every_session_and_a_new_login_works() -> None:
    client, _ = make()
    first, second = login(client), login(client)
    assert client.post("/everywhere", first["access"]).status == 200
    assert [status(client, d["access"]) for d in (first, second)] == [401, 401]
    assert client.post("/refresh", second["refresh"]).status == 401
    again = login(client)
    assert [s["id"] for s in client.get("/sessions", again["access"]).json] == [again["id"]]


def test_a_login_beyond_max_sessions_ends_the_oldest() -> None:
    client, _ = make(max_sessions=2)
    devices = [login(client, agent=str(n)) for n in range(3)]
    assert [status(client, d["access"]) for d in devices] == [401, 200, 200]
    assert client.post("/refresh", devices[0]["refresh"]).status == 401
    assert [s["user_agent"] for s in client.get("/sessions", devices[2]["access"]).json] == ["1", "2"]


def test_a_session_expires_with_its_refresh_token() -> None:
    client, _ = make(refresh_token_expires=timedelta(seconds=1))
    old = login(client)
    time.sleep(2.1)  # exp is rounded up to the next whole second
    new = login(client)
    assert [s["id"] for s in client.get("/sessions", new["access"]).json] == [new["id"]]
    assert old["id"] != new["id"]


@pytest.mark.parametrize("rotation", [False, True], ids=["reissue", "rotate"])
def test_refresh_stays_in_the_session_and_moves_last_used(rotation: bool) -> None:
    client, _ = make(refresh_token_rotation=rotation)
    device = login(client)
    time.sleep(0.01)
    refreshed = client.post("/refresh", device["refresh"]).json
    assert client.get("/me", refreshed["access"]).json == {"session_id": device["id"], "fresh": False}
    (session,) = client.get("/sessions", refreshed["access"]).json
    assert datetime.fromisoformat(session["last_used"]) > datetime.fromisoformat(session["created"])
    # the refreshed tokens end with the session
    assert client.request("DELETE", f"/sessions/{device['id']}", headers=bearer(device["access"])).status == 200
    assert status(client, refreshed["access"]) == 401
    assert client.post("/refresh", refreshed.get("refresh", device["refresh"])).status == 401


def test_refresh_token_reuse_ends_the_session_access_tokens_included() -> None:
    client, _ = make(refresh_token_rotation=True)
    victim, other = login(client), login(client)
    assert client.post("/refresh", victim["refresh"]).status == 200
    replay = client.post("/refresh", victim["refresh"])
    assert (replay.status, replay.json) == (401, {"msg": "Refresh token reuse detected; log in again"})
    assert status(client, victim["access"]) == 401  # the session's access token too
    assert [s["id"] for s in client.get("/sessions", other["access"]).json] == [other["id"]]


def test_hostile_metadata_and_ids_are_4xx_or_cut_never_500() -> None:
    client, _ = make()
    device = login(client, agent="x" * 20_000)
    (session,) = client.get("/sessions", device["access"]).json
    assert len(session["user_agent"]) == 512
    for session_id in ("x" * 5000, "%00", "..", "fam:abc"):
        response = client.request("DELETE", f"/sessions/{session_id}", headers=bearer(device["access"]))
        assert response.status in (404, 405), session_id
    assert status(client, device["access"]) == 200


def test_with_sessions_refresh_tokens_come_from_login_only() -> None:
    _, manager = make()
    with pytest.raises(TokenCreationError, match=r"manager\.login"):
        manager.create_refresh_token("alice")
    # access tokens outside a session stay possible (e.g. a fresh re-login), without a session id
    assert "fam" not in payload(manager.create_access_token("alice"))


def test_sessions_off_tokens_unchanged_and_session_calls_explain() -> None:
    app = Sanic("plain")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_blocklist = True
    assert "fam" not in payload(manager.create_access_token("alice"))
    assert manager.decode_token(manager.create_refresh_token("alice")).session_id is None
    with pytest.raises(ConfigurationError, match="track_sessions"):
        asyncio.run(manager.sessions("alice"))


class RevocationsOnly:
    """A user's own Blocklist: revocations, no session methods."""

    def __init__(self) -> None:
        self.inner = InMemoryBlocklist()

    async def revoke(self, jti: str, until: float | None) -> None:
        await self.inner.revoke(jti, until)

    async def revoke_identity(self, identity: str, issued_before: float, until: float | None) -> None:
        await self.inner.revoke_identity(identity, issued_before, until)

    async def revoke_family(self, family: str, until: float | None) -> None:
        await self.inner.revoke_family(family, until)

    async def mark_used(self, jti: str, until: float | None) -> bool:
        return await self.inner.mark_used(jti, until)

    async def check(self, jti: str, identity: str, issued_at: float, family: str | None) -> Any:
        return await self.inner.check(jti, identity, issued_at, family)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"use_blocklist": False}, "track_sessions: needs use_blocklist"),
        ({"blocklist_token_types": ["refresh"]}, "track_sessions: needs blocklist_token_types"),
        ({"max_sessions": 0}, "max_sessions: must be a positive integer"),
        ({"max_sessions": "ten"}, "max_sessions: must be a positive integer"),
        ({"track_sessions": "maybe"}, "track_sessions"),
        ({"blocklist": RevocationsOnly()}, "track_sessions: the store keeps the sessions, and RevocationsOnly cannot"),
    ],
)
def test_configuration_mistakes_fail_at_startup_naming_the_option(options: dict[str, Any], message: str) -> None:
    app = Sanic("bad")
    with pytest.raises(ConfigurationError, match=message), JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_blocklist = True
        manager.config.track_sessions = True
        for option, value in options.items():
            setattr(manager.config, option, value)


def test_a_loader_only_app_cannot_track_sessions() -> None:
    app = Sanic("loader")
    expected = "track_sessions: the store keeps the sessions, and only a token_in_blocklist_loader cannot"
    with pytest.raises(ConfigurationError, match=expected), JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_blocklist = True
        manager.config.track_sessions = True
        manager.token_in_blocklist_loader(lambda token: False)


def test_implicit_refresh_keeps_the_cookie_in_its_session() -> None:
    client, manager = make(token_location=("cookies", "headers"), implicit_refresh=timedelta(minutes=20))
    device = login(client)
    response = client.get("/me", headers={"cookie": f"access_token_cookie={device['access']}"})
    assert response.status == 200
    renewed = parse_set_cookies(response)["access_token_cookie"]["value"]
    assert manager.decode_token(renewed).session_id == device["id"]
    assert client.request("DELETE", f"/sessions/{device['id']}", headers=bearer(device["access"])).status == 200
    assert status(client, renewed) == 401


def test_with_the_store_down_session_writes_answer_503_in_both_modes() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    for mode in ("fail_closed", "fail_open"):
        client, _ = make(f"down_{mode}", blocklist=RedisBlocklist(url, socket_timeout=0.2), blocklist_unavailable=mode)
        response = client.post("/login/alice")
        assert response.status == 503, mode
        assert response.json == {"msg": "Token revocation cannot be checked right now; try again shortly"}
