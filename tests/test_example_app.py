"""example_app.py: the seeds' fresh-token flow, end to end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from example_app import create_app

from .conftest import Client
from .processes import serve

CREDENTIALS = {"username": "test", "password": "test"}


Call = Callable[..., tuple[int, Any]]


def run_flow(call: Call) -> None:
    """The AuthX walkthrough: login, sensitive op, refresh, protected, refused, fresh-login."""

    def bearer(token: str) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {token}"}}

    status, body = call("POST", "/login", json=CREDENTIALS)
    assert status == 200
    access, refresh = body["access_token"], body["refresh_token"]
    assert call("GET", "/sensitive_operation", **bearer(access))[0] == 200
    assert call("GET", "/protected-fresh", **bearer(access)) == (200, {"fresh_logged_in_as": "test"})
    status, body = call("POST", "/refresh", **bearer(refresh))
    assert status == 200
    stale = body["access_token"]
    assert call("GET", "/protected", **bearer(stale)) == (200, {"logged_in_as": "test", "fresh": False})
    # the seed's library answered 500 here; the contract says 401 with a JSON message
    assert call("GET", "/sensitive_operation", **bearer(stale)) == (401, {"msg": "Fresh token required"})
    assert call("GET", "/protected-fresh", **bearer(stale))[0] == 401
    # a refresh token is not an access token, and the reverse
    assert call("GET", "/protected", **bearer(refresh))[0] == 422
    assert call("POST", "/refresh", **bearer(access))[0] == 422
    status, body = call("POST", "/fresh-login", json=CREDENTIALS)
    assert status == 200 and set(body) == {"access_token"}
    assert call("GET", "/sensitive_operation", **bearer(body["access_token"]))[0] == 200


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python example_app.py` in its own process, as a user would run it."""
    log = tmp_path_factory.mktemp("example") / "output.log"
    with serve("example_app.py", log) as base:
        assert "curl" in log.read_text()  # the walkthrough is printed
        yield base


def test_flow_against_the_running_example(served: str) -> None:
    with httpx.Client(base_url=served) as client:

        def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
            response = client.request(method, path, **kwargs)
            return response.status_code, response.json()

        run_flow(call)


def test_flow_in_process() -> None:
    client = Client(create_app())

    def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = client.request(method, path, **kwargs)
        return response.status, response.json

    run_flow(call)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"json": {"username": "test", "password": "nope"}},
        {"json": {"username": "nobody", "password": ""}},
        {"json": ["test", "test"]},
        {"json": {"username": 1, "password": 2}},
        {"content": b"not json", "headers": {"content-type": "application/json"}},
    ],
    ids=["no body", "wrong password", "unknown user", "array", "non-strings", "invalid json"],
)
@pytest.mark.parametrize("path", ["/login", "/fresh-login"])
def test_bad_logins_are_4xx(path: str, kwargs: dict[str, object]) -> None:
    response = Client(create_app()).request("POST", path, **kwargs)
    assert 400 <= response.status < 500
