"""RedisBlocklist on a real 3-master Redis Cluster the tests start themselves, mirror included,
and with one master SIGKILLed: 503, never 500, never a revoked token accepted."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from redis.asyncio.cluster import RedisCluster

from sanic_jwt_extended import RedisBlocklist
from sanic_jwt_extended.blocklist import RevocationState

from ..helpers import bearer
from ..processes import serve
from ..redis_server import RedisClusterServers
from .test_mirror import LAG, _true, wait_for

REVOKED, REUSED, VALID = RevocationState.REVOKED, RevocationState.REUSED, RevocationState.VALID


@pytest.fixture
def redis_cluster(redis_binary: str, tmp_path: Path) -> Iterator[RedisClusterServers]:
    data = tmp_path / "cluster"
    data.mkdir()
    servers = RedisClusterServers(redis_binary, data)
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


def test_a_cluster_client_and_a_cluster_url_share_revocations(redis_cluster: RedisClusterServers) -> None:
    async def scenario() -> None:
        client = RedisCluster.from_url(redis_cluster.url)
        writer = RedisBlocklist(client=client)  # a plain writer with a ready RedisCluster
        reader = RedisBlocklist(redis_cluster.url, cluster=True, local_mirror=True, mirror_max_lag=LAG)
        mirror = reader.mirror()
        assert mirror is not None
        await writer.revoke("before-start", time.time() + 60)
        await wait_for(lambda: _true(mirror.synced))
        assert reader.check_local("before-start", "a", 0, None) is REVOKED  # from the snapshot
        await writer.revoke("j", time.time() + 60)
        await writer.revoke_identity("alice", time.time(), None)
        await writer.revoke_family("fam", time.time() + 60)
        used = await asyncio.gather(*(store.mark_used("r", time.time() + 60) for store in (writer, reader) * 2))
        assert sorted(used) == [False, False, False, True]
        await asyncio.sleep(LAG)
        for store in (writer, reader):
            assert await store.check("j", "a", 0, None) is REVOKED
            assert await store.check("x", "alice", 0, None) is REVOKED
            assert await store.check("y", "bob", 0, "fam") is REVOKED
            assert await store.check("r", "bob", 0, None) is REUSED
            assert await store.check("z", "bob", time.time(), None) is VALID
        assert reader.check_local("j", "a", 0, None) is REVOKED  # the mirror answered, not Redis
        # every key shares one hash slot: a write and its event are one script
        keys = [key async for key in client.scan_iter(match="*")]
        slots = {await client.execute_command("CLUSTER KEYSLOT", key) for key in keys}
        assert len(keys) >= 7 and len(slots) == 1
        await reader.close()
        await client.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("victim", ["the blocklist's master", "another master"])
def test_a_killed_master_means_503_never_500_never_a_revoked_token(
    redis_cluster: RedisClusterServers, tmp_path: Path, victim: str
) -> None:
    env = {"SANIC_JWT_SECRET_KEY": secrets.token_urlsafe(64)}
    common = ("--redis", redis_cluster.url, "--cluster", "--lag", str(LAG))
    with ExitStack() as stack:
        plain_url = stack.enter_context(serve("tests/e2e/blocklist_app.py", tmp_path / "plain.log", *common, env=env))
        mirror_url = stack.enter_context(
            serve("tests/e2e/blocklist_app.py", tmp_path / "mirror.log", *common, "--mirror", env=env)
        )
        plain = stack.enter_context(httpx.Client(base_url=plain_url, timeout=10))
        mirror = stack.enter_context(httpx.Client(base_url=mirror_url, timeout=10))
        revoked = plain.post("/login/alice").json()["access_token"]
        valid = mirror.post("/login/bob").json()["access_token"]
        for host in (plain, mirror):
            assert host.get("/protected", headers=bearer(revoked)).status_code == 200
        assert plain.post("/logout", headers=bearer(revoked)).status_code == 200
        time.sleep(LAG)
        for host in (plain, mirror):
            assert host.get("/protected", headers=bearer(revoked)).status_code == 401
            assert host.get("/protected", headers=bearer(valid)).status_code == 200
        # log out everywhere and log in again, on a cluster, in one request
        fresh = mirror.post("/change-password", headers=bearer(valid))
        assert fresh.status_code == 200
        time.sleep(LAG)
        for host in (plain, mirror):
            assert host.get("/protected", headers=bearer(valid)).status_code == 401
            assert host.get("/protected", headers=bearer(fresh.json()["access_token"])).status_code == 200
        valid = fresh.json()["access_token"]

        owner = redis_cluster.port_of("{sanic-jwt:}stream")
        others = [port for port in redis_cluster.ports if port != owner]
        redis_cluster.kill(owner if victim == "the blocklist's master" else others[0])
        seen: dict[str, set[int]] = {"revoked": set(), "valid": set()}
        # Polled until both hosts fail closed; a killed master that does not hold the
        # blocklist's slot is declared failed after cluster-node-timeout (1 s), and a cluster
        # that needs every slot then refuses the blocklist's keys too.
        deadline = time.monotonic() + 15
        closed: set[str] = set()
        while closed != {"plain", "mirror"}:
            assert time.monotonic() < deadline, seen
            for name, host in (("plain", plain), ("mirror", mirror)):
                seen["revoked"].add(host.get("/protected", headers=bearer(revoked)).status_code)
                outage = host.get("/protected", headers=bearer(valid))
                seen["valid"].add(outage.status_code)
                if outage.status_code == 503:
                    assert "msg" in outage.json()
                    closed.add(name)
        assert seen["revoked"] <= {401, 503}
        assert seen["valid"] <= {200, 503}
