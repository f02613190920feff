"""Auth events over HTTP: failures logged (never the token), Sanic signals for failures,
successes, revocations, log-out-everywhere and refresh-token reuse, per app."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json

from sanic_jwt_extended import JWT, JWTManager, Token, jwt_required
from sanic_jwt_extended import refresh_jwt_required as refresh_required
from sanic_jwt_extended.exceptions import BlocklistUnavailableError, ConfigurationError, RevokedTokenError
from sanic_jwt_extended.testing import tokens_for
from sanic_jwt_extended.verification import verifier_of

from ..helpers import SECRET, Client, add_routes, b64url

AUTH_LOGGER = "sanic_jwt_extended.auth"


def events_app(name: str = "events", **options: Any) -> tuple[Sanic, JWTManager]:
    app = Sanic(name)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_blocklist = True
        manager.config.use_acl = True
        manager.config.token_location = ["headers", "cookies"]
        manager.config.refresh_token_rotation = True
        for option, value in options.items():
            setattr(manager.config, option, value)

        @manager.user_lookup_loader
        def user(token: Token) -> str | None:
            return None if token.identity == "ghost" else token.identity

    add_routes(app)

    @app.get("/admin")
    @jwt_required(allow=["admin"])
    async def admin(request: Request, token: Token) -> HTTPResponse:
        return json({})

    @app.post("/cookie-write")
    @jwt_required(locations=["cookies"])
    async def cookie_write(request: Request, token: Token) -> HTTPResponse:
        return json({})

    @app.post("/logout")
    @jwt_required
    async def logout(request: Request, token: Token) -> HTTPResponse:
        await token.revoke()
        return json({})

    @app.post("/logout-everywhere")
    @jwt_required
    async def everywhere(request: Request, token: Token) -> HTTPResponse:
        await manager.revoke_all(token.identity)
        return json({})

    @app.post("/rotate")
    @refresh_required
    async def rotate(request: Request, token: Token) -> HTTPResponse:
        access, refresh = await manager.rotate(token)
        return json({"access_token": access, "refresh_token": refresh})

    return app, manager


def listen(app: Sanic, event: str) -> list[dict[str, Any]]:
    """A real ``@app.signal`` handler recording every dispatch of ``event``."""
    seen: list[dict[str, Any]] = []

    @app.signal(event)
    async def record(**context: Any) -> None:
        seen.append(context)

    return seen


def expired(manager: JWTManager) -> str:
    return tokens_for(manager).expired("alice")


def bad_signature(manager: JWTManager) -> str:
    head, body, _ = manager.create_access_token("alice").split(".")
    return f"{head}.{body}.{b64url(b'x' * 32)}"


def revoked(manager: JWTManager) -> str:
    token = manager.create_access_token("alice")
    asyncio.run(manager.revoke(token))
    return token


# (name, method, path, make the request's headers, reason, code, status, location, verified)
# "verified": the token's signature verified, so jti and identity are known.
FAILURES: list[tuple[str, str, str, Any, str, str, int, str | None, bool]] = [
    ("no token", "GET", "/protected", lambda m: {}, "no_authorization", "no_authorization", 401, None, False),
    (
        "malformed header",
        "GET",
        "/protected",
        lambda m: {"Authorization": "Bearer a b"},
        "invalid_header",
        "invalid_header",
        422,
        None,
        False,
    ),
    # An expired token verified: its error carries it (exception.token).
    ("expired", "GET", "/protected", expired, "expired_signature", "token_expired", 401, "headers", True),
    ("bad signature", "GET", "/protected", bad_signature, "invalid_token", "invalid_signature", 422, "headers", False),
    (
        "wrong type",
        "GET",
        "/protected",
        lambda m: m.create_refresh_token("alice"),
        "wrong_token",
        "wrong_token_type",
        422,
        "headers",
        True,
    ),
    (
        "not fresh",
        "GET",
        "/fresh",
        lambda m: m.create_access_token("alice"),
        "fresh_token_required",
        "fresh_token_required",
        401,
        "headers",
        True,
    ),
    ("revoked", "GET", "/protected", revoked, "revoked_token", "token_revoked", 401, "headers", True),
    (
        "role denied",
        "GET",
        "/admin",
        lambda m: m.create_access_token("alice", role="user"),
        "access_denied",
        "access_denied",
        403,
        "headers",
        True,
    ),
    (
        "no csrf",
        "POST",
        "/cookie-write",
        lambda m: {"Cookie": f"access_token_cookie={m.create_access_token('alice')}"},
        "csrf_error",
        "csrf_error",
        401,
        "cookies",
        True,
    ),
    (
        "unknown user",
        "GET",
        "/protected",
        lambda m: m.create_access_token("ghost"),
        "user_lookup_error",
        "user_lookup_failed",
        401,
        "headers",
        True,
    ),
]


def headers_for(manager: JWTManager, make: Any) -> dict[str, str]:
    made = make(manager)
    return made if isinstance(made, dict) else {"Authorization": f"Bearer {made}"}


def token_in(headers: dict[str, str]) -> str | None:
    value = headers.get("Authorization") or headers.get("Cookie", "")
    token = value.rsplit(" ", 1)[-1].split("=", 1)[-1]
    return token if token.count(".") == 2 else None


@pytest.mark.parametrize(
    ("method", "path", "make", "reason", "code", "status", "location", "verified"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
def test_every_failure_is_logged_and_signalled(
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    make: Any,
    reason: str,
    code: str,
    status: int,
    location: str | None,
    verified: bool,
) -> None:
    app, manager = events_app()
    failed = listen(app, "jwt.auth.failed")
    headers = headers_for(manager, make)
    with caplog.at_level(logging.DEBUG, logger=AUTH_LOGGER):
        response = Client(app).request(method, path, headers=headers)
    assert response.status == status
    [record] = [r for r in caplog.records if r.name == AUTH_LOGGER]
    assert record.levelno == logging.DEBUG
    raw = token_in(headers)
    jti = manager.decode_token(raw, allow_expired=True).jti if verified and raw else None
    identity = None if not verified else "ghost" if reason == "user_lookup_error" else "alice"
    expected = {
        "reason": reason,
        "code": code,
        "status": status,
        "route": f"events.{path.strip('/').replace('-', '_')}",
        "path": path,
        "location": location,
        "jti": jti,
        "identity": identity,
    }
    assert {key: getattr(record, f"jwt_{key}") for key in expected} == expected
    message = record.getMessage()
    assert f"reason={reason} " in message and f"route={expected['route']} " in message
    assert f"location={location} " in message and f"jti={jti!r}" in message
    # The same context reaches a real signal handler, with the request and the exception.
    [context] = failed
    assert {key: context[key] for key in expected} == expected
    assert context["request"].path == path
    assert context["exception"].handler_name == reason


def test_the_token_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    app, manager = events_app()
    client = Client(app)
    sent: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="sanic_jwt_extended"):
        for _, method, path, make, *_ in FAILURES:
            headers = headers_for(manager, make)
            raw = token_in(headers)
            if raw is not None:
                sent.append(raw)
            assert client.request(method, path, headers=headers).status >= 400
    assert len(sent) >= 7
    records = [r for r in caplog.records if r.name.startswith("sanic_jwt_extended")]
    assert len(records) >= len(FAILURES)
    text = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in records)
    for raw in sent:
        signature = raw.rsplit(".", 1)[1]
        assert raw not in text
        assert signature not in text


@pytest.mark.parametrize(
    ("level", "expected"),
    [("INFO", logging.INFO), ("warning", logging.WARNING), (logging.ERROR, logging.ERROR), (5, 5)],
)
def test_log_level_is_configurable(caplog: pytest.LogCaptureFixture, level: Any, expected: int) -> None:
    app, _ = events_app(auth_failure_log_level=level)
    with caplog.at_level(1, logger=AUTH_LOGGER):
        assert Client(app).get("/protected").status == 401
    assert [r.levelno for r in caplog.records if r.name == AUTH_LOGGER] == [expected]


@pytest.mark.parametrize("level", ["LOUD", "", -1, True, 1.5, None])
def test_bad_log_level_fails_at_startup_naming_the_option(level: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"^auth_failure_log_level: must be a logging level"):
        events_app(auth_failure_log_level=level)


def test_log_level_from_app_config(caplog: pytest.LogCaptureFixture) -> None:
    app = Sanic("from_env")
    app.config["JWT_AUTH_FAILURE_LOG_LEVEL"] = "INFO"
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
    add_routes(app)
    with caplog.at_level(logging.INFO, logger=AUTH_LOGGER):
        assert Client(app).get("/protected").status == 401
    assert [r.levelno for r in caplog.records if r.name == AUTH_LOGGER] == [logging.INFO]


def test_no_listener_no_signal_and_no_success_hook() -> None:
    app, manager = events_app()
    client = Client(app)
    assert client.get("/protected").status == 401  # nobody listens: nothing dispatched, no error
    assert client.get("/protected", manager.create_access_token("alice")).status == 200
    assert verifier_of(app).on_success is None


def test_a_raising_listener_changes_no_response(caplog: pytest.LogCaptureFixture) -> None:
    app, manager = events_app()

    @app.signal("jwt.auth.failed")
    async def broken(**context: Any) -> None:
        raise RuntimeError("listener bug")

    @app.signal("jwt.auth.succeeded")
    def broken_sync(**context: Any) -> None:
        raise RuntimeError("sync listener bug")

    client = Client(app)
    with caplog.at_level(logging.ERROR, logger="sanic_jwt_extended"):
        refused = client.get("/protected")
        accepted = client.get("/protected", manager.create_access_token("alice"))
    assert refused.status == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert accepted.status == 200 and accepted.json["identity"] == "alice"
    failures = [r for r in caplog.records if r.name == "sanic_jwt_extended" and r.levelno == logging.ERROR]
    assert sorted(r.getMessage() for r in failures) == [
        "a handler of the jwt.auth.failed signal raised",
        "a handler of the jwt.auth.succeeded signal raised",
    ]


def test_refusal_is_the_same_with_and_without_a_raising_listener() -> None:
    quiet, _ = events_app("quiet")
    loud, _ = events_app("loud")

    @loud.signal("jwt.auth.failed")
    async def broken(**context: Any) -> None:
        raise RuntimeError("listener bug")

    first, second = Client(quiet).get("/protected"), Client(loud).get("/protected")
    assert (first.status, first.json, first.headers["www-authenticate"]) == (
        second.status,
        second.json,
        second.headers["www-authenticate"],
    )


def test_success_signal_only_with_a_listener() -> None:
    app, manager = events_app()
    succeeded = listen(app, "jwt.auth.succeeded")
    token = manager.create_access_token("alice")
    client = Client(app)
    assert client.get("/protected", token).status == 200
    assert client.get("/optional").status == 200  # no token: not a success event
    [context] = succeeded
    assert context["identity"] == "alice" and context["jti"] == manager.decode_token(token).jti
    assert context["route"] == "events.protected" and context["location"] == "headers"
    assert isinstance(context["token"], Token) and context["request"].path == "/protected"


def test_wildcard_listener_sees_every_event() -> None:
    app, manager = events_app()
    seen: list[str] = []

    @app.signal("jwt.auth.<outcome>")
    async def record(outcome: str, **context: Any) -> None:
        seen.append(outcome)

    client = Client(app)
    client.get("/protected")
    client.get("/protected", manager.create_access_token("alice"))
    assert seen == ["failed", "succeeded"]


def test_revocation_signals() -> None:
    app, manager = events_app()
    revoked_tokens = listen(app, "jwt.token.revoked")
    identities = listen(app, "jwt.identity.revoked")
    client = Client(app)
    token = manager.create_access_token("alice")
    assert client.post("/logout", token).status == 200
    [context] = revoked_tokens
    assert context["jti"] == manager.decode_token(token).jti and context["identity"] == "alice"
    assert context["request"].path == "/logout"

    assert client.post("/logout-everywhere", manager.create_access_token("bob")).status == 200
    [context] = identities
    assert context["identity"] == "bob" and context["request"].path == "/logout-everywhere"


def test_revoking_a_bare_jti_has_no_identity() -> None:
    app, manager = events_app()
    revoked_tokens = listen(app, "jwt.token.revoked")

    @app.post("/revoke-jti")
    async def revoke_jti(request: Request) -> HTTPResponse:
        await manager.revoke("some-jti")
        return json({})

    assert Client(app).post("/revoke-jti").status == 200
    [context] = revoked_tokens
    assert (context["jti"], context["identity"]) == ("some-jti", None)


def test_refresh_token_reuse_signal(caplog: pytest.LogCaptureFixture) -> None:
    app, manager = events_app()
    reused = listen(app, "jwt.refresh.reused")
    failed = listen(app, "jwt.auth.failed")
    client = Client(app)
    refresh = manager.create_refresh_token("alice")
    assert client.post("/rotate", refresh).status == 200
    with caplog.at_level(logging.DEBUG, logger=AUTH_LOGGER):
        assert client.post("/rotate", refresh).status == 401  # reuse: the family is revoked
    token = manager.decode_token(refresh)
    [context] = reused
    assert (context["jti"], context["identity"], context["family"]) == (token.jti, "alice", token.family)
    assert context["request"].path == "/rotate"
    # The failure that answered the reuse carries the verified token's jti and identity.
    [failure] = failed
    assert (failure["reason"], failure["jti"], failure["identity"]) == ("revoked_token", token.jti, "alice")
    assert isinstance(failure["exception"], RevokedTokenError)
    [record] = [r for r in caplog.records if r.name == AUTH_LOGGER]
    assert record.jwt_jti == token.jti


def test_two_apps_never_see_each_others_events(caplog: pytest.LogCaptureFixture) -> None:
    first, first_manager = events_app("first")
    second, second_manager = events_app("second")
    seen = {name: listen(app, "jwt.auth.failed") for name, app in (("first", first), ("second", second))}
    revoked_seen = {name: listen(app, "jwt.token.revoked") for name, app in (("first", first), ("second", second))}
    with caplog.at_level(logging.DEBUG, logger=AUTH_LOGGER):
        assert Client(first).get("/protected").status == 401
        assert Client(first).post("/logout", first_manager.create_access_token("alice")).status == 200
    assert [c["route"] for c in seen["first"]] == ["first.protected"]
    assert seen["second"] == [] and revoked_seen["second"] == [] and len(revoked_seen["first"]) == 1
    assert [r.jwt_route for r in caplog.records if r.name == AUTH_LOGGER] == ["first.protected"]
    # The second app's own listeners still work.
    assert Client(second).get("/fresh", second_manager.create_access_token("bob")).status == 401
    assert [c["route"] for c in seen["second"]] == ["second.fresh"] and len(seen["first"]) == 1


def test_preflight_is_not_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = events_app()

    @app.route("/both", methods=["GET", "OPTIONS"])
    @jwt_required
    async def both(request: Request, token: Token) -> HTTPResponse:
        return json({})

    failed = listen(app, "jwt.auth.failed")
    preflight = {"Origin": "https://example.com", "Access-Control-Request-Method": "GET"}
    with caplog.at_level(logging.DEBUG, logger=AUTH_LOGGER):
        assert Client(app).request("OPTIONS", "/both", headers=preflight).status == 204
    assert failed == [] and [r for r in caplog.records if r.name == AUTH_LOGGER] == []


def test_revocations_outside_a_served_app_dispatch_nothing() -> None:
    app, manager = events_app()
    revoked_tokens = listen(app, "jwt.token.revoked")
    # Never served: listeners are found when the server starts, so nothing is dispatched.
    asyncio.run(manager.revoke(manager.create_access_token("alice")))
    asyncio.run(manager.revoke_all("alice"))
    assert revoked_tokens == []


def test_reuse_found_by_verification_signals_and_logs_the_token_ids(caplog: pytest.LogCaptureFixture) -> None:
    app, manager = events_app()
    reused = listen(app, "jwt.refresh.reused")
    client = Client(app)
    refresh = manager.create_refresh_token("alice")
    assert client.post("/rotate", refresh).status == 200
    with caplog.at_level(logging.DEBUG, logger=AUTH_LOGGER):
        assert client.post("/refresh", refresh).status == 401  # the spent token, on another route
    token = manager.decode_token(refresh)
    assert [(c["jti"], c["family"], c["request"].path) for c in reused] == [(token.jti, token.family, "/refresh")]
    [record] = [r for r in caplog.records if r.name == AUTH_LOGGER]
    assert (record.jwt_reason, record.jwt_jti, record.jwt_identity) == ("revoked_token", token.jti, "alice")


def test_unreachable_store_503_is_logged_with_the_token_ids(caplog: pytest.LogCaptureFixture) -> None:
    app = Sanic("unreachable")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        manager.config.use_blocklist = True

        @manager.token_in_blocklist_loader
        def down(token: Token) -> bool:
            raise BlocklistUnavailableError()

    add_routes(app)
    failed = listen(app, "jwt.auth.failed")
    token = manager.create_access_token("alice")
    with caplog.at_level(logging.DEBUG, logger=AUTH_LOGGER):
        assert Client(app).get("/protected", token).status == 503
    [record] = [r for r in caplog.records if r.name == AUTH_LOGGER]
    assert (record.jwt_reason, record.jwt_status, record.jwt_identity) == ("blocklist_unavailable", 503, "alice")
    assert [(c["reason"], c["jti"]) for c in failed] == [("blocklist_unavailable", manager.decode_token(token).jti)]


def test_blueprint_listeners_are_found() -> None:
    app, _ = events_app()
    seen: list[str] = []
    bp = Blueprint("audit")

    @bp.signal("jwt.auth.failed")
    async def record(reason: str, **context: Any) -> None:
        seen.append(reason)

    app.blueprint(bp)
    assert Client(app).get("/protected").status == 401
    assert seen == ["no_authorization"]
