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
on a shared machine the best run is the one least disturbed). The keys are made before
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

from sanic_jwt_extended import JWT, JWTManager, Token
from sanic_jwt_extended.cache import VerifiedCache


def _keys(count: int, tag: str) -> list[str]:
    # Token-shaped keys (about the length of a real header value), so hashing costs what it would.
    return [f"Bearer {tag}{index:0>10}.{'x' * 300}" for index in range(count)]


def put_cost(size: int, puts: int, repeat: int, expiring: bool) -> float:
    """Seconds per put into a full cache of ``size`` entries (best of ``repeat``)."""
    now = time.time()
    live = Token("raw", {"exp": now + 3600, "nbf": now - 1})
    dead = Token("raw", {"exp": now - 3600, "nbf": now - 7200})
    best = float("inf")
    for run in range(repeat):
        cache = VerifiedCache(size)
        # Filled with the same mix as the timed puts, so the front of the cache holds
        # expired entries in the expiring case. (A put of an expired token drops it again
        # at once: that is the pruning being timed.)
        for index, key in enumerate(_keys(size, f"f{run}-")):
            cache.put(key, dead if expiring and index % 2 else live)
        keys = _keys(puts, f"p{run}-")
        tokens = [dead if expiring and index % 2 else live for index in range(puts)]
        put = cache.put
        start = time.perf_counter()
        for key, token in zip(keys, tokens, strict=True):
            put(key, token)
        best = min(best, (time.perf_counter() - start) / puts)
    return best


def hit_cost(size: int, gets: int, repeat: int) -> float:
    now = time.time()
    cache = VerifiedCache(size)
    keys = _keys(size, "h")
    token = Token("raw", {"exp": now + 3600, "nbf": now - 1})
    for key in keys:
        cache.put(key, token)
    probes = [keys[index % size] for index in range(gets)]
    get = cache.get
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for key in probes:
            get(key, now, 0.0)
        best = min(best, (time.perf_counter() - start) / gets)
    return best


def _manager(cache_size: int) -> JWTManager:
    from sanic import Sanic

    Sanic.test_mode = True
    app = Sanic(f"bench_cache_{cache_size}")
    with JWT.initialize(app) as manager:
        manager.config.algorithm = "HS256"
        manager.config.secret_key = "c" * 64
        manager.config.verify_cache_size = cache_size
    return manager


def decode_cost(size: int, decodes: int, repeat: int) -> float:
    """Seconds per ``decode_token`` of a new token with the cache full at ``size`` (0: off)."""
    manager = _manager(size)
    for index in range(size):
        manager.decode_token(manager.create_access_token(f"fill{index}"))
    best = float("inf")
    for run in range(repeat):
        raws = [manager.create_access_token(f"r{run}-{index}") for index in range(decodes)]
        decode = manager.decode_token
        start = time.perf_counter()
        for raw in raws:
            decode(raw)
        best = min(best, (time.perf_counter() - start) / decodes)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    parser.add_argument("--puts", type=int, default=200_000, help="timed operations per run (default 200,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the best is kept (default 5)")
    args = parser.parse_args(argv)
    sizes = [1_000, 10_000] if args.smoke else [1_000, 10_000, 100_000]
    puts, repeat = (2_000, 1) if args.smoke else (args.puts, args.repeat)
    decodes = max(puts // 10, 200)
    off = decode_cost(0, decodes, repeat)
    rows = []
    for size in sizes:
        live = put_cost(size, puts, repeat, expiring=False)
        expiring = put_cost(size, puts, repeat, expiring=True)
        hit = hit_cost(size, puts, repeat)
        rows.append((size, live, expiring, hit, decode_cost(size, decodes, repeat)))
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
