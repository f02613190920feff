"""Strict segment parsing (base64url, JSON) and the header memo: it remembers parses, never verdicts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sanic_jwt_extended import codec, segments
from sanic_jwt_extended import exceptions as exc
from sanic_jwt_extended.verification import verifier_of

from ..helpers import b64url, make_app

# (segment, decoded bytes or None when it must be refused)
BASE64URL = [
    (b"", b""),
    (b"QQ", b"A"),
    (b"QUI", b"AB"),
    (b"QUJD", b"ABC"),
    (b"-_8", b"\xfb\xff"),
    (b"QQ==", None),  # padding is not base64url (RFC 7515 §2)
    (b"QQ=", None),
    (b"Q", None),  # a remainder of one character is never base64
    (b"QQ+", None),  # the standard alphabet's characters are foreign here
    (b"Q/Q", None),
    (b"Q Q", None),  # whitespace is not skipped
    (b"Q\nQ", None),
    (b"Q\tQ", None),
    (b"QQ!", None),
    (b"Q.Q", None),
]


@pytest.mark.parametrize(("segment", "expected"), BASE64URL, ids=[repr(s) for s, _ in BASE64URL])
def test_base64url_is_strict(segment: bytes, expected: bytes | None) -> None:
    if expected is None:
        with pytest.raises(exc.DecodeError, match="unpadded base64url"):
            segments.b64decode(segment)
    else:
        assert segments.b64decode(segment) == expected


def encoded(value: Any) -> bytes:
    text = value if isinstance(value, str) else json.dumps(value)
    return b64url(text.encode()).encode()


# (JSON text, message of the refusal)
BAD_JSON = [
    ('{"a": 1, "a": 2}', "Duplicate member name"),
    ('{"a": {"b": 1, "b": 1}}', "Duplicate member name"),
    ('{"a": NaN}', "may not contain NaN"),
    ('{"a": Infinity}', "may not contain Infinity"),
    ("[1]", "must be a JSON object"),
    ('"x"', "must be a JSON object"),
    ("{", "not valid JSON"),
    ('{"a": ' + "[" * 40 + "]" * 40 + "}", "nests deeper"),
]


@pytest.mark.parametrize(("text", "message"), BAD_JSON, ids=[m for _, m in BAD_JSON])
def test_json_objects_are_strict(text: str, message: str) -> None:
    with pytest.raises(exc.DecodeError, match=message):
        segments.json_object(encoded(text), "payload")


def test_claim_names_are_shared_between_tokens() -> None:
    # A cached token's payload holds the one shared string per known name, not its own copy.
    first = segments.json_object(encoded({"sub": "a", "custom": 1}), "payload")
    second = segments.json_object(encoded({"sub": "b", "custom": 2}), "payload")
    shared = [name for name in first if any(name is other for other in second)]
    assert shared == ["sub"]


def test_header_memo_parses_each_segment_once_and_stays_bounded() -> None:
    memo = segments.HeaderMemo(size=2)
    one, two, three = (encoded({"alg": "HS256", "kid": kid}) for kid in ("1", "2", "3"))
    assert memo.parse(one) is memo.parse(one)
    assert memo.parse(two)["kid"] == "2" and len(memo) == 2
    assert memo.parse(three)["kid"] == "3" and len(memo) == 1  # full: started over
    # A refused header is refused every time, and never remembered.
    critical = encoded({"alg": "HS256", "crit": ["exp"]})
    for _ in range(2):
        with pytest.raises(exc.DecodeError, match="critical"):
            memo.parse(critical)
    assert len(memo) == 1


def resign(token: str, header: dict[str, Any] | None = None, signature: str | None = None) -> str:
    """``token`` with another header and/or signature (the payload kept as it is)."""
    head, payload, sig = token.split(".")
    return ".".join(
        (head if header is None else encoded(header).decode(), payload, sig if signature is None else signature)
    )


def test_a_remembered_header_never_lends_its_verdict() -> None:
    app, manager = make_app("segments_memo")
    verifier = verifier_of(app)
    good = manager.create_access_token("alice")
    header = manager.decode_token(good).header
    assert len(verifier.headers) == 1
    # Other headers on the same payload and signature: parsed as new entries, each refused.
    cases: list[tuple[dict[str, Any], type[Exception]]] = [
        ({**header, "alg": "none"}, exc.InvalidAlgorithmError),
        ({**header, "alg": "HS512"}, exc.InvalidAlgorithmError),
        ({**header, "kid": "someone-else"}, exc.UnknownKeyError),
        ({**header, "x": 1}, exc.InvalidSignatureError),  # the header is signed too
    ]
    for changed, error in cases:
        with pytest.raises(error):
            manager.decode_token(resign(good, changed))
    # The remembered header with a signature that does not match: refused as well.
    forged = resign(good, signature=b64url(b"\x00" * 32))
    with pytest.raises(exc.InvalidSignatureError):
        manager.decode_token(forged)
    with pytest.raises(exc.InvalidSignatureError):
        codec.decode(forged, keys=verifier.settings.keys, memo=verifier.headers)
    assert manager.decode_token(good).identity == "alice"
