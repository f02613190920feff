"""Cost of one insertion into the verified-token cache, at 1,000 to 100,000 entries.

    python benchmarks/cache.py            # about 20 seconds
    python benchmarks/cache.py --smoke    # a fraction of a second, proves the script works

Every cold request (a token the server has not seen) ends with ``VerifiedCache.put``, and
once the cache is full every put also evicts the oldest entry. This times puts into a cache
that is already full, so each one evicts, at several sizes, in three cases:

- *live*: every entry unexpired (the usual case; the expiry check on the oldest entry
  stops at once);
- *expiring*: every other entry already expired, so puts also drop expired entries from
  the front (up to two per put);
- *hit*: for comparison, ``get`` of a cached entry (the hot path), at the same size;
- *cold decode*: the whole cold path, ``manager.decode_token`` of a token never seen
  (HS256: parse, verify, build the ``Token``, put), with the cache full at that size,
  against the same with the cache off (``verify_cache_size = 0``).

Each figure is the best of ``--repeat`` runs of ``--puts`` operations (best, not median:
on a shared machine the best run is the one least disturbed), and the runs of all the
cases are interleaved, round by round. The keys are made before
timing, so only the cache is measured. Target: the put cost flat with size, 100,000 within
1.2 x of 1,000. At 100,000 entries the cache no longer fits the CPU caches, so every
operation, even a hit, pays a few memory misses that a 1,000-entry cache does not: the hit
column shows that part, which no structure avoids; the cold-decode column shows what it
weighs in a real verification.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which urllib and Sanic import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import time
from collections.abc import Callable

from sanic_jwt_extended import JWT, JWTManager, Token
from sanic_jwt_extended.cache import VerifiedCache


def _keys(count: int, tag: str) -> list[str]:
    # Token-shaped keys (about the length of a real header value), so hashing costs what it would.
    return [f"Bearer {tag}{index:0>10}.{'x' * 300}" for index in range(count)]


Run = Callable[[int], float]  # one timed run (its index): seconds per operation


def put_case(size: int, puts: int, expiring: bool) -> Run:
    """Puts into a cache kept full at ``size`` entries, so every put evicts."""
    now = time.time()
    live = Token("raw", {"exp": now + 3600, "nbf": now - 1})
    dead = Token("raw", {"exp": now - 3600, "nbf": now - 7200})
    cache = VerifiedCache(size)
    # Filled with the same mix as the timed puts, so the front of the cache holds expired
    # entries in the expiring case. (A put of an expired token that reaches the front is
    # dropped again at once: that is the pruning being timed.)
    for index, key in enumerate(_keys(size, "fill-")):
        cache.put(key, dead if expiring and index % 2 else live)
    tokens = [dead if expiring and index % 2 else live for index in range(puts)]

    def run(index: int) -> float:
        keys = _keys(puts, f"run{index}-")
        put = cache.put
        start = time.perf_counter()
        for key, token in zip(keys, tokens, strict=True):
            put(key, token)
        return (time.perf_counter() - start) / puts

    return run


def hit_case(size: int, gets: int) -> Run:
    now = time.time()
    cache = VerifiedCache(size)
    keys = _keys(size, "h")
    token = Token("raw", {"exp": now + 3600, "nbf": now - 1})
    for key in keys:
        cache.put(key, token)
    probes = [keys[index % size] for index in range(gets)]

    def run(index: int) -> float:
        get = cache.get
        start = time.perf_counter()
        for key in probes:
            get(key, now, 0.0)
        return (time.perf_counter() - start) / gets

    return run


def _manager(cache_size: int) -> JWTManager:
    from sanic import Sanic

    Sanic.test_mode = True
    app = Sanic(f"bench_cache_{cache_size}")
    with JWT.initialize(app) as manager:
        manager.config.algorithm = "HS256"
        manager.config.secret_key = "c" * 64
        manager.config.verify_cache_size = cache_size
    return manager


def decode_case(size: int, decodes: int) -> Run:
    """``decode_token`` of new tokens with the cache full at ``size`` entries (0: cache off)."""
    manager = _manager(size)
    for index in range(size):
        manager.decode_token(manager.create_access_token(f"fill{index}"))

    def run(index: int) -> float:
        raws = [manager.create_access_token(f"r{index}-{n}") for n in range(decodes)]
        decode = manager.decode_token
        start = time.perf_counter()
        for raw in raws:
            decode(raw)
        return (time.perf_counter() - start) / decodes

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    parser.add_argument("--puts", type=int, default=200_000, help="timed operations per run (default 200,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the best is kept (default 5)")
    args = parser.parse_args(argv)
    sizes = [1_000, 10_000] if args.smoke else [1_000, 10_000, 100_000]
    puts, repeat = (2_000, 1) if args.smoke else (args.puts, args.repeat)
    decodes = max(puts // 10, 200)
    cases: dict[tuple[str, int], Run] = {("decode", 0): decode_case(0, decodes)}
    for size in sizes:
        cases[("live", size)] = put_case(size, puts, expiring=False)
        cases[("expiring", size)] = put_case(size, puts, expiring=True)
        cases[("hit", size)] = hit_case(size, puts)
        cases[("decode", size)] = decode_case(size, decodes)
    # Interleaved: every case once per round, so a noisy moment on the machine is spread
    # over all of them instead of sinking one; the best round of each is kept.
    best = dict.fromkeys(cases, float("inf"))
    for index in range(repeat):
        for key, run in cases.items():
            best[key] = min(best[key], run(index))
    off = best[("decode", 0)]
    rows = [
        (size, best[("live", size)], best[("expiring", size)], best[("hit", size)], best[("decode", size)])
        for size in sizes
    ]
    print(
        f"{'entries':>9}{'put live us':>13}{'x 1k':>6}{'put expiring us':>17}{'x 1k':>6}{'hit us':>8}{'x 1k':>6}"
        f"{'cold decode us':>16}{'x off':>7}"
    )
    print(f"{'off':>9}{'':>13}{'':>6}{'':>17}{'':>6}{'':>8}{'':>6}{off * 1e6:>16.2f}{1:>7.2f}")
    base = rows[0]
    for size, live, expiring, hit, decode in rows:
        print(
            f"{size:>9,}{live * 1e6:>13.2f}{live / base[1]:>6.2f}{expiring * 1e6:>17.2f}{expiring / base[2]:>6.2f}"
            f"{hit * 1e6:>8.3f}{hit / base[3]:>6.2f}{decode * 1e6:>16.2f}{decode / off:>7.2f}"
        )
    print(f"best of {repeat} runs of {puts:,} operations into a full cache (each evicts); x 1k: / cost at 1,000")
    print(f"cold decode: best of {repeat} runs of {decodes:,} decode_token calls, new HS256 tokens; x off: / cache off")
    print("target: put at 100,000 within 1.2 x of put at 1,000; cold decode with the cache close to cache off")


if __name__ == "__main__":
    main()
