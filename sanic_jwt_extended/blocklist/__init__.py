"""Revocation stores: the ``Blocklist`` protocol and its in-memory and Redis backends."""

from __future__ import annotations

from .base import Blocklist, RevocationState
from .memory import InMemoryBlocklist
from .redis import RedisBlocklist

__all__ = ("Blocklist", "InMemoryBlocklist", "RedisBlocklist", "RevocationState")
