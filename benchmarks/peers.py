"""Requests per second of a protected route: ours, sanic-jwt, a hand-rolled PyJWT decorator, the floor.

    python benchmarks/peers.py            # about four minutes, uses wrk when installed
    python benchmarks/peers.py --smoke    # a few seconds, proves the script works

Three single-file Sanic apps, one per library, each with the same two routes: ``/bare``
(no auth) and ``/protected`` (HS256 bearer token: signature, ``exp``, required claims,
``type`` = access). They all accept the very same tokens, made here by our manager, so
every server parses the same bytes:

- **ours**: ``@jwt_required`` from this package, default settings (verified-token cache
  of 10,000);
- **pyjwt**: a ten-line decorator around ``jwt.decode(token, key, algorithms=["HS256"],
  options={"require": [...]})`` that also checks ``type``: what a team writes by hand;
- **sanic-jwt**: ``@protected()`` from the ``sanic-jwt`` package (``pip install sanic-jwt``),
  when it is installed and runs on this Sanic; otherwise its rows are left out and the
  output says why;
- **floor**: ``benchmarks/floor.py``'s decorator, the least any verifier does (the HMAC
  signature and ``exp``, nothing else; unsafe on purpose): the ceiling of every row.

Each library runs *hot* (the same token on every request, as one busy client sends) and
*cold* (a different token on every request, from a pool of 50,000 made before the run and
sent by a wrk Lua script: the first requests after a deploy, many clients, short-lived
tokens). The method is benchmarks/http.py's (see benchmarks/sidebyside.py): two identical
servers of one library share one core, one gets ``/bare`` and the other ``/protected`` at
the same time, and they swap every round; the rounds of all the rows are interleaved, so a
slow minute on the machine spreads over every row instead of sinking one.

Columns: protected/bare is the median of the per-round ratios (1.00: authentication costs
nothing); "ours is" divides our protected/bare by the row's (same mode), so 2.00 means our
protected route serves twice the requests that library's does.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which urllib and Sanic import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import importlib.util
import os
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from functools import wraps
from typing import Any

# Appended last, so the standard library's http still wins over benchmarks/http.py.
sys.path.append(str(Path(__file__).resolve().parent))
from sidebyside import Pool, Row, Sample, load_tool, one_round, server, warm

SECRET = os.environ.get("BENCH_SECRET", "p" * 64)
REQUIRED = ["exp", "iat", "sub", "jti", "type"]
POOL = 50_000  # distinct tokens in the cold pool: five times our default cache (10,000)
KINDS = ("ours", "pyjwt", "sanic-jwt", "floor")
View = Callable[..., Awaitable[Any]]


def _app(kind: str) -> Any:
    """The Sanic app one server runs: /bare and /protected, guarded by ``kind``."""
    import jwt
    from sanic import Request, Sanic
    from sanic.response import HTTPResponse, json

    app = Sanic(f"peers_{kind.replace('-', '_')}")
    guard: Callable[[View], View]
    if kind == "ours":
        from sanic_jwt_extended import JWT, jwt_required

        with JWT.initialize(app) as manager:
            manager.config.secret_key = SECRET
        guard = jwt_required
    elif kind == "floor":
        from floor import Minimal, from_header  # benchmarks/floor.py: the least any verifier does

        guard = from_header(Minimal(SECRET))
    elif kind == "pyjwt":

        def guard(view: View) -> View:
            @wraps(view)
            async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
                header = request.headers.get("authorization", "")
                if not header.startswith("Bearer "):
                    return json({"msg": "Missing Authorization Header"}, status=401)
                try:
                    claims = jwt.decode(header[7:], SECRET, algorithms=["HS256"], options={"require": REQUIRED})
                except jwt.ExpiredSignatureError:
                    return json({"msg": "Token has expired"}, status=401)
                except jwt.InvalidTokenError:
                    return json({"msg": "Invalid token"}, status=422)
                if claims["type"] != "access":
                    return json({"msg": "Only access tokens are allowed"}, status=422)
                request.ctx.jwt = claims
                return await view(request, *args, **kwargs)

            return wrapper

    else:
        from sanic_jwt import Initialize, protected

        async def authenticate(request: Request) -> dict[str, str]:
            return {"user_id": "bench"}  # never called: tokens come from the pool

        # sanic-jwt's defaults, except the key (the same for every library) and a leeway
        # like ours (its default is 180 s).
        Initialize(app, authenticate=authenticate, secret=SECRET, leeway=0)
        guard = protected()

    @app.get("/bare")
    async def bare(request: Request) -> HTTPResponse:
        return json({"ok": True})

    @app.get("/protected")
    @guard
    async def protected_route(request: Request) -> HTTPResponse:
        return json({"ok": True})

    return app


def serve(kind: str, port: int) -> None:
    _app(kind).run(host="127.0.0.1", port=port, single_process=True, access_log=False, debug=False)


def probe(base: str, token: str) -> str | None:
    """What is wrong with a server's /protected, or None: a good token 200, a forged one 4xx."""
    good = urllib.request.Request(f"{base}/protected", headers={"Authorization": f"Bearer {token}"})
    forged = urllib.request.Request(f"{base}/protected", headers={"Authorization": f"Bearer {token[:-4]}AAAA"})
    try:
        status = urllib.request.urlopen(good, timeout=5).status
    except urllib.error.HTTPError as error:
        return f"a valid token got {error.code}"
    except OSError as error:
        return f"no answer ({error})"
    if status != 200:
        return f"a valid token got {status}"
    try:
        urllib.request.urlopen(forged, timeout=5)
    except urllib.error.HTTPError as error:
        return None if 400 <= error.code < 500 else f"a forged token got {error.code}"
    return "a forged token got 200"


def tokens(count: int) -> list[str]:
    """``count`` distinct access tokens every server accepts (ours makes them, HS256, one key)."""
    from sanic import Sanic

    from sanic_jwt_extended import JWT

    Sanic.test_mode = True
    app = Sanic("peers_tokens")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
    return [manager.create_access_token(f"user{index}") for index in range(count)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--seconds", type=int, default=3, help="length of one side-by-side run (wrk: whole seconds)")
    parser.add_argument("--rounds", type=int, default=6, help="side-by-side runs per row; the median ratio is kept")
    parser.add_argument("--kinds", default=",".join(KINDS), help="libraries to run (comma-separated)")
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return
    seconds, rounds = (1, 1) if args.smoke else (args.seconds, args.rounds)
    pool_size = 1_000 if args.smoke else POOL
    kinds = [kind for kind in KINDS if kind in args.kinds.split(",")]
    notes = []
    if "sanic-jwt" in kinds and importlib.util.find_spec("sanic_jwt") is None:
        kinds.remove("sanic-jwt")
        notes.append("sanic-jwt left out: not installed (pip install sanic-jwt)")
    made = tokens(pool_size + 1)
    hot = {"Authorization": f"Bearer {made[0]}"}
    pool = Pool([f"Bearer {raw}" for raw in made[1:]])
    modes = {"hot": None, "cold": pool.path}
    samples: dict[tuple[str, str], list[Sample]] = {(kind, mode): [] for kind in kinds for mode in modes}
    try:
        with ExitStack() as stack:
            bases: dict[str, list[tuple[str, int]]] = {}
            for kind in list(kinds):
                try:
                    pair = [
                        stack.enter_context(server([str(Path(__file__).resolve()), "--serve", kind], kind))
                        for _ in "ab"
                    ]
                    problem = probe(pair[0][0], made[0])
                except RuntimeError as error:
                    problem = str(error)
                if problem is None:
                    bases[kind] = pair
                elif kind == "sanic-jwt":
                    # A peer that does not run on this Sanic is reported, not fatal.
                    kinds.remove(kind)
                    samples = {key: value for key, value in samples.items() if key[0] != kind}
                    notes.append(f"sanic-jwt left out: does not work on this Sanic ({problem})")
                else:
                    raise RuntimeError(f"{kind}: {problem}")
            for kind in kinds:
                for path in modes.values():
                    warm("/protected", bases[kind], hot, "GET", path)
            # Interleaved: round by round, every row once, so drift on the machine is shared.
            for index in range(rounds):
                for kind in kinds:
                    for mode, path in modes.items():
                        sample = one_round(index, "/protected", bases[kind], seconds, hot, "GET", path)
                        samples[(kind, mode)].append(sample)
    finally:
        pool.close()
    rows = {key: Row.of(f"{key[0]} {key[1]}", value) for key, value in samples.items()}

    print(f"load: {load_tool()}; {rounds} rounds of {seconds}s, interleaved; /bare and /protected side by side")
    print(
        f"{'library':<12}{'mode':<6}{'req/s':>9}{'bare req/s':>12}{'prot/bare':>11}{'min-max':>12}"
        f"{'busy':>6}{'ours is':>9}"
    )
    for (kind, mode), row in rows.items():
        ours = rows.get(("ours", mode))
        versus = f"{ours.ratio / row.ratio:.2f}x" if ours else "-"
        spread = f"{row.spread[0]:.2f}-{row.spread[1]:.2f}"
        print(
            f"{kind:<12}{mode:<6}{row.route_rps:>9,.0f}{row.bare_rps:>12,.0f}{row.ratio:>11.2f}{spread:>12}"
            f"{row.busy:>6.2f}{versus:>9}"
        )
    print("req/s: each server gets half of one core. prot/bare: median of the per-round ratios.")
    print(f"hot: one token on every request; cold: a different token on every request, pool of {pool_size:,}.")
    print("ours is: our prot/bare / the row's prot/bare (same mode); busy: share of the server core used.")
    print("targets: ours hot prot/bare >= 0.95; ours cold prot/bare >= 0.75 and >= 1.5x pyjwt cold")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
