"""The checks behind ``Config.seal()``: each turns one loose option into its exact type or
raises ``ConfigurationError`` naming the option and the fix. Framework-free."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .claims import RESERVED_CLAIMS
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .keys import KeySet
    from .settings import Lifetime

__all__ = (
    "COOKIE_NAMES",
    "NAMES",
    "PREFIXES",
    "RESERVED_CLAIMS",
    "TOKEN_LOCATIONS",
    "accepted_values",
    "as_audience",
    "as_bool",
    "as_choice",
    "as_cookie_name",
    "as_leeway",
    "as_lifetime",
    "as_log_level",
    "as_max_age",
    "as_methods",
    "as_name",
    "as_non_negative_int",
    "as_positive_int",
    "as_seconds",
    "as_str_list",
    "as_string",
    "check_claims",
    "jwks_values",
    "normalize_locations",
    "report_app_config",
)

# Canonical names, aliases, and which ones this release can read tokens from.
TOKEN_LOCATIONS = ("headers", "cookies", "query_string", "json")
_LOCATION_ALIASES = {"header": "headers", "cookie": "cookies", "query": "query_string"}
_HTTP_TOKEN = re.compile(r"[A-Z][A-Z0-9!#$%&'*+.^_`|~-]*")

logger = logging.getLogger("sanic_jwt_extended")


def jwks_values(config: Mapping[str, Any], keys: KeySet) -> dict[str, Any]:
    endpoint, url = config["jwks_endpoint"], config["jwks_url"]
    if endpoint is not None:
        if not isinstance(endpoint, str) or not endpoint.startswith("/"):
            raise ConfigurationError(f"jwks_endpoint: must be a path starting with '/', got {endpoint!r}.")
        if not keys.jwk_set()["keys"]:
            raise ConfigurationError("jwks_endpoint: HMAC secrets are never published; it needs asymmetric keys.")
    if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://"))):
        raise ConfigurationError(f"jwks_url: must be an http(s) URL, got {url!r}.")
    return {
        "jwks_endpoint": endpoint,
        "jwks_url": url,
        "jwks_max_age": as_positive_int(config["jwks_max_age"], "jwks_max_age"),
        "jwks_refetch_interval": as_seconds(config["jwks_refetch_interval"], "jwks_refetch_interval"),
        "jwks_cache_seconds": as_seconds(config["jwks_cache_seconds"], "jwks_cache_seconds"),
        "jwks_timeout": as_seconds(config["jwks_timeout"], "jwks_timeout"),
        "jwks_max_bytes": as_positive_int(config["jwks_max_bytes"], "jwks_max_bytes"),
        "jwks_max_keys": as_positive_int(config["jwks_max_keys"], "jwks_max_keys"),
    }


def report_app_config(problems: tuple[str, ...], strict: Any) -> bool:
    """Log each unknown ``app.config`` key, or raise naming them when ``strict_config`` is on."""
    if as_bool(strict, "strict_config") and problems:
        raise ConfigurationError(f"strict_config: {' '.join(problems)}")
    for problem in problems:
        logger.warning("%s (ignored; config.strict_config = True makes this an error)", problem)
    return bool(strict)


def as_bool(value: Any, option: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{option}: must be True or False, got {value!r}.")
    return value


def as_string(value: Any, option: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{option}: must be a string, got {value!r}.")
    return value


def as_name(value: Any, option: str) -> str:
    if not as_string(value, option).strip():
        raise ConfigurationError(f"{option}: must be a non-empty string.")
    return value  # type: ignore[no-any-return]


# RFC 6265 section 4.1.1: a cookie name is an RFC 2616 token. Sanic's parser skips any other
# name, so such a cookie could be set but never read back.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
COOKIE_NAMES = ("access_cookie_name", "refresh_cookie_name", "access_csrf_cookie_name", "refresh_csrf_cookie_name")


def as_cookie_name(value: Any, option: str) -> str:
    if not _COOKIE_NAME.fullmatch(as_name(value, option)):
        raise ConfigurationError(
            f"{option}: {value!r} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~ only, RFC 6265)."
        )
    return value  # type: ignore[no-any-return]


def as_positive_int(value: Any, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{option}: must be a positive integer, got {value!r}.")
    return value


def as_non_negative_int(value: Any, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{option}: must be an integer >= 0, got {value!r}.")
    return value


def as_choice(value: Any, option: str, choices: tuple[Any, ...]) -> Any:
    if isinstance(value, bool) or value not in choices:
        raise ConfigurationError(f"{option}: must be one of {choices}, got {value!r}.")
    return value


def as_str_list(value: Any, option: str) -> tuple[str, ...] | None:
    # Environment variables arrive as "a,b" strings.
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{option}: must be a list of strings, got {value!r}.")
    return tuple(value)


def as_methods(value: Any) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(method.strip().upper() for method in as_str_list(value, "exempt_methods") or ()))
    bad = [method for method in methods if not _HTTP_TOKEN.fullmatch(method)]
    if bad:
        raise ConfigurationError(f"exempt_methods: {bad} are not HTTP method names.")
    if methods:
        # A deliberate opt-out, but every degradation is logged.
        logger.warning("exempt_methods: protected views run WITHOUT authentication on %s", ", ".join(methods))
    return methods


def as_log_level(value: Any, option: str) -> int:
    """A ``logging`` level: a name (``"DEBUG"``, any case) or an integer >= 0."""
    if isinstance(value, str):
        level = logging.getLevelName(value.strip().upper())
        if isinstance(level, int):
            return level
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ConfigurationError(f"{option}: must be a logging level such as 'DEBUG', 'INFO' or 10, got {value!r}.")


def as_seconds(value: Any, option: str) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"{option}: must be positive seconds or a timedelta, got {value!r}.")
    return float(value)


def as_leeway(value: Any) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(f"leeway: must be seconds >= 0 or a timedelta, got {value!r}.")
    return float(value)


def as_lifetime(value: Any, option: str) -> Lifetime:
    if value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = timedelta(seconds=value)
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ConfigurationError(
            f"{option}: must be a positive timedelta (or seconds), or False for no expiry; got {value!r}."
        )
    return value


def normalize_locations(value: Any, option: str) -> tuple[str, ...]:
    names = as_str_list(value, option)
    if not names:
        raise ConfigurationError(f"{option}: must name at least one of {TOKEN_LOCATIONS}.")
    out: list[str] = []
    for name in names:
        canonical = _LOCATION_ALIASES.get(name, name)
        if canonical not in TOKEN_LOCATIONS:
            raise ConfigurationError(f"{option}: unknown location {name!r}; choose from {TOKEN_LOCATIONS}.")
        if canonical in out:
            raise ConfigurationError(f"{option}: {canonical!r} is listed twice.")
        out.append(canonical)
    return tuple(out)


def as_max_age(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = int(value.total_seconds())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"cookie_max_age: must be seconds >= 0 or a timedelta, got {value!r}.")
    return value


def as_audience(value: Any) -> str | tuple[str, ...] | None:
    if value is None or (isinstance(value, str) and value):
        return value
    names = as_str_list(value, "default_aud")
    if not names:
        raise ConfigurationError("default_aud: must be a non-empty string or list of strings.")
    return names


def check_claims(values: dict[str, Any]) -> None:
    if values["identity_claim"] in RESERVED_CLAIMS:
        raise ConfigurationError(f"identity_claim: {values['identity_claim']!r} is a reserved claim.")
    if values["acl_claim"] in RESERVED_CLAIMS | {"sub", values["identity_claim"]}:
        raise ConfigurationError(f"acl_claim: {values['acl_claim']!r} is a reserved claim.")
    if values["require_exp"] and (values["access_token_expires"] is False or values["refresh_token_expires"] is False):
        raise ConfigurationError(
            "access_token_expires/refresh_token_expires: False (no expiry) needs require_exp = False, "
            "otherwise this app would refuse its own tokens."
        )


# Options that must be non-empty strings (the cookie names, stricter: COOKIE_NAMES), and those
# that may be empty (prefixes).
NAMES = (
    "identity_claim",
    "acl_claim",
    "jwt_header_key",
    "refresh_jwt_header_key",
    "error_message_key",
    "access_cookie_path",
    "refresh_cookie_path",
    "access_csrf_cookie_path",
    "refresh_csrf_cookie_path",
    "csrf_header_name",
    "csrf_field_name",
    "jwt_query_param_name",
    "json_key",
    "refresh_json_key",
)
PREFIXES = ("jwt_header_prefix", "public_claim_namespace", "private_claim_prefix", "jwt_query_param_value_prefix")


def accepted_values(encode_nbf: Any, verify_sub: Any, audience: Any, issuer: Any) -> dict[str, Any]:
    """encode_nbf, verify_sub, and what verification accepts as aud/iss (None: the written value)."""
    return {
        "encode_nbf": as_bool(encode_nbf, "encode_nbf"),
        "verify_sub": as_bool(verify_sub, "verify_sub"),
        "decode_audience": _accepted(audience, "decode_audience"),
        "decode_issuer": _accepted(issuer, "decode_issuer"),
    }


def _accepted(value: Any, option: str) -> str | tuple[str, ...] | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    names = None if isinstance(value, str) else as_str_list(value, option)
    if not names or not all(name.strip() for name in names):
        raise ConfigurationError(f"{option}: must be a non-empty string or a list of non-empty strings.")
    return names
