"""Resident memory of the verified-token cache: RSS growth per cached token, and its bound.

    python benchmarks/memory.py            # three cases, up to 100,000 tokens, about a minute
    python benchmarks/memory.py --smoke    # 1,000 tokens, proves the script works

Each case runs in a fresh interpreter so its RSS baseline is clean: it makes a manager
(HS256, ``verify_cache_size`` as given), creates all the tokens first, reads RSS, decodes
every token once with ``manager.decode_token`` (each one a cache miss that is then cached),
and reads RSS again. The growth is what the cache holds; the last case gives the cache
room for 10,000 entries but decodes 100,000 tokens, to show the bound holds.

A second table counts the same thing exactly, with tracemalloc (10,000 tokens; 1,000 with
--smoke): the bytes each cached entry keeps alive, grouped by the line of this package
that allocated them (the decoded JSON, the ``Token``, the cache's own slot), plus the
token string the entry keeps, or for a request-path entry the header value it is keyed on
(``"Bearer <token>"``, which the ``Token`` reads its ``raw_jwt`` out of). RSS adds the
allocator's overhead on top; tracemalloc says where the bytes go.
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
import linecache
import os
import subprocess
import tracemalloc
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sanic_jwt_extended import JWTManager

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
    manager = _manager(cache_size)
    raws = [manager.create_access_token(f"user{i}") for i in range(tokens)]
    gc.collect()
    before = rss_bytes()
    for raw in raws:
        manager.decode_token(raw)
    gc.collect()
    after = rss_bytes()
    print(json.dumps({"before": before, "after": after, "entries": len(manager.verified)}))


def _manager(cache_size: int) -> JWTManager:
    from sanic import Sanic

    from sanic_jwt_extended import JWT

    Sanic.test_mode = True
    app = Sanic("bench_memory")
    with JWT.initialize(app) as manager:
        manager.config.algorithm = "HS256"
        manager.config.secret_key = "m" * 64
        manager.config.verify_cache_size = cache_size
    return manager


def child_trace(tokens: int) -> None:
    """Exact bytes per cached entry (tracemalloc), by allocating line; prints one JSON line."""
    manager = _manager(tokens)
    raws = [manager.create_access_token(f"user{i}") for i in range(tokens)]
    string_bytes = sum(sys.getsizeof(raw) for raw in raws) / tokens
    header_bytes = sum(sys.getsizeof(f"Bearer {raw}") for raw in raws) / tokens
    package = str(ROOT / "sanic_jwt_extended")
    gc.collect()
    tracemalloc.start(30)
    before = tracemalloc.take_snapshot()
    for raw in raws:
        manager.decode_token(raw)
    del raws  # the cache is now the only holder of the token strings
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    groups: Counter[str] = Counter()
    for stat in after.compare_to(before, "traceback"):
        # Charge each allocation to the innermost line of this package on its stack.
        frame = next((f for f in reversed(stat.traceback) if f.filename.startswith(package)), None)
        if frame is None:
            label = "elsewhere"
        else:
            source = linecache.getline(frame.filename, frame.lineno).strip()
            label = f"{Path(frame.filename).name}:{frame.lineno} {source[:60]}"
        groups[label] += stat.size_diff
    result = {
        "groups": {label: size / tokens for label, size in groups.most_common()},
        "token string": string_bytes,
        "header key": header_bytes,
        "token chars": len(manager.create_access_token("user0")),
    }
    print(json.dumps(result))


def run_case(tokens: int, cache_size: int, trace: bool = False) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    flags = ["--trace", str(tokens)] if trace else ["--child", str(tokens), str(cache_size)]
    output = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *flags],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if output.returncode != 0:
        raise RuntimeError(f"case tokens={tokens} cache={cache_size} failed:\n{output.stderr}")
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    parser.add_argument("--child", nargs=2, type=int, metavar=("TOKENS", "CACHE_SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--trace", type=int, metavar="TOKENS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    if args.trace:
        child_trace(args.trace)
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

    traced = 1_000 if args.smoke else 10_000
    result = run_case(traced, traced, trace=True)
    print()
    print(
        f"bytes each cached entry keeps alive (tracemalloc, {traced:,} access tokens of {result['token chars']} chars)"
    )
    decoded = 0.0
    for label, size in result["groups"].items():
        if abs(size) >= 1:
            decoded += size
            print(f"  {size:>7,.0f}  {label}")
    print(f"  {decoded:>7,.0f}  = allocated by decoding and caching")
    print(f"  {result['token string']:>7,.0f}  + the token string (Token.raw_jwt, the decode_token cache key)")
    whole = decoded + result["token string"]
    print(f"  {whole:>7,.0f}  = per entry from decode_token()")
    # A request-path entry keeps the header value in place of the token string (one copy).
    print(f"  {result['header key']:>7,.0f}  or, from a request, the 'Bearer <token>' key (holds the token)")
    print(f"  {decoded + result['header key']:>7,.0f}  = per entry from a request (Authorization header)")
    print("target: under 1 KB per entry")


if __name__ == "__main__":
    main()
