"""The fresh-token flow of the seed documents, in one Sanic app.

Run it with ``python example_app.py`` and follow the printed curl walkthrough.
"""

from __future__ import annotations

import argparse
import hmac
import secrets
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, RedisBlocklist, Token, jwt_required, refresh_jwt_required
from sanic_jwt_extended.sessions import SessionInfo

HOST, PORT = "127.0.0.1", 8000
USERS = {"test": "test"}  # demo only: store password hashes (argon2/bcrypt) in real apps


def create_app(name: str = "example_app", redis_url: str | None = None, *, mirror: bool = False) -> Sanic:
    """The demo app; with ``redis_url`` revocations are shared and refresh tokens rotate
    (``mirror``: checks answered from a local copy of the blocklist)."""
    app = Sanic(name)

    with JWT.initialize(app) as manager:
        # SANIC_JWT_SECRET_KEY in the environment wins; otherwise a fresh random secret,
        # which logs everyone out on restart (fine for a demo).
        if not manager.config.secret_key:
            manager.config.secret_key = secrets.token_urlsafe(64)
        manager.config.use_blocklist = True  # in-memory store unless Redis is given
        manager.config.track_sessions = True  # each login is a session: GET /sessions lists them
        if redis_url:
            manager.config.blocklist = RedisBlocklist(redis_url, local_mirror=mirror)
            manager.config.refresh_token_rotation = True

    def credentials_ok(request: Request) -> tuple[str, bool]:
        body: Any = request.json
        if not isinstance(body, dict):
            return "", False
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return "", False
        expected = USERS.get(username, "")
        # Constant-time compare; the non-empty check keeps unknown users out.
        return username, bool(expected) and hmac.compare_digest(password.encode(), expected.encode())

    def bad_credentials() -> HTTPResponse:
        return json({"msg": "Bad username or password"}, status=401)

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        """Password checked: a fresh access token and a refresh token."""
        username, ok = credentials_ok(request)
        if not ok:
            return bad_credentials()
        device = SessionInfo(user_agent=request.headers.get("user-agent"), ip=request.remote_addr or request.ip)
        access, refresh, session = await manager.login(username, device, fresh=True)
        return json({"access_token": access, "refresh_token": refresh, "session_id": session.id})

    @app.post("/refresh")
    @refresh_jwt_required
    async def refresh(request: Request, token: Token) -> HTTPResponse:
        """No password here, so the new access token is not fresh."""
        if manager.config.refresh_token_rotation:
            # Single-use refresh tokens: presenting this one again revokes the whole family.
            access, refresh = await manager.rotate(token)
            return json({"access_token": access, "refresh_token": refresh})
        # A new access token in the same session (its last-used time moves).
        return json({"access_token": await manager.refresh_access_token(token)})

    @app.post("/logout")
    @jwt_required
    async def logout(request: Request, token: Token) -> HTTPResponse:
        """Revoke the access token that made this request."""
        await token.revoke()
        return json({"msg": "Access token revoked"})

    @app.post("/logout-everywhere")
    @jwt_required
    async def logout_everywhere(request: Request, token: Token) -> HTTPResponse:
        """Every token of this user issued until now stops working, on every device."""
        await manager.revoke_all(token.identity)
        return json({"msg": f"Every session of {token.identity} is revoked"})

    @app.get("/sessions")
    @jwt_required
    async def sessions(request: Request, token: Token) -> HTTPResponse:
        """The caller's signed-in devices; ``current`` marks the one making this request."""
        listed = await manager.sessions(token.identity)
        return json({"sessions": [{**s.as_dict(), "current": s.id == token.session_id} for s in listed]})

    @app.delete("/sessions/<session_id:str>")
    @jwt_required
    async def end_session(request: Request, token: Token, session_id: str) -> HTTPResponse:
        """Sign one device out: its tokens are refused from the next request on."""
        if not await manager.end_session(token.identity, session_id):
            return json({"msg": "No such session"}, status=404)
        return json({"msg": "Session ended"})

    @app.post("/sessions/end-others")
    @jwt_required
    async def end_other_sessions(request: Request, token: Token) -> HTTPResponse:
        """Sign out every other device; this one stays signed in."""
        ended = await manager.end_other_sessions(token)
        return json({"msg": f"{ended} other session(s) ended"})

    @app.post("/fresh-login")
    async def fresh_login(request: Request) -> HTTPResponse:
        """Re-enter the password for a fresh access token only (no new refresh token)."""
        username, ok = credentials_ok(request)
        if not ok:
            return bad_credentials()
        return json({"access_token": JWT.create_access_token(identity=username, fresh=True)})

    @app.get("/protected")
    @jwt_required
    async def protected(request: Request, token: Token) -> HTTPResponse:
        return json({"logged_in_as": token.identity, "fresh": token.fresh})

    @app.get("/protected-fresh")
    @jwt_required(fresh_required=True)
    async def protected_fresh(request: Request, token: Token) -> HTTPResponse:
        return json({"fresh_logged_in_as": token.identity})

    @app.get("/sensitive_operation")
    @jwt_required(fresh_required=True)
    async def sensitive_operation(request: Request, token: Token) -> HTTPResponse:
        return json({"msg": "You have access to this sensitive operation", "user": token.identity})

    return app


WALKTHROUGH = f"""
sanic-jwt-extended example on http://{HOST}:{PORT}
Try it (needs curl and jq; -w '\\n' ends each answer with a newline):

  # 1. log in: a fresh access token and a refresh token
  TOKENS=$(curl -s -X POST -H 'Content-Type: application/json' \\
      -d '{{"username":"test","password":"test"}}' http://{HOST}:{PORT}/login)
  ACCESS=$(echo "$TOKENS" | jq -r .access_token); REFRESH=$(echo "$TOKENS" | jq -r .refresh_token)

  # 2. the sensitive operation accepts the fresh token
  curl -s -w '\\n' -H "Authorization: Bearer $ACCESS" http://{HOST}:{PORT}/sensitive_operation

  # 3. refresh: a new, non-fresh access token
  NONFRESH=$(curl -s -X POST -H "Authorization: Bearer $REFRESH" http://{HOST}:{PORT}/refresh | jq -r .access_token)

  # 4. any token opens /protected ...
  curl -s -w '\\n' -H "Authorization: Bearer $NONFRESH" http://{HOST}:{PORT}/protected

  # 5. ... but the sensitive operation says 401 {{"msg": "Fresh token required"}}
  curl -s -i -w '\\n' -H "Authorization: Bearer $NONFRESH" http://{HOST}:{PORT}/sensitive_operation

  # 6. re-enter the password for a fresh token
  curl -s -w '\\n' -X POST -H 'Content-Type: application/json' \\
      -d '{{"username":"test","password":"test"}}' http://{HOST}:{PORT}/fresh-login

  # 7. log out: this access token is revoked, /protected now answers 401
  curl -s -w '\\n' -X POST -H "Authorization: Bearer $NONFRESH" http://{HOST}:{PORT}/logout
  curl -s -w '\\n' -H "Authorization: Bearer $NONFRESH" http://{HOST}:{PORT}/protected

  # 8. log out everywhere: every token of "test" issued so far stops working ...
  curl -s -w '\\n' -X POST -H "Authorization: Bearer $ACCESS" http://{HOST}:{PORT}/logout-everywhere

  # 9. ... the fresh access token of step 1 (401 "Token has been revoked") ...
  curl -s -w '\\n' -H "Authorization: Bearer $ACCESS" http://{HOST}:{PORT}/protected

  # 10. ... and the refresh token too: logging in again is the only way back
  curl -s -w '\\n' -X POST -H "Authorization: Bearer $REFRESH" http://{HOST}:{PORT}/refresh

  # 11. each login is a session (a signed-in device): log in again and list them
  AGAIN=$(curl -s -X POST -H 'Content-Type: application/json' \\
      -d '{{"username":"test","password":"test"}}' http://{HOST}:{PORT}/login | jq -r .access_token)
  curl -s -w '\\n' -H "Authorization: Bearer $AGAIN" http://{HOST}:{PORT}/sessions

  # 12. sign this device out: its access token is refused on the very next request
  SESSION=$(curl -s -H "Authorization: Bearer $AGAIN" http://{HOST}:{PORT}/sessions | jq -r '.sessions[0].id')
  curl -s -w '\\n' -X DELETE -H "Authorization: Bearer $AGAIN" http://{HOST}:{PORT}/sessions/$SESSION
  curl -s -w '\\n' -H "Authorization: Bearer $AGAIN" http://{HOST}:{PORT}/protected
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--redis", metavar="URL", help="share revocations through Redis and rotate refresh tokens")
    parser.add_argument("--mirror", action="store_true", help="with --redis: a local mirror of the blocklist")
    parser.add_argument("--no-access-log", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    print(WALKTHROUGH.replace(f"{HOST}:{PORT}", f"{args.host}:{args.port}"), flush=True)
    # One process: the demo's random secret must be shared by everything that verifies.
    # (Several processes or hosts share it through SANIC_JWT_SECRET_KEY.)
    # The access log is on so that a newcomer sees each request of the walkthrough arrive.
    create_app(redis_url=args.redis, mirror=args.mirror).run(
        host=args.host, port=args.port, single_process=True, access_log=not args.no_access_log
    )


if __name__ == "__main__":
    main()
