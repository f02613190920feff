"""The verified-token cache: a token verified once is not verified cryptographically again.

Keyed on the exact token string, so a hit means these very bytes were already checked
against the same keys and the same static claims (signature, aud, iss, required claims,
types). What can change with time is re-checked on every hit: ``exp`` and ``nbf`` against
the clock (an expired entry is dropped and the full path raises the right error), and
revocation, which the verification pipeline checks after decoding, hit or miss.
Framework-free: no Sanic import.
"""

from __future__ import annotations

from typing import Any

__all__ = ("VerifiedCache",)

_Entry = tuple[dict[str, Any], dict[str, Any], float, float]
_NEVER = float("inf")


class VerifiedCache:
    """A bounded map from token string to its verified ``(header, payload)``.

    Eviction is first-in first-out: a dict keeps insertion order, so evicting the oldest
    entry costs O(1) and a hit costs one dict lookup, with no bookkeeping on the hot path.
    """

    __slots__ = ("_entries", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, raw: str, now: float, leeway: float) -> tuple[dict[str, Any], dict[str, Any]] | None:
        entry = self._entries.get(raw)
        if entry is None:
            return None
        header, payload, exp, nbf = entry
        if exp <= now - leeway:
            # Expired: forget it, and let the full path raise ExpiredSignatureError.
            del self._entries[raw]
            return None
        if nbf > now + leeway:
            return None
        return header, payload

    def put(self, raw: str, header: dict[str, Any], payload: dict[str, Any]) -> None:
        if self.size <= 0:
            return
        if len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        exp = payload.get("exp")
        nbf = payload.get("nbf")
        self._entries[raw] = (
            header,
            payload,
            _NEVER if exp is None else float(exp),
            -_NEVER if nbf is None else float(nbf),
        )

    def clear(self) -> None:
        """Forget everything: keys changed, so earlier verdicts may no longer hold."""
        self._entries.clear()
