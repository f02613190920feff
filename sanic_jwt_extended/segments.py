"""The strict parsing of a token's parts: base64url segments and the JSON objects they hold.

Framework-free, and the only place untrusted token bytes become Python objects: base64url
without padding or foreign characters (many strings must not decode alike), JSON without
duplicate member names, ``NaN``/``Infinity`` or deep nesting. ``HeaderMemo`` spares a
verifier parsing the same JOSE header again: nearly every token an app sees was signed with
the same few keys, so the first segment repeats.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any

from . import exceptions as exc
from .claims import REGISTERED_CLAIMS

__all__ = ("MAX_JSON_DEPTH", "HeaderMemo", "b64decode", "json_object", "parse_header", "too_deep")

# base64url to standard base64 in one C call; the characters base64url lacks ("+", "/",
# "=") become "!", which strict mode refuses like any other foreign byte (whitespace too).
_TO_STRICT = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")  # by len % 4; a remainder of 1 is never valid base64


def _strict_mode_available() -> bool:
    try:
        binascii.a2b_base64(b"", strict_mode=True)
    except TypeError:  # Python 3.10: a2b_base64 takes no keyword arguments
        return False
    return True


_STRICT_MODE = _strict_mode_available()
# Without strict mode the decoder skips foreign bytes, so the alphabet is checked first.
_B64URL = re.compile(rb"[A-Za-z0-9_-]*")


def b64decode(segment: bytes) -> bytes:
    """Strict base64url without padding (RFC 7515 §2), or ``DecodeError``."""
    remainder = len(segment) % 4
    if remainder == 1 or not (_STRICT_MODE or _B64URL.fullmatch(segment)):
        raise exc.DecodeError("Token segments must be unpadded base64url")
    try:
        if _STRICT_MODE:
            return binascii.a2b_base64(segment.translate(_TO_STRICT) + _PADDING[remainder], strict_mode=True)
        return binascii.a2b_base64(segment.translate(_TO_STRICT) + _PADDING[remainder])
    except binascii.Error as error:
        raise exc.DecodeError("Token segments must be unpadded base64url") from error


# One string per name a token usually carries: a cached token's payload then shares them
# instead of holding its own copies (the JSON decoder shares keys only within a document).
_NAMES = {name: name for name in (*REGISTERED_CLAIMS, "alg", "kid", "typ", "role")}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8725 §3.1 / RFC 7515 §5.2: a member name twice is a parser-differential attack.
    names = _NAMES
    result = {names.get(name, name): value for name, value in pairs}
    if len(result) != len(pairs):
        raise exc.DecodeError("Duplicate member name in token JSON")
    return result


def _reject_constant(name: str) -> None:
    raise exc.DecodeError(f"Token JSON may not contain {name}")


# Deeper JSON is refused before parsing. The interpreter's own limit is no defence: Python
# 3.13's json no longer raises RecursionError at a few thousand levels. Real claims nest a
# handful of levels.
MAX_JSON_DEPTH = 32
_JSON_SPECIAL = re.compile(r'[\[\]{}"\\]')


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects in the JSON ``text`` nest deeper than ``limit`` (strings ignored).

    Linear in ``len(text)`` and never recursive; ill-formed JSON is left to the parser.
    """
    # Nearly every document has fewer brackets than the limit: two C-speed counts settle it.
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = False
    escaped = -1  # the position a backslash inside a string makes literal
    for match in _JSON_SPECIAL.finditer(text):
        char, position = match.group(), match.start()
        if in_string:
            if position == escaped:
                continue
            if char == "\\":
                escaped = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


# Built once: json.loads() with hooks builds a new decoder on every call.
_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


def json_object(segment: bytes, part: str) -> dict[str, Any]:
    """The JSON object a base64url ``segment`` holds; ``part`` names it in errors."""
    try:
        text = b64decode(segment).decode("utf-8")
        if too_deep(text):
            raise exc.DecodeError(f"Token {part} nests deeper than {MAX_JSON_DEPTH} levels")
        # raw_decode() skips decode()'s two whitespace regex matches; a document with
        # whitespace around it (or anything after it) takes decode(), which refuses a
        # leading BOM as json.loads() does ("Expecting value").
        value, end = _JSON.raw_decode(text) if text[:1] == "{" else (None, -1)
        if end != len(text):
            value = _JSON.decode(text)
    except exc.DecodeError:
        raise
    except (ValueError, RecursionError) as error:  # bad UTF-8, bad JSON, absurd nesting
        raise exc.DecodeError(f"Token {part} is not valid JSON") from error
    if not isinstance(value, dict):
        raise exc.DecodeError(f"Token {part} must be a JSON object")
    return value


def parse_header(segment: bytes) -> dict[str, Any]:
    """The JOSE header a first segment holds, refused if it asks for what we do not implement."""
    header = json_object(segment, "header")
    # RFC 7515 §4.1.11: we implement no extension, so any critical one must be refused;
    # b64=false (RFC 7797) would change what the signature covers.
    if "crit" in header or "b64" in header:
        raise exc.DecodeError("Unsupported critical header")
    return header


class HeaderMemo:
    """Parsed JOSE headers by their exact segment bytes, a few at most (one verifier's).

    Only the parse is remembered, never a verdict: the signature, the algorithm the key
    allows and the key the ``kid`` names are checked on every token. A header written
    differently in any byte is another entry. Headers are shared by the tokens that carry
    them, so nobody may change one (``Token.header`` hands out copies). When full it starts
    over: a client sending many distinct headers only costs the parse the memo would save.
    """

    __slots__ = ("_parsed", "size")

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._parsed: dict[bytes, dict[str, Any]] = {}

    def parse(self, segment: bytes) -> dict[str, Any]:
        header = self._parsed.get(segment)
        if header is None:
            header = parse_header(segment)
            if len(self._parsed) >= self.size:
                self._parsed.clear()
            self._parsed[segment] = header
        return header

    def __len__(self) -> int:
        return len(self._parsed)
