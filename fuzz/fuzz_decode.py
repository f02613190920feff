"""Coverage-guided fuzzing of ``codec.decode`` with atheris (libFuzzer for Python).

The contract under test: whatever string reaches ``codec.decode``, it either returns a
verified ``(header, payload)`` whose ``sub`` and ``type`` are strings, or raises a
``JWTExtendedException``. Any other exception escapes ``TestOneInput`` and atheris reports
it as a crash.

The first byte of each input picks a mode, the rest feeds it:

- 0: the bytes as a token string, as is (libFuzzer mutates token text directly);
- 1: structured mutations of a valid token (splices into header/payload/signature,
  deletions, segment swaps), optionally re-signed with the real key;
- 2: arbitrary header and payload JSON (or raw bytes) signed with the real key, so the
  claim checks behind the signature are reached.

Run it (see fuzz/README.md)::

    python fuzz/fuzz_decode.py -max_total_time=600 fuzz/corpus

The module imports without atheris (a small stand-in for ``FuzzedDataProvider`` is used),
so ``tests/security/test_fuzz_harness.py`` can call ``TestOneInput`` directly.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import struct
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

try:
    import atheris
except ImportError:  # the smoke test runs without it
    atheris = None

with atheris.instrument_imports() if atheris is not None else contextlib.nullcontext():
    from sanic_jwt_extended import codec
    from sanic_jwt_extended.exceptions import JWTExtendedException
    from sanic_jwt_extended.key_loading import load_keys

__all__ = ("KEYS", "MAX_BYTES", "REQUIRED", "VALID_TOKEN", "TestOneInput", "check_token", "write_seed_corpus")

SECRET = "k" * 64
REQUIRED = ("exp", "iat", "jti", "type", "sub")
MAX_BYTES = 8192

KEYS = load_keys(
    algorithm="HS256",
    decode_algorithms=None,
    secret_key=SECRET,
    private_key=None,
    public_key=None,
    allow_weak_secret=False,
)
# A fixed issue time and jti make the valid token, and so every crash file, reproducible;
# the expiry is decades away so it stays valid for as long as anyone runs this.
_ISSUED = datetime(2024, 1, 1, tzinfo=timezone.utc)
VALID_CLAIMS: dict[str, Any] = {
    **codec.build_claims(
        identity="alice",
        token_type="access",
        now=_ISSUED,
        expires_delta=timedelta(days=365 * 50),
        identity_claim="sub",
        fresh=False,
    ),
    "jti": "00000000-0000-4000-8000-000000000000",
}
VALID_TOKEN = codec.encode(VALID_CLAIMS, keys=KEYS)
VALID_HEADER: dict[str, Any] = {"alg": "HS256", "typ": "JWT", "kid": KEYS.kid}

_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CLAIM_NAMES = ["sub", "type", "exp", "iat", "nbf", "jti", "fresh", "aud", "iss", "role", "csrf", "fam"]
_HEADER_NAMES = ["alg", "kid", "typ", "crit", "b64", "jku", "jwk", "x5u", "x5c", "zip", "cty"]
_ALGS = ["HS256", "HS384", "HS512", "hs256", "none", "None", "RS256", "ES256", "EdDSA", "", "HS256 "]
_NOW = int(_ISSUED.timestamp())
_NUMBERS: list[Any] = [
    0,
    -1,
    1,
    _NOW,
    _NOW - 3600,
    _NOW + 3600,
    2**31,
    2**53 + 1,
    2**63,
    2**64,
    253402300799,
    253402300800,
    10**400,
    -(10**400),
    1e308,
    -0.0,
    0.5,
    1e-300,
    math.inf,
    -math.inf,
    math.nan,
    True,
    False,
]
_STRINGS = ["access", "refresh", "alice", "", "\x00", "\ud800", "\u202e", "HS256", "none", "null", "a" * 300]
# Texts the JSON decoder must refuse (or survive) behind a valid signature.
_JSON_TEXTS = [
    b"[" * 100_000,  # too long for max_bytes once encoded: caught before parsing
    b"[" * 2500 + b"]" * 2500,  # nesting past the recursion limit, within max_bytes
    b'{"":' * 1050 + b"1" + b"}" * 1050,
    b'{"sub":"alice","sub":"bob","type":"access"}',  # duplicate member
    b'{"exp":NaN}',
    b'{"exp":Infinity}',
    b'{"exp":-Infinity}',
    b'{"exp":' + b"9" * 4400 + b"}",  # over Python's int-string conversion limit
    b'{"exp":1e999}',
    b'{"sub":"\\ud800","type":"access"}',
    b'{"sub":"a"}\x00',
    b"\xef\xbb\xbf{}",  # UTF-8 BOM
    b"\xff\xfe{\x00}\x00",
    b"{}",
    b"null",
    b"",
]


class _FallbackDataProvider:
    """The few ``atheris.FuzzedDataProvider`` methods used here, for runs without atheris.

    Deterministic, like the real one, though it does not consume bytes in the same order.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def remaining_bytes(self) -> int:
        return len(self._data) - self._pos

    def ConsumeBytes(self, count: int) -> bytes:
        chunk = self._data[self._pos : self._pos + max(count, 0)]
        self._pos += len(chunk)
        return chunk

    def ConsumeIntInRange(self, low: int, high: int) -> int:
        span = high - low
        if span <= 0:
            return low
        raw = self.ConsumeBytes((span.bit_length() + 7) // 8)
        return low + int.from_bytes(raw, "little") % (span + 1)

    def ConsumeBool(self) -> bool:
        return bool(self.ConsumeIntInRange(0, 1))

    def ConsumeInt(self, byte_count: int) -> int:
        return int.from_bytes(self.ConsumeBytes(byte_count), "little", signed=True)

    def ConsumeFloat(self) -> float:
        raw = self.ConsumeBytes(8)
        if len(raw) < 8:
            return 0.0
        value: float = struct.unpack("<d", raw)[0]
        return value

    def ConsumeUnicode(self, count: int) -> str:
        # Like atheris: one byte picks ASCII or UTF-16 code units (lone surrogates included).
        if self.ConsumeIntInRange(0, 1) == 0:
            return bytes(b & 0x7F for b in self.ConsumeBytes(count)).decode("ascii")
        raw = self.ConsumeBytes(2 * count)
        return "".join(chr(int.from_bytes(raw[i : i + 2], "little")) for i in range(0, len(raw) - 1, 2))

    def PickValueInList(self, values: list[Any]) -> Any:
        return values[self.ConsumeIntInRange(0, len(values) - 1)]


FuzzedDataProvider: Any = atheris.FuzzedDataProvider if atheris is not None else _FallbackDataProvider


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(header_segment: str, payload_segment: str) -> str:
    """The HS256 signature the configured key gives this signing input."""
    # Mutated segments may hold any character; decode refuses non-ASCII before checking.
    signing_input = f"{header_segment}.{payload_segment}".encode("utf-8", "surrogatepass")
    return _b64url(hmac.new(KEYS.signing_key, signing_input, hashlib.sha256).digest())


def check_token(token: Any) -> None:
    """Decode ``token``; only ``JWTExtendedException`` may escape, and success must be sound."""
    try:
        header, payload = codec.decode(token, keys=KEYS, required=REQUIRED, max_bytes=MAX_BYTES)
    except JWTExtendedException:
        return
    # Explicit raises, not asserts: the checks must hold under `python -O` too.
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise AssertionError(f"decode returned {type(header).__name__}, {type(payload).__name__}")
    if header.get("alg") != "HS256":
        raise AssertionError(f"accepted a token with alg {header.get('alg')!r}")
    for claim in ("sub", "type"):
        if not isinstance(payload.get(claim), str):
            raise AssertionError(f"accepted a token whose {claim!r} is {payload.get(claim)!r}")


# -- mode 1: mutations of the valid token ------------------------------------------------------


def _splice_text(fdp: Any) -> str:
    raw = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 16))
    if fdp.ConsumeBool():
        return "".join(_B64URL_ALPHABET[b % 64] for b in raw)  # stays base64url: reaches JSON parsing
    return bytes(raw).decode("latin-1")  # any byte, including '.', '=', '+', '/', and non-ASCII


def _mutate_segment(segment: str, fdp: Any) -> str:
    op = fdp.ConsumeIntInRange(0, 7)
    pos = fdp.ConsumeIntInRange(0, len(segment))
    if op == 0:  # insert
        return segment[:pos] + _splice_text(fdp) + segment[pos:]
    if op == 1:  # overwrite
        text = _splice_text(fdp)
        return segment[:pos] + text + segment[pos + len(text) :]
    if op == 2:  # delete a range
        return segment[:pos] + segment[pos + fdp.ConsumeIntInRange(1, 8) :]
    if op == 3:  # truncate
        return segment[:pos]
    if op == 4:  # replace with arbitrary base64url bytes
        return _b64url(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64)))
    if op == 5:  # padding, which strict base64url refuses
        return segment + "=" * int(fdp.ConsumeIntInRange(1, 3))
    if op == 6:  # swap case of one character
        return segment[:pos] + segment[pos : pos + 1].swapcase() + segment[pos + 1 :]
    return ""  # empty segment


def _mutated_token(fdp: Any) -> str:
    segments = VALID_TOKEN.split(".")
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        action = fdp.ConsumeIntInRange(0, 9)
        if action < 7:
            index = fdp.ConsumeIntInRange(0, len(segments) - 1)
            segments[index] = _mutate_segment(segments[index], fdp)
        elif action == 7 and len(segments) > 1:  # drop a segment
            del segments[fdp.ConsumeIntInRange(0, len(segments) - 1)]
        elif action == 8:  # add a segment
            segments.insert(fdp.ConsumeIntInRange(0, len(segments)), _b64url(fdp.ConsumeBytes(8)))
        else:  # swap two segments
            i, j = fdp.ConsumeIntInRange(0, len(segments) - 1), fdp.ConsumeIntInRange(0, len(segments) - 1)
            segments[i], segments[j] = segments[j], segments[i]
    if len(segments) == 3 and fdp.ConsumeBool():
        # Re-sign, so that a mutated header or payload gets past the signature check.
        segments[2] = _sign(segments[0], segments[1])
    return ".".join(segments)


# -- mode 2: arbitrary JSON signed with the real key -------------------------------------------


def _json_value(fdp: Any, depth: int = 0) -> Any:
    kind = fdp.ConsumeIntInRange(0, 8 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 9))
    if kind == 3:
        return fdp.PickValueInList(_NUMBERS) if fdp.ConsumeBool() else fdp.ConsumeFloat()
    if kind in (4, 5):
        return fdp.PickValueInList(_STRINGS) if fdp.ConsumeBool() else fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 16))
    if kind == 6:
        return [_json_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    return {_name(fdp, _CLAIM_NAMES): _json_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))}


def _name(fdp: Any, known: list[str]) -> str:
    return str(fdp.PickValueInList(known)) if fdp.ConsumeBool() else fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 8))


def _claims(fdp: Any) -> Any:
    """Mostly near-valid claims (so acceptance and expiry are reached), sometimes any JSON."""
    if fdp.ConsumeIntInRange(0, 3) == 0:
        return _json_value(fdp)
    claims = dict(VALID_CLAIMS)
    for _ in range(fdp.ConsumeIntInRange(0, 2)):
        claims.pop(fdp.PickValueInList(sorted(claims)), None)
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        claims[_name(fdp, _CLAIM_NAMES)] = _json_value(fdp)
    return claims


def _header(fdp: Any) -> Any:
    if fdp.ConsumeIntInRange(0, 7) == 0:
        return _json_value(fdp)
    header = dict(VALID_HEADER)
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        name = _name(fdp, _HEADER_NAMES)
        choice = fdp.ConsumeIntInRange(0, 3)
        if choice == 0:
            header.pop(name, None)
        elif choice == 1 and name == "alg":
            header[name] = fdp.PickValueInList(_ALGS)
        else:
            header[name] = _json_value(fdp)
    return header


def _json_bytes(fdp: Any, value: Any) -> bytes:
    choice = fdp.ConsumeIntInRange(0, 9)
    if choice == 0:
        return bytes(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 256)))
    if choice == 1:
        return bytes(fdp.PickValueInList(_JSON_TEXTS))
    # allow_nan: NaN and Infinity are valid Python JSON; decode must still refuse them.
    return json.dumps(value, allow_nan=True, ensure_ascii=fdp.ConsumeBool()).encode("utf-8", "surrogatepass")


def _signed_token(fdp: Any) -> str:
    header_segment = _b64url(_json_bytes(fdp, _header(fdp)))
    payload_segment = _b64url(_json_bytes(fdp, _claims(fdp)))
    return f"{header_segment}.{payload_segment}.{_sign(header_segment, payload_segment)}"


def TestOneInput(data: bytes) -> None:  # the name atheris.Setup expects
    """One fuzz iteration: build a token from ``data`` and decode it."""
    if not data:
        check_token("")
        return
    mode, rest = data[0] % 3, data[1:]
    if mode == 0:
        # Any string: invalid UTF-8 becomes lone surrogates, which decode must refuse.
        check_token(rest.decode("utf-8", "surrogateescape"))
        return
    fdp = FuzzedDataProvider(rest)
    check_token(_mutated_token(fdp) if mode == 1 else _signed_token(fdp))


def write_seed_corpus(directory: str) -> None:
    """A few starting inputs: the valid token (as mode 0) and one input per other mode."""
    os.makedirs(directory, exist_ok=True)
    seeds = {
        "valid_token": b"\x00" + VALID_TOKEN.encode(),
        "three_segments": b"\x00e30.e30.",
        "mutate": b"\x01" + bytes(range(64)),
        "signed_json": b"\x02" + bytes(range(255, 0, -1)),
    }
    for name, seed in seeds.items():
        with open(os.path.join(directory, f"seed_{name}"), "wb") as handle:
            handle.write(seed)


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[1] == "--write-seeds":
        write_seed_corpus(argv[2])
        return
    if atheris is None:
        sys.exit("atheris is not installed: pip install atheris")
    atheris.instrument_all()
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
