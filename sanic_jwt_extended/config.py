"""Every option, declared once; validated and frozen when the ``with JWT.initialize`` block ends.

Precedence (lowest first): the library default, ``app.config["JWT_<OPTION>"]`` (so
``SANIC_JWT_<OPTION>`` environment variables work), then values set in the with-block.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .app_config import unknown_keys
from .exceptions import ConfigurationError
from .sealing import build_settings
from .settings import Settings
from .validate import TOKEN_LOCATIONS, normalize_locations

__all__ = ("TOKEN_LOCATIONS", "Config", "normalize_locations")


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
    csrf_in_cookies: bool = True
    """Set the readable CSRF cookies; False: the app hands the value out itself (get_csrf_token)."""
    access_csrf_header_name: str | None = None
    """CSRF header for access tokens; None uses csrf_header_name."""
    refresh_csrf_header_name: str | None = None
    """CSRF header for refresh tokens; None uses csrf_header_name."""
    access_csrf_field_name: str | None = None
    """CSRF form field for access tokens; None uses csrf_field_name."""
    refresh_csrf_field_name: str | None = None
    """CSRF form field for refresh tokens; None uses csrf_field_name."""
    strict_config: bool = False
    """Unknown JWT_*/SANIC_JWT_* keys in app.config raise at startup instead of logging a warning."""
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
    track_sessions: bool = False
    """Sessions (refresh families) started by manager.login(), listed and ended one by one."""
    max_sessions: int = 10
    """Live sessions kept per identity with track_sessions; a new login beyond it ends the oldest."""
    implicit_refresh: timedelta | int | None = None
    """Reissue the access cookie when a cookie-borne token expires within this window; off when None."""
    verify_cache_size: int = 10_000
    """Verified tokens remembered so repeat requests skip the signature check; 0 disables."""
    max_token_bytes: int = 8192
    """Longer tokens are refused before any decoding work."""
    allow_weak_secret: bool = False
    """Accept an HMAC secret shorter than RFC 7518 §3.2 requires. Never in production."""
    encode_nbf: bool = True
    """Write an ``nbf`` claim into new tokens; False leaves it out (``nbf`` is still checked when present)."""
    verify_sub: bool = True
    """Refuse tokens whose ``sub`` is not a string (RFC 7519, as PyJWT); False accepts any JSON value."""
    decode_audience: str | Sequence[str] | None = None
    """Audiences accepted on verification (any one must match); None uses default_aud."""
    decode_issuer: str | Sequence[str] | None = None
    """Issuers accepted on verification; None uses default_iss."""
    auth_failure_log_level: int | str = "DEBUG"
    """Level at which failed authentications are logged on ``sanic_jwt_extended.auth`` (a name or int)."""

    _settings: Settings | None = field(default=None, init=False, repr=False, compare=False)
    """What ``seal()`` built; reading an option afterwards answers from it (exact types)."""

    _app_config_problems: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    """The unknown ``JWT_*`` keys ``from_app_config`` found, reported by ``seal()``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_settings", "_app_config_problems"):
            super().__setattr__(name, value)
            return
        if self._settings is not None:
            raise ConfigurationError(
                f"{name}: the configuration is frozen once the `with JWT.initialize(app)` block "
                "ends; set options inside the block."
            )
        if name not in _FIELD_NAMES:
            close = difflib.get_close_matches(name, _FIELD_NAMES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(f"{name}: unknown option.{hint}")
        super().__setattr__(name, value)

    def __getattribute__(self, name: str) -> Any:
        # Once sealed, an option reads as validated ("60" seconds from the environment reads
        # as a timedelta): the values the app actually runs with. The written ones stay as
        # they were set.
        if name in _FIELD_SET:
            settings = super().__getattribute__("_settings")
            if settings is not None:
                return getattr(settings, name)
        return super().__getattribute__(name)

    @classmethod
    def from_app_config(cls, app_config: Mapping[str, Any]) -> Config:
        """Defaults overlaid with ``JWT_<OPTION>`` keys of a Sanic app config."""
        config = cls()
        for name in _FIELD_NAMES:
            key = f"JWT_{name.upper()}"
            if key in app_config:
                setattr(config, name, app_config[key])
        config._app_config_problems = unknown_keys(app_config, _FIELD_NAMES)
        return config

    def seal(self, *, blocklist_loader: bool = False) -> Settings:
        """Validate every option and freeze the config; returns the ``Settings`` to run with.

        ``blocklist_loader``: a ``token_in_blocklist_loader`` is registered (then no default
        store is made).
        """
        raw = {name: getattr(self, name) for name in _FIELD_NAMES}
        settings = build_settings(raw, self._app_config_problems, blocklist_loader=blocklist_loader)
        self._settings = settings
        return settings


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Config) if not f.name.startswith("_"))
_FIELD_SET = frozenset(_FIELD_NAMES)
