"""Every option, declared once; validated and frozen when the ``with JWT.initialize`` block ends.

Precedence (lowest first): the library default, ``app.config["JWT_<OPTION>"]`` (so
``SANIC_JWT_<OPTION>`` environment variables work), then values set in the with-block.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .blocklist.base import Blocklist
from .exceptions import ConfigurationError
from .keys import KeySet, load_keys

__all__ = ("TOKEN_LOCATIONS", "Config", "normalize_locations")

# Canonical names, aliases, and which ones this release can read tokens from.
TOKEN_LOCATIONS = ("headers", "cookies", "query_string", "json")
_LOCATION_ALIASES = {"header": "headers", "cookie": "cookies", "query": "query_string"}
_SAMESITE = ("Strict", "Lax", "None")
_HTTP_TOKEN = re.compile(r"[A-Z][A-Z0-9!#$%&'*+.^_`|~-]*")

logger = logging.getLogger("sanic_jwt_extended")


@dataclass
class Config:
    """Options of one app's manager. Set them as attributes inside the with-block."""

    secret_key: str | bytes | None = field(default=None, repr=False)
    """HMAC secret for HS* algorithms; at least as long as the hash (32 bytes for HS256)."""
    algorithm: str = "HS256"
    """Signing algorithm. Pinned: a token never chooses how it is verified."""
    private_key: Any = field(default=None, repr=False)
    """PEM (str/bytes) or ``cryptography`` private key, for RS*/PS*/ES*/EdDSA."""
    public_key: Any = None
    """PEM or ``cryptography`` public key; derived from ``private_key`` when unset."""
    decode_algorithms: Sequence[str] | None = None
    """Algorithms accepted when verifying; defaults to ``(algorithm,)``; each key accepts only its family's."""
    key_id: str | None = None
    """The ``kid`` written into every token header; defaults to the key's RFC 7638 thumbprint."""
    decode_keys: Any = field(default=None, repr=False)
    """Retired verification keys, ``{kid: key}`` or a list (kid = thumbprint), kept until their tokens expire."""
    jwks_endpoint: str | None = None
    """Path serving the public keys as a JWK Set, e.g. "/.well-known/jwks.json"; off when None."""
    jwks_max_age: int = 300
    """Cache-Control max-age (seconds) of the JWK Set response."""
    jwks_url: str | None = None
    """Resource-server mode: verify tokens with keys fetched from this JWK Set URL."""
    jwks_refetch_interval: float = 60.0
    """Minimum seconds between JWK Set fetches triggered by an unknown kid."""
    jwks_cache_seconds: float = 3600.0
    """How long a fetched JWK Set is used before it is fetched again."""
    jwks_timeout: float = 5.0
    """Deadline for a whole JWK Set fetch; a request waiting on a refresh longer than this gets 503."""
    jwks_max_bytes: int = 512 * 1024
    """A larger JWK Set document is refused (logged; the previous keys stay in use)."""
    jwks_max_keys: int = 100
    """A JWK Set with more keys is refused (logged; the previous keys stay in use)."""
    leeway: float | timedelta = 0
    """Clock skew tolerated on exp/nbf/iat, in seconds or as a timedelta."""
    access_token_expires: timedelta | int | bool = timedelta(minutes=15)
    """Default access-token lifetime: a positive timedelta (or seconds), or False for none."""
    refresh_token_expires: timedelta | int | bool = timedelta(days=30)
    """Default refresh-token lifetime: a positive timedelta (or seconds), or False for none."""
    require_exp: bool = True
    """Refuse tokens without ``exp``; set False to issue and accept non-expiring tokens."""
    default_iss: str | None = None
    """Written into every token as ``iss`` and required on verification when set."""
    default_aud: str | Sequence[str] | None = None
    """Written into every token as ``aud`` and required on verification when set."""
    identity_claim: str = "sub"
    """Claim that carries the identity."""
    token_location: Sequence[str] = ("headers",)
    """Where tokens are looked for, in order: any of headers, cookies, query_string, json."""
    jwt_header_key: str = "Authorization"
    """Header carrying access tokens."""
    jwt_header_prefix: str = "Bearer"
    """Scheme before the token, matched case-insensitively; empty for a bare token."""
    refresh_jwt_header_key: str = "Authorization"
    """Header carrying refresh tokens on ``refresh_jwt_required`` routes."""
    use_acl: bool = False
    """Enable roles: the ``role=`` argument and ``allow=``/``deny=`` on decorators."""
    acl_claim: str = "role"
    """Claim that carries the role(s)."""
    public_claim_namespace: str = ""
    """Prefix written before every public claim name (e.g. ``"https://example.com/"``)."""
    private_claim_prefix: str = ""
    """Prefix written before every private claim name."""
    error_message_key: str = "msg"
    """Key of the message in default JSON error bodies."""
    invalid_token_status: int = 422
    """Status of the "invalid token" rows of the error table; 401 for strict RFC 6750."""
    access_cookie_name: str = "access_token_cookie"
    """Cookie holding the access token (HttpOnly)."""
    refresh_cookie_name: str = "refresh_token_cookie"
    """Cookie holding the refresh token (HttpOnly)."""
    access_cookie_path: str = "/"
    """Path of the access-token cookie."""
    refresh_cookie_path: str = "/"
    """Path of the refresh-token cookie; narrow it (e.g. "/refresh") so it travels less."""
    cookie_domain: str | None = None
    """Domain attribute of every cookie; None keeps cookies on the exact host."""
    cookie_secure: bool = True
    """Secure attribute: cookies only travel over HTTPS. Turn off for plain-HTTP development only."""
    cookie_samesite: str = "Lax"
    """SameSite attribute: "Strict", "Lax" or "None" ("None" needs cookie_secure)."""
    session_cookie: bool = True
    """Cookies without Max-Age, gone when the browser closes; False uses cookie_max_age."""
    cookie_max_age: int | timedelta | None = None
    """Max-Age when session_cookie is False (0 is honoured); None follows the token's lifetime."""
    csrf_protect: bool = True
    """Double-submit CSRF check for cookie-borne tokens on csrf_request_methods."""
    csrf_request_methods: Sequence[str] = ("POST", "PUT", "PATCH", "DELETE")
    """Methods on which a cookie-borne token needs the CSRF header."""
    exempt_methods: Sequence[str] = ()
    """Methods on which protected views run WITHOUT authentication (token None). Risky: see views.md."""
    access_csrf_cookie_name: str = "csrf_access_token"
    """Readable cookie carrying the access token's CSRF value for page script."""
    refresh_csrf_cookie_name: str = "csrf_refresh_token"
    """Readable cookie carrying the refresh token's CSRF value for page script."""
    access_csrf_cookie_path: str = "/"
    """Path of the access CSRF cookie."""
    refresh_csrf_cookie_path: str = "/"
    """Path of the refresh CSRF cookie."""
    csrf_header_name: str = "X-CSRF-Token"
    """Header in which page script echoes the CSRF cookie."""
    csrf_check_form: bool = False
    """Also accept the CSRF value from a form field (for plain HTML form posts)."""
    csrf_field_name: str = "csrf_token"
    """Form field checked when csrf_check_form is on."""
    jwt_query_param_name: str = "jwt"
    """Query parameter carrying the token when query_string is a location."""
    jwt_query_param_value_prefix: str = ""
    """Prefix expected before the token in the query value (e.g. "Bearer "), stripped."""
    json_key: str = "access_token"
    """Key of the access token in a JSON object body."""
    refresh_json_key: str = "refresh_token"
    """Key of the refresh token in a JSON object body."""
    use_blocklist: bool = False
    """Check every token against a revocation store (or token_in_blocklist_loader)."""
    blocklist: Any = None
    """The store: InMemoryBlocklist() (default, one process) or RedisBlocklist(...) (shared)."""
    blocklist_token_types: Sequence[str] = ("access", "refresh")
    """Token types checked against the store."""
    blocklist_unavailable: str = "fail_closed"
    """When the store cannot be reached: "fail_closed" answers 503, "fail_open" lets tokens through (logged)."""
    refresh_token_rotation: bool = False
    """Refresh tokens are single use: manager.rotate() issues the next one, reuse revokes the family."""
    implicit_refresh: timedelta | int | None = None
    """Reissue the access cookie when a cookie-borne token expires within this window; off when None."""
    verify_cache_size: int = 10_000
    """Verified tokens remembered so repeat requests skip the signature check; 0 disables."""
    max_token_bytes: int = 8192
    """Longer tokens are refused before any decoding work."""
    allow_weak_secret: bool = False
    """Accept an HMAC secret shorter than RFC 7518 §3.2 requires. Never in production."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        if getattr(self, "_sealed", False):
            raise ConfigurationError(
                f"{name}: the configuration is frozen once the `with JWT.initialize(app)` block "
                "ends; set options inside the block."
            )
        if name not in _FIELD_NAMES:
            close = difflib.get_close_matches(name, _FIELD_NAMES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(f"{name}: unknown option.{hint}")
        object.__setattr__(self, name, value)

    @classmethod
    def from_app_config(cls, app_config: Mapping[str, Any]) -> Config:
        """Defaults overlaid with ``JWT_<OPTION>`` keys of a Sanic app config."""
        config = cls()
        for name in _FIELD_NAMES:
            key = f"JWT_{name.upper()}"
            if key in app_config:
                setattr(config, name, app_config[key])
        return config

    def seal(self) -> KeySet:
        """Validate every option, normalise it, freeze the config and return the keys."""
        keys = load_keys(
            algorithm=self.algorithm,
            decode_algorithms=_str_list(self.decode_algorithms, "decode_algorithms"),
            secret_key=self.secret_key,
            private_key=self.private_key,
            public_key=self.public_key,
            allow_weak_secret=_bool(self.allow_weak_secret, "allow_weak_secret"),
            key_id=None if self.key_id is None else _name(self.key_id, "key_id"),
            decode_keys=self.decode_keys,
            remote=self.jwks_url is not None,
        )
        values = {
            "decode_algorithms": keys.decode_algorithms,
            "leeway": _leeway(self.leeway),
            "access_token_expires": _lifetime(self.access_token_expires, "access_token_expires"),
            "refresh_token_expires": _lifetime(self.refresh_token_expires, "refresh_token_expires"),
            "token_location": normalize_locations(self.token_location, "token_location"),
            "default_aud": _audience(self.default_aud),
            "invalid_token_status": _choice(self.invalid_token_status, "invalid_token_status", (400, 401, 422)),
            "max_token_bytes": _positive_int(self.max_token_bytes, "max_token_bytes"),
            "verify_cache_size": _non_negative_int(self.verify_cache_size, "verify_cache_size"),
            "exempt_methods": _methods(self.exempt_methods),
        }
        for name in (
            "require_exp",
            "use_acl",
            "allow_weak_secret",
            "cookie_secure",
            "session_cookie",
            "csrf_check_form",
        ):
            values[name] = _bool(getattr(self, name), name)
        for name in (
            "identity_claim",
            "acl_claim",
            "jwt_header_key",
            "refresh_jwt_header_key",
            "error_message_key",
            "access_cookie_name",
            "refresh_cookie_name",
            "access_cookie_path",
            "refresh_cookie_path",
            "access_csrf_cookie_name",
            "refresh_csrf_cookie_name",
            "access_csrf_cookie_path",
            "refresh_csrf_cookie_path",
            "csrf_header_name",
            "csrf_field_name",
            "jwt_query_param_name",
            "json_key",
            "refresh_json_key",
        ):
            values[name] = _name(getattr(self, name), name)
        for name in (
            "jwt_header_prefix",
            "public_claim_namespace",
            "private_claim_prefix",
            "jwt_query_param_value_prefix",
        ):
            values[name] = _string(getattr(self, name), name)
        if values["jwt_header_prefix"] != values["jwt_header_prefix"].strip() or " " in values["jwt_header_prefix"]:
            raise ConfigurationError("jwt_header_prefix: must be one word without spaces, e.g. 'Bearer', or ''.")
        values.update(self._cookie_values(values))
        values.update(self._blocklist_values())
        values.update(self._jwks_values(keys))
        if self.default_iss is not None:
            values["default_iss"] = _name(self.default_iss, "default_iss")
        reserved = {"type", "fresh", "jti", "exp", "iat", "nbf", "csrf", "fam"}
        if values["identity_claim"] in reserved:
            raise ConfigurationError(f"identity_claim: {values['identity_claim']!r} is a reserved claim.")
        if values["acl_claim"] in reserved | {"sub", values["identity_claim"]}:
            raise ConfigurationError(f"acl_claim: {values['acl_claim']!r} is a reserved claim.")
        if values["require_exp"] and (
            values["access_token_expires"] is False or values["refresh_token_expires"] is False
        ):
            raise ConfigurationError(
                "access_token_expires/refresh_token_expires: False (no expiry) needs require_exp = False, "
                "otherwise this app would refuse its own tokens."
            )
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._sealed = True
        return keys

    def _jwks_values(self, keys: KeySet) -> dict[str, Any]:
        endpoint, url = self.jwks_endpoint, self.jwks_url
        if endpoint is not None:
            if not isinstance(endpoint, str) or not endpoint.startswith("/"):
                raise ConfigurationError(f"jwks_endpoint: must be a path starting with '/', got {endpoint!r}.")
            if not keys.jwk_set()["keys"]:
                raise ConfigurationError("jwks_endpoint: HMAC secrets are never published; it needs asymmetric keys.")
        if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://"))):
            raise ConfigurationError(f"jwks_url: must be an http(s) URL, got {url!r}.")
        return {
            "jwks_max_age": _positive_int(self.jwks_max_age, "jwks_max_age"),
            "jwks_refetch_interval": _seconds(self.jwks_refetch_interval, "jwks_refetch_interval"),
            "jwks_cache_seconds": _seconds(self.jwks_cache_seconds, "jwks_cache_seconds"),
            "jwks_timeout": _seconds(self.jwks_timeout, "jwks_timeout"),
            "jwks_max_bytes": _positive_int(self.jwks_max_bytes, "jwks_max_bytes"),
            "jwks_max_keys": _positive_int(self.jwks_max_keys, "jwks_max_keys"),
        }

    def _blocklist_values(self) -> dict[str, Any]:
        use = _bool(self.use_blocklist, "use_blocklist")
        rotation = _bool(self.refresh_token_rotation, "refresh_token_rotation")
        types = _str_list(self.blocklist_token_types, "blocklist_token_types") or ()
        if not set(types) <= {"access", "refresh"}:
            raise ConfigurationError(f"blocklist_token_types: choose from 'access' and 'refresh', got {list(types)}.")
        store = self.blocklist
        if store is not None and not isinstance(store, Blocklist):
            raise ConfigurationError(
                f"blocklist: {type(store).__name__} does not implement the Blocklist protocol; "
                "use InMemoryBlocklist(), RedisBlocklist(...) or your own implementation."
            )
        if store is not None and not use:
            raise ConfigurationError("blocklist: is set but use_blocklist is False; set use_blocklist = True.")
        if rotation and not use:
            raise ConfigurationError("refresh_token_rotation: needs use_blocklist = True (used tokens are remembered).")
        if rotation and "refresh" not in types:
            raise ConfigurationError("refresh_token_rotation: needs 'refresh' in blocklist_token_types.")
        return {
            "use_blocklist": use,
            "refresh_token_rotation": rotation,
            "blocklist_token_types": tuple(types),
            "blocklist_unavailable": _choice(
                self.blocklist_unavailable, "blocklist_unavailable", ("fail_closed", "fail_open")
            ),
        }

    def _cookie_values(self, values: dict[str, Any]) -> dict[str, Any]:
        cookies = "cookies" in values["token_location"]
        out: dict[str, Any] = {
            "cookie_samesite": _choice(self.cookie_samesite, "cookie_samesite", _SAMESITE),
            "csrf_protect": _bool(self.csrf_protect, "csrf_protect"),
            "csrf_request_methods": tuple(
                method.upper() for method in _str_list(self.csrf_request_methods, "csrf_request_methods") or ()
            ),
            "cookie_max_age": _max_age(self.cookie_max_age),
            "implicit_refresh": None
            if self.implicit_refresh is None
            else _lifetime(self.implicit_refresh, "implicit_refresh"),
        }
        if self.cookie_domain is not None:
            out["cookie_domain"] = _name(self.cookie_domain, "cookie_domain")
        if out["cookie_samesite"] == "None" and not values["cookie_secure"]:
            raise ConfigurationError(
                'cookie_samesite: "None" needs cookie_secure = True (browsers drop insecure SameSite=None cookies).'
            )
        if out["cookie_max_age"] is not None and values["session_cookie"]:
            raise ConfigurationError(
                "cookie_max_age: is ignored while session_cookie is True; set session_cookie = False."
            )
        if out["implicit_refresh"] is False:
            raise ConfigurationError("implicit_refresh: must be a positive timedelta (or seconds), or None for off.")
        if out["implicit_refresh"] is not None and not cookies:
            raise ConfigurationError("implicit_refresh: refreshes cookies, so token_location must include 'cookies'.")
        return out


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Config))


def _bool(value: Any, option: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{option}: must be True or False, got {value!r}.")
    return value


def _string(value: Any, option: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{option}: must be a string, got {value!r}.")
    return value


def _name(value: Any, option: str) -> str:
    if not _string(value, option).strip():
        raise ConfigurationError(f"{option}: must be a non-empty string.")
    return value  # type: ignore[no-any-return]


def _positive_int(value: Any, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{option}: must be a positive integer, got {value!r}.")
    return value


def _non_negative_int(value: Any, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{option}: must be an integer >= 0, got {value!r}.")
    return value


def _choice(value: Any, option: str, choices: tuple[Any, ...]) -> Any:
    if isinstance(value, bool) or value not in choices:
        raise ConfigurationError(f"{option}: must be one of {choices}, got {value!r}.")
    return value


def _str_list(value: Any, option: str) -> tuple[str, ...] | None:
    # Environment variables arrive as "a,b" strings.
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{option}: must be a list of strings, got {value!r}.")
    return tuple(value)


def _methods(value: Any) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(method.strip().upper() for method in _str_list(value, "exempt_methods") or ()))
    bad = [method for method in methods if not _HTTP_TOKEN.fullmatch(method)]
    if bad:
        raise ConfigurationError(f"exempt_methods: {bad} are not HTTP method names.")
    if methods:
        # A deliberate opt-out, but every degradation is logged.
        logger.warning("exempt_methods: protected views run WITHOUT authentication on %s", ", ".join(methods))
    return methods


def _seconds(value: Any, option: str) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"{option}: must be positive seconds or a timedelta, got {value!r}.")
    return float(value)


def _leeway(value: Any) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(f"leeway: must be seconds >= 0 or a timedelta, got {value!r}.")
    return float(value)


def _lifetime(value: Any, option: str) -> timedelta | bool:
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
    names = _str_list(value, option)
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


def _max_age(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = int(value.total_seconds())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"cookie_max_age: must be seconds >= 0 or a timedelta, got {value!r}.")
    return value


def _audience(value: Any) -> str | tuple[str, ...] | None:
    if value is None or (isinstance(value, str) and value):
        return value
    names = _str_list(value, "default_aud")
    if not names:
        raise ConfigurationError("default_aud: must be a non-empty string or list of strings.")
    return names
