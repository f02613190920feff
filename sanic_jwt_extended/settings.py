"""``Settings``: one app's configuration once validated, in exact types, frozen.

``Config`` is what users write (loose types: seconds or a timedelta, a list or a string);
``Config.seal()`` checks it and builds this object, with every value in the one type the
library reads, and the values derived from several options (the parsed keys, the header
names as ``istr``, the claims every token must carry). Nothing rewrites it afterwards: the
runtime reads only this. Framework-free: no Sanic import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from .blocklist.base import Blocklist
from .keys import KeySet

__all__ = ("Lifetime", "Settings")

# A token lifetime: a positive timedelta, or False for tokens without exp.
Lifetime = timedelta | Literal[False]


@dataclass(frozen=True, slots=True)
class Settings:
    """Every ``Config`` option, validated and normalised (see ``Config`` for each meaning)."""

    keys: KeySet = field(repr=False)
    secret_key: str | bytes | None = field(repr=False)
    algorithm: str
    private_key: Any = field(repr=False)
    public_key: Any
    decode_algorithms: tuple[str, ...]
    key_id: str | None
    decode_keys: Any = field(repr=False)
    jwks_endpoint: str | None
    jwks_max_age: int
    jwks_url: str | None
    jwks_refetch_interval: float
    jwks_cache_seconds: float
    jwks_timeout: float
    jwks_max_bytes: int
    jwks_max_keys: int
    leeway: float
    access_token_expires: Lifetime
    refresh_token_expires: Lifetime
    require_exp: bool
    default_iss: str | None
    default_aud: str | tuple[str, ...] | None
    identity_claim: str
    token_location: tuple[str, ...]
    jwt_header_key: str
    jwt_header_prefix: str
    refresh_jwt_header_key: str
    use_acl: bool
    acl_claim: str
    public_claim_namespace: str
    private_claim_prefix: str
    error_message_key: str
    invalid_token_status: int
    access_cookie_name: str
    refresh_cookie_name: str
    access_cookie_path: str
    refresh_cookie_path: str
    cookie_domain: str | None
    cookie_secure: bool
    cookie_samesite: Literal["Strict", "Lax", "None"]
    session_cookie: bool
    cookie_max_age: int | None
    csrf_protect: bool
    csrf_request_methods: tuple[str, ...]
    exempt_methods: tuple[str, ...]
    access_csrf_cookie_name: str
    refresh_csrf_cookie_name: str
    access_csrf_cookie_path: str
    refresh_csrf_cookie_path: str
    csrf_header_name: str
    csrf_check_form: bool
    csrf_field_name: str
    csrf_in_cookies: bool
    access_csrf_header_name: str
    refresh_csrf_header_name: str
    access_csrf_field_name: str
    refresh_csrf_field_name: str
    strict_config: bool
    csrf_names_per_type: bool
    """Derived: the access and refresh CSRF header or field names differ."""
    jwt_query_param_name: str
    jwt_query_param_value_prefix: str
    json_key: str
    refresh_json_key: str
    use_blocklist: bool
    blocklist: Blocklist | None
    blocklist_token_types: tuple[str, ...]
    blocklist_unavailable: Literal["fail_closed", "fail_open"]
    refresh_token_rotation: bool
    track_sessions: bool
    max_sessions: int
    implicit_refresh: timedelta | None
    verify_cache_size: int
    max_token_bytes: int
    allow_weak_secret: bool
    encode_nbf: bool
    verify_sub: bool
    decode_audience: str | tuple[str, ...] | None
    decode_issuer: str | tuple[str, ...] | None
    auth_failure_log_level: int
    # -- derived ------------------------------------------------------------------------
    header_keys: tuple[str, str]
    """(access, refresh) header names, as ``multidict.istr``: no case-folding per lookup."""
    required_claims: tuple[str, ...]
    """Claims every token must carry to verify."""
    csrf_claims: bool
    """Whether new tokens carry a ``csrf`` claim: CSRF protection is on and cookies may carry them."""

    @property
    def accepted_audience(self) -> str | tuple[str, ...] | None:
        """The audiences verification accepts: ``decode_audience``, else ``default_aud``."""
        return self.default_aud if self.decode_audience is None else self.decode_audience

    @property
    def accepted_issuer(self) -> str | tuple[str, ...] | None:
        """The issuers verification accepts: ``decode_issuer``, else ``default_iss``."""
        return self.default_iss if self.decode_issuer is None else self.decode_issuer

    def lifetime(self, token_type: str) -> Lifetime:
        """The default lifetime of an ``"access"`` or ``"refresh"`` token."""
        return self.access_token_expires if token_type == "access" else self.refresh_token_expires
