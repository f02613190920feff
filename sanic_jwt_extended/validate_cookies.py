"""The cookie and CSRF options of ``Config.seal()``: attributes, names per token type, and
the combinations a browser would silently break. Framework-free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import istr

from .exceptions import ConfigurationError
from .validate import as_bool, as_choice, as_lifetime, as_max_age, as_name, as_str_list

__all__ = ("cookie_values",)

_SAMESITE = ("Strict", "Lax", "None")


def _csrf_names(config: Mapping[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    # One name per token type, resolved once: the CSRF check only picks one of two strings.
    out: dict[str, Any] = {}
    for kind in ("access", "refresh"):
        for part in ("header", "field"):
            option, fallback = f"{kind}_csrf_{part}_name", values[f"csrf_{part}_name"]
            name = fallback if config[option] is None else as_name(config[option], option)
            # A header name as an istr spares multidict its case-folding on every CSRF check.
            out[option] = istr(name) if part == "header" else name
    out["csrf_names_per_type"] = (out["access_csrf_header_name"], out["access_csrf_field_name"]) != (
        out["refresh_csrf_header_name"],
        out["refresh_csrf_field_name"],
    )
    return out


def cookie_values(config: Mapping[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    cookies = "cookies" in values["token_location"]
    out: dict[str, Any] = {
        "cookie_samesite": as_choice(config["cookie_samesite"], "cookie_samesite", _SAMESITE),
        "csrf_protect": as_bool(config["csrf_protect"], "csrf_protect"),
        "csrf_request_methods": tuple(
            method.upper() for method in as_str_list(config["csrf_request_methods"], "csrf_request_methods") or ()
        ),
        "cookie_max_age": as_max_age(config["cookie_max_age"]),
        "implicit_refresh": None
        if config["implicit_refresh"] is None
        else as_lifetime(config["implicit_refresh"], "implicit_refresh"),
    }
    out["csrf_in_cookies"] = as_bool(config["csrf_in_cookies"], "csrf_in_cookies")
    out.update(_csrf_names(config, values))
    out["cookie_domain"] = (
        None if config["cookie_domain"] is None else as_name(config["cookie_domain"], "cookie_domain")
    )
    if out["cookie_samesite"] == "None" and not values["cookie_secure"]:
        raise ConfigurationError(
            'cookie_samesite: "None" needs cookie_secure = True (browsers drop insecure SameSite=None cookies).'
        )
    if out["cookie_max_age"] is not None and values["session_cookie"]:
        raise ConfigurationError("cookie_max_age: is ignored while session_cookie is True; set session_cookie = False.")
    if out["implicit_refresh"] is False:
        raise ConfigurationError("implicit_refresh: must be a positive timedelta (or seconds), or None for off.")
    if out["implicit_refresh"] is not None and not cookies:
        raise ConfigurationError("implicit_refresh: refreshes cookies, so token_location must include 'cookies'.")
    if out["implicit_refresh"] is not None and out["csrf_protect"] and not out["csrf_in_cookies"]:
        # A reissued token carries a new CSRF value the page could not learn.
        raise ConfigurationError("csrf_in_cookies: implicit_refresh needs the CSRF cookies; keep it True.")
    return out
