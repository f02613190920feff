"""``get_unverified_jwt_headers``: the header only, untrusted, and only our error family."""

from __future__ import annotations

from typing import Any

import pytest

from sanic_jwt_extended import get_unverified_jwt_headers
from sanic_jwt_extended.exceptions import DecodeError, InvalidRequestError, InvalidTokenError

from ..helpers import b64url, make_app

PAYLOAD = b64url(b'{"sub":"a"}')


def test_returns_the_header_of_a_token_without_verifying_it() -> None:
    _, manager = make_app()
    token = manager.create_access_token("a", additional_headers={"tenant": "acme"})
    header = get_unverified_jwt_headers(token)
    assert header["alg"] == "HS256" and header["tenant"] == "acme" and header["kid"] == manager.settings.keys.kid
    # Not verified: a forged signature still shows its header.
    assert get_unverified_jwt_headers(token.rsplit(".", 1)[0] + ".AAAA")["tenant"] == "acme"


def segment(data: bytes) -> str:
    return f"{b64url(data)}.{PAYLOAD}.x"


@pytest.mark.parametrize(
    "token",
    [
        "",
        None,
        123,
        b"a.b.c",
        "abc",
        "a.b",
        "a.b.c.d",
        f"!!!.{PAYLOAD}.x",
        segment(b"not json"),
        segment(b"[1, 2]"),
        segment(b'{"alg": "HS256", "alg": "none"}'),
        segment(b'{"alg": "HS256", "crit": ["exp"]}'),
        segment(bytes([0xFF, 0xFE])),
        segment(b"[" * 100 + b"]" * 100),
        "\u00e9.b.c",
        "a" * 10_000,
    ],
    ids=lambda value: repr(value)[:30],
)
def test_malformed_input_raises_our_decode_error_family(token: Any) -> None:
    with pytest.raises((DecodeError, InvalidRequestError)) as raised:
        get_unverified_jwt_headers(token)
    assert isinstance(raised.value, (InvalidTokenError, InvalidRequestError))
    assert not isinstance(raised.value, ValueError)
