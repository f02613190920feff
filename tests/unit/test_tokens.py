"""Token: typed read-only view of a verified payload."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from sanic_jwt_extended import Token

RAW = "header.payload.signature-secret-part"


def make(**claims: object) -> Token:
    data = {"sub": "alice", "type": "access", "jti": "j1", "iat": 1_700_000_000, "exp": 1_700_000_900}
    data.update(claims)
    return Token(RAW, data, {"alg": "HS256", "typ": "JWT"})


def test_properties() -> None:
    token = make(fresh=True, role=["a", "b"], iss="me", aud="api", csrf="c", nbf=1_700_000_000)
    assert token.identity == "alice" and token.type == "access" and token.jti == "j1"
    assert token.exp == datetime(2023, 11, 14, 22, 28, 20, tzinfo=timezone.utc)
    assert token.iat is not None and token.iat.tzinfo is timezone.utc
    assert token.nbf == token.iat
    assert (token.iss, token.aud, token.csrf, token.role) == ("me", "api", "c", ["a", "b"])
    assert token.roles == {"a", "b"}
    assert token.header == {"alg": "HS256", "typ": "JWT"}
    assert token.raw_jwt == RAW and token.user is None


@pytest.mark.parametrize(
    ("claims", "fresh"),
    [
        ({"fresh": True}, True),
        ({"fresh": False}, False),
        ({}, None),
        ({"fresh": 4_000_000_000}, True),
        ({"fresh": 1_000_000_000}, False),
        ({"fresh": "yes"}, False),
        ({"fresh": True, "type": "refresh"}, None),
    ],
)
def test_fresh(claims: dict[str, object], fresh: bool | None) -> None:
    assert make(**claims).fresh is fresh


def test_repr_never_shows_the_raw_token() -> None:
    text = repr(make())
    assert RAW not in text and "signature-secret-part" not in text
    assert "alice" in text


def test_read_only() -> None:
    token = make()
    with pytest.raises(AttributeError):
        token.identity = "mallory"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        token.anything = 1  # type: ignore[attr-defined]
    copy = token.raw_data
    copy["sub"] = "mallory"
    assert token.identity == "alice"


def test_no_expiry_and_roles_edge_cases() -> None:
    token = Token(RAW, {"sub": "a", "type": "access"})
    assert token.exp is None and token.roles == frozenset() and token.fresh is None
    assert make(role="admin").roles == {"admin"}
    assert make(role=["admin", 3]).roles == {"admin"}


@pytest.mark.parametrize(
    ("namespace", "prefix", "public", "private"),
    [
        ("", "", {"x": 1, "_y": 2, "ns/z": 3}, {"x": 1, "_y": 2, "ns/z": 3}),
        ("ns/", "_", {"z": 3}, {"y": 2}),
        ("", "_", {"x": 1, "ns/z": 3}, {"y": 2}),
        ("ns/", "", {"z": 3}, {"x": 1, "_y": 2}),
    ],
)
def test_public_and_private_claims(
    namespace: str, prefix: str, public: dict[str, int], private: dict[str, int]
) -> None:
    token = Token(
        RAW,
        {"sub": "a", "type": "access", "role": "r", "x": 1, "_y": 2, "ns/z": 3},
        public_claim_namespace=namespace,
        private_claim_prefix=prefix,
    )
    assert token.public_claims == public
    assert token.private_claims == private
