"""Resident memory of the verified-token cache: RSS growth per cached token, and its bound.

    python benchmarks/memory.py            # three cases, up to 100,000 tokens, about a minute
    python benchmarks/memory.py --smoke    # 1,000 tokens, proves the script works

Each case runs in a fresh interpreter so its RSS baseline is clean: it makes a manager
(HS256, ``verify_cache_size`` as given), creates all the tokens first, reads RSS, decodes
every token once with ``manager.decode_token`` (each one a cache miss that is then cached),
and reads RSS again. The growth is what the cache holds; the last case gives the cache
room for 10,000 entries but decodes 100,000 tokens, to show the bound holds.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which urllib and Sanic import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import gc
import json
import os
import subprocess

ROOT = Path(__file__).resolve().parent.parent


def rss_bytes() -> int:
    """Current resident set size; peak RSS from getrusage where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # bytes on macOS, KiB elsewhere


def child(tokens: int, cache_size: int) -> None:
    """One case, in its own process: prints a JSON line with the two RSS readings."""
    from sanic import Sanic

    from sanic_jwt_extended import JWT

    Sanic.test_mode = True
    app = Sanic("bench_memory")
    with JWT.initialize(app) as manager:
        manager.config.algorithm = "HS256"
        manager.config.secret_key = "m" * 64
        manager.config.verify_cache_size = cache_size
    raws = [manager.create_access_token(f"user{i}") for i in range(tokens)]
    gc.collect()
    before = rss_bytes()
    for raw in raws:
        manager.decode_token(raw)
    gc.collect()
    after = rss_bytes()
    print(json.dumps({"before": before, "after": after, "entries": len(manager.verified)}))


def run_case(tokens: int, cache_size: int) -> dict[str, int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    output = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(tokens), str(cache_size)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if output.returncode != 0:
        raise RuntimeError(f"case tokens={tokens} cache={cache_size} failed:\n{output.stderr}")
    result: dict[str, int] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    parser.add_argument("--child", nargs=2, type=int, metavar=("TOKENS", "CACHE_SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    # (tokens decoded, verify_cache_size)
    cases = [(1_000, 1_000)] if args.smoke else [(10_000, 10_000), (100_000, 100_000), (100_000, 10_000)]
    rows = []
    for tokens, cache_size in cases:
        result = run_case(tokens, cache_size)
        rows.append((f"{tokens:,} tokens, cache {cache_size:,}", result))

    print(f"{'case':<32}{'cache entries':>15}{'RSS growth MB':>15}{'bytes/entry':>13}")
    for label, result in rows:
        growth = result["after"] - result["before"]
        per_entry = growth / result["entries"] if result["entries"] else float("nan")
        print(f"{label:<32}{result['entries']:>15,}{growth / 2**20:>15.1f}{per_entry:>13,.0f}")
    print("RSS from /proc/self/status VmRSS, each case in a fresh process; tokens created before the first reading")
    if not args.smoke:
        print("bound: the 100,000-token run with cache 10,000 should grow about as much as the 10,000 case")


if __name__ == "__main__":
    main()
