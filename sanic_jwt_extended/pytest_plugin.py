"""pytest plugin (entry point ``pytest11``): the ``jwt_tokens`` fixture.

Loaded automatically once sanic-jwt-extended is installed; it only defines fixtures, none
of them autouse, so a suite that does not ask for them is unaffected. Disable it with
``-p no:sanic_jwt_extended``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .testing import TokenFactory, tokens_for

__all__ = ("jwt_tokens",)


@pytest.fixture
def jwt_tokens() -> Callable[[Any], TokenFactory]:
    """``jwt_tokens(app)``: a ``TokenFactory`` making tokens and headers with the app's own manager.

    ```python
    def test_admin_only(jwt_tokens):
        app = create_app()
        headers = jwt_tokens(app).access_headers("alice", role="admin")
        _, response = app.test_client.get("/admin", headers=headers)
        assert response.status == 200
    ```

    Apps with ``track_sessions``: ``await jwt_tokens(app).login("alice")`` (or ``asyncio.run(...)``)
    gives the access and refresh tokens of a real session.
    """
    return tokens_for
