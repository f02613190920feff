"""A fetched JWK Set (resource-server mode) turned into verification keys, entry by entry.

A document from the network can add keys, never widen the algorithm allow-list; a bad entry
is skipped with a warning and never costs the others. Framework-free.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from .keys import ALGORITHMS, THUMBPRINT_MEMBERS, VerificationKey, accepts, from_jwk, key_family, thumbprint

__all__ = ("parse_jwk_set",)

logger = logging.getLogger("sanic_jwt_extended")


def parse_jwk_set(data: Any, decode_algorithms: Sequence[str]) -> dict[str, VerificationKey]:
    """Keys of a fetched JWK Set usable with ``decode_algorithms``, by kid (resource-server mode).

    Keys without a kid, of unknown types, private keys or HMAC secrets are skipped: a JWK Set
    from the network can add keys, never widen the algorithm allow-list. Each entry stands
    alone: a bad one is skipped with a warning and never costs the other keys. Never raises.
    Each key's ``public_jwk`` holds its RFC 7638 members, so a caller can tell a key replaced
    under the same kid by its thumbprint.
    """
    keys: dict[str, VerificationKey] = {}
    entries = data.get("keys") if isinstance(data, Mapping) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        reason = _unusable(entry, keys)
        if reason is None:
            try:
                key = _remote_key(entry, decode_algorithms)
            # Whatever PyJWK or cryptography raise for a hostile entry (NotImplementedError for
            # alg "none", ValueError for a bad point...): one entry must not cost the set.
            except Exception as error:
                reason = f"not a usable JWK ({type(error).__name__})"
            else:
                if key is not None:
                    keys[key.kid] = key
                    continue
                logger.debug("jwks_url: key %d fits no algorithm in decode_algorithms; not used", index)
                continue
        logger.warning("jwks_url: skipping key %d of the JWK Set: %s", index, reason)
    return keys


def _unusable(entry: Any, keys: Mapping[str, VerificationKey]) -> str | None:
    """Why ``entry`` is skipped before any parsing, or ``None``. Never echoes key material."""
    if not isinstance(entry, Mapping):
        return "not a JSON object"
    kid, kty, alg = entry.get("kid"), entry.get("kty"), entry.get("alg")
    if not isinstance(kid, str) or not kid:
        return "no string kid"
    if kid in keys:
        return "a second key with the same kid (the first one is kept)"
    if kty == "oct":
        return "an HMAC secret (never accepted from the network)"
    if kty not in THUMBPRINT_MEMBERS:
        return "unknown key type"
    if "d" in entry:
        return "a private key published by mistake"
    if alg is not None and (not isinstance(alg, str) or alg not in ALGORITHMS):
        return "alg 'none' or unknown"  # 'none' is never in ALGORITHMS
    if entry.get("use", "sig") != "sig":
        return "not a signature key (use)"
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return "not a verification key (key_ops)"
    return None


def _remote_key(entry: Mapping[str, Any], decode_algorithms: Sequence[str]) -> VerificationKey | None:
    kty = str(entry["kty"])
    algorithms = [name for name in decode_algorithms if key_family(name) == kty]
    if isinstance(entry.get("alg"), str):
        algorithms = [name for name in algorithms if name == entry["alg"]]
    if not algorithms:
        return None  # checked before loading: no key work for a key we would not use
    prepared, _, kid = from_jwk(entry, "jwks_url")
    # As for local keys: only algorithms this very key works with (an EC curve fixes one).
    algorithms = [name for name in algorithms if accepts(name, prepared)]
    if not algorithms or kid is None:
        return None
    members = {name: entry[name] for name in THUMBPRINT_MEMBERS[kty]}
    thumbprint(members)  # the members must be hashable as RFC 7638 says, or the entry is bad
    return VerificationKey(kid, prepared, {name: ALGORITHMS[name] for name in algorithms}, {**members, "kid": kid})
