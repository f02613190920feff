"""Default error responses, one attribute per error kind, each replaceable:

```python
with JWT.initialize(app) as manager:
    manager.handler.expired_signature = my_handler   # (request, exception) -> HTTPResponse
```
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from sanic.response import HTTPResponse, json

from .exceptions import (
    AccessDeniedError,
    CORSPreflight,
    InvalidRequestError,
    JWTExtendedException,
    NoAuthorizationError,
)

if TYPE_CHECKING:
    from sanic import Request

    from .config import Config

__all__ = ("ErrorHandlerFunc", "Handler")

ErrorHandlerFunc = Callable[["Request", JWTExtendedException], HTTPResponse | Awaitable[HTTPResponse]]

HANDLER_NAMES = (
    "no_authorization",
    "invalid_header",
    "invalid_request",
    "expired_signature",
    "invalid_token",
    "wrong_token",
    "fresh_token_required",
    "revoked_token",
    "blocklist_unavailable",
    "key_set_unavailable",
    "cors_preflight",
    "csrf_error",
    "user_lookup_error",
    "access_denied",
    "claims_verification_failed",
    "configuration_error",
    "token_creation_error",
    "jwt_error",
)
# RFC 6750 §3: error_description is limited to these characters.
_UNSAFE_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _www_authenticate(exception: JWTExtendedException, status: int) -> str | None:
    if status == 403 and isinstance(exception, AccessDeniedError):
        return 'Bearer error="insufficient_scope"'
    # Keyed on the error's own status, not the rendered one: every token error (401, and the
    # 422 rows whatever invalid_token_status maps them to) carries the challenge; RFC 9110
    # §11.6.1 allows it on statuses other than 401.
    if exception.status_code not in (401, 422):
        return None
    # RFC 6750 §3.1: a request with no credentials gets the bare challenge, no error code.
    if isinstance(exception, NoAuthorizationError):
        return "Bearer"
    error = "invalid_request" if isinstance(exception, InvalidRequestError) else "invalid_token"
    # Quotes, backslashes and control characters are dropped, so no text in a message can
    # end the quoted string or add a parameter.
    description = _UNSAFE_DESCRIPTION.sub("", exception.message)[:200]
    return f'Bearer error="{error}", error_description="{description}"'


class Handler:
    """The responses given for each error; assign a function to replace one."""

    _config: Config
    _custom: dict[str, ErrorHandlerFunc]

    def __init__(self, config: Config) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_custom", {})

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in HANDLER_NAMES:
            raise AttributeError(f"handler: unknown response {name!r}; choose from {', '.join(HANDLER_NAMES)}")
        if getattr(self._config, "_sealed", False):
            raise AttributeError(f"handler.{name}: handlers are frozen once the with-block ends")
        if not callable(value):
            raise TypeError(f"handler.{name}: must be a callable (request, exception) -> HTTPResponse")
        self._custom[name] = value

    def __getattr__(self, name: str) -> ErrorHandlerFunc:
        if name not in HANDLER_NAMES:
            raise AttributeError(name)
        custom: ErrorHandlerFunc | None = self._custom.get(name)
        return custom or self.default

    def status_for(self, exception: JWTExtendedException) -> int:
        """The status of an error; the 422 rows follow ``config.invalid_token_status``."""
        status = exception.status_code
        return self._config.invalid_token_status if status == 422 else status

    def default(self, request: Request, exception: JWTExtendedException) -> HTTPResponse:
        """``{"msg": "..."}`` with the table's status and an RFC 6750 challenge."""
        if isinstance(exception, CORSPreflight):
            return HTTPResponse(status=204)
        status = self.status_for(exception)
        headers = {}
        challenge = _www_authenticate(exception, status)
        if challenge:
            headers["WWW-Authenticate"] = challenge
        return json({self._config.error_message_key: exception.message}, status=status, headers=headers)

    async def respond(self, request: Request, exception: JWTExtendedException) -> HTTPResponse:
        """Sanic error handler for the whole ``JWTExtendedException`` family."""
        render = getattr(self, exception.handler_name)
        response = render(request, exception)
        if inspect.isawaitable(response):
            response = await response
        return cast(HTTPResponse, response)
