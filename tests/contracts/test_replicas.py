"""Revocations under Redis's asynchronous replication, with real redis-server processes.

``RedisBlocklist(min_replicas=N)`` counts a revoking write as done only once N replicas
acknowledged it (WAIT on the connection that wrote it), else 503 and a WARNING: a failover
to a replica can then not lose a revocation. The cluster test fails a master over to its
replica under two hosts and checks that no revoked token gets in, during or after.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from sanic_jwt_extended import RedisBlocklist
from sanic_jwt_extended.blocklist.base import SessionRecord
from sanic_jwt_extended.exceptions import BlocklistUnavailableError, ConfigurationError

from ..helpers import bearer
from ..processes import serve
from ..redis_server import RedisClusterServers, RedisSentinel, RedisServer, replicating, wait_until
from .test_mirror import LAG

Write = Callable[[RedisBlocklist], Awaitable[Any]]


async def _end_session(store: RedisBlocklist) -> Any:
    now = time.time()
    await store.add_session("carol", SessionRecord("s1", now, now, now + 60), 10, None)
    assert await store.end_session("carol", "s1", now + 60)


# Every write that takes a token away, and the key it leaves behind.
WRITES: list[tuple[str, Write, str]] = [
    ("revoke", lambda store: store.revoke("j1", time.time() + 60), "sanic-jwt:jti:j1"),
    ("revoke_identity", lambda store: store.revoke_identity("alice", time.time(), None), "sanic-jwt:id:alice"),
    ("revoke_family", lambda store: store.revoke_family("fam", time.time() + 60), "sanic-jwt:fam:fam"),
    ("mark_used", lambda store: store.mark_used("r1", time.time() + 60), "sanic-jwt:jti:r1"),
    ("end_session", _end_session, "sanic-jwt:fam:s1"),
]


@pytest.fixture
def primary_and_replica(redis_binary: str, tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    (tmp_path / "primary").mkdir()
    (tmp_path / "replica").mkdir()
    primary = RedisServer(redis_binary, tmp_path / "primary")
    primary.start()
    replica = RedisServer(redis_binary, tmp_path / "replica", replica_of=primary.port)
    try:
        replica.start()
        wait_until(lambda: replicating(replica.port))
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


@pytest.mark.parametrize(("name", "write", "key"), WRITES, ids=[row[0] for row in WRITES])
def test_a_confirmed_revocation_is_on_the_replica_already(
    primary_and_replica: tuple[RedisServer, RedisServer], name: str, write: Write, key: str
) -> None:
    primary, replica = primary_and_replica

    async def scenario() -> None:
        store = RedisBlocklist(primary.url, min_replicas=1)
        await write(store)
        # Read from the replica at once, no waiting: WAIT returned only once it held the write.
        reader = Redis(port=replica.port)
        assert await reader.exists(key) == 1
        await reader.aclose()
        await store.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(("name", "write", "key"), WRITES, ids=[row[0] for row in WRITES])
def test_a_silent_replica_means_503_and_a_warning_then_writes_resume(
    primary_and_replica: tuple[RedisServer, RedisServer],
    caplog: pytest.LogCaptureFixture,
    name: str,
    write: Write,
    key: str,
) -> None:
    primary, replica = primary_and_replica
    assert replica.process is not None
    pid = replica.process.pid

    async def scenario() -> None:
        store = RedisBlocklist(primary.url, min_replicas=1, socket_timeout=0.5)
        os.kill(pid, signal.SIGSTOP)  # connected, but acknowledging nothing
        try:
            started = time.monotonic()
            with (
                caplog.at_level(logging.WARNING, logger="sanic_jwt_extended"),
                pytest.raises(BlocklistUnavailableError),
            ):
                await write(store)
            assert time.monotonic() - started < 2  # WAIT gave up after half the socket timeout
            assert "reached 0 of 1 replicas within 250 ms; answering 503" in caplog.text
        finally:
            os.kill(pid, signal.SIGCONT)
        await store.revoke("after", time.time() + 60)  # the replica answers again: so do we
        # Reads never wait for replicas.
        await store.check("other", "bob", 0, None)
        await store.close()

    asyncio.run(scenario())


def test_min_replicas_without_replicas_refuses_revocations_not_checks(clean_redis: str) -> None:
    async def scenario() -> None:
        store = RedisBlocklist(clean_redis, min_replicas=1, socket_timeout=0.2)
        with pytest.raises(BlocklistUnavailableError):
            await store.revoke("j", time.time() + 60)
        await store.check("j", "a", 0, None)
        plain = RedisBlocklist(clean_redis)  # min_replicas=0: no WAIT at all
        await plain.revoke("j", time.time() + 60)
        await store.close()
        await plain.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("bad", [-1, True, 1.5, "1", None])
def test_min_replicas_must_be_a_whole_number(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"min_replicas="):
        RedisBlocklist("redis://127.0.0.1:1/0", min_replicas=bad)


@pytest.fixture
def replicated_cluster(redis_binary: str, tmp_path: Path) -> Iterator[RedisClusterServers]:
    data = tmp_path / "cluster"
    data.mkdir()
    servers = RedisClusterServers(redis_binary, data, replicas=1)
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


def _fleet(stack: ExitStack, tmp_path: Path, *common: str) -> dict[str, httpx.Client]:
    """Two hosts on one Redis setup, one plain and one with the mirror, ``--min-replicas 1``."""
    env = {"SANIC_JWT_SECRET_KEY": secrets.token_urlsafe(64)}
    common += ("--lag", str(LAG), "--min-replicas", "1")
    return {
        name: stack.enter_context(
            httpx.Client(
                base_url=stack.enter_context(
                    serve("tests/e2e/blocklist_app.py", tmp_path / f"{name}.log", *common, *extra, env=env)
                ),
                timeout=10,
            )
        )
        for name, extra in (("plain", ()), ("mirror", ("--mirror",)))
    }


def _revoke_one(hosts: dict[str, httpx.Client]) -> tuple[str, str]:
    """A revoked token and a valid one, the revocation confirmed (replicated) and mirrored."""
    plain = hosts["plain"]
    revoked = plain.post("/login/alice").json()["access_token"]
    valid = plain.post("/login/bob").json()["access_token"]
    assert plain.post("/logout", headers=bearer(revoked)).status_code == 200
    time.sleep(LAG)
    return revoked, valid


def _through_failover(hosts: dict[str, httpx.Client], revoked: str, valid: str, promoted: Callable[[], bool]) -> None:
    """Right after the primary died: until a replica is promoted both hosts may fail closed, then
    both answer again; the revoked token never gets in, a valid one never gets an error but 503."""
    seen: dict[str, set[int]] = {"revoked": set(), "valid": set()}
    back: set[str] = set()
    started = time.monotonic()
    while back != set(hosts):
        assert time.monotonic() - started < 30, seen
        for name, host in hosts.items():
            seen["revoked"].add(host.get("/protected", headers=bearer(revoked)).status_code)
            status = host.get("/protected", headers=bearer(valid)).status_code
            seen["valid"].add(status)
            if status == 200 and promoted():
                back.add(name)
        time.sleep(0.05)
    assert seen["revoked"] <= {401, 503}, seen
    assert seen["valid"] <= {200, 503}, seen
    for host in hosts.values():
        assert host.get("/protected", headers=bearer(revoked)).status_code == 401
    # The promoted replica has no replica of its own: revoking fails closed, it does not pretend.
    assert hosts["plain"].post("/logout", headers=bearer(valid)).status_code == 503


def _revocations_taken_again(hosts: dict[str, httpx.Client]) -> None:
    later = hosts["plain"].post("/login/carol").json()["access_token"]
    assert hosts["plain"].post("/logout", headers=bearer(later)).status_code == 200
    time.sleep(LAG)
    for host in hosts.values():
        assert host.get("/protected", headers=bearer(later)).status_code == 401


def test_a_cluster_failover_to_a_replica_keeps_every_revocation(
    replicated_cluster: RedisClusterServers, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        hosts = _fleet(stack, tmp_path, "--redis", replicated_cluster.url, "--cluster")
        revoked, valid = _revoke_one(hosts)
        owner, replicas = replicated_cluster.master_of("{sanic-jwt:}stream")
        assert replicas, "the blocklist's master has a replica"
        replicated_cluster.kill(owner)  # SIGKILL right after the revocation was confirmed
        # cluster-node-timeout 1 s, then the election.
        _through_failover(hosts, revoked, valid, lambda: replicated_cluster.master_of("{sanic-jwt:}stream")[0] != owner)
        # Once the old master is back (as its replica), revocations are taken again.
        replicated_cluster.restart(owner)
        wait_until(lambda: replicating(owner))
        _revocations_taken_again(hosts)


def test_a_sentinel_failover_keeps_every_revocation(
    primary_and_replica: tuple[RedisServer, RedisServer], redis_binary: str, tmp_path: Path
) -> None:
    # Standalone Redis under Sentinel, as stores.md shows it: client= from Sentinel.master_for.
    primary, replica = primary_and_replica
    (tmp_path / "sentinel").mkdir()
    sentinel = RedisSentinel(redis_binary, tmp_path / "sentinel", primary.port)
    sentinel.start()
    with ExitStack() as stack:
        stack.callback(sentinel.stop)
        hosts = _fleet(stack, tmp_path, "--redis", f"redis://127.0.0.1:{sentinel.port}", "--sentinel", sentinel.name)
        revoked, valid = _revoke_one(hosts)
        primary.stop(kill=True)  # SIGKILL right after the revocation was confirmed
        _through_failover(hosts, revoked, valid, lambda: sentinel.master() == replica.port)
        # A new replica of the promoted primary: revocations are taken again.
        (tmp_path / "new-replica").mkdir()
        joined = RedisServer(redis_binary, tmp_path / "new-replica", replica_of=replica.port)
        joined.start()
        stack.callback(joined.stop)
        wait_until(lambda: replicating(joined.port))
        _revocations_taken_again(hosts)
