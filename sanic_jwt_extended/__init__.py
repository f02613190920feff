"""JWT authentication for Sanic: access/refresh tokens, fresh tokens, roles, one decorator."""

from __future__ import annotations

from .blocklist import InMemoryBlocklist, RedisBlocklist
from .codec import unverified_header as get_unverified_jwt_headers
from .config import Config
from .cookies import (
    set_access_cookies,
    set_refresh_cookies,
    unset_access_cookies,
    unset_jwt_cookies,
    unset_refresh_cookies,
)
from .decorators import jwt_optional, jwt_required, refresh_jwt_required, verify_jwt_in_request
from .exceptions import JWTExtendedException
from .facade import JWT, get_csrf_token
from .manager import JWTManager
from .tokens import Token

__all__ = (
    "JWT",
    "Config",
    "InMemoryBlocklist",
    "JWTExtendedException",
    "JWTManager",
    "RedisBlocklist",
    "Token",
    "get_csrf_token",
    "get_unverified_jwt_headers",
    "jwt_optional",
    "jwt_required",
    "refresh_jwt_required",
    "set_access_cookies",
    "set_refresh_cookies",
    "unset_access_cookies",
    "unset_jwt_cookies",
    "unset_refresh_cookies",
    "verify_jwt_in_request",
)

__version__ = "1.0.0"
