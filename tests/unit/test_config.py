"""Config: precedence, validation at the end of the with-block (naming the option), freezing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sanic import Sanic

from sanic_jwt_extended import JWT, Config
from sanic_jwt_extended.exceptions import ConfigurationError

from ..helpers import SECRET


def init(app_config: dict[str, Any] | None = None, **options: Any) -> Config:
    app = Sanic("config_app")
    app.config.update(app_config or {})
    with JWT.initialize(app) as manager:
        for name, value in options.items():
            setattr(manager.config, name, value)
    return manager.config


def test_defaults() -> None:
    config = init(secret_key=SECRET)
    assert config.algorithm == "HS256"
    assert config.access_token_expires == timedelta(minutes=15)
    assert config.refresh_token_expires == timedelta(days=30)
    assert config.token_location == ("headers",)
    assert (config.jwt_header_key, config.jwt_header_prefix) == ("Authorization", "Bearer")
    assert config.refresh_jwt_header_key == "Authorization"
    assert (config.identity_claim, config.acl_claim, config.use_acl) == ("sub", "role", False)
    assert (config.error_message_key, config.invalid_token_status) == ("msg", 422)
    assert config.decode_algorithms == ("HS256",)
    assert config.max_token_bytes == 8192


def test_app_config_then_with_block_precedence() -> None:
    config = init({"JWT_SECRET_KEY": SECRET, "JWT_ALGORITHM": "HS384", "JWT_LEEWAY": 5}, algorithm="HS512")
    assert config.secret_key == SECRET
    assert config.algorithm == "HS512"
    assert config.leeway == 5.0


def test_environment_variables_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANIC_JWT_SECRET_KEY", SECRET)
    monkeypatch.setenv("SANIC_JWT_ACCESS_TOKEN_EXPIRES", "60")
    monkeypatch.setenv("SANIC_JWT_DECODE_ALGORITHMS", "HS256,HS384")
    app = Sanic("env_app")
    with JWT.initialize(app) as manager:
        pass
    assert manager.config.secret_key == SECRET
    assert manager.config.access_token_expires == timedelta(seconds=60)
    assert manager.config.decode_algorithms == ("HS256", "HS384")


# (option values, the option the error must name)
INVALID: list[tuple[dict[str, Any], str]] = [
    ({}, "secret_key"),
    ({"secret_key": "short"}, "secret_key"),
    ({"secret_key": "x" * 40, "algorithm": "HS512"}, "secret_key"),
    ({"secret_key": SECRET, "algorithm": "none"}, "algorithm"),
    ({"secret_key": SECRET, "algorithm": "NONE"}, "algorithm"),
    ({"secret_key": SECRET, "algorithm": "HS999"}, "algorithm"),
    ({"secret_key": SECRET, "decode_algorithms": ["HS256", "none"]}, "decode_algorithms"),
    ({"secret_key": SECRET, "decode_algorithms": ["HS256", "RS256"]}, "decode_algorithms"),
    ({"secret_key": SECRET, "decode_algorithms": []}, "decode_algorithms"),
    ({"secret_key": SECRET, "leeway": -1}, "leeway"),
    ({"secret_key": SECRET, "access_token_expires": timedelta(0)}, "access_token_expires"),
    ({"secret_key": SECRET, "access_token_expires": -5}, "access_token_expires"),
    ({"secret_key": SECRET, "refresh_token_expires": "soon"}, "refresh_token_expires"),
    ({"secret_key": SECRET, "access_token_expires": False}, "access_token_expires"),
    ({"secret_key": SECRET, "token_location": ["headers", "carrier-pigeon"]}, "token_location"),
    ({"secret_key": SECRET, "token_location": []}, "token_location"),
    ({"secret_key": SECRET, "token_location": ["headers", "header"]}, "token_location"),
    ({"secret_key": SECRET, "invalid_token_status": 500}, "invalid_token_status"),
    ({"secret_key": SECRET, "jwt_header_key": ""}, "jwt_header_key"),
    ({"secret_key": SECRET, "jwt_header_prefix": "Bearer x"}, "jwt_header_prefix"),
    ({"secret_key": SECRET, "identity_claim": "type"}, "identity_claim"),
    ({"secret_key": SECRET, "acl_claim": "sub"}, "acl_claim"),
    ({"secret_key": SECRET, "use_acl": "yes"}, "use_acl"),
    ({"secret_key": SECRET, "max_token_bytes": 0}, "max_token_bytes"),
    ({"secret_key": SECRET, "default_aud": []}, "default_aud"),
    ({"secret_key": SECRET, "access_cookie_name": "my token"}, "access_cookie_name"),
    ({"secret_key": SECRET, "refresh_cookie_name": "a;b"}, "refresh_cookie_name"),
    ({"secret_key": SECRET, "access_csrf_cookie_name": "csrf=x"}, "access_csrf_cookie_name"),
    ({"secret_key": SECRET, "refresh_csrf_cookie_name": "caf\u00e9"}, "refresh_csrf_cookie_name"),
    ({"algorithm": "RS256"}, "private_key"),
    ({"algorithm": "RS256", "secret_key": SECRET}, "secret_key"),
]


@pytest.mark.parametrize(("options", "option"), INVALID, ids=[f"{o}-{i}" for i, (_, o) in enumerate(INVALID)])
def test_invalid_options_fail_at_startup_naming_the_option(options: dict[str, Any], option: str) -> None:
    app = Sanic("bad_config")
    with pytest.raises(ConfigurationError, match=rf"^{option}"), JWT.initialize(app) as manager:
        for name, value in options.items():
            setattr(manager.config, name, value)
    # nothing registered: the app can be initialized again once fixed
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET


def test_weak_secret_allowed_only_explicitly() -> None:
    config = init(secret_key="secret", allow_weak_secret=True)
    assert config.secret_key == "secret"


def test_no_expiry_needs_require_exp_false() -> None:
    config = init(secret_key=SECRET, access_token_expires=False, require_exp=False)
    assert config.access_token_expires is False


def test_location_aliases_are_normalised() -> None:
    assert init(secret_key=SECRET, token_location=["header"]).token_location == ("headers",)
    assert init(secret_key=SECRET, token_location="headers").token_location == ("headers",)


def test_unknown_option_suggests_the_right_one() -> None:
    app = Sanic("typo")
    with pytest.raises(ConfigurationError, match="Did you mean 'secret_key'"), JWT.initialize(app) as manager:
        manager.config.secret_kye = SECRET


def test_frozen_after_the_block() -> None:
    config = init(secret_key=SECRET)
    with pytest.raises(ConfigurationError, match="frozen"):
        config.algorithm = "HS512"
    assert config.algorithm == "HS256"


def test_exception_in_block_registers_nothing() -> None:
    app = Sanic("boom")
    with pytest.raises(RuntimeError), JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
        raise RuntimeError("user code failed")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = SECRET
    assert manager.config.secret_key == SECRET


def test_repr_hides_secrets() -> None:
    config = init(secret_key=SECRET)
    assert SECRET not in repr(config)
    assert "HS256" in repr(config)


def test_seal_returns_frozen_settings_and_leaves_the_config_as_written() -> None:
    import dataclasses

    from sanic_jwt_extended.settings import Settings

    config = Config(secret_key=SECRET, leeway=timedelta(seconds=3), token_location=["header", "cookies"])
    config.access_token_expires = 60
    settings = config.seal()
    assert isinstance(settings, Settings)
    assert (settings.leeway, settings.token_location) == (3.0, ("headers", "cookies"))
    assert settings.access_token_expires == timedelta(seconds=60)
    assert settings.csrf_claims is True
    assert settings.required_claims == ("iat", "jti", "type", "sub", "exp")
    # Written values are kept; reads answer with what the app runs with.
    assert vars(config)["token_location"] == ["header", "cookies"]
    assert vars(config)["access_token_expires"] == 60
    assert config.token_location == ("headers", "cookies")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.leeway = 1.0  # type: ignore[misc]
    assert not hasattr(settings, "__dict__")  # slotted


def test_header_only_config_gives_tokens_no_csrf_claim() -> None:
    assert Config(secret_key=SECRET).seal().csrf_claims is False
    assert Config(secret_key=SECRET, token_location=["cookies"], csrf_protect=False).seal().csrf_claims is False
