"""Tokens per second: our verification (cold and hot) against PyJWT's ``jwt.decode``.

    python benchmarks/verify.py            # full run, about a minute
    python benchmarks/verify.py --smoke    # a few hundred tokens, proves the script works

Cold: every token distinct (a cache miss each time, signature checked). Hot: one token
repeated (a cache hit). PyJWT does the same checks we ask of it: signature, exp, and the
required claims.

Method: ours and PyJWT run at the same time, in two forked processes pinned to the same
CPU core, so the scheduler gives each half of it and the ratio of their rates is the ratio
of their costs. A slowdown of the machine hits both at once, which keeps the ratio steady
where one-after-the-other runs on this VM swung by +-20 %.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which PyJWT's JWKS client and Sanic import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from sanic import Sanic

from sanic_jwt_extended import JWT, JWTManager

REQUIRED = ["exp", "iat", "jti", "type", "sub"]


def manager_for(algorithm: str, key: Any, name: str) -> JWTManager:
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.algorithm = algorithm
        if algorithm.startswith("HS"):
            manager.config.secret_key = key
        else:
            manager.config.private_key = key
    return manager


def rate(function: Callable[[str], Any], tokens: list[str], seconds: float) -> float:
    """Calls per second of ``function`` over ``tokens`` (cycled), for about ``seconds``."""
    done, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for token in tokens:
            function(token)
        done += len(tokens)
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def side_by_side(
    first: Callable[[str], Any], second: Callable[[str], Any], tokens: list[str], seconds: float
) -> tuple[float, float]:
    """Rates of ``first`` and ``second``, run at the same time on one core (forked processes)."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    results = context.Queue()

    def work(index: int, function: Callable[[str], Any]) -> None:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {1})
        rate(function, tokens, min(seconds, 0.2))  # warm up (and fill the cache when hot)
        barrier.wait()
        results.put((index, rate(function, tokens, seconds)))

    workers = [context.Process(target=work, args=(index, function)) for index, function in enumerate((first, second))]
    for worker in workers:
        worker.start()
    rates = dict(results.get() for _ in workers)
    for worker in workers:
        worker.join()
    return rates[0], rates[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    args = parser.parse_args(argv)
    count, seconds, rounds = (200, 0.2, 1) if args.smoke else (5000, 2.0, 5)
    Sanic.test_mode = True
    keys: dict[str, Any] = {
        "HS256": "s" * 64,
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "EdDSA": ed25519.Ed25519PrivateKey.generate(),
    }
    rows = []
    for algorithm, key in keys.items():
        manager = manager_for(algorithm, key, f"bench_{algorithm}")
        verify_key = key if algorithm == "HS256" else key.public_key()
        tokens = [manager.create_access_token(f"user{i}") for i in range(count)]

        def pyjwt(token: str, verify_key: Any = verify_key, algorithm: str = algorithm) -> Any:
            return jwt.decode(token, verify_key, algorithms=[algorithm], options={"require": REQUIRED})

        def ours(token: str, manager: JWTManager = manager) -> Any:
            return manager.decode_token(token)

        cold: list[tuple[float, float]] = []
        hot: list[tuple[float, float]] = []
        for _ in range(rounds):
            # Cold: a cache too small to ever hit, so every call verifies the signature.
            manager.verified.size = 1
            cold.append(side_by_side(pyjwt, ours, tokens, seconds))
            manager.verified.size = 10_000
            manager.verified.clear()
            hot.append(side_by_side(pyjwt, ours, tokens[:1], seconds))
        rows.append((algorithm, cold, hot))

    columns = ("pyjwt cold/s", "ours cold/s", "cold ratio", "pyjwt hot/s", "ours hot/s", "hot ratio")
    print(f"{'alg':<7}" + "".join(f"{column:>14}" for column in columns))
    for algorithm, cold, hot in rows:
        cells = []
        for pairs, digits in ((cold, 2), (hot, 1)):
            ratio = statistics.median(b / a for a, b in pairs)
            cells.append(
                f"{statistics.median(a for a, _ in pairs):>14,.0f}{statistics.median(b for _, b in pairs):>14,.0f}"
                f"{ratio:>13.{digits}f}x"
            )
        print(f"{algorithm:<7}{''.join(cells)}")
    print(f"medians of {rounds} side-by-side runs of {seconds:.1f}s; each process had half of one core.")
    print("targets: cold ratio >= 1.0x, hot ratio >= 20x")


if __name__ == "__main__":
    main()
