"""example_app.py: the seeds' fresh-token flow, end to end."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from example_app import create_app

from ..helpers import Client
from ..processes import serve

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
def served_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("example") / "output.log"


@pytest.fixture(scope="module")
def served(served_log: Path) -> Iterator[str]:
    """`python example_app.py` in its own process, as a user would run it."""
    log = served_log
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


def walkthrough_steps(log: str) -> dict[int, str]:
    """The printed walkthrough as one shell script per numbered step."""
    text = log[log.index("Try it") :].split("\n", 1)[1]
    steps: dict[int, str] = {}
    number = 0
    for line in text.splitlines():
        if line and not line.startswith("  "):
            break  # the walkthrough is indented; the server's log follows it
        match = re.match(r"\s*# (\d+)\. ", line)
        if match:
            number = int(match[1])
            steps[number] = ""
        elif number:
            steps[number] += line.strip() + "\n"
    return steps


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the walkthrough needs curl and jq")
def test_printed_walkthrough_runs_as_printed(served: str, served_log: Path) -> None:
    steps = walkthrough_steps(served_log.read_text())
    assert sorted(steps) == list(range(1, len(steps) + 1)) and len(steps) >= 10
    # One bash runs every step in turn (steps share $ACCESS and friends); a marker line
    # separates their outputs.
    script = "set -eu\n" + "".join(f"echo '@@step {n}'\n{source}" for n, source in sorted(steps.items()))
    completed = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True)
    outputs = dict(
        (int(number), body)
        for number, body in re.findall(r"^@@step (\d+)\n(.*?)(?=^@@step |\Z)", completed.stdout, re.M | re.S)
    )
    for number, output in outputs.items():
        # every answer printed ends with a newline, so the next prompt starts on its own line
        assert output == "" or output.endswith("}\n"), (number, output)
    assert json.loads(outputs[2])["user"] == "test"
    assert '"Fresh token required"' in outputs[5] and outputs[5].startswith("HTTP/1.1 401")
    assert json.loads(outputs[6]).keys() == {"access_token"}
    assert [json.loads(line) for line in outputs[7].splitlines()] == [
        {"msg": "Access token revoked"},
        {"msg": "Token has been revoked"},
    ]
    # after "log out everywhere" neither the fresh access token nor the refresh token works
    assert json.loads(outputs[8]) == {"msg": "Every session of test is revoked"}
    assert json.loads(outputs[9]) == {"msg": "Token has been revoked"}
    assert json.loads(outputs[10]) == {"msg": "Token has been revoked"}
    # sessions: log out everywhere emptied the list, the new login is the one session
    (session,) = json.loads(outputs[11])["sessions"]
    assert session["current"] is True and session["user_agent"].startswith("curl/")
    assert [json.loads(line) for line in outputs[12].splitlines()] == [
        {"msg": "Session ended"},
        {"msg": "Token has been revoked"},
    ]


def test_requests_are_logged_by_default(served: str, served_log: Path) -> None:
    httpx.get(f"{served}/protected-fresh?logged=1")
    deadline = time.monotonic() + 10
    # Sanic's access log: one line with the method, the URL and the status (the layout varies by version)
    line = re.compile(r"^.*GET .*/protected-fresh\?logged=1\s+401\b", re.M)
    while not line.search(served_log.read_text()):
        assert time.monotonic() < deadline, served_log.read_text()
        time.sleep(0.1)
