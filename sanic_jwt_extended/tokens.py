"""The verified token handed to views. Framework-free: no Sanic import here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .claims import REGISTERED_CLAIMS
from .exceptions import ConfigurationError

__all__ = ("Reading", "Token")


def _datetime(value: Any) -> datetime | None:
    # The codec has already range-checked exp/iat/nbf, so this cannot overflow.
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


@dataclass(frozen=True, slots=True)
class Reading:
    """How one app reads its tokens: the claim names its settings give, and who revokes.

    The tokens a verifier makes share one, so a cached token holds one reference here
    rather than five.
    """

    identity_claim: str = "sub"
    acl_claim: str = "role"
    public_claim_namespace: str = ""
    private_claim_prefix: str = ""
    # Given by the manager that verified the token; keeps this module framework-free.
    revoker: Callable[[Token], Awaitable[None]] | None = None


class Token:
    """A verified JWT: its payload as typed, read-only properties.

    Only the library creates ``Token`` objects, after the signature and claims have been
    verified. ``repr`` never shows the encoded token, so logging a ``Token`` is safe.
    """

    __slots__ = ("_blocklist_key", "_data", "_header", "_offset", "_raw", "_reading", "_settled", "_user")

    def __init__(
        self,
        raw_jwt: str,
        raw_data: dict[str, Any],
        header: dict[str, Any] | None = None,
        *,
        identity_claim: str = "sub",
        acl_claim: str = "role",
        public_claim_namespace: str = "",
        private_claim_prefix: str = "",
        revoker: Callable[[Token], Awaitable[None]] | None = None,
        raw_offset: int = 0,
        reading: Reading | None = None,
    ) -> None:
        # ``raw_jwt[raw_offset:]`` is the token: a token read from the Authorization header is
        # kept as the header value the verified-token cache is keyed on, one string for both.
        self._raw = raw_jwt
        self._offset = raw_offset
        self._data = raw_data
        self._header = header or {}
        # ``reading`` (a verifier's, shared) stands for the four names and the revoker.
        self._reading = reading or Reading(
            identity_claim, acl_claim, public_claim_namespace, private_claim_prefix, revoker
        )
        self._user: Any = None
        self._settled = 0
        # (jti, identity, iat, family) as a blocklist wants them, built on first use: a
        # cached token is checked on every request, its claims never change.
        self._blocklist_key: tuple[str, str, float, Any] | None = None

    def settled_for(self, mark: int) -> bool:
        """Whether the plan with this bit has passed this token through its checks that hang
        on the token string alone (``steps.STRING_BOUND``); see ``settle``."""
        return self._settled & mark != 0

    def settle(self, mark: int) -> None:
        """Remember that the plan with bit ``mark`` passed this token. Meant for the verifier
        that made the token (it is the one that caches and hands it out again)."""
        self._settled |= mark

    def with_user(self, user: Any) -> Token:
        """A copy carrying ``user``: verified tokens are shared between requests (the
        verified-token cache hands out the same object), so per-request state goes on a copy."""
        twin = Token.__new__(Token)
        for name in Token.__slots__:
            setattr(twin, name, getattr(self, name))
        twin._user = user
        return twin

    def __repr__(self) -> str:
        return f"Token(type={self.type!r}, identity={self.identity!r}, jti={self.jti!r}, exp={self.exp!r})"

    def get(self, claim: str, default: Any = None) -> Any:
        """One claim of the payload as decoded (no copy, no conversion)."""
        return self._data.get(claim, default)

    @property
    def raw_jwt(self) -> str:
        """The encoded token as received. Treat it as a secret: never log it."""
        return self._raw[self._offset :] if self._offset else self._raw

    @property
    def raw_data(self) -> dict[str, Any]:
        """A copy of the whole payload."""
        return dict(self._data)

    @property
    def header(self) -> dict[str, Any]:
        """A copy of the JOSE header."""
        return dict(self._header)

    @property
    def type(self) -> str | None:
        """``"access"`` or ``"refresh"``."""
        return self._data.get("type")

    @property
    def identity(self) -> Any:
        """The identity claim (``sub`` unless ``config.identity_claim`` says otherwise)."""
        return self._data.get(self._reading.identity_claim)

    @property
    def fresh(self) -> bool | None:
        """Whether this access token is fresh now; ``None`` for refresh tokens or when unspecified.

        A numeric ``fresh`` claim means "fresh until that time", so the answer can change
        over the token's life.
        """
        if self.type != "access":
            return None
        value = self._data.get("fresh")
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return datetime.now(timezone.utc).timestamp() < value
        return False

    @property
    def role(self) -> str | list[str] | None:
        """The role claim (``config.acl_claim``), a string or a list of strings."""
        return self._data.get(self._reading.acl_claim)

    @property
    def roles(self) -> frozenset[str]:
        """The role claim as a set, however it was written."""
        role = self.role
        if isinstance(role, str):
            return frozenset((role,))
        if isinstance(role, list):
            return frozenset(item for item in role if isinstance(item, str))
        return frozenset()

    @property
    def iss(self) -> str | None:
        return self._data.get("iss")

    @property
    def aud(self) -> str | list[str] | None:
        return self._data.get("aud")

    @property
    def jti(self) -> str | None:
        return self._data.get("jti")

    @property
    def exp(self) -> datetime | None:
        """Expiry as an aware UTC datetime, ``None`` for a token without expiry."""
        return _datetime(self._data.get("exp"))

    @property
    def iat(self) -> datetime | None:
        return _datetime(self._data.get("iat"))

    @property
    def nbf(self) -> datetime | None:
        return _datetime(self._data.get("nbf"))

    @property
    def csrf(self) -> str | None:
        return self._data.get("csrf")

    @property
    def family(self) -> str | None:
        """Rotation family of a refresh token (``fam``), ``None`` without rotation."""
        return self._data.get("fam")

    @property
    def session_id(self) -> str | None:
        """The session this token belongs to (``config.track_sessions``), ``None`` outside one.

        A session is a refresh family: the id is the ``fam`` claim, which access tokens issued
        in a session carry too, so ending the session stops them at once.
        """
        return self._data.get("fam")

    def _custom_claims(self) -> dict[str, Any]:
        reading = self._reading
        reserved = REGISTERED_CLAIMS | {reading.identity_claim, reading.acl_claim}
        return {name: value for name, value in self._data.items() if name not in reserved}

    @property
    def public_claims(self) -> dict[str, Any]:
        """Claims under ``config.public_claim_namespace``, with the namespace stripped.

        With both the namespace and the private prefix empty (the defaults) public and
        private claims cannot be told apart, and both properties hold every custom claim.
        """
        ns, prefix = self._reading.public_claim_namespace, self._reading.private_claim_prefix
        return {
            name[len(ns) :]: value
            for name, value in self._custom_claims().items()
            if name.startswith(ns) and not (prefix and name.startswith(prefix))
        }

    @property
    def private_claims(self) -> dict[str, Any]:
        """Claims under ``config.private_claim_prefix``, with the prefix stripped."""
        ns, prefix = self._reading.public_claim_namespace, self._reading.private_claim_prefix
        return {
            name[len(prefix) :]: value
            for name, value in self._custom_claims().items()
            if name.startswith(prefix) and not (ns and name.startswith(ns))
        }

    @property
    def user(self) -> Any:
        """What the ``user_lookup_loader`` callback returned (``None`` without one)."""
        return self._user

    def revocation_key(self) -> tuple[str, str, float, Any]:
        """``(jti, identity, iat, family)`` in the types a revocation store takes (memoized)."""
        key = self._blocklist_key
        if key is None:
            data = self._data
            key = self._blocklist_key = (
                str(data.get("jti")),
                str(data.get(self._reading.identity_claim)),
                float(data.get("iat", 0.0)),
                data.get("fam"),
            )
        return key

    async def revoke(self) -> None:
        """Revoke this token in its app's blocklist (needs ``config.use_blocklist``)."""
        revoker = self._reading.revoker
        if revoker is None:
            raise ConfigurationError("this Token was not produced by a JWTManager and cannot be revoked")
        await revoker(self)
