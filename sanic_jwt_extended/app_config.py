"""``app.config`` keys that look like ours but are not: reported at startup, with a hint.

Options come from ``app.config["JWT_<OPTION>"]`` (Sanic strips ``SANIC_`` from environment
variables, so ``SANIC_JWT_SECRET_KEY`` arrives as ``JWT_SECRET_KEY``). A typo there would be
ignored in silence while the same typo in code raises; so every other key starting with
``JWT_`` or ``SANIC_JWT_`` is reported: a flask-jwt-extended name (``JWT_*``) or a sanic-jwt
name (``SANIC_JWT_*``) with the option it maps to, anything else with the closest option.
Only those two prefixes are looked at. Framework-free.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping

__all__ = ("FLASK_JWT_EXTENDED", "SANIC_JWT", "unknown_keys")

# flask-jwt-extended's options whose name differs from ours: key -> (our option, or None, note).
# Its other options (JWT_SECRET_KEY, JWT_TOKEN_LOCATION, JWT_COOKIE_SECURE, ...) have our name.
FLASK_JWT_EXTENDED: Mapping[str, tuple[str | None, str]] = {
    "JWT_COOKIE_CSRF_PROTECT": ("csrf_protect", ""),
    "JWT_CSRF_METHODS": ("csrf_request_methods", ""),
    "JWT_HEADER_NAME": ("jwt_header_key", ""),
    "JWT_HEADER_TYPE": ("jwt_header_prefix", ""),
    "JWT_DECODE_LEEWAY": ("leeway", ""),
    "JWT_ENCODE_AUDIENCE": ("default_aud", ""),
    "JWT_ENCODE_ISSUER": ("default_iss", ""),
    "JWT_QUERY_STRING_NAME": ("jwt_query_param_name", ""),
    "JWT_QUERY_STRING_VALUE_PREFIX": ("jwt_query_param_value_prefix", ""),
    # flask-jwt-extended 3.x
    "JWT_BLACKLIST_ENABLED": ("use_blocklist", ""),
    "JWT_BLACKLIST_TOKEN_CHECKS": ("blocklist_token_types", ""),
    "JWT_USER_CLAIMS": (None, "custom claims come from public_claims=/private_claims= or additional_claims_loader"),
    "JWT_CLAIMS_IN_REFRESH_TOKEN": (None, "pass public_claims= to create_refresh_token"),
}

# sanic-jwt's options (it reads SANIC_JWT_<OPTION> keys of app.config).
_NO_ENDPOINTS = "there are no built-in endpoints: write the routes (see docs/coming-from-sanic-jwt.md)"
SANIC_JWT: Mapping[str, tuple[str | None, str]] = {
    "SANIC_JWT_SECRET": ("secret_key", ""),
    "SANIC_JWT_ALGORITHM": ("algorithm", ""),
    "SANIC_JWT_PRIVATE_KEY": ("private_key", ""),
    "SANIC_JWT_PUBLIC_KEY": ("public_key", ""),
    "SANIC_JWT_EXPIRATION_DELTA": ("access_token_expires", ""),
    "SANIC_JWT_LEEWAY": ("leeway", ""),
    "SANIC_JWT_VERIFY_EXP": ("require_exp", ""),
    "SANIC_JWT_CLAIM_AUD": ("default_aud", ""),
    "SANIC_JWT_CLAIM_ISS": ("default_iss", ""),
    "SANIC_JWT_CLAIM_IAT": (None, "iat is always written"),
    "SANIC_JWT_CLAIM_NBF": ("encode_nbf", ""),
    "SANIC_JWT_CLAIM_NBF_DELTA": (None, "nbf is the issue time"),
    "SANIC_JWT_USER_ID": ("identity_claim", ""),
    "SANIC_JWT_SCOPES_ENABLED": ("use_acl", ""),
    "SANIC_JWT_SCOPES_NAME": ("acl_claim", ""),
    "SANIC_JWT_AUTHORIZATION_HEADER": ("jwt_header_key", ""),
    "SANIC_JWT_AUTHORIZATION_HEADER_PREFIX": ("jwt_header_prefix", ""),
    "SANIC_JWT_AUTHORIZATION_HEADER_REFRESH_PREFIX": (None, "refresh tokens use jwt_header_prefix too"),
    "SANIC_JWT_ACCESS_TOKEN_NAME": ("json_key", ""),
    "SANIC_JWT_REFRESH_TOKEN_NAME": ("refresh_json_key", ""),
    "SANIC_JWT_REFRESH_TOKEN_ENABLED": (None, "refresh tokens always exist: create_refresh_token()"),
    "SANIC_JWT_COOKIE_SET": ("token_location", "add 'cookies'"),
    "SANIC_JWT_COOKIE_ACCESS_TOKEN_NAME": ("access_cookie_name", ""),
    "SANIC_JWT_COOKIE_TOKEN_NAME": ("access_cookie_name", ""),
    "SANIC_JWT_COOKIE_REFRESH_TOKEN_NAME": ("refresh_cookie_name", ""),
    "SANIC_JWT_COOKIE_DOMAIN": ("cookie_domain", ""),
    "SANIC_JWT_COOKIE_PATH": ("access_cookie_path", ""),
    "SANIC_JWT_COOKIE_SECURE": ("cookie_secure", ""),
    "SANIC_JWT_COOKIE_SAMESITE": ("cookie_samesite", ""),
    "SANIC_JWT_COOKIE_MAX_AGE": ("cookie_max_age", ""),
    "SANIC_JWT_COOKIE_EXPIRES": ("cookie_max_age", ""),
    "SANIC_JWT_COOKIE_HTTPONLY": (None, "token cookies are always HttpOnly"),
    "SANIC_JWT_COOKIE_STRICT": (None, "token_location lists every place a token may come from"),
    "SANIC_JWT_COOKIE_SPLIT": (None, "the token travels whole in one HttpOnly cookie"),
    "SANIC_JWT_QUERY_STRING_SET": ("token_location", "add 'query_string'"),
    "SANIC_JWT_QUERY_STRING_ACCESS_TOKEN_NAME": ("jwt_query_param_name", ""),
    "SANIC_JWT_QUERY_STRING_STRICT": (None, "token_location lists every place a token may come from"),
    "SANIC_JWT_USER_SECRET_ENABLED": (None, "per-token keys come from encode_key_loader/decode_key_loader"),
    "SANIC_JWT_URL_PREFIX": (None, _NO_ENDPOINTS),
    "SANIC_JWT_PATH_TO_AUTHENTICATE": (None, _NO_ENDPOINTS),
    "SANIC_JWT_PATH_TO_REFRESH": (None, _NO_ENDPOINTS),
    "SANIC_JWT_PATH_TO_RETRIEVE_USER": (None, _NO_ENDPOINTS),
    "SANIC_JWT_PATH_TO_VERIFY": (None, _NO_ENDPOINTS),
    "SANIC_JWT_BLUEPRINT_NAME": (None, _NO_ENDPOINTS),
    "SANIC_JWT_STRICT_SLASHES": (None, _NO_ENDPOINTS),
    "SANIC_JWT_LOGIN_REDIRECT_URL": (None, _NO_ENDPOINTS),
    "SANIC_JWT_DEBUG": (None, "errors are logged on the sanic_jwt_extended logger"),
    "SANIC_JWT_AUTH_MODE": (None, "the library never mounts authentication routes"),
    "SANIC_JWT_DO_PROTECTION": (None, "protection is what jwt_required adds, route by route"),
}

_PREFIXES = ("JWT_", "SANIC_JWT_")


def key_of(option: str) -> str:
    """The ``app.config`` key of an option: ``secret_key`` -> ``JWT_SECRET_KEY``."""
    return f"JWT_{option.upper()}"


def unknown_keys(app_config: Iterable[str], options: Collection[str]) -> tuple[str, ...]:
    """One message per ``JWT_*`` / ``SANIC_JWT_*`` key of ``app_config`` that is no option,
    each naming the key and what to write instead."""
    ours = {key_of(option): option for option in options}
    problems = []
    for key in app_config:
        if isinstance(key, str) and key.startswith(_PREFIXES) and key not in ours:
            problems.append(f"app.config[{key!r}] is not an option of sanic-jwt-extended; {_hint(key, ours)}")
    return tuple(problems)


def _hint(key: str, ours: Mapping[str, str]) -> str:
    for library, table in (("flask-jwt-extended", FLASK_JWT_EXTENDED), ("sanic-jwt", SANIC_JWT)):
        if key in table:
            option, note = table[key]
            if option is None:
                return f"{library}'s {key} has no equivalent here: {note}."
            extra = f" ({note})" if note else ""
            return f"{library}'s {key} is {option!r} here{extra}: set {key_of(option)} or config.{option}."
    stripped = key.removeprefix("SANIC_")
    if stripped in ours:
        return f"Sanic strips SANIC_ from environment variables only; in app.config the key is {stripped}."
    close = difflib.get_close_matches(stripped, list(ours), n=1)
    return f"did you mean {close[0]}?" if close else "it is ignored."
