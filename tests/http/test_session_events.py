"""``jwt.session.ended`` over HTTP, with real ``@app.signal`` handlers: a session ended by its
user, by "sign out the others", by the ``max_sessions`` cap and by refresh-token reuse."""

from __future__ import annotations

from typing import Any

from sanic_jwt_extended.events import EVENTS, SESSION_ENDED
from sanic_jwt_extended.sessions import ENDED_REASONS

from ..helpers import bearer
from .test_events import listen
from .test_sessions import login, make, status


def ended(seen: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(context["identity"], context["session_id"], context["reason"]) for context in seen]


def test_the_event_is_public_and_listed() -> None:
    assert SESSION_ENDED == "jwt.session.ended" and SESSION_ENDED in EVENTS
    assert ENDED_REASONS == ("ended", "others_ended", "evicted", "reuse")


def test_ending_one_session_is_signalled_with_its_request() -> None:
    client, _ = make()
    seen = listen(client.app, SESSION_ENDED)
    phone, laptop = login(client, agent="phone"), login(client, agent="laptop")
    response = client.request("DELETE", f"/sessions/{phone['id']}", headers=bearer(laptop["access"]))
    assert response.status == 200
    assert ended(seen) == [("alice", phone["id"], "ended")]
    assert seen[0]["request"].path == f"/sessions/{phone['id']}"
    # Nothing ended, nothing told: an unknown id, or one already ended.
    response = client.request("DELETE", f"/sessions/{phone['id']}", headers=bearer(laptop["access"]))
    assert response.status == 404
    assert len(seen) == 1


def test_ending_the_other_sessions_names_each_one() -> None:
    client, _ = make()
    seen = listen(client.app, SESSION_ENDED)
    devices = [login(client, agent=f"device {n}") for n in range(3)]
    bob = login(client, "bob")
    assert client.post("/end-others", devices[2]["access"]).json == {"ended": 2}
    assert sorted(ended(seen)) == sorted(("alice", d["id"], "others_ended") for d in devices[:2])
    assert {context["request"].path for context in seen} == {"/end-others"}
    assert status(client, devices[2]["access"]) == status(client, bob["access"]) == 200


def test_the_cap_evicting_the_oldest_is_signalled_from_the_login() -> None:
    client, _ = make(max_sessions=2)
    seen = listen(client.app, SESSION_ENDED)
    first, _second = login(client), login(client)
    assert seen == []
    login(client)
    assert ended(seen) == [("alice", first["id"], "evicted")]
    assert seen[0]["request"].path == "/login/alice"
    assert status(client, first["access"]) == 401


def test_refresh_token_reuse_ends_the_session_and_says_so() -> None:
    client, _ = make(refresh_token_rotation=True)
    seen = listen(client.app, SESSION_ENDED)
    reused = listen(client.app, "jwt.refresh.reused")
    device = login(client)
    assert client.post("/refresh", device["refresh"]).status == 200
    assert client.post("/refresh", device["refresh"]).status == 401  # presented again: reuse
    assert ended(seen) == [("alice", device["id"], "reuse")]
    assert seen[0]["request"].path == "/refresh"
    assert [context["family"] for context in reused] == [device["id"]]


def test_log_out_everywhere_is_the_identity_event_only() -> None:
    client, _ = make()
    seen = listen(client.app, SESSION_ENDED)
    everywhere = listen(client.app, "jwt.identity.revoked")
    device = login(client)
    login(client)
    assert client.post("/everywhere", device["access"]).status == 200
    assert seen == [] and [context["identity"] for context in everywhere] == ["alice"]


def test_a_wildcard_listener_sees_ended_sessions() -> None:
    client, _ = make()
    seen = listen(client.app, "jwt.session.<what>")
    device = login(client)
    client.request("DELETE", f"/sessions/{device['id']}", headers=bearer(device["access"]))
    assert [(c["what"], c["session_id"], c["reason"]) for c in seen] == [("ended", device["id"], "ended")]


def test_two_apps_never_see_each_others_ended_sessions() -> None:
    first, _ = make("first")
    second, _ = make("second")
    seen = {"first": listen(first.app, SESSION_ENDED), "second": listen(second.app, SESSION_ENDED)}
    device = login(first)
    first.request("DELETE", f"/sessions/{device['id']}", headers=bearer(device["access"]))
    assert len(seen["first"]) == 1 and seen["second"] == []
