"""Tokens in HttpOnly cookies, driven from a web page: login, CSRF double submit, refresh, logout.

Run it with ``python examples/browser_app.py`` and open http://127.0.0.1:8000/ in a browser.
The page's script never sees a token: the server keeps both tokens in HttpOnly cookies, and
the page only reads the CSRF cookies, to echo them in the ``X-CSRF-Token`` header of its POSTs.
"""

from __future__ import annotations

import argparse
import hmac
import json as jsonlib
import secrets
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, html, json

from sanic_jwt_extended import (
    JWT,
    Token,
    jwt_required,
    refresh_jwt_required,
    set_access_cookies,
    set_refresh_cookies,
    unset_jwt_cookies,
)

HOST, PORT = "127.0.0.1", 8000
USERS = {"test": "test"}  # demo only: store password hashes (argon2/bcrypt) in real apps
MAX_NOTE_LENGTH = 500

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>sanic-jwt-extended: cookies in the browser</title>
<style nonce="__NONCE__">
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  button { margin: 0.2rem 0.2rem 0.2rem 0; }
  pre { background: #f4f4f4; padding: 0.8rem; white-space: pre-wrap; word-break: break-all; }
  label { margin-right: 0.8rem; }
</style>
</head>
<body>
<h1>Tokens in HttpOnly cookies</h1>
<p>
  <label>Username <input id="username" value="test" autocomplete="username"></label>
  <label>Password <input id="password" type="password" value="test" autocomplete="current-password"></label>
</p>
<p>
  <label>Note <input id="note" value="Hello from the browser" maxlength="500"></label>
</p>
<p>
  <button id="login-button" data-action="login">1. Log in</button>
  <button id="me-button" data-action="me">2. GET /api/me</button>
  <button id="note-button" data-action="createNote">3. POST /api/notes with CSRF header</button>
  <button id="note-no-csrf-button" data-action="createNoteWithoutCsrf">4. POST /api/notes without it</button>
  <button id="refresh-button" data-action="refresh">5. Refresh</button>
  <button id="logout-button" data-action="logout">6. Log out</button>
</p>
<h2>Last response</h2>
<pre id="result" data-action="" data-status="">Nothing yet.</pre>
<h2>What page script can read: <code>document.cookie</code></h2>
<pre id="cookies"></pre>
<p>The access and refresh tokens never appear above: they are HttpOnly cookies, sent by the
browser but invisible to script. Only the CSRF cookies are readable.</p>
<script nonce="__NONCE__">
"use strict";
(() => {
  const CSRF_HEADER = __CSRF_HEADER__;
  const ACCESS_CSRF_COOKIE = __ACCESS_CSRF_COOKIE__;
  const REFRESH_CSRF_COOKIE = __REFRESH_CSRF_COOKIE__;

  function readCookie(name) {
    for (const part of document.cookie.split(";")) {
      const index = part.indexOf("=");
      if (index > 0 && part.slice(0, index).trim() === name) {
        return part.slice(index + 1).trim();
      }
    }
    return null;
  }

  function showCookies() {
    document.getElementById("cookies").textContent = document.cookie || "(none)";
  }

  function show(action, result) {
    const element = document.getElementById("result");
    element.dataset.action = action;
    element.dataset.status = String(result.status);
    element.textContent = action + ": HTTP " + result.status + "\\n" + JSON.stringify(result.body, null, 2);
    showCookies();
  }

  // Every call resolves to {status, body}; a network failure is status 0.
  async function call(action, method, path, options) {
    const { body, csrfCookie } = options || {};
    const headers = {};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (csrfCookie) {
      // Double submit: a cross-site page can make the browser send our cookies, but it
      // cannot read this one to copy it into a header.
      const value = readCookie(csrfCookie);
      if (value) {
        headers[CSRF_HEADER] = value;
      }
    }
    let result;
    try {
      const response = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        parsed = text;
      }
      result = { status: response.status, body: parsed };
    } catch (error) {
      result = { status: 0, body: String(error) };
    }
    show(action, result);
    return result;
  }

  function field(id) {
    return document.getElementById(id).value;
  }

  const actions = {
    login(username, password) {
      return call("login", "POST", "/login", {
        body: { username: username ?? field("username"), password: password ?? field("password") },
      });
    },
    me() {
      return call("me", "GET", "/api/me");
    },
    createNote(text) {
      return call("createNote", "POST", "/api/notes", {
        body: { text: text ?? field("note") },
        csrfCookie: ACCESS_CSRF_COOKIE,
      });
    },
    createNoteWithoutCsrf(text) {
      return call("createNoteWithoutCsrf", "POST", "/api/notes", { body: { text: text ?? field("note") } });
    },
    refresh() {
      // The refresh token has its own CSRF value, in its own cookie.
      return call("refresh", "POST", "/refresh", { csrfCookie: REFRESH_CSRF_COOKIE });
    },
    logout() {
      return call("logout", "POST", "/logout");
    },
  };

  Object.assign(window, actions, { readCookie });
  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => actions[button.dataset.action]());
  }
  showCookies();
  document.body.dataset.ready = "true";
})();
</script>
</body>
</html>
"""


def create_app(name: str = "browser_app") -> Sanic[Any, Any]:
    app = Sanic(name)
    app.ctx.notes = {}

    with JWT.initialize(app) as manager:
        # SANIC_JWT_SECRET_KEY in the environment wins; otherwise a fresh random secret,
        # which logs everyone out on restart (fine for a demo).
        if not manager.config.secret_key:
            manager.config.secret_key = secrets.token_urlsafe(64)
        # Cookies first: that is where the page's tokens live. Headers still work for curl.
        manager.config.token_location = ("cookies", "headers")
        # The demo is served over plain http://127.0.0.1, and a Secure cookie must only travel
        # over HTTPS. Recent Chromium makes an exception for localhost, but other browsers and
        # older versions drop Secure cookies set over HTTP, so the demo turns Secure off.
        # Never do this in production: serve HTTPS and keep the default (True).
        manager.config.cookie_secure = False

    config = manager.config
    page = (
        PAGE.replace("__CSRF_HEADER__", jsonlib.dumps(config.csrf_header_name))
        .replace("__ACCESS_CSRF_COOKIE__", jsonlib.dumps(config.access_csrf_cookie_name))
        .replace("__REFRESH_CSRF_COOKIE__", jsonlib.dumps(config.refresh_csrf_cookie_name))
    )

    def credentials_ok(request: Request) -> tuple[str, bool]:
        body: Any = request.json
        if not isinstance(body, dict):
            return "", False
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return "", False
        expected = USERS.get(username, "")
        # Constant-time compare; the non-empty check keeps unknown users out.
        return username, bool(expected) and hmac.compare_digest(password.encode(), expected.encode())

    @app.get("/")
    async def index(request: Request) -> HTTPResponse:
        # A fresh nonce per response: only the page's own inline script and style may run.
        nonce = secrets.token_urlsafe(16)
        policy = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        return html(
            page.replace("__NONCE__", nonce),
            headers={
                "Content-Security-Policy": policy,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        """Password checked: both tokens go into HttpOnly cookies, none into the body."""
        username, ok = credentials_ok(request)
        if not ok:
            return json({"msg": "Bad username or password"}, status=401)
        response = json({"msg": "Logged in", "identity": username})
        set_access_cookies(response, JWT.create_access_token(identity=username, fresh=True))
        set_refresh_cookies(response, JWT.create_refresh_token(identity=username))
        return response

    @app.get("/api/me")
    @jwt_required
    async def me(request: Request, token: Token) -> HTTPResponse:
        """GET is not CSRF-checked: it must not change anything."""
        return json({"identity": token.identity, "fresh": token.fresh, "location": request.ctx.jwt_location})

    @app.post("/api/notes")
    @jwt_required
    async def create_note(request: Request, token: Token) -> HTTPResponse:
        """A state-changing request: with a cookie-borne token it needs the CSRF header."""
        body: Any = request.json
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_LENGTH:
            return json({"msg": f"Send {{'text': '...'}} with 1 to {MAX_NOTE_LENGTH} characters"}, status=400)
        notes = app.ctx.notes.setdefault(token.identity, [])
        notes.append(text)
        return json({"msg": "Note saved", "identity": token.identity, "text": text, "count": len(notes)})

    @app.post("/refresh")
    @refresh_jwt_required
    async def refresh(request: Request, token: Token) -> HTTPResponse:
        """A new access cookie (and CSRF cookie); no password here, so not fresh."""
        response = json({"msg": "Access token refreshed", "identity": token.identity})
        set_access_cookies(response, JWT.create_access_token(identity=token.identity, fresh=False))
        return response

    @app.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        """Expire every token and CSRF cookie. Unprotected, so that it works with expired tokens."""
        response = json({"msg": "Logged out"})
        unset_jwt_cookies(response)
        return response

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    print(f"Open http://{args.host}:{args.port}/ in a browser (log in as test / test).", flush=True)
    # One process: the demo's random secret must be shared by everything that verifies.
    create_app().run(host=args.host, port=args.port, single_process=True, access_log=False)


if __name__ == "__main__":
    main()
