"""``Requirements``: what a route demands of its token (one per decorator or guard call)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from .exceptions import ConfigurationError
from .validate import normalize_locations

__all__ = ("Requirements",)


@dataclass(frozen=True, slots=True, eq=False)
class Requirements:
    """What a route demands of its token.

    Compared and hashed by identity (a verifier keeps one plan per object, looked up on every
    request): ``build`` hands out one object per set of arguments.
    """

    token_type: str = "access"
    fresh_required: bool = False
    optional: bool = False
    allow: frozenset[str] | None = None
    deny: frozenset[str] | None = None
    locations: tuple[str, ...] | None = None
    skip_revocation_check: bool = False
    verify_type: bool = True

    @property
    def refresh(self) -> bool:
        return self.token_type == "refresh"

    @property
    def uses_roles(self) -> bool:
        return self.allow is not None or self.deny is not None

    @classmethod
    def build(
        cls,
        *,
        token_type: str = "access",
        fresh_required: bool = False,
        optional: bool = False,
        allow: str | Iterable[str] | None = None,
        deny: str | Iterable[str] | None = None,
        locations: str | Iterable[str] | None = None,
        skip_revocation_check: bool = False,
        verify_type: bool = True,
    ) -> Requirements:
        """Validated requirements; equal arguments give the same object (plans are kept per object)."""
        return _build(
            token_type,
            bool(fresh_required),
            bool(optional),
            _role_set(allow, "allow"),
            _role_set(deny, "deny"),
            None if locations is None else _location_tuple(locations),
            bool(skip_revocation_check),
            bool(verify_type),
        )


@functools.lru_cache(maxsize=256)
def _build(
    token_type: str,
    fresh_required: bool,
    optional: bool,
    allow: frozenset[str] | None,
    deny: frozenset[str] | None,
    locations: tuple[str, ...] | None,
    skip_revocation_check: bool,
    verify_type: bool,
) -> Requirements:
    return Requirements(
        token_type, fresh_required, optional, allow, deny, locations, skip_revocation_check, verify_type
    )


def _role_set(roles: str | Iterable[str] | None, name: str) -> frozenset[str] | None:
    if roles is None:
        return None
    items = (roles,) if isinstance(roles, str) else tuple(roles)
    if not all(isinstance(item, str) for item in items):
        raise ConfigurationError(f"{name}=: must be a role name or a list of role names, got {roles!r}")
    return frozenset(items)


def _location_tuple(locations: str | Iterable[str]) -> tuple[str, ...]:
    return normalize_locations((locations,) if isinstance(locations, str) else tuple(locations), "locations=")
