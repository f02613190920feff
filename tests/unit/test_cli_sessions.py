"""The command line and apps that track sessions, run as a subprocess: a session's refresh token
is never minted alone; ``token --app ... --login`` starts a real session when the app's store is
shared (a real redis-server), and refuses when it lives in process memory."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sanic_jwt_extended import JWTManager

from ..helpers import SECRET, bearer, free_port

APP_MODULE = f"""
import os

from sanic import Sanic
from sanic.response import json
from sanic_jwt_extended import JWT, RedisBlocklist, jwt_required, refresh_jwt_required


def create_app(store="memory", sessions=True):
    app = Sanic("cli_sessions_" + store)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = {SECRET!r}
        manager.config.use_blocklist = True
        manager.config.track_sessions = sessions
        manager.config.refresh_token_rotation = True
        manager.config.use_acl = True
        if store == "redis":
            manager.config.blocklist = RedisBlocklist(os.environ["CLI_REDIS_URL"], key_prefix="cli-test:")

    @app.get("/me")
    @jwt_required
    async def me(request, token):
        return json({{"session": token.session_id, "roles": sorted(token.roles), "fresh": bool(token.fresh)}})

    @app.post("/refresh")
    @refresh_jwt_required
    async def refresh(request, token):
        access, refresh = await manager.rotate(token)
        return json({{"access": access}})

    return app


def redis_app():
    return create_app("redis")


def plain_app():
    return create_app(sessions=False)
"""


@pytest.fixture
def module_dir(tmp_path: Path) -> Path:
    (tmp_path / "sessions_cli_app.py").write_text(APP_MODULE)
    (tmp_path / "secret").write_text(SECRET)
    return tmp_path


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sanic_jwt_extended", "token", "alice", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


SESSIONS_SET = ["--set", "use_blocklist=true", "--set", "track_sessions=true"]


@pytest.mark.parametrize(
    ("args", "messages"),
    [
        (["--secret-file", "secret", "--refresh", *SESSIONS_SET], ["--refresh: with track_sessions", "--login"]),
        (["--secret-file", "secret", "--login"], ["--login starts a session", "needs --app"]),
        (
            ["--app", "sessions_cli_app:create_app", "--refresh"],
            ["--refresh: sessions_cli_app:create_app tracks sessions", "--login", "tokens.login(...)"],
        ),
        (["--app", "sessions_cli_app:create_app", "--login"], ["process memory (InMemoryBlocklist)", "login route"]),
        (["--app", "sessions_cli_app:plain_app", "--login"], ["does not track sessions"]),
    ],
    ids=["no-app-refresh", "no-app-login", "app-refresh", "app-login-in-memory", "app-without-sessions"],
)
def test_refusals_name_the_reason_and_the_alternative(module_dir: Path, args: list[str], messages: list[str]) -> None:
    result = run(module_dir, *args)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.startswith("sanic-jwt-extended: error: ") and "Traceback" not in result.stderr
    for message in messages:
        assert message in result.stderr


def test_access_tokens_still_mint_for_a_sessions_app(module_dir: Path) -> None:
    assert run(module_dir, "--app", "sessions_cli_app:create_app").returncode == 0
    assert run(module_dir, "--secret-file", "secret", *SESSIONS_SET).returncode == 0


def test_login_starts_a_real_session_in_a_shared_store(
    module_dir: Path, clean_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLI_REDIS_URL", clean_redis)
    result = run(module_dir, "--app", "sessions_cli_app:redis_app", "--login", "--role", "admin", "--fresh")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) == {"access_token", "refresh_token", "session_id"}
    # The server (here: the same app in this process) knows the session the CLI started.
    monkeypatch.syspath_prepend(str(module_dir))
    monkeypatch.delitem(sys.modules, "sessions_cli_app", raising=False)
    import sessions_cli_app  # type: ignore[import-not-found]

    app = sessions_cli_app.redis_app()
    manager = JWTManager.get(app)

    async def server_side() -> None:
        # One event loop for every call, and the store closed in it.
        try:
            _, me = await app.asgi_client.get("/me", headers=bearer(printed["access_token"]))
            assert (me.status, me.json) == (200, {"session": printed["session_id"], "roles": ["admin"], "fresh": True})
            _, rotated = await app.asgi_client.post("/refresh", headers=bearer(printed["refresh_token"]))
            assert rotated.status == 200
            [session] = await manager.sessions("alice")
            assert (session.id, session.label) == (printed["session_id"], "sanic-jwt-extended CLI")
            assert await manager.end_session("alice", session.id)
            _, refused = await app.asgi_client.get("/me", headers=bearer(printed["access_token"]))
            assert refused.status == 401
        finally:
            await _close(manager)

    asyncio.run(asyncio.wait_for(server_side(), timeout=30))


async def _close(manager: JWTManager) -> None:
    revocation = manager.revocation
    assert revocation is not None and revocation.store is not None
    await revocation.store.close()  # type: ignore[attr-defined]


def test_login_with_the_store_down_fails_cleanly(module_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLI_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    result = run(module_dir, "--app", "sessions_cli_app:redis_app", "--login")
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.startswith("sanic-jwt-extended: error: --login: ") and "Traceback" not in result.stderr
