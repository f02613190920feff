"""A host of a fleet sharing revocations through Redis, run as its own process by the tests.

python tests/e2e/blocklist_app.py --port N --redis URL [--cluster] [--mirror] [--lag SECONDS] [--min-replicas N]
    [--sentinel NAME]   (URL is then a Sentinel's: redis://host:port, the master it knows as NAME)
"""

from __future__ import annotations

import argparse
import os
from typing import Any
from urllib.parse import urlsplit

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, RedisBlocklist, Token, jwt_required


def create_app(
    redis_url: str, *, cluster: bool, mirror: bool, lag: float, min_replicas: int = 0, sentinel: str | None = None
) -> Sanic[Any, Any]:
    app = Sanic("blocklist_host")
    options: dict[str, Any] = {"url": redis_url, "cluster": cluster}
    if sentinel is not None:
        # What the docs show for Sentinel: a client= whose pool asks Sentinel for the master.
        from redis.asyncio.sentinel import Sentinel

        where = urlsplit(redis_url)
        watcher = Sentinel([(where.hostname, where.port)], socket_timeout=0.5)
        options = {"client": watcher.master_for(sentinel, socket_timeout=0.5, socket_connect_timeout=0.5)}
    with JWT.initialize(app) as manager:
        manager.config.secret_key = os.environ["SANIC_JWT_SECRET_KEY"]
        manager.config.use_blocklist = True
        manager.config.blocklist = RedisBlocklist(
            **options, local_mirror=mirror, mirror_max_lag=lag, socket_timeout=0.5, min_replicas=min_replicas
        )

    @app.get("/")
    async def health(request: Request) -> HTTPResponse:
        return json({})

    @app.post("/login/<identity>")
    async def login(request: Request, identity: str) -> HTTPResponse:
        return json({"access_token": manager.create_access_token(identity)})

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request, token: Token) -> HTTPResponse:
        return json({"identity": token.identity})

    @app.post("/logout")
    @jwt_required
    async def logout(request: Request, token: Token) -> HTTPResponse:
        await token.revoke()
        return json({})

    @app.post("/change-password")
    @jwt_required
    async def change_password(request: Request, token: Token) -> HTTPResponse:
        # Log out everywhere and hand out a new token, in one request.
        await manager.revoke_all(str(token.identity))
        return json({"access_token": manager.create_access_token(token.identity)})

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--cluster", action="store_true")
    parser.add_argument("--mirror", action="store_true")
    parser.add_argument("--lag", type=float, default=1.0)
    parser.add_argument("--min-replicas", type=int, default=0)
    parser.add_argument("--sentinel", default=None)
    args = parser.parse_args()
    host = create_app(
        args.redis,
        cluster=args.cluster,
        mirror=args.mirror,
        lag=args.lag,
        min_replicas=args.min_replicas,
        sentinel=args.sentinel,
    )
    host.run(host="127.0.0.1", port=args.port, single_process=True, access_log=False)
