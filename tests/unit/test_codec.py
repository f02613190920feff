"""The framework-free codec: payload rules and PyJWT error translation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import pytest

from sanic_jwt_extended import codec
from sanic_jwt_extended import exceptions as exc
from sanic_jwt_extended.key_loading import load_keys

SECRET = "k" * 64
KEYS = load_keys(
    algorithm="HS256",
    decode_algorithms=None,
    secret_key=SECRET,
    private_key=None,
    public_key=None,
    allow_weak_secret=False,
)


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "identity": "a",
        "token_type": "access",
        # Taken per call: a module-level time expires mid-run on a slow machine.
        "now": datetime.now(timezone.utc),
        "expires_delta": timedelta(minutes=1),
        "identity_claim": "sub",
    }
    base.update(overrides)
    return codec.build_claims(**base)


def test_build_claims() -> None:
    built = claims(fresh=True, role="r", acl_claim="role", iss="i", aud=("a", "b"), csrf="c")
    assert 60 <= built["exp"] - built["iat"] < 61  # rounded up: never shorter than asked
    assert built["nbf"] <= built["iat"] < built["nbf"] + 1  # iat keeps milliseconds
    assert built["aud"] == ["a", "b"] and built["role"] == "r" and built["csrf"] == "c"
    assert len({claims()["jti"] for _ in range(50)}) == 50


@pytest.mark.parametrize(
    "overrides",
    [
        {"public_claims": {"jti": "x"}},
        {"private_claims": {"iat": 0}},
        {"public_claims": {"role": "admin"}, "acl_claim": "role"},
        {"public_claims": {1: "x"}},
        {"role": []},
        {"role": ["a", 1]},
    ],
    ids=repr,
)
def test_reserved_and_invalid_claims_raise(overrides: dict[str, Any]) -> None:
    with pytest.raises(exc.TokenCreationError):
        claims(**overrides)


def sign(payload: Any, secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


# (id, token builder, expected exception class)
DECODE_ERRORS = [
    ("empty", lambda: "", exc.DecodeError),
    ("not a string", lambda: 42, exc.DecodeError),
    ("too long", lambda: "a" * 9000, exc.TokenTooLargeError),
    ("non-ascii", lambda: "é.é.é", exc.DecodeError),
    ("garbage", lambda: "abc", exc.DecodeError),
    ("bad signature", lambda: sign({"sub": "a"}, "x" * 64), exc.InvalidSignatureError),
    ("expired", lambda: sign({"exp": 1}), exc.ExpiredSignatureError),
    ("exp is a string", lambda: sign({"exp": "soon"}), exc.DecodeError),
    ("exp is huge", lambda: sign({"exp": 10**30}), exc.DecodeError),
    ("exp is negative", lambda: sign({"exp": -5, "iat": 0}), exc.DecodeError),
    ("iat is a bool", lambda: sign({"iat": True}), exc.DecodeError),
    ("nbf in the future", lambda: sign({"nbf": 4_000_000_000}), exc.ImmatureSignatureError),
    ("wrong algorithm", lambda: jwt.encode({}, SECRET, algorithm="HS384"), exc.InvalidAlgorithmError),
]


@pytest.mark.parametrize(("case", "build", "error"), DECODE_ERRORS, ids=[d[0] for d in DECODE_ERRORS])
def test_decode_translates_every_failure(case: str, build: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        codec.decode(build(), keys=KEYS, max_bytes=8192)
    assert isinstance(info.value, exc.JWTExtendedException)


def test_decode_missing_claim_names_it() -> None:
    with pytest.raises(exc.MissingRequiredClaimError, match="'type'") as info:
        codec.decode(sign({"sub": "a"}), keys=KEYS, required=("type",))
    assert info.value.fields["claim"] == "type"


def test_round_trip() -> None:
    token = codec.encode(claims(), keys=KEYS, headers={"x-app": "1"})
    header, payload = codec.decode(token, keys=KEYS, required=("exp", "jti", "type", "sub"))
    assert header["x-app"] == "1" and payload["sub"] == "a"
