"""The side-by-side method shared by http.py and peers.py (a helper module, not a benchmark).

Two servers share one CPU core (``taskset``), two load generators on the other core drive
them at the same time, and the ratio of their requests per second is the ratio of what a
request costs: anything that slows the machine slows both at once. wrk drives the load
when installed, else a small asyncio generator. A ``Load`` either repeats one request or,
with a ``pool``, sends a different ``Authorization`` value on every request (the "cold"
case: tokens the server has never seen), cycling through a file of values.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE, LOAD_CORE = "1", "0"

# Every request takes the next pre-formatted request from the pool (a different
# Authorization value each), starting at a random place so two runs do not line up.
_POOL_LUA = """
local requests = {}
local index = 1
function init(args)
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  for line in io.lines(args[1]) do
    headers["Authorization"] = line
    requests[#requests + 1] = wrk.format(nil, nil, headers)
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  index = math.random(#requests)
end
function request()
  local r = requests[index]
  index = index % #requests + 1
  return r
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(core: str) -> list[str]:
    """``taskset -c core`` when the machine has two cores or more and taskset exists."""
    return ["taskset", "-c", core] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def load_tool() -> str:
    return "wrk -t1 -c32, one per server" if shutil.which("wrk") else "python load generator, 16 connections per server"


@contextmanager
def server(args: Sequence[str], name: str) -> Iterator[tuple[str, int]]:
    """``python args... --port N`` on the server core, up once ``/bare`` answers: (base URL, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        # sanic-ext (a test dependency) would otherwise extend every server: measure Sanic alone.
        "SANIC_AUTO_EXTEND": "false",
    }
    process = subprocess.Popen(
        [*pinned(SERVER_CORE), sys.executable, *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
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
            raise RuntimeError(f"benchmark server ({name}) did not start")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class Load:
    url: str
    headers: dict[str, str]
    method: str = "GET"
    # A file of Authorization values, one a line: each request sends the next one.
    pool: str | None = None


@dataclass
class Pool:
    """Authorization values written to a file once, for the load generators to cycle through."""

    values: list[str]
    path: str = field(init=False)

    def __post_init__(self) -> None:
        handle, self.path = tempfile.mkstemp(prefix="bench-pool-", suffix=".txt")
        with os.fdopen(handle, "w") as out:
            out.write("\n".join(self.values) + "\n")

    def close(self) -> None:
        os.unlink(self.path)


def _wrk_start(load: Load, seconds: int, directory: str) -> subprocess.Popen[str]:
    args = ["wrk", "-t1", "-c32", f"-d{seconds}s"]
    for name, value in load.headers.items():
        args += ["-H", f"{name}: {value}"]
    script = Path(directory) / f"{load.method}-{load.pool is not None}.lua"
    if load.method != "GET" or load.pool:
        body = f'wrk.method = "{load.method}"\n' + (_POOL_LUA if load.pool else "")
        script.write_text(body)
        args += ["-s", str(script)]
    args.append(load.url)
    if load.pool:
        args += ["--", load.pool]
    return subprocess.Popen([*pinned(LOAD_CORE), *args], stdout=subprocess.PIPE, text=True)


def _wrk_result(process: subprocess.Popen[str]) -> float:
    output = process.communicate()[0]
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if process.returncode or not match or "Non-2xx" in output:
        raise RuntimeError(f"wrk failed or got errors:\n{output}")
    return float(match.group(1))


def _requests(load: Load) -> list[bytes]:
    """The raw requests the Python load generator cycles through (one without a pool)."""
    host_port = load.url.split("//", 1)[1].split("/", 1)
    headers = dict(load.headers)
    head = f"{load.method} /{host_port[1]} HTTP/1.1\r\nHost: {host_port[0]}\r\nContent-Length: 0\r\n"
    values = Path(load.pool).read_text().splitlines() if load.pool else [headers.get("Authorization", "")]
    requests = []
    for value in values:
        if load.pool:
            headers["Authorization"] = value
        requests.append((head + "".join(f"{name}: {text}\r\n" for name, text in headers.items()) + "\r\n").encode())
    return requests


async def _python_load(load: Load, requests: list[bytes], seconds: float, connections: int = 16) -> float:
    host, port = load.url.split("//", 1)[1].split("/", 1)[0].split(":")
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        index = offset
        while time.perf_counter() < deadline:
            writer.write(requests[index % len(requests)])
            index += connections
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
    await asyncio.gather(*(worker(offset) for offset in range(connections)))
    return done / (time.perf_counter() - start)


async def _python_pair(first: Load, second: Load, seconds: float) -> tuple[float, float]:
    a, b = await asyncio.gather(
        _python_load(first, _requests(first), seconds), _python_load(second, _requests(second), seconds)
    )
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
class Sample:
    """One side-by-side round: the route and /bare at the same time."""

    route_rps: float
    bare_rps: float
    busy: float


def one_round(
    index: int,
    path: str,
    bases: list[tuple[str, int]],
    seconds: int,
    headers: dict[str, str],
    method: str,
    pool: str | None = None,
) -> Sample:
    """/bare on one server and ``path`` on the other at once; the servers swap roles by ``index``."""
    (bare_base, _), (route_base, _) = bases if index % 2 == 0 else bases[::-1]
    before = sum(cpu_seconds(pid) for _, pid in bases)
    start = time.perf_counter()
    bare_rps, route_rps = run_pair(
        Load(f"{bare_base}/bare", headers, method, pool), Load(f"{route_base}{path}", headers, method, pool), seconds
    )
    busy = (sum(cpu_seconds(pid) for _, pid in bases) - before) / (time.perf_counter() - start)
    return Sample(route_rps, bare_rps, busy)


def warm(
    path: str, bases: list[tuple[str, int]], headers: dict[str, str], method: str, pool: str | None = None
) -> None:
    """One second of ``path`` on both servers (imports, caches, connection setup)."""
    run_pair(
        Load(f"{bases[0][0]}{path}", headers, method, pool), Load(f"{bases[1][0]}{path}", headers, method, pool), 1
    )


@dataclass(frozen=True)
class Row:
    label: str
    route_rps: float
    bare_rps: float
    ratio: float
    spread: tuple[float, float]
    busy: float

    @classmethod
    def of(cls, label: str, samples: Sequence[Sample]) -> Row:
        ratios = [sample.route_rps / sample.bare_rps for sample in samples]
        return cls(
            label,
            statistics.median(sample.route_rps for sample in samples),
            statistics.median(sample.bare_rps for sample in samples),
            statistics.median(ratios),
            (min(ratios), max(ratios)),
            statistics.median(sample.busy for sample in samples),
        )


def measure(
    label: str,
    path: str,
    bases: list[tuple[str, int]],
    seconds: int,
    rounds: int,
    headers: dict[str, str],
    method: str,
    pool: str | None = None,
) -> Row:
    """``rounds`` side-by-side runs of /bare and ``path``, swapping servers every round."""
    return Row.of(label, [one_round(index, path, bases, seconds, headers, method, pool) for index in range(rounds)])
