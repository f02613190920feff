"""The request path's shortcuts keep every answer: the decorator's direct wrapper and the
one string a header-borne cached token keeps for both its cache key and ``raw_jwt``."""

from __future__ import annotations

import asyncio
import inspect
import sys

import pytest
from sanic import Request
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import Token, jwt_required

from ..helpers import Client, make_app


def test_raw_jwt_is_the_token_on_a_miss_and_on_a_hit() -> None:
    app, manager = make_app("request_path_raw")

    @app.get("/raw")
    @jwt_required
    async def raw(request: Request, token: Token) -> HTTPResponse:
        return json({"raw": token.raw_jwt, "ctx": request.ctx.token.raw_jwt})

    client = Client(app)
    token = manager.create_access_token("alice")
    for _ in range(2):  # a full verification, then a verified-cache hit
        body = client.get("/raw", token=token).json
        assert body == {"raw": token, "ctx": token}
    assert token not in repr(manager.decode_token(token))


def test_a_waiting_step_still_injects_the_token_and_blocks_the_view() -> None:
    app, manager = make_app("request_path_waiting")
    ran: list[str] = []

    @manager.claims_verification_loader
    async def check(token: Token) -> bool:
        await asyncio.sleep(0)
        return token.identity != "mallory"

    @app.get("/waits")
    @jwt_required
    async def waits(request: Request, token: Token) -> HTTPResponse:
        ran.append(token.identity)
        return json({"identity": token.identity})

    client = Client(app)
    assert client.get("/waits", token=manager.create_access_token("alice")).json == {"identity": "alice"}
    assert client.get("/waits", token=manager.create_access_token("mallory")).status == 400
    assert client.get("/waits").status == 401
    assert ran == ["alice"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="inspect.markcoroutinefunction is Python 3.12+")
def test_an_async_view_stays_a_coroutine_function() -> None:
    async def view(request: Request) -> HTTPResponse:
        return json({})

    assert inspect.iscoroutinefunction(jwt_required(view))
