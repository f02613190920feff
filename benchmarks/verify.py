"""Tokens per second: our verification (cold and hot) against PyJWT's ``jwt.decode``.

    python benchmarks/verify.py            # full run, about a minute
    python benchmarks/verify.py --smoke    # a few hundred tokens, proves the script works

Cold: every token distinct (a cache miss each time, signature checked). Hot: one token
repeated (a cache hit). PyJWT does the same checks we ask of it: signature, exp, and the
required claims. Ratios compare runs made in the same process, one after the other.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which PyJWT's JWKS client and Sanic import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the script works")
    args = parser.parse_args(argv)
    count, seconds, rounds = (200, 0.2, 1) if args.smoke else (5000, 1.5, 3)
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

        # Interleaved rounds, best of each: a noisy neighbour slows one run, not the ratio.
        best = [0.0, 0.0, 0.0, 0.0]
        for _ in range(rounds):
            best[0] = max(best[0], rate(pyjwt, tokens, seconds))
            # Cold: a cache too small to ever hit, so every call verifies the signature.
            manager.verified.size = 1
            best[1] = max(best[1], rate(ours, tokens, seconds))
            manager.verified.size = 10_000
            manager.verified.clear()
            best[2] = max(best[2], rate(pyjwt, tokens[:1], seconds))
            best[3] = max(best[3], rate(ours, tokens[:1], seconds))
        rows.append((algorithm, *best))

    columns = ("pyjwt cold/s", "ours cold/s", "cold ratio", "pyjwt hot/s", "ours hot/s", "hot ratio")
    print(f"{'alg':<7}" + "".join(f"{column:>14}" for column in columns))
    for algorithm, baseline_cold, cold, baseline_hot, hot in rows:
        print(
            f"{algorithm:<7}{baseline_cold:>14,.0f}{cold:>14,.0f}{cold / baseline_cold:>13.2f}x"
            f"{baseline_hot:>14,.0f}{hot:>14,.0f}{hot / baseline_hot:>13.1f}x"
        )
    print("targets: cold ratio >= 1.0x, hot ratio >= 20x")


if __name__ == "__main__":
    main()
