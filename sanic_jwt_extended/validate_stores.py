"""The revocation options of ``Config.seal()``: the blocklist, rotation and sessions, checked
together because each needs the others (a session is ended by revoking its family).
Framework-free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .blocklist.base import Blocklist, SessionStore
from .blocklist.memory import InMemoryBlocklist
from .exceptions import ConfigurationError
from .validate import as_bool, as_choice, as_positive_int, as_str_list

__all__ = ("blocklist_store", "blocklist_values", "session_values")


def blocklist_values(config: Mapping[str, Any]) -> dict[str, Any]:
    use = as_bool(config["use_blocklist"], "use_blocklist")
    rotation = as_bool(config["refresh_token_rotation"], "refresh_token_rotation")
    types = as_str_list(config["blocklist_token_types"], "blocklist_token_types") or ()
    if not set(types) <= {"access", "refresh"}:
        raise ConfigurationError(f"blocklist_token_types: choose from 'access' and 'refresh', got {list(types)}.")
    store = config["blocklist"]
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
        "blocklist_unavailable": as_choice(
            config["blocklist_unavailable"], "blocklist_unavailable", ("fail_closed", "fail_open")
        ),
    }


def blocklist_store(values: dict[str, Any], store: Any, blocklist_loader: bool) -> Any:
    if not values["use_blocklist"]:
        if blocklist_loader:
            raise ConfigurationError(
                "use_blocklist: a token_in_blocklist_loader is registered; set use_blocklist = True."
            )
        return None
    # One process, no setup: the default store when nothing else answers.
    return InMemoryBlocklist() if store is None and not blocklist_loader else store


def session_values(config: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``track_sessions`` / ``max_sessions`` (issue 17), checked once the store is known."""
    track = as_bool(config["track_sessions"], "track_sessions")
    cap = as_positive_int(config["max_sessions"], "max_sessions")
    if track:
        if not values["use_blocklist"]:
            raise ConfigurationError("track_sessions: needs use_blocklist = True (ended sessions are revoked).")
        if set(values["blocklist_token_types"]) != {"access", "refresh"}:
            raise ConfigurationError(
                "track_sessions: needs blocklist_token_types to include 'access' and 'refresh' "
                "(an ended session's access tokens must stop at once)."
            )
        store = values["blocklist"]
        if not isinstance(store, SessionStore):
            name = "only a token_in_blocklist_loader" if store is None else type(store).__name__
            raise ConfigurationError(
                f"track_sessions: the store keeps the sessions, and {name} cannot; "
                "use InMemoryBlocklist(), RedisBlocklist(...) or a store with the SessionStore methods."
            )
    return {"track_sessions": track, "max_sessions": cap}
