"""Unknown ``JWT_*`` / ``SANIC_JWT_*`` keys of ``app.config``: a warning naming the key and a
hint at startup, an error with ``strict_config``; our own keys keep working."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic

from sanic_jwt_extended import JWT, Config, JWTManager
from sanic_jwt_extended.app_config import FLASK_JWT_EXTENDED, SANIC_JWT, unknown_keys
from sanic_jwt_extended.exceptions import ConfigurationError

from ..helpers import SECRET

LOGGER = "sanic_jwt_extended"
OPTIONS = frozenset(f.name for f in dataclasses.fields(Config) if not f.name.startswith("_"))


def start(app_config: dict[str, Any], name: str = "app_config_app", **options: Any) -> JWTManager:
    app = Sanic(name)
    app.config.update(app_config)
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        for option, value in options.items():
            setattr(manager.config, option, value)
    return manager


# (app.config key, what the warning must say)
HINTS: list[tuple[str, str]] = [
    ("JWT_COOKIE_CSRF_PROTECT", "flask-jwt-extended's JWT_COOKIE_CSRF_PROTECT is 'csrf_protect' here"),
    ("JWT_HEADER_NAME", "set JWT_JWT_HEADER_KEY or config.jwt_header_key"),
    ("JWT_HEADER_TYPE", "'jwt_header_prefix'"),
    ("JWT_CSRF_METHODS", "'csrf_request_methods'"),
    ("JWT_DECODE_LEEWAY", "'leeway'"),
    ("JWT_ENCODE_AUDIENCE", "'default_aud'"),
    ("JWT_QUERY_STRING_NAME", "'jwt_query_param_name'"),
    ("JWT_BLACKLIST_ENABLED", "'use_blocklist'"),
    ("JWT_USER_CLAIMS", "has no equivalent here"),
    ("SANIC_JWT_SECRET", "sanic-jwt's SANIC_JWT_SECRET is 'secret_key' here"),
    ("SANIC_JWT_URL_PREFIX", "no built-in endpoints"),
    ("SANIC_JWT_SCOPES_ENABLED", "'use_acl'"),
    ("SANIC_JWT_SECRET_KEY", "in app.config the key is JWT_SECRET_KEY"),
    ("JWT_SECRET", "did you mean JWT_SECRET_KEY?"),
    ("JWT_ACCESS_TOKEN_EXPIRE", "did you mean JWT_ACCESS_TOKEN_EXPIRES?"),
    ("JWT_TOKEN_LOCATIONS", "did you mean JWT_TOKEN_LOCATION?"),
    ("SANIC_JWT_COOKIE_SECUR", "did you mean JWT_COOKIE_SECURE?"),
    ("JWT_XYZZY", "it is ignored"),
]


@pytest.mark.parametrize(("key", "hint"), HINTS)
def test_unknown_key_warns_with_a_hint(key: str, hint: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        manager = start({key: "x"})
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER and key in r.getMessage()]
    assert len(messages) == 1, caplog.text
    assert f"app.config[{key!r}]" in messages[0] and hint in messages[0]
    assert manager.settings.secret_key == SECRET  # the app still starts


@pytest.mark.parametrize(("key", "hint"), HINTS)
def test_strict_config_raises_naming_the_key(key: str, hint: str) -> None:
    with pytest.raises(ConfigurationError, match="strict_config") as raised:
        start({key: "x"}, strict_config=True)
    assert key in str(raised.value) and hint in str(raised.value)


def test_strict_config_from_the_app_config_and_nothing_registered() -> None:
    app = Sanic("app_config_strict")
    app.config.update({"JWT_STRICT_CONFIG": True, "JWT_HEADER_NAME": "X-Token"})
    with pytest.raises(ConfigurationError, match="JWT_HEADER_NAME"), JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
    with pytest.raises(ConfigurationError, match="no JWT manager"):
        JWTManager.get(app)


def test_our_keys_and_other_keys_say_nothing(caplog: pytest.LogCaptureFixture) -> None:
    keys = {
        "JWT_SECRET_KEY": SECRET,
        "JWT_COOKIE_SECURE": False,
        "JWT_CSRF_IN_COOKIES": False,
        "JWT_ACCESS_CSRF_HEADER_NAME": "X-A",
        "JWT_STRICT_CONFIG": True,
        # Not our prefixes: never looked at.
        "MY_JWT_THING": 1,
        "JWTX": 1,
        "jwt_secret": "lowercase keys are not ours either",
    }
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        manager = start(keys, "app_config_quiet")
    assert not [r for r in caplog.records if r.name == LOGGER], caplog.text
    settings = manager.settings
    assert (settings.cookie_secure, settings.csrf_in_cookies, settings.strict_config) == (False, False, True)
    assert settings.access_csrf_header_name == "X-A"


def test_every_key_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        start({"JWT_HEADER_NAME": "a", "JWT_SECRET": "b"}, "app_config_two")
    assert len([r for r in caplog.records if r.name == LOGGER and "app.config[" in r.getMessage()]) == 2


def test_environment_typo(monkeypatch: pytest.MonkeyPatch) -> None:
    # Sanic strips SANIC_ from environment variables: SANIC_JWT_SECRT arrives as JWT_SECRT.
    monkeypatch.setenv("SANIC_JWT_SECRT", "oops")
    with pytest.raises(ConfigurationError, match=r"JWT_SECRT.*did you mean JWT_SECRET_KEY\?"):
        start({}, "app_config_env", strict_config=True)


def test_tables_name_real_options() -> None:
    for table in (FLASK_JWT_EXTENDED, SANIC_JWT):
        for key, (option, note) in table.items():
            assert option in OPTIONS or (option is None and note), key
            # A flask-jwt-extended key equal to ours would never reach the table.
            assert option is None or key != f"JWT_{option.upper()}", key


def test_unknown_keys_ignores_non_string_keys() -> None:
    assert unknown_keys({1: "a", "JWT_SECRET_KEY": "b"}, {"secret_key"}) == ()  # type: ignore[dict-item]


# flask-jwt-extended 4.7's options (its JWTManager._set_default_configuration_options).
FJE_OPTIONS = [
    "JWT_ACCESS_TOKEN_EXPIRES",
    "JWT_ACCESS_COOKIE_NAME",
    "JWT_ACCESS_COOKIE_PATH",
    "JWT_ACCESS_CSRF_COOKIE_NAME",
    "JWT_ACCESS_CSRF_COOKIE_PATH",
    "JWT_ACCESS_CSRF_FIELD_NAME",
    "JWT_ACCESS_CSRF_HEADER_NAME",
    "JWT_ALGORITHM",
    "JWT_COOKIE_CSRF_PROTECT",
    "JWT_COOKIE_DOMAIN",
    "JWT_COOKIE_SAMESITE",
    "JWT_COOKIE_SECURE",
    "JWT_CSRF_CHECK_FORM",
    "JWT_CSRF_IN_COOKIES",
    "JWT_CSRF_METHODS",
    "JWT_DECODE_ALGORITHMS",
    "JWT_DECODE_AUDIENCE",
    "JWT_DECODE_ISSUER",
    "JWT_DECODE_LEEWAY",
    "JWT_ENCODE_AUDIENCE",
    "JWT_ENCODE_ISSUER",
    "JWT_ERROR_MESSAGE_KEY",
    "JWT_HEADER_NAME",
    "JWT_HEADER_TYPE",
    "JWT_IDENTITY_CLAIM",
    "JWT_JSON_KEY",
    "JWT_PRIVATE_KEY",
    "JWT_PUBLIC_KEY",
    "JWT_QUERY_STRING_NAME",
    "JWT_QUERY_STRING_VALUE_PREFIX",
    "JWT_REFRESH_COOKIE_NAME",
    "JWT_REFRESH_COOKIE_PATH",
    "JWT_REFRESH_CSRF_COOKIE_NAME",
    "JWT_REFRESH_CSRF_COOKIE_PATH",
    "JWT_REFRESH_CSRF_FIELD_NAME",
    "JWT_REFRESH_CSRF_HEADER_NAME",
    "JWT_REFRESH_JSON_KEY",
    "JWT_REFRESH_TOKEN_EXPIRES",
    "JWT_SECRET_KEY",
    "JWT_SESSION_COOKIE",
    "JWT_TOKEN_LOCATION",
    "JWT_VERIFY_SUB",
    "JWT_ENCODE_NBF",
]
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "coming-from-flask-jwt-extended.md"


@pytest.mark.parametrize("key", FJE_OPTIONS)
def test_every_flask_jwt_extended_option_works_or_is_hinted(key: str) -> None:
    # Either it is our option under the same name, or the startup report names ours.
    assert key.removeprefix("JWT_").lower() in OPTIONS or key in FLASK_JWT_EXTENDED
    # And the migration guide's table lists it (pairs are written "`A` / `B`").
    assert f"`{key}`" in GUIDE.read_text()
