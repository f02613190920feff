"""The ported examples of the migration guides run as their pages say (the generic checks of
test_docs_examples.py run on them too; these follow each page's own flow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import Client
from .test_docs_examples import BLOCKS, Block, load_app


def block(document: str, name: str) -> Block:
    (found,) = [b for b in BLOCKS if b.document.name == document and b.name == name]
    return found


def test_flask_jwt_extended_basic_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(load_app(block("coming-from-flask-jwt-extended.md", "fje_basic.py"), tmp_path, monkeypatch))
    missing = client.get("/protected")
    assert missing.status == 401 and missing.json["msg"].startswith("Missing token")
    bad = client.post("/login", json={"username": "alice", "password": "wrong"})
    assert bad.status == 401 and bad.json == {"msg": "Bad username or password"}
    assert client.post("/login", content="not json", headers={"content-type": "text/plain"}).status == 400
    token = client.post("/login", json={"username": "alice", "password": "secret"}).json["access_token"]
    response = client.get("/protected", token=token)
    assert response.status == 200 and response.json == {"logged_in_as": "alice"}
    assert client.get("/protected", token=token + "x").status == 422


def test_sanic_jwt_endpoints_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(load_app(block("coming-from-sanic-jwt.md", "sanic_jwt_port.py"), tmp_path, monkeypatch))
    assert client.post("/auth", json={"username": "user1", "password": "nope"}).status == 401
    user1 = client.post("/auth", json={"username": "user1", "password": "abcxyz"}).json
    user2 = client.post("/auth/", json={"username": "user2", "password": "abcxyz"}).json
    # /auth/verify answers as sanic-jwt does.
    assert client.get("/auth/verify", token=user1["access_token"]).json == {"valid": True}
    invalid = client.get("/auth/verify", token=user1["access_token"] + "x")
    assert invalid.status == 400 and invalid.json["valid"] is False and invalid.json["reason"]
    assert client.get("/auth/verify").status == 400
    # /auth/me: the user the lookup loader found.
    me = client.get("/auth/me", token=user1["access_token"])
    assert me.json == {"me": {"user_id": 1, "username": "user1"}}
    # /auth/refresh: the refresh token in the JSON body; an access token there is refused.
    refreshed = client.post("/auth/refresh", json={"refresh_token": user2["refresh_token"]})
    assert refreshed.status == 200
    assert client.post("/auth/refresh", json={"refresh_token": user2["access_token"]}).status == 422
    assert client.post("/auth/refresh", token=user2["refresh_token"]).status == 401  # body only
    # @scoped("admin") -> allow="admin": roles carried over through the refresh.
    assert client.get("/admin", token=user1["access_token"]).status == 403
    assert client.get("/admin", token=refreshed.json["access_token"]).json == {"admin": "user2"}
