"""examples/browser_app.py in real headless Chromium: HttpOnly cookies, CSRF double submit, refresh, logout.

Needs the Python ``playwright`` package and a system Chromium (Debian ``chromium``); the browser
is launched from its path, so ``playwright install`` is never needed. Without them the browser
test is skipped, except under ``CI=true``, where it fails so that CI cannot pass vacuously.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import pytest

from ..helpers import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parent.parent.parent
APP = ROOT / "examples" / "browser_app.py"
TIMEOUT_S = 30
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN_COOKIES = ("access_token_cookie", "refresh_token_cookie")
CSRF_COOKIES = ("csrf_access_token", "csrf_refresh_token")


def unavailable(reason: str) -> NoReturn:
    """Skip locally; fail in CI, where a missing browser must not look like a pass."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python examples/browser_app.py` in its own process, as a user would run it."""
    port = free_port()
    log = tmp_path_factory.mktemp("browser_app") / "output.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(APP), "--port", str(port)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{base}/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"examples/browser_app.py did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        unavailable(f"playwright is not installed ({error}); pip install playwright")
    executable = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if executable is None:
        unavailable("no Chromium found on PATH (Debian: apt install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=TIMEOUT_S * 1000
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh cookie jar per test."""
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_S * 1000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext, served: str) -> Iterator[Page]:
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None,
    )
    opened.goto(f"{served}/", wait_until="load")
    opened.wait_for_selector("body[data-ready='true']")
    yield opened
    # No script error and no CSP violation: the page's own script ran as written.
    assert errors == []


def call(page: Page, function: str, *args: Any) -> tuple[int, Any]:
    """Call one of the page's ``window`` functions; returns ``(status, body)``."""
    result = page.evaluate(f"(args) => window.{function}(...args)", list(args))
    return result["status"], result["body"]


def cookies(context: BrowserContext, base: str) -> dict[str, dict[str, Any]]:
    """The browser's cookies for ``base``, by name (empty values count as gone)."""
    return {cookie["name"]: dict(cookie) for cookie in context.cookies(base) if cookie.get("value")}


def test_cookie_flow_in_chromium(context: BrowserContext, page: Page, served: str) -> None:
    # Before login: no cookie, so the protected route refuses.
    assert cookies(context, served) == {}
    status, body = call(page, "me")
    assert status == 401 and "msg" in body

    # Log in by clicking, as a user would; the body carries no token.
    page.click("#login-button")
    page.wait_for_selector("#result[data-action='login'][data-status='200']")
    jar = cookies(context, served)
    assert set(TOKEN_COOKIES + CSRF_COOKIES) <= set(jar)
    for name in TOKEN_COOKIES:
        assert jar[name]["httpOnly"] is True, name
        assert page.text_content("#result").count(jar[name]["value"]) == 0
    for name in CSRF_COOKIES:
        assert jar[name]["httpOnly"] is False, name
    for cookie in jar.values():
        assert cookie["sameSite"] == "Lax" and cookie["path"] == "/"
        assert cookie["secure"] is False  # the example turns Secure off for plain HTTP

    # Page script sees the CSRF cookies, never the tokens.
    visible = page.evaluate("document.cookie")
    assert "csrf_access_token=" in visible and "csrf_refresh_token=" in visible
    for name in TOKEN_COOKIES:
        assert name not in visible
        assert jar[name]["value"] not in visible
    assert page.evaluate("window.readCookie('csrf_access_token')") == jar["csrf_access_token"]["value"]
    assert page.evaluate("window.readCookie('access_token_cookie')") is None

    # A protected GET: the browser sends the cookie by itself; GET needs no CSRF header.
    assert call(page, "me") == (200, {"identity": "test", "fresh": True, "location": "cookies"})
    page.click("#me-button")
    page.wait_for_selector("#result[data-action='me'][data-status='200']")

    # A POST without the CSRF header is refused, though the cookie is sent; nothing is saved.
    status, body = call(page, "createNoteWithoutCsrf", "forged")
    assert status == 401 and "CSRF" in body["msg"]
    assert page.get_attribute("#result", "data-status") == "401"

    # A wrong CSRF value is refused too: the header must equal the cookie.
    status, body = page.evaluate(
        """async () => {
            const response = await fetch("/api/notes", {
                method: "POST",
                credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRF-Token": "not-the-cookie"},
                body: JSON.stringify({text: "forged"}),
            });
            return [response.status, await response.json()];
        }"""
    )
    assert status == 401 and "CSRF" in body["msg"]

    # With the header echoed from the readable cookie, the POST goes through.
    status, body = call(page, "createNote", "first")
    assert (status, body) == (200, {"msg": "Note saved", "identity": "test", "text": "first", "count": 1})

    # Refresh: the refresh cookie plus its own CSRF value buys a new access cookie.
    old_access = jar["access_token_cookie"]["value"]
    old_csrf = jar["csrf_access_token"]["value"]
    status, body = call(page, "refresh")
    assert status == 200 and body["identity"] == "test"
    jar = cookies(context, served)
    assert jar["access_token_cookie"]["value"] != old_access
    assert jar["access_token_cookie"]["httpOnly"] is True
    assert jar["csrf_access_token"]["value"] != old_csrf  # the new token has a new CSRF value
    assert call(page, "me") == (200, {"identity": "test", "fresh": False, "location": "cookies"})
    status, body = call(page, "createNote", "second")
    assert status == 200 and body["count"] == 2

    # Log out: every cookie is expired, and the protected routes refuse again.
    assert call(page, "logout") == (200, {"msg": "Logged out"})
    left = {cookie["name"] for cookie in context.cookies() if cookie.get("value")}  # every path, not only /
    assert left.isdisjoint(TOKEN_COOKIES + CSRF_COOKIES), left
    assert page.evaluate("document.cookie") == ""
    assert call(page, "me")[0] == 401
    assert call(page, "refresh")[0] == 401


def test_bad_login_sets_no_cookie(context: BrowserContext, page: Page, served: str) -> None:
    status, body = call(page, "login", "test", "wrong")
    assert (status, body) == (401, {"msg": "Bad username or password"})
    assert cookies(context, served) == {}
    assert page.get_attribute("#result", "data-status") == "401"


def test_refresh_needs_the_refresh_csrf_value(context: BrowserContext, page: Page, served: str) -> None:
    login = call(page, "login")
    assert login[0] == 200, login

    def refresh_with(header_value: str | None) -> tuple[int, Any]:
        script = """async (value) => {
            const headers = value === null ? {} : {"X-CSRF-Token": value};
            const response = await fetch("/refresh", {method: "POST", credentials: "same-origin", headers});
            return [response.status, await response.json()];
        }"""
        status, body = page.evaluate(script, header_value)
        return status, body

    # The access token's CSRF value does not open the refresh route, nor does no value.
    access_csrf = page.evaluate("window.readCookie('csrf_access_token')")
    assert refresh_with(access_csrf)[0] == 401
    assert refresh_with(None)[0] == 401
    assert refresh_with(page.evaluate("window.readCookie('csrf_refresh_token')"))[0] == 200


def test_page_headers(served: str) -> None:
    """The page runs only its own inline script: a nonce-based CSP, fresh on every response."""
    first, second = httpx.get(f"{served}/", timeout=TIMEOUT_S), httpx.get(f"{served}/", timeout=TIMEOUT_S)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/html")
    policy = first.headers["content-security-policy"]
    assert "script-src 'nonce-" in policy and "connect-src 'self'" in policy
    assert policy != second.headers["content-security-policy"]
    assert "http://" not in first.text and "https://" not in first.text  # nothing external is loaded
