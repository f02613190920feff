"""What auth events cost a successful request: the verifier's hot path, side by side.

    python benchmarks/events.py                            # this checkout, listener off/on
    python benchmarks/events.py --baseline /path/to/checkout   # also against another checkout
    python benchmarks/events.py --smoke                    # a second, proves the script works

Each worker runs ``Verifier.verify`` on one request whose token is in the verified cache
(the fastest path a request can take, where a fixed cost shows most) in a loop and reports
calls per second. Modes: ``off`` (no ``jwt.auth.succeeded`` listener: the shipped default),
``on`` (a listener registered: every success dispatches a Sanic signal in a task). With
``--baseline``, a worker importing the package from that checkout (e.g. ``main``, without
auth events) runs ``off`` next to ours.

Method (as in verify.py): the two workers compared run at the same time, pinned to the same
core, so each gets half of it and the ratio of their rates is the ratio of their costs;
rounds alternate which one starts first; the median ratio of the rounds is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's http.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import time
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def worker(mode: str, seconds: float, start_at: float) -> float:
    """Calls per second of ``Verifier.verify`` on a cached token (run inside this process)."""
    from sanic import Sanic
    from sanic.compat import Header
    from sanic.request import Request
    from sanic.response import json as json_response

    from sanic_jwt_extended import JWT, jwt_required
    from sanic_jwt_extended.requirements import Requirements
    from sanic_jwt_extended.verification import verifier_of

    Sanic.test_mode = True
    app = Sanic(f"bench_{mode}")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = "s" * 64

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request) -> Any:
        return json_response({})

    async def run() -> float:
        verifier = verifier_of(app)
        if mode == "on":
            from sanic_jwt_extended.events import Events

            @app.signal("jwt.auth.succeeded")
            async def listener(**context: Any) -> None:
                return None

            app.signalize()
            events = Events(app, 10)
            assert "jwt.auth.succeeded" in events.find_listeners()
            verifier.on_success = events.auth_succeeded
        token = manager.create_access_token("user")
        headers = Header({"Authorization": f"Bearer {token}"})
        request = Request(b"/protected", headers, "1.1", "GET", None, app)  # type: ignore[arg-type]
        req = Requirements.build(token_type="access")
        verify = verifier.verify
        for _ in range(2000):  # warm up: the cache holds the token, the plan is made
            verify(request, req)
            await asyncio.sleep(0)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        done, began = 0, time.perf_counter()
        deadline = began + seconds
        while True:
            for _ in range(500):
                verify(request, req)
            # Let the listener tasks of "on" run, as a server loop would between requests.
            await asyncio.sleep(0)
            done += 500
            now = time.perf_counter()
            if now >= deadline:
                return done / (now - began)

    return asyncio.run(run())


def pair(first: tuple[str, Path], second: tuple[str, Path], seconds: float) -> tuple[float, float]:
    """Rates of two workers (mode, package root) run at the same time on one core."""
    start_at = time.time() + 1.5  # both have imported and warmed up by then
    procs = []
    for mode, root in (first, second):
        env = {**os.environ, "PYTHONPATH": str(root)}
        command = [sys.executable, __file__, "--worker", mode, "--seconds", str(seconds), "--start-at", str(start_at)]
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            command = ["taskset", "-c", "1", *command]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True))
    rates = [float(json.loads(proc.communicate()[0])["rate"]) for proc in procs]
    return rates[0], rates[1]


def compare(
    a: tuple[str, Path], b: tuple[str, Path], rounds: int, seconds: float
) -> tuple[float, float, float, float, float]:
    """Median rates of ``a`` and ``b``, and the median and quartiles of b/a, over ``rounds``
    side-by-side runs."""
    pairs = []
    for index in range(rounds):
        if index % 2:
            rb, ra = pair(b, a, seconds)
        else:
            ra, rb = pair(a, b, seconds)
        pairs.append((ra, rb))
    ratios = sorted(rb / ra for ra, rb in pairs)
    return (
        statistics.median(ra for ra, _ in pairs),
        statistics.median(rb for _, rb in pairs),
        statistics.median(ratios),
        ratios[len(ratios) // 4],
        ratios[(3 * len(ratios)) // 4 - (1 if len(ratios) % 4 == 0 else 0)],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    parser.add_argument("--baseline", type=Path, help="another checkout to compare the 'off' path with")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--worker", choices=("off", "on"), help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps({"rate": worker(args.worker, args.seconds, args.start_at)}))
        return
    rounds, seconds = (1, 0.2) if args.smoke else (args.rounds, args.seconds)
    rows = []
    if args.baseline is not None:
        rows.append(("baseline off -> ours off", *compare(("off", args.baseline), ("off", ROOT), rounds, seconds)))
    rows.append(("ours off -> ours off (noise)", *compare(("off", ROOT), ("off", ROOT), rounds, seconds)))
    rows.append(("ours off -> ours on", *compare(("off", ROOT), ("on", ROOT), rounds, seconds)))
    print(f"{'comparison (a -> b)':<30}{'a calls/s':>14}{'b calls/s':>14}{'b / a':>9}{'quartiles':>16}")
    for name, ra, rb, ratio, low, high in rows:
        print(f"{name:<30}{ra:>14,.0f}{rb:>14,.0f}{ratio:>9.3f}{f'{low:.3f}-{high:.3f}':>16}")
    print(f"medians of {rounds} side-by-side rounds of {seconds:.1f}s; each worker had half of one core.")
    print("target: baseline off -> ours off within the noise row's spread (no measurable cost without a listener)")


if __name__ == "__main__":
    main()
