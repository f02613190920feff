"""The token options as mypy and ``inspect`` see them: declared once (``AccessTokenOptions``,
``RefreshTokenOptions``), typed on the manager and on the ``JWT`` façade through ``Unpack``."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sanic_jwt_extended import JWT, JWTManager
from sanic_jwt_extended.issuing import AccessTokenOptions, RefreshTokenOptions

from ..helpers import make_app

# Each line ending in `# error` must be reported by mypy --strict, and no other line.
SNIPPET = """
from datetime import timedelta

from sanic_jwt_extended import JWT, JWTManager


def calls(manager: JWTManager) -> None:
    manager.create_access_token("a", fresh=True, role=["x"], expires_delta=timedelta(1), aud="api")
    manager.create_access_token("a", fresh=timedelta(minutes=5), public_claims={"k": 1}, iss="me")
    manager.create_refresh_token("a", private_claims={"k": 1}, additional_headers={"h": "v"})
    JWT.create_access_token("a", fresh=False, expires_delta=False)
    JWT.create_refresh_token("a", role="admin", aud=["a", "b"])
    manager.create_access_token("a", fressh=True)  # error
    JWT.create_access_token("a", fressh=True)  # error
    manager.create_refresh_token("a", fresh=True)  # error
    JWT.create_refresh_token("a", fresh=True)  # error
    manager.create_access_token("a", fresh="yes")  # error
    JWT.create_access_token("a", role=1)  # error
    JWT.create_refresh_token("a", expires_delta=60)  # error
"""


def test_mypy_checks_every_token_option_at_the_manager_and_the_facade(tmp_path: Path) -> None:
    # mypy comes with the dev extra, not the test one: .ci/run runs this file again after it.
    pytest.importorskip("mypy")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(SNIPPET, encoding="utf-8")
    expected = {number for number, line in enumerate(SNIPPET.splitlines(), 1) if line.endswith("# error")}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--no-error-summary", str(snippet)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reported = {int(n) for n in re.findall(r"snippet\.py:(\d+): error", result.stdout)}
    assert reported == expected, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("method", "options"),
    [("create_access_token", AccessTokenOptions), ("create_refresh_token", RefreshTokenOptions)],
)
def test_help_shows_each_option_as_a_keyword(method: str, options: type) -> None:
    for owner in (JWT, JWTManager):
        parameters = inspect.signature(getattr(owner, method)).parameters
        keywords = [name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert sorted(keywords) == sorted(options.__annotations__)
    assert inspect.signature(JWT.create_access_token).parameters["fresh"].default is False


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("create_access_token", "fressh"),
        ("create_access_token", "session_id"),
        ("create_refresh_token", "fresh"),
        ("create_refresh_token", "session_id"),
    ],
)
def test_an_unknown_option_is_a_type_error_at_run_time(method: str, name: str) -> None:
    _, manager = make_app(f"typing_{method}_{name}")
    with pytest.raises(TypeError, match=rf"{method}\(\) got an unexpected keyword argument '{name}'"):
        getattr(manager, method)("alice", **{name: True})
