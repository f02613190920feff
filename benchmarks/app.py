"""The app the HTTP benchmark drives: one bare route and the protected variants.

python benchmarks/app.py --port 8100 [--blocklist none|memory|redis|redis-mirror|redis-mirror-sessions] [--redis URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds a script named http.py: keep it from shadowing the standard library's
# http package, which urllib and Sanic import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, InMemoryBlocklist, RedisBlocklist, jwt_required

# Appended last, so the standard library's http still wins over benchmarks/http.py.
sys.path.append(str(Path(__file__).resolve().parent))
from floor import add_floor_routes


def create_app(blocklist: str, redis_url: str | None) -> Sanic:
    app = Sanic("bench")
    with JWT.initialize(app) as manager:
        secret = manager.config.secret_key = os.environ.get("BENCH_SECRET", "b" * 64)
        manager.config.token_location = ("headers", "cookies")
        manager.config.cookie_secure = False
        if blocklist != "none":
            manager.config.use_blocklist = True
            if blocklist == "memory":
                manager.config.blocklist = InMemoryBlocklist()
            else:
                manager.config.blocklist = RedisBlocklist(redis_url, local_mirror=blocklist.startswith("redis-mirror"))
            # Sessions on: access tokens carry their session id, checked like a revoked family.
            manager.config.track_sessions = blocklist.endswith("sessions")

    # Registered exactly like the protected routes (one method each), so Sanic treats both
    # the same way (a GET route ignores a body, a POST route reads it).
    @app.get("/bare")
    async def bare(request: Request) -> HTTPResponse:
        return json({"ok": True})

    @app.post("/bare", name="bare_post")
    async def bare_post(request: Request) -> HTTPResponse:
        return json({"ok": True})

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request) -> HTTPResponse:
        return json({"ok": True})

    @app.get("/fresh")
    @jwt_required(fresh_required=True)
    async def fresh(request: Request) -> HTTPResponse:
        return json({"ok": True})

    @app.post("/write")
    @jwt_required
    async def write(request: Request) -> HTTPResponse:
        return json({"ok": True})

    # What the least possible verifier costs on the same server (benchmarks/floor.py).
    add_floor_routes(app, secret, manager.config.access_cookie_name)

    @app.get("/token")
    async def token(request: Request) -> HTTPResponse:
        if manager.config.track_sessions:
            access = (await manager.login("bench", fresh=True)).access_token
        else:
            access = manager.create_access_token("bench", fresh=True)
        return json({"access_token": access, "csrf": manager.decode_token(access).csrf})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--blocklist", default="none", choices=["none", "memory", "redis", "redis-mirror", "redis-mirror-sessions"]
    )
    parser.add_argument("--redis", default=None)
    args = parser.parse_args()
    create_app(args.blocklist, args.redis).run(
        host="127.0.0.1", port=args.port, single_process=True, access_log=False, debug=False
    )


if __name__ == "__main__":
    main()
