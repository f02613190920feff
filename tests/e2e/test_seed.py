"""The Sanic seed document's full example runs verbatim."""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic

from sanic_jwt_extended.exceptions import ConfigurationError

SEED = Path(__file__).resolve().parent.parent / "seeds" / "sanic_fresh_token.md"


def seed_source() -> str:
    match = re.search(r"```python\n(import uuid\n.*?)```", SEED.read_text(), re.S)
    assert match, "the full example is missing from the seed document"
    return match.group(1)


def run_seed(tmp_path: Path) -> Sanic:
    # A real file: Sanic reads handler source code at startup.
    script = tmp_path / "seed_example.py"
    script.write_text(seed_source())
    namespace: dict[str, Any] = runpy.run_path(str(script), run_name="seed_example")
    app = namespace["app"]
    assert isinstance(app, Sanic)
    return app


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_seed_example_runs_verbatim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The seed's secret is "secret" (6 bytes), which RFC 7518 §3.2 forbids for HS256; the
    # code stays verbatim and the opt-out comes from the environment, as a deployment would.
    monkeypatch.setenv("SANIC_JWT_ALLOW_WEAK_SECRET", "true")
    app = run_seed(tmp_path)
    _, login = app.test_client.post("/login", json={"username": "alice"})
    assert login.status == 200
    token = login.json["access_token"]
    _, response = app.test_client.get("/protected", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    body = response.json
    assert body["identity"] == "alice" and body["is_fresh"] is True
    assert body["raw_data"]["sub"] == "alice" and body["raw_data"]["type"] == "access"
    assert body["exp"].endswith("+00:00")  # str() of an aware UTC datetime
    _, missing = app.test_client.get("/protected")
    assert missing.status == 401 and "msg" in missing.json


def test_seed_secret_is_refused_without_the_opt_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SANIC_JWT_ALLOW_WEAK_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match=r"^secret_key: is 6 bytes but HS256 needs at least 32"):
        run_seed(tmp_path)
