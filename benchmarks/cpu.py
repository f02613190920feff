"""CPU time per request of the benchmark app's routes, for one checkout or several compared.

    python benchmarks/cpu.py                       # this checkout, about two minutes
    python benchmarks/cpu.py /path/to/main .       # main against this checkout, rounds interleaved
    python benchmarks/cpu.py --smoke               # a few seconds, proves the script works

Method: one single-process benchmarks/app.py server per checkout, pinned to one core, wrk on
the other. Each run sends one route for a few seconds and divides the CPU time the server
process used (``/proc/<pid>/schedstat``, nanoseconds) by the requests wrk completed. Unlike
requests per second this does not depend on the share of the core the server got, so it
stays readable on a machine other jobs are using: what still moves it is cache and memory
pressure from them. Rows: /bare (GET), protected (one token), cold (a different token on
every request from a pool of 50,000, benchmarks/http.py's Lua script), /bare POST and the
cookie + CSRF POST, with the same headers as their protected routes. Per checkout it prints
the median microseconds per request, the difference to its bare route (what protection
costs) and bare/route, the throughput ratio that cost implies. Needs wrk and /proc (Linux).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which urllib imports.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import urllib.request
from contextlib import ExitStack

sys.path.append(str(Path(__file__).resolve().parent))
from sidebyside import _POOL_LUA, LOAD_CORE, SERVER_CORE, free_port, pinned

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("bare", "protected", "cold", "bare POST", "cookie POST")
BARE_OF = {"protected": "bare", "cold": "bare", "cookie POST": "bare POST"}


def cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def _env(checkout: Path) -> dict[str, str]:
    # The checkout's package first on the path, so one virtualenv can run several checkouts.
    return {**os.environ, "PYTHONPATH": str(checkout), "SANIC_AUTO_EXTEND": "false"}


def start(checkout: Path, stack: ExitStack) -> tuple[int, str]:
    """A benchmark app server of ``checkout`` on the server core: (pid, base URL)."""
    port = free_port()
    app = checkout / "benchmarks" / "app.py"
    process = subprocess.Popen(
        [*pinned(SERVER_CORE), sys.executable, str(app), "--port", str(port)],
        env=_env(checkout),
        cwd=str(checkout),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(process.wait, 10)
    stack.callback(process.terminate)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/bare", timeout=1).read()
            return process.pid, base
        except OSError:
            subprocess.run(["sleep", "0.1"], check=False)
    raise RuntimeError(f"benchmark server of {checkout} did not start")


def make_pool(checkout: Path, count: int, path: str) -> None:
    """``count`` distinct Authorization values the checkout's app accepts (its own issuer)."""
    code = (
        "import sys\n"
        f"sys.path.append({str(checkout / 'benchmarks')!r})\n"
        "from app import create_app\n"
        "from sanic_jwt_extended import JWTManager\n"
        "manager = JWTManager.get(create_app('none', None))\n"
        f"values = [f'Bearer {{manager.create_access_token(f\"user{{i}}\")}}' for i in range({count})]\n"
        f"open({path!r}, 'w').write('\\n'.join(values) + '\\n')\n"
    )
    subprocess.run([sys.executable, "-c", code], env=_env(checkout), cwd=tempfile.gettempdir(), check=True)


def per_request(pid: int, url: str, headers: dict[str, str], method: str, pool: str | None, seconds: int) -> float:
    """Microseconds of server CPU per request over one wrk run."""
    args = ["wrk", "-t1", "-c32", f"-d{seconds}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n' + (_POOL_LUA if pool else ""))
    args += ["-s", script.name, url]
    if pool:
        args += ["--", pool]
    try:
        before = cpu_ns(pid)
        output = subprocess.run([*pinned(LOAD_CORE), *args], capture_output=True, text=True, check=False).stdout
        used = cpu_ns(pid) - before
    finally:
        os.unlink(script.name)
    match = re.search(r"(\d+) requests in", output)
    if not match or "Non-2xx" in output or int(match.group(1)) == 0:
        raise RuntimeError(f"wrk failed or got errors:\n{output}")
    return used / 1000 / int(match.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="*", type=Path, help="checkouts to compare (default: this one)")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--seconds", type=int, default=2, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="runs per row and checkout; the median is kept")
    parser.add_argument("--pool", type=int, default=50_000, help="distinct tokens of the cold row")
    args = parser.parse_args(argv)
    if not shutil.which("wrk") or not Path("/proc/self/schedstat").exists():
        print("cpu.py needs wrk and /proc/<pid>/schedstat (Linux); nothing measured")
        return
    seconds, rounds, pool_size = (1, 1, 1_000) if args.smoke else (args.seconds, args.rounds, args.pool)
    checkouts = [path.resolve() for path in args.checkouts] or [ROOT]
    results: dict[tuple[Path, str], list[float]] = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as directory:
        servers = []
        for index, checkout in enumerate(checkouts):
            pid, base = start(checkout, stack)
            issued = json.loads(urllib.request.urlopen(f"{base}/token").read())
            pool = f"{directory}/pool-{index}.txt"
            make_pool(checkout, pool_size, pool)
            bearer = {"Authorization": f"Bearer {issued['access_token']}"}
            cookie = {"Cookie": f"access_token_cookie={issued['access_token']}", "X-CSRF-Token": issued["csrf"]}
            rows = {
                "bare": ("/bare", bearer, "GET", None),
                "protected": ("/protected", bearer, "GET", None),
                "cold": ("/protected", bearer, "GET", pool),
                "bare POST": ("/bare", cookie, "POST", None),
                "cookie POST": ("/write", cookie, "POST", None),
            }
            servers.append((checkout, pid, base, rows))
        # Round 0 warms every server and route (imports, the cache, connections) and is not kept.
        for round_index in range(rounds + 1):
            for checkout, pid, base, rows in servers:
                for row, (path, headers, method, pool_file) in rows.items():
                    took = per_request(pid, base + path, headers, method, pool_file, 1 if round_index == 0 else seconds)
                    if round_index:
                        results.setdefault((checkout, row), []).append(took)
    print(f"CPU microseconds per request (median of {rounds} runs of {seconds}s; wrk -t1 -c32; server on one core)")
    print(f"{'checkout / row':<34}" + "".join(f"{row:>13}" for row in ROWS))
    for checkout in checkouts:
        median = {row: statistics.median(results[(checkout, row)]) for row in ROWS}
        print(f"{str(checkout)[-34:]:<34}" + "".join(f"{median[row]:>13.1f}" for row in ROWS))
        print(f"{'  cost over its bare route':<34}" + "".join(_cell(median, row, "cost") for row in ROWS))
        print(f"{'  bare/route (throughput ratio)':<34}" + "".join(_cell(median, row, "ratio") for row in ROWS))
    print("targets (as http.py): protected >= 0.95, cold >= 0.75, cookie + CSRF >= 0.90 of bare")


def _cell(median: dict[str, float], row: str, kind: str) -> str:
    bare = BARE_OF.get(row)
    if bare is None:
        return f"{'':>13}"
    value = median[row] - median[bare] if kind == "cost" else median[bare] / median[row]
    return f"{value:>13.2f}"


if __name__ == "__main__":
    main()
