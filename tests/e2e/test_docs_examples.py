"""Every self-contained code block of the README and the docs runs as written.

A block is self-contained when its fence carries a file name, ```` ```python title="app.py" ````
(mkdocs-material shows it as the block's title, GitHub ignores it). Such a block is a whole file
that defines ``app``: it is saved under that name, imported (not run as ``__main__``, so its
``app.run()`` does not block) and its app is driven over HTTP with sanic-testing.
"""

from __future__ import annotations

import re
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic

from sanic_jwt_extended.decorators import REQUIREMENTS_ATTR

from ..helpers import Client

ROOT = Path(__file__).resolve().parent.parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r'^```python title="(?P<name>[\w-]+\.py)"\n(?P<source>.*?)^```$', re.M | re.S)
SECRET = "docs-example-secret-that-is-long-enough-" + "x" * 32


@dataclass(frozen=True)
class Block:
    document: Path
    line: int
    name: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for document in DOCUMENTS:
        text = document.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(document, line, match["name"], match["source"]))
    return found


BLOCKS = blocks()


def test_the_quick_starts_are_marked_self_contained() -> None:
    # Guards the marker itself: without these the tests below would pass on nothing.
    assert {(b.document.name, b.name) for b in BLOCKS} >= {("README.md", "app.py"), ("index.md", "quickstart.py")}


def load_app(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sanic:
    # What the documents tell a reader to export before running them.
    if "app.run(" in block.source:
        # `python app.py` starts the server, and importing the file must not (it would block here).
        guarded = re.search(r'^if __name__ == "__main__":\n(    .*\n)*    app\.run\(', block.source, re.M)
        assert guarded and block.source.count("app.run(") == 1, f"{block.id}: app.run() outside the main guard"
    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    monkeypatch.setenv("SANIC_JWT_SECRET_KEY", SECRET)
    # A real file in a fresh folder: Sanic reads handler source code at startup.
    script = tmp_path / block.name
    script.write_text(block.source)
    namespace: dict[str, Any] = runpy.run_path(str(script), run_name=script.stem)
    app = namespace.get("app")
    assert isinstance(app, Sanic), f"{block.id} does not define a Sanic `app`"
    return app


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_serves_its_routes(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = load_app(block, tmp_path, monkeypatch)
    client = Client(app)
    routes = [(f"/{route.path}", sorted(route.methods)[0], route.handler) for route in app.router.routes]
    assert routes, f"{block.id} defines no route"
    # Without a token every protected route refuses (an optional one serves).
    for path, method, handler in routes:
        requirements = getattr(handler, REQUIREMENTS_ATTR, None)
        if requirements is not None:
            response = client.request(method, path)
            assert response.status == (200 if requirements.optional else 401), (block.id, path, response.text)
    # With the token a login route hands out, every access-token route answers 200.
    if ("/login", "POST") in {(path, method) for path, method, _ in routes}:
        login = client.post("/login", json={"username": "alice", "password": "secret"})
        assert login.status == 200, (block.id, login.text)
        access = login.json["access_token"]
        for path, method, handler in routes:
            requirements = getattr(handler, REQUIREMENTS_ATTR, None)
            if requirements is not None and not requirements.refresh:
                response = client.request(method, path, headers={"Authorization": f"Bearer {access}"})
                assert response.status == 200, (block.id, path, response.text)


def test_readme_quick_start_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's quick start: fresh login, refresh, and the fresh-only route refusing a refreshed token."""
    (block,) = [b for b in BLOCKS if b.document.name == "README.md" and b.name == "app.py"]
    client = Client(load_app(block, tmp_path, monkeypatch))
    tokens = client.post("/login").json
    refreshed = client.post("/refresh", token=tokens["refresh_token"])
    assert refreshed.status == 200
    refused = client.get("/account/delete", token=refreshed.json["access_token"])
    assert refused.status == 401 and refused.json == {"msg": "Fresh token required"}
    deleted = client.get("/account/delete", token=tokens["access_token"])
    assert deleted.status == 200 and deleted.json == {"deleted": "alice"}
