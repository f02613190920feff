"""``build_settings``: every option as written, checked and turned into one frozen ``Settings``.

``Config.seal()`` hands over the options as written (a mapping of every field); the checks
of each group live in ``validate``, ``validate_cookies`` and ``validate_stores``. Later
groups read the exact values of earlier ones (the cookie checks need ``token_location``).
Framework-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import istr

from .exceptions import ConfigurationError
from .key_loading import load_keys
from .keys import KeySet
from .settings import Settings
from .validate import (
    COOKIE_NAMES,
    NAMES,
    PREFIXES,
    accepted_values,
    as_audience,
    as_bool,
    as_choice,
    as_cookie_name,
    as_leeway,
    as_lifetime,
    as_log_level,
    as_methods,
    as_name,
    as_non_negative_int,
    as_positive_int,
    as_str_list,
    as_string,
    check_claims,
    jwks_values,
    normalize_locations,
    report_app_config,
)
from .validate_cookies import cookie_values
from .validate_stores import blocklist_store, blocklist_values, session_values

__all__ = ("build_settings",)


def build_settings(raw: Mapping[str, Any], app_config_problems: tuple[str, ...], *, blocklist_loader: bool) -> Settings:
    """``raw`` (every option as written) validated into ``Settings``.

    ``app_config_problems``: the unknown ``JWT_*`` keys, reported (or raised) here;
    ``blocklist_loader``: a ``token_in_blocklist_loader`` is registered (then no default
    store is made).
    """
    keys = _load_keys(raw)
    values: dict[str, Any] = {
        **_key_values(raw, keys),
        **_token_values(raw),
        **_names(raw),
        **jwks_values(raw, keys),
    }
    values.update(cookie_values(raw, values))
    values.update(blocklist_values(raw))
    values["strict_config"] = report_app_config(app_config_problems, raw["strict_config"])
    values["blocklist"] = blocklist_store(values, raw["blocklist"], blocklist_loader)
    values.update(session_values(raw, values))
    check_claims(values)
    required = ("iat", "jti", "type", values["identity_claim"], *(("exp",) if values["require_exp"] else ()))
    return Settings(
        keys=keys,
        **values,
        # Built once: an istr spares multidict the case-folding of the name on every lookup.
        header_keys=(istr(values["jwt_header_key"]), istr(values["refresh_jwt_header_key"])),
        required_claims=required,
        # Tokens carry a CSRF value only when they may travel in cookies.
        csrf_claims=values["csrf_protect"] and "cookies" in values["token_location"],
    )


def _load_keys(raw: Mapping[str, Any]) -> KeySet:
    return load_keys(
        algorithm=raw["algorithm"],
        decode_algorithms=as_str_list(raw["decode_algorithms"], "decode_algorithms"),
        secret_key=raw["secret_key"],
        private_key=raw["private_key"],
        public_key=raw["public_key"],
        allow_weak_secret=as_bool(raw["allow_weak_secret"], "allow_weak_secret"),
        key_id=None if raw["key_id"] is None else as_name(raw["key_id"], "key_id"),
        decode_keys=raw["decode_keys"],
        remote=raw["jwks_url"] is not None,
    )


def _key_values(raw: Mapping[str, Any], keys: KeySet) -> dict[str, Any]:
    return {
        "secret_key": raw["secret_key"],
        "algorithm": keys.algorithm,
        "private_key": raw["private_key"],
        "public_key": raw["public_key"],
        "decode_algorithms": keys.decode_algorithms,
        "key_id": raw["key_id"],
        "decode_keys": raw["decode_keys"],
        "allow_weak_secret": raw["allow_weak_secret"],
    }


def _token_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "leeway": as_leeway(raw["leeway"]),
        "access_token_expires": as_lifetime(raw["access_token_expires"], "access_token_expires"),
        "refresh_token_expires": as_lifetime(raw["refresh_token_expires"], "refresh_token_expires"),
        "require_exp": as_bool(raw["require_exp"], "require_exp"),
        "use_acl": as_bool(raw["use_acl"], "use_acl"),
        "token_location": normalize_locations(raw["token_location"], "token_location"),
        "default_aud": as_audience(raw["default_aud"]),
        "default_iss": None if raw["default_iss"] is None else as_name(raw["default_iss"], "default_iss"),
        "invalid_token_status": as_choice(raw["invalid_token_status"], "invalid_token_status", (400, 401, 422)),
        "max_token_bytes": as_positive_int(raw["max_token_bytes"], "max_token_bytes"),
        "verify_cache_size": as_non_negative_int(raw["verify_cache_size"], "verify_cache_size"),
        "exempt_methods": as_methods(raw["exempt_methods"]),
        **accepted_values(raw["encode_nbf"], raw["verify_sub"], raw["decode_audience"], raw["decode_issuer"]),
        "auth_failure_log_level": as_log_level(raw["auth_failure_log_level"], "auth_failure_log_level"),
    }


def _names(raw: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: as_bool(raw[name], name) for name in ("cookie_secure", "session_cookie", "csrf_check_form")
    }
    values.update((name, as_name(raw[name], name)) for name in NAMES)
    values.update((name, as_cookie_name(raw[name], name)) for name in COOKIE_NAMES)
    values.update((name, as_string(raw[name], name)) for name in PREFIXES)
    prefix = values["jwt_header_prefix"]
    if prefix != prefix.strip() or " " in prefix:
        raise ConfigurationError("jwt_header_prefix: must be one word without spaces, e.g. 'Bearer', or ''.")
    return values
