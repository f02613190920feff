"""The verified-token cache: what it skips, what it never skips, and its bounds."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import jwt
import pytest

from sanic_jwt_extended.cache import VerifiedCache

from .conftest import SECRET, Client, make_app


def test_a_repeated_token_is_verified_once() -> None:
    app, manager = make_app("cache_hits")
    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.get("/protected", token).status == 200
    assert len(manager.verified) == 1
    # Swap the keys under the manager: a hit no longer needs them, a miss fails with them.
    _, other = make_app("cache_other_keys", secret_key="z" * 64)
    manager.keys = other.keys
    assert client.get("/protected", token).json["identity"] == "alice"
    assert client.get("/protected", other.create_access_token("x")).status == 200
    assert client.get("/protected", make_app("third", secret_key="y" * 64)[1].create_access_token("x")).status == 422


def test_a_cached_token_is_refused_once_it_expires() -> None:
    app, manager = make_app("cache_expiry")
    client = Client(app)
    token = manager.create_access_token("alice", expires_delta=timedelta(seconds=1))
    assert client.get("/protected", token).status == 200
    time.sleep(manager.decode_token(token).exp.timestamp() - time.time() + 0.05)  # type: ignore[union-attr]
    response = client.get("/protected", token)
    assert response.status == 401
    assert response.json == {"msg": "Token has expired"}
    assert token not in manager.verified._entries  # the entry left with its token


def test_a_cached_token_is_refused_once_revoked() -> None:
    app, manager = make_app("cache_revoked", use_blocklist=True)
    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.get("/protected", token).status == 200
    asyncio.run(manager.revoke(token))
    assert client.get("/protected", token).status == 401


def test_not_yet_valid_is_rechecked_on_hits() -> None:
    cache = VerifiedCache(10)
    now = time.time()
    cache.put("t", {}, {"nbf": now + 100, "exp": now + 200})
    assert cache.get("t", now, 0) is None
    assert cache.get("t", now + 150, 0) is not None


def test_the_cache_is_bounded_and_can_be_disabled() -> None:
    cache = VerifiedCache(3)
    for index in range(10):
        cache.put(f"t{index}", {}, {})
    assert len(cache) == 3
    assert cache.get("t9", time.time(), 0) is not None and cache.get("t0", time.time(), 0) is None
    disabled = VerifiedCache(0)
    disabled.put("t", {}, {})
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
