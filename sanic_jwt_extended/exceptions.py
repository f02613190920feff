"""Every error the library raises, as one family.

```
JWTExtendedException (500)                      base; catch this to catch everything
├── ConfigurationError (500, also ValueError)   bad option, found at startup
├── TokenCreationError (500, also ValueError)   bad argument to create_*_token
├── NoAuthorizationError (401)                  no token in any configured location
├── InvalidRequestError (422)                   malformed cookie, query parameter or JSON body
│   ├── InvalidHeaderError                      malformed Authorization header
│   └── TokenTooLargeError                      token over max_token_bytes
├── ExpiredSignatureError (401)                 token past its exp
├── InvalidTokenError (422)                     anything else wrong with the token
│   ├── DecodeError                             not a JWT / bad base64 / bad JSON
│   ├── InvalidSignatureError
│   ├── InvalidAlgorithmError
│   ├── UnknownKeyError                         kid names no configured key
│   ├── InvalidAudienceError
│   ├── InvalidIssuerError
│   ├── MissingRequiredClaimError
│   ├── ImmatureSignatureError                  nbf (or iat) in the future
│   └── WrongTokenError                         refresh where access is needed, or the reverse
├── FreshTokenRequiredError (401)
├── RevokedTokenError (401)                     revoked, or a rotated refresh token reused
├── BlocklistUnavailableError (503)             revocation store unreachable (fail_closed)
├── KeySetUnavailableError (503)                the jwks_url refresh outlasted jwks_timeout
├── CORSPreflight (204)                         not an error: the empty answer to a CORS preflight
├── CSRFError (401)
├── UserLookupError (401)
├── AccessDeniedError (403)                     role not allowed
└── ClaimsVerificationError (400)               claims callback returned False
```

Each class carries its status, a stable machine ``code`` and a ``default_message``; the
``handler_name`` is the attribute of ``manager.handler`` that renders it. The 422 rows
follow ``config.invalid_token_status`` when rendered (see ``handler.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = (
    "AccessDeniedError",
    "BlocklistUnavailableError",
    "CORSPreflight",
    "CSRFError",
    "ClaimsVerificationError",
    "ConfigurationError",
    "DecodeError",
    "ExpiredSignatureError",
    "FreshTokenRequiredError",
    "ImmatureSignatureError",
    "InvalidAlgorithmError",
    "InvalidAudienceError",
    "InvalidHeaderError",
    "InvalidIssuerError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "JWTExtendedException",
    "KeySetUnavailableError",
    "MissingRequiredClaimError",
    "NoAuthorizationError",
    "RevokedTokenError",
    "TokenCreationError",
    "TokenTooLargeError",
    "UnknownKeyError",
    "UserLookupError",
    "WrongTokenError",
)


class JWTExtendedException(Exception):
    """Base of every error raised by sanic-jwt-extended.

    Deliberately not a ``SanicException``: this module is imported by the framework-free
    codec, and the manager registers one Sanic error handler for the whole family.
    """

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "jwt_error"
    default_message: ClassVar[str] = "JWT error"
    handler_name: ClassVar[str] = "jwt_error"
    # A ``Token``; typed Any because this layer-0 module may not import tokens (a cycle).
    token: Any = None
    """The ``Token`` once its signature verified (expired, revoked, wrong type, fresh required, role
    denied, CSRF, claims check, user lookup): header and claims a custom handler may trust."""
    location: str | None = None
    """Where the request's token was found ("headers", "cookies", ...), once one was found."""

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.message: str = message or self.default_message
        # Structured details (claim name, locations tried...) for custom handlers.
        self.fields: dict[str, Any] = fields
        super().__init__(self.message)


class ConfigurationError(JWTExtendedException, ValueError):
    """An option is invalid. Raised when the ``with JWT.initialize(app)`` block ends."""

    code = "configuration_error"
    default_message = "Invalid sanic-jwt-extended configuration"
    handler_name = "configuration_error"


class TokenCreationError(JWTExtendedException, ValueError):
    """An argument to ``create_access_token``/``create_refresh_token`` is invalid."""

    code = "token_creation_error"
    default_message = "Invalid argument for token creation"
    handler_name = "token_creation_error"


class NoAuthorizationError(JWTExtendedException):
    status_code = 401
    code = "no_authorization"
    default_message = "Missing Authorization Header"
    handler_name = "no_authorization"


class InvalidRequestError(JWTExtendedException):
    status_code = 422
    code = "invalid_request"
    default_message = "Malformed token location in the request"
    handler_name = "invalid_request"


class InvalidHeaderError(InvalidRequestError):
    code = "invalid_header"
    default_message = "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'"
    handler_name = "invalid_header"


class TokenTooLargeError(InvalidRequestError):
    code = "token_too_large"
    default_message = "Token is too large"


class ExpiredSignatureError(JWTExtendedException):
    status_code = 401
    code = "token_expired"
    default_message = "Token has expired"
    handler_name = "expired_signature"
    # Set by the codec: (header, payload) whose signature verified, made into ``token``.
    verified: tuple[dict[str, Any], dict[str, Any]] | None = None


class InvalidTokenError(JWTExtendedException):
    status_code = 422
    code = "invalid_token"
    default_message = "Invalid token"
    handler_name = "invalid_token"


class DecodeError(InvalidTokenError):
    code = "decode_error"
    default_message = "Token could not be decoded"


class InvalidSignatureError(InvalidTokenError):
    code = "invalid_signature"
    default_message = "Signature verification failed"


class InvalidAlgorithmError(InvalidTokenError):
    code = "invalid_algorithm"
    default_message = "The token's algorithm is not allowed"


class UnknownKeyError(InvalidTokenError):
    code = "unknown_key"
    default_message = "The token's key id (kid) is not known"


class InvalidAudienceError(InvalidTokenError):
    code = "invalid_audience"
    default_message = "Invalid audience"


class InvalidIssuerError(InvalidTokenError):
    code = "invalid_issuer"
    default_message = "Invalid issuer"


class MissingRequiredClaimError(InvalidTokenError):
    code = "missing_claim"
    default_message = "Token is missing a required claim"


class ImmatureSignatureError(InvalidTokenError):
    code = "token_not_yet_valid"
    default_message = "The token is not yet valid"


class WrongTokenError(InvalidTokenError):
    code = "wrong_token_type"
    default_message = "Wrong token type"
    handler_name = "wrong_token"


class FreshTokenRequiredError(JWTExtendedException):
    status_code = 401
    code = "fresh_token_required"
    default_message = "Fresh token required"
    handler_name = "fresh_token_required"


class RevokedTokenError(JWTExtendedException):
    status_code = 401
    code = "token_revoked"
    default_message = "Token has been revoked"
    handler_name = "revoked_token"


class BlocklistUnavailableError(JWTExtendedException):
    status_code = 503
    code = "blocklist_unavailable"
    default_message = "Token revocation cannot be checked right now; try again shortly"
    handler_name = "blocklist_unavailable"


class KeySetUnavailableError(JWTExtendedException):
    """The remote JWK Set did not arrive within ``jwks_timeout`` (a slow or trickling key server)."""

    status_code = 503
    code = "key_set_unavailable"
    default_message = "The token's signing keys cannot be fetched right now; try again shortly"
    handler_name = "key_set_unavailable"


class CORSPreflight(JWTExtendedException):
    """Raised instead of running a protected view for a CORS preflight; rendered as an empty 204.

    Preflights carry no credentials (Fetch standard), so they are answered without running
    the view; raising lets ``verify_jwt_in_request`` in a guard answer the same way, and the
    response still passes through response middleware (CORS headers).
    """

    status_code = 204
    code = "cors_preflight"
    default_message = "CORS preflight answered without running the view"
    handler_name = "cors_preflight"


class CSRFError(JWTExtendedException):
    status_code = 401
    code = "csrf_error"
    default_message = "CSRF token missing or incorrect"
    handler_name = "csrf_error"


class UserLookupError(JWTExtendedException):
    status_code = 401
    code = "user_lookup_failed"
    default_message = "User not found"
    handler_name = "user_lookup_error"


class AccessDeniedError(JWTExtendedException):
    status_code = 403
    code = "access_denied"
    default_message = "Your role is not allowed to access this resource"
    handler_name = "access_denied"


class ClaimsVerificationError(JWTExtendedException):
    status_code = 400
    code = "claims_verification_failed"
    default_message = "User claims verification failed"
    handler_name = "claims_verification_failed"
