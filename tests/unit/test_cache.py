"""The verified-token cache: what it skips, what it never skips, and its bounds."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from sanic import Request
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import Token, jwt_required
from sanic_jwt_extended.cache import VerifiedCache
from sanic_jwt_extended.exceptions import DecodeError

from ..helpers import SECRET, Client, make_app


def test_a_repeated_token_is_verified_once() -> None:
    app, manager = make_app("cache_hits")
    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.get("/protected", token).status == 200
    assert len(manager.verified) == 1
    # Swap the keys under the manager: a hit no longer needs them, a miss fails with them.
    _, other = make_app("cache_other_keys", secret_key="z" * 64)
    manager.verifier.keys = other.settings.keys
    assert client.get("/protected", token).json["identity"] == "alice"
    assert client.get("/protected", other.create_access_token("x")).status == 200
    assert client.get("/protected", make_app("third", secret_key="y" * 64)[1].create_access_token("x")).status == 422


def test_a_cached_token_is_refused_once_it_expires() -> None:
    app, manager = make_app("cache_expiry")
    client = Client(app)
    token = manager.create_access_token("alice", expires_delta=timedelta(seconds=1))
    assert client.get("/protected", token).status == 200
    assert len(manager.verified) == 1
    time.sleep(jwt.decode(token, options={"verify_signature": False})["exp"] - time.time() + 0.05)
    response = client.get("/protected", token)
    assert response.status == 401
    assert response.json == {"msg": "Token has expired"}
    assert len(manager.verified) == 0  # the entry left with its token


def test_a_cached_token_is_refused_once_revoked() -> None:
    app, manager = make_app("cache_revoked", use_blocklist=True)
    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.get("/protected", token).status == 200
    asyncio.run(manager.revoke(token))
    assert client.get("/protected", token).status == 401


def _token(**claims: Any) -> Token:
    return Token("raw", claims)


def test_not_yet_valid_is_rechecked_on_hits() -> None:
    cache = VerifiedCache(10)
    now = time.time()
    cache.put("t", _token(nbf=now + 100, exp=now + 200))
    assert cache.get("t", now, 0) is None
    assert cache.get("t", now + 150, 0) is not None


def test_the_cache_is_bounded_and_can_be_disabled() -> None:
    cache = VerifiedCache(3)
    for index in range(10):
        cache.put(f"t{index}", _token())
    assert len(cache) == 3
    assert cache.get("t9", time.time(), 0) is not None and cache.get("t0", time.time(), 0) is None
    disabled = VerifiedCache(0)
    disabled.put("t", _token())
    assert len(disabled) == 0
    _, manager = make_app("cache_off", verify_cache_size=0)
    manager.decode_token(manager.create_access_token("a"))
    assert len(manager.verified) == 0


def test_only_verified_tokens_are_cached() -> None:
    app, manager = make_app("cache_bad")
    forged = jwt.encode({"sub": "a", "type": "access", "jti": "j", "iat": 1, "exp": 4_000_000_000}, "x" * 64)
    assert Client(app).get("/protected", forged).status == 422
    assert len(manager.verified) == 0
    # a token signed with the right key but missing a claim is not cached either
    partial = jwt.encode({"sub": "a", "type": "access", "iat": 1, "exp": 4_000_000_000}, SECRET)
    assert Client(app).get("/protected", partial).status == 422
    assert len(manager.verified) == 0


@pytest.mark.parametrize("size", [-1, "10", 1.5])
def test_verify_cache_size_is_validated(size: object) -> None:
    from sanic_jwt_extended.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"^verify_cache_size"):
        make_app("cache_config", verify_cache_size=size)


def test_expired_entries_leave_on_later_insertions() -> None:
    cache = VerifiedCache(100)
    now = time.time()
    cache.put("old1", _token(exp=now - 1))
    cache.put("old2", _token(exp=now - 1))
    cache.put("live", _token(exp=now + 100))
    assert cache.get("live", now, 0) is not None
    assert len(cache) == 1  # both expired entries were dropped by the insertions after them


def test_a_full_cache_evicts_its_oldest_entry_first() -> None:
    cache = VerifiedCache(3)
    for key in ("a", "b", "c", "d", "e"):
        cache.put(key, _token())
    assert list(cache._entries) == ["c", "d", "e"]
    now = time.time()
    assert [cache.get(key, now, 0) is not None for key in "abcde"] == [False, False, True, True, True]


def test_putting_a_cached_key_again_keeps_one_entry_and_evicts_nothing() -> None:
    cache = VerifiedCache(3)
    for key in ("a", "b", "c"):
        cache.put(key, _token())
    newer = _token(sub="again")
    cache.put("b", newer)
    assert list(cache._entries) == ["a", "b", "c"]
    assert cache.get("b", time.time(), 0) is newer
    cache.put("d", _token())
    assert list(cache._entries) == ["b", "c", "d"]


@pytest.mark.parametrize(
    ("before", "expected_left"),
    [
        # (exp offsets of the entries already cached, oldest first) -> entries left after one more put
        ((-10, -10, -10), 2),  # at most two expired entries leave per insertion
        ((-10, 100, -10), 3),  # pruning stops at the first live entry: it never scans the cache
        ((100, -10, -10), 4),
    ],
)
def test_pruning_on_insert_looks_only_at_the_front(before: tuple[int, ...], expected_left: int) -> None:
    cache = VerifiedCache(100)
    now = time.time()
    # Cached under a 60 s leeway, so they stay; the next put (no leeway) sees them expired.
    for index, offset in enumerate(before):
        cache.put(f"t{index}", _token(exp=now + offset), leeway=60)
    assert len(cache) == len(before)
    cache.put("new", _token(exp=now + 100))
    assert len(cache) == expected_left
    assert cache.get("new", now, 0) is not None


def test_an_expired_entry_can_be_cached_again_after_it_left() -> None:
    cache = VerifiedCache(2)
    now = time.time()
    cache.put("live", _token(exp=now + 100))
    cache.put("gone", _token(exp=now - 1), leeway=60)
    assert cache.get("gone", now, 0) is None and "gone" not in cache._entries  # dropped on the hit
    cache.put("gone", _token(exp=now + 100))
    cache.put("third", _token(exp=now + 100))
    assert list(cache._entries) == ["gone", "third"]


def test_a_header_is_cached_under_its_exact_value() -> None:
    app, manager = make_app("cache_header_value")
    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.get("/protected", token).status == 200
    assert list(manager.verified._entries) == [f"Bearer {token}"]
    # A header spelled differently still parses to the token (two spaces are allowed) and
    # is checked by the full path, which finds the same entry: no second one is made.
    response = client.get("/protected", headers={"Authorization": f"Bearer  {token}"})
    assert response.status == 200 and response.json["identity"] == "alice"
    assert len(manager.verified) == 1
    # decode_token() keys on the bare token
    assert manager.decode_token(token).identity == "alice"
    assert len(manager.verified) == 2


@pytest.mark.parametrize("header", ["Bearer {t} x", "bearer{t}", "Token {t}", "Bearer {t}x", "{t}"])
def test_a_near_miss_of_a_cached_header_is_still_refused(header: str) -> None:
    app, manager = make_app("cache_near_miss")
    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.get("/protected", token).status == 200
    assert client.get("/protected", headers={"Authorization": header.format(t=token)}).status == 422


def test_cached_tokens_are_shared_but_each_request_gets_its_own_user() -> None:
    app, manager = make_app("cache_users")
    users = iter(["first", "second"])

    @manager.user_lookup_loader
    def lookup(token: Token) -> str:
        return next(users)

    @app.get("/who")
    @jwt_required
    async def who(request: Request, token: Token) -> HTTPResponse:
        return json({"user": token.user, "ctx": request.ctx.jwt_user})

    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.get("/who", token).json == {"user": "first", "ctx": "first"}
    assert client.get("/who", token).json == {"user": "second", "ctx": "second"}
    assert manager.decode_token(token).user is None  # the shared token was never written to


# Header entries ("Bearer <token>") and token entries share the cache: neither kind of
# lookup may find the other's entries, or a request would skip a check the full path makes.
@pytest.mark.parametrize(
    ("seen_as", "then_sent_as", "status"),
    [
        ("query", "header without scheme", 422),
        ("decode_token", "header without scheme", 422),
        ("header", "query 'Bearer <t>'", 422),
        ("header", "json 'Bearer <t>'", 422),
        ("query", "header", 200),
        ("header", "query", 200),
    ],
)
def test_header_and_token_entries_never_answer_for_each_other(seen_as: str, then_sent_as: str, status: int) -> None:
    app, manager = make_app("cache_kinds", token_location=["headers", "query_string", "json"])

    @app.post("/post")
    @jwt_required
    async def post(request: Request, token: Token) -> HTTPResponse:
        return json({})

    client = Client(app)
    token = manager.create_access_token("alice")
    if seen_as == "query":
        assert client.get("/protected", params={"jwt": token}).status == 200
    elif seen_as == "header":
        assert client.get("/protected", token).status == 200
    else:
        manager.decode_token(token)
    assert len(manager.verified) == 1
    requests = {
        "header without scheme": lambda: client.get("/protected", headers={"Authorization": token}),
        "query 'Bearer <t>'": lambda: client.get("/protected", params={"jwt": f"Bearer {token}"}),
        "json 'Bearer <t>'": lambda: client.post("/post", json={"access_token": f"Bearer {token}"}),
        "header": lambda: client.get("/protected", token),
        "query": lambda: client.get("/protected", params={"jwt": token}),
    }
    response = requests[then_sent_as]()
    assert response.status == status, response.body


def test_decode_token_never_finds_a_header_entry() -> None:
    app, manager = make_app("cache_decode_kinds")
    token = manager.create_access_token("alice")
    assert Client(app).get("/protected", token).status == 200
    with pytest.raises(DecodeError):
        manager.decode_token(f"Bearer {token}")


def test_a_full_cache_only_evicts_its_oldest_on_insertion() -> None:
    # Full: the insertion pushes the oldest out and looks no further (the next entries,
    # expired or not, leave in their turn); expired ones are dropped by later hits or pushes.
    cache = VerifiedCache(3)
    now = time.time()
    cache.put("live", _token(exp=now + 100))
    cache.put("gone1", _token(exp=now - 1), leeway=60)
    cache.put("gone2", _token(exp=now - 1), leeway=60)
    cache.put("new", _token(exp=now + 100))
    assert list(cache._entries) == ["gone1", "gone2", "new"]
    assert cache.get("gone1", now, 0) is None and len(cache) == 2
