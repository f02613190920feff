"""Smoke test of the atheris harness in fuzz/fuzz_decode.py, without a fuzzing run.

``TestOneInput`` is called directly with a few thousand seeded inputs: whatever it builds
from them, ``codec.decode`` may only raise ``JWTExtendedException`` (anything else escapes
and fails the test), and what it accepts must have string ``sub`` and ``type``. Works with
or without atheris installed; one test forces the stand-in data provider either way.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sanic_jwt_extended import codec

HARNESS = Path(__file__).resolve().parent.parent.parent / "fuzz" / "fuzz_decode.py"
SEED = 1234
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Inputs that once escaped codec.decode with a non-JWTExtendedException (mode 0: the rest
# of the input is the token text). Keep every crash the fuzzer finds here.
KNOWN_CRASHES = [
    b"\x00eyJhbGciOiBbXX0.e30.",  # header {"alg": []}: TypeError, unhashable type
    b"\x00eyJhbGciOiB7fX0.e30.",  # header {"alg": {}}
]


def load_harness(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    return load_harness("fuzz_decode")


class Outcomes:
    """Counts what codec.decode did, to check the inputs reach both verdicts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.accepted = 0
        self.rejected: dict[str, int] = {}
        real = codec.decode

        def counting(*args: Any, **kwargs: Any) -> Any:
            try:
                result = real(*args, **kwargs)
            except Exception as error:
                name = type(error).__name__
                self.rejected[name] = self.rejected.get(name, 0) + 1
                raise
            self.accepted += 1
            return result

        monkeypatch.setattr(codec, "decode", counting)


def mutate(token: str, rng: random.Random) -> str:
    """Splice random bytes into one segment of ``token`` (or drop/duplicate a dot)."""
    segments = token.split(".")
    index = rng.randrange(len(segments))
    segment = segments[index]
    pos = rng.randint(0, len(segment))
    action = rng.randrange(4)
    if action == 0:  # random bytes, any value
        segment = segment[:pos] + rng.randbytes(rng.randint(1, 8)).decode("latin-1") + segment[pos:]
    elif action == 1:  # base64url characters, so the segment still decodes
        text = "".join(rng.choice(BASE64URL) for _ in range(rng.randint(1, 8)))
        segment = segment[:pos] + text + segment[pos + len(text) :]
    elif action == 2:
        segment = segment[:pos] + segment[pos + rng.randint(1, 8) :]
    else:
        segment = segment[:pos] + rng.choice([".", "..", "=", "+", "/", " ", "\x00"]) + segment[pos:]
    segments[index] = segment
    return ".".join(segments)


def test_valid_token_is_accepted(harness: ModuleType) -> None:
    # Mutations only mean something if what they start from passes.
    header, payload = codec.decode(
        harness.VALID_TOKEN, keys=harness.KEYS, required=harness.REQUIRED, max_bytes=harness.MAX_BYTES
    )
    assert header["alg"] == "HS256"
    assert payload["sub"] == "alice"
    assert payload["type"] == "access"
    harness.TestOneInput(b"\x00" + harness.VALID_TOKEN.encode())


@pytest.mark.parametrize("data", KNOWN_CRASHES)
def test_known_crashes(harness: ModuleType, data: bytes) -> None:
    harness.TestOneInput(data)


def test_random_bytes(harness: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(SEED)
    outcomes = Outcomes(monkeypatch)
    inputs = [rng.randbytes(rng.randint(0, 512)) for _ in range(1000)]
    for data in [b"", b"\x00", b"\x01", b"\x02", *inputs]:
        harness.TestOneInput(data)
    # The first byte picks the mode: random inputs reach every one, and some get through.
    assert outcomes.accepted > 0
    assert len(outcomes.rejected) >= 4, outcomes.rejected


def test_mutations_of_a_valid_token(harness: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(SEED)
    outcomes = Outcomes(monkeypatch)
    for _ in range(500):
        # Our own splices, fed as raw token text (mode 0).
        token = harness.VALID_TOKEN
        for _ in range(rng.randint(1, 3)):
            token = mutate(token, rng)
        harness.TestOneInput(b"\x00" + token.encode("utf-8", "surrogatepass"))
    for _ in range(500):
        # The harness's structured mutations (mode 1), some re-signed with the real key.
        harness.TestOneInput(b"\x01" + rng.randbytes(rng.randint(0, 128)))
    assert outcomes.rejected.get("InvalidSignatureError", 0) > 0, outcomes.rejected
    assert outcomes.accepted > 0


def test_without_atheris(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whether or not atheris is installed here, the stand-in provider must work too.
    monkeypatch.setitem(sys.modules, "atheris", None)
    fallback = load_harness("fuzz_decode_without_atheris")
    assert fallback.atheris is None
    assert fallback.FuzzedDataProvider.__name__ == "_FallbackDataProvider"
    rng = random.Random(SEED)
    for data in KNOWN_CRASHES:
        fallback.TestOneInput(data)
    for mode in range(3):
        for _ in range(150):
            fallback.TestOneInput(bytes([mode]) + rng.randbytes(rng.randint(0, 384)))
