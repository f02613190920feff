"""Reading the token cookie: the quick read of the usual ``Cookie`` header says exactly what
Sanic's parser says, for every header shape, adversarial ones included."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sanic import Request
from sanic.response import HTTPResponse, json

from sanic_jwt_extended.exceptions import InvalidRequestError
from sanic_jwt_extended.locations import token_from_cookies

from ..helpers import make_app

NAME = "access_token_cookie"


def _app() -> Any:
    app, manager = make_app("cookie_reading", token_location=("cookies",), cookie_secure=False)

    @app.get("/read")
    async def read(request: Request) -> HTTPResponse:
        try:
            ours: Any = token_from_cookies(request, NAME)
        except InvalidRequestError:
            ours = "error"
        # What the location read before the quick path existed: Sanic's parser alone.
        values = dict.get(request.cookies, NAME)
        parsed = None if not values else "error" if len(values) > 1 else values[0] or None
        return json({"ours": ours, "parsed": parsed})

    return app, manager  # make_app's /protected reads the cookie as every route does


HEADERS = [
    f"{NAME}=abc",
    f"a=1; {NAME}=abc",
    f"{NAME}=abc; a=1",
    f"a=1;{NAME}=abc",  # no space after the separator
    f"a=1;  {NAME}=abc",  # two spaces
    f"a=1;\t{NAME}=abc",
    f"{NAME} =abc",
    f"{NAME}= abc",
    f"{NAME}=abc ; a=1",
    f'{NAME}="abc"',
    f'{NAME}="a\\"bc"',
    f'{NAME}="abc',
    f"{NAME}=",
    f"{NAME}=;",
    f"{NAME}=abc;",
    f"; {NAME}=abc",
    f"{NAME}=abc; {NAME}=def",
    f"{NAME}=abc; a=1; {NAME}=",
    f"x{NAME}=abc",
    f"{NAME}x=abc",
    f"{NAME}_2=abc",
    f"{NAME}_2=abc; {NAME}=def",
    f"a={NAME}=abc",
    f"a=x {NAME}=abc",
    f'a="x; {NAME}=evil"',
    f'a="x; {NAME}=evil; y"',
    f"{NAME}",
    f"={NAME}",
    f"{NAME}=abc=def",
    f"{NAME}=a b",
    "",
    "a=1; b=2",
    f"__Host-{NAME}=abc",
    f"__Host-{NAME}=abc; {NAME}=def",
]


@pytest.mark.parametrize("header", HEADERS)
def test_the_quick_read_agrees_with_sanics_parser(header: str) -> None:
    app, _ = _app()
    _, response = app.test_client.get("/read", headers={"cookie": header} if header else {})
    body = response.json
    assert body["ours"] == body["parsed"], header


def test_the_quick_read_agrees_on_generated_headers() -> None:
    # Headers assembled from the pieces that trip parsers: separators with and without
    # spaces, our name inside values and other names, quotes, padding, repeats.
    rng = random.Random(2026)
    names = [NAME, f" {NAME}", f"{NAME} ", f"x{NAME}", f"{NAME}x", "a", "", "__Host-" + NAME]
    values = ["abc", "", " abc", "abc ", '"abc"', '"a;b"', f"{NAME}=z", "a=b", "a b", '"', "tok.en-_"]
    seps = ["; ", ";", ";  ", " ; ", ";\t"]
    app, _ = _app()
    for _ in range(300):
        parts = [f"{rng.choice(names)}={rng.choice(values)}" for _ in range(rng.randint(1, 4))]
        # An HTTP header value never starts or ends with whitespace (RFC 9110 section 5.5).
        header = ("".join(part + rng.choice(seps) for part in parts[:-1]) + parts[-1]).strip(" \t")
        _, response = app.test_client.get("/read", headers={"cookie": header})
        body = response.json
        assert body["ours"] == body["parsed"], header


@pytest.mark.parametrize(
    ("shape", "status"),
    [
        ("{t}", 200),
        ("theme=dark; {t}; lang=en", 200),
        ("theme=dark;{t}", 200),  # not the browsers' shape: Sanic's parser reads it, same answer
        ('access_token_cookie="{v}"', 200),  # quoted: the parser unquotes it, as before
        ("{t}; {t}", 422),  # two cookies of the name: planted
        ("access_token_cookie_x={v}", 401),  # another cookie's name
        ("a={t}", 401),  # our name inside another cookie's value
    ],
)
def test_token_cookies_over_http(shape: str, status: int) -> None:
    app, manager = _app()
    raw = manager.create_access_token("alice")
    header = shape.format(t=f"{NAME}={raw}", v=raw)
    _, response = app.test_client.get("/protected", headers={"cookie": header})
    assert response.status_code == status, response.json
    if status == 200:
        assert response.json["identity"] == "alice"
    else:
        assert "msg" in response.json
