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
from typing import TYPE_CHECKING, Any

from sanic.response import HTTPResponse, json

from .exceptions import (
    AccessDeniedError,
    ConfigurationError,
    CORSPreflight,
    InvalidRequestError,
    JWTExtendedException,
    NoAuthorizationError,
)

if TYPE_CHECKING:
    from sanic import Request

    from .settings import Settings

__all__ = ("ErrorHandlerFunc", "Handler")

ErrorHandlerFunc = Callable[["Request", JWTExtendedException], HTTPResponse | Awaitable[HTTPResponse]]


def _handler_names() -> tuple[str, ...]:
    """Every ``handler_name`` of the exception family, base first: one response per error kind."""
    names: dict[str, None] = {}
    pending: list[type[JWTExtendedException]] = [JWTExtendedException]
    while pending:
        cls = pending.pop(0)
        names[cls.handler_name] = None
        pending.extend(cls.__subclasses__())
    return tuple(names)


# Derived from the exceptions, so a new error class brings its response name with it.
HANDLER_NAMES = _handler_names()
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
    """The responses given for each error; assign a function to replace one.

    Every attribute starts as ``default``; ``tests/http/test_handler.py`` checks that the annotated
    names below are exactly the ``handler_name`` values of the exception family.
    """

    __slots__ = ("_settings", *HANDLER_NAMES)

    jwt_error: ErrorHandlerFunc
    configuration_error: ErrorHandlerFunc
    token_creation_error: ErrorHandlerFunc
    no_authorization: ErrorHandlerFunc
    invalid_request: ErrorHandlerFunc
    invalid_header: ErrorHandlerFunc
    expired_signature: ErrorHandlerFunc
    invalid_token: ErrorHandlerFunc
    wrong_token: ErrorHandlerFunc
    fresh_token_required: ErrorHandlerFunc
    revoked_token: ErrorHandlerFunc
    blocklist_unavailable: ErrorHandlerFunc
    key_set_unavailable: ErrorHandlerFunc
    cors_preflight: ErrorHandlerFunc
    csrf_error: ErrorHandlerFunc
    user_lookup_error: ErrorHandlerFunc
    access_denied: ErrorHandlerFunc
    claims_verification_failed: ErrorHandlerFunc

    def __init__(self) -> None:
        self._settings: Settings | None = None
        for name in HANDLER_NAMES:
            setattr(self, name, self.default)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_settings":
            super().__setattr__(name, value)
            return
        if name not in HANDLER_NAMES:
            raise AttributeError(f"handler: unknown response {name!r}; choose from {', '.join(HANDLER_NAMES)}")
        if self._settings is not None:
            raise AttributeError(f"handler.{name}: handlers are frozen once the with-block ends")
        if not callable(value):
            raise TypeError(f"handler.{name}: must be a callable (request, exception) -> HTTPResponse")
        super().__setattr__(name, value)

    def seal(self, settings: Settings) -> None:
        """Freeze the responses; ``settings`` gives the status mapping and the message key."""
        self._settings = settings

    def _sealed(self) -> Settings:
        if self._settings is None:
            raise ConfigurationError("handler: used before the `with JWT.initialize(app)` block ended")
        return self._settings

    def status_for(self, exception: JWTExtendedException) -> int:
        """The status of an error; the 422 rows follow ``config.invalid_token_status``."""
        status = exception.status_code
        return self._sealed().invalid_token_status if status == 422 else status

    def default(self, request: Request, exception: JWTExtendedException) -> HTTPResponse:
        """``{"msg": "..."}`` with the table's status and an RFC 6750 challenge."""
        if isinstance(exception, CORSPreflight):
            return HTTPResponse(status=204)
        status = self.status_for(exception)
        headers = {}
        challenge = _www_authenticate(exception, status)
        if challenge:
            headers["WWW-Authenticate"] = challenge
        return json({self._sealed().error_message_key: exception.message}, status=status, headers=headers)

    async def respond(self, request: Request, exception: JWTExtendedException) -> HTTPResponse:
        """Sanic error handler for the whole ``JWTExtendedException`` family."""
        render: ErrorHandlerFunc = getattr(self, exception.handler_name)
        response = render(request, exception)
        if inspect.isawaitable(response):
            response = await response
        return response
