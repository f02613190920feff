"""The command line: run as users run it (``python -m sanic_jwt_extended``) in a subprocess,
and in-process through ``cli.main`` for the error table and the checks against a real app."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from sanic_jwt_extended import JWTManager, jwt_required
from sanic_jwt_extended.cli import main
from sanic_jwt_extended.keys import thumbprint

from ..helpers import SECRET, Client, make_app


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sanic_jwt_extended", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main(args)`` in-process: (exit code, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "secret"
    path.write_text(SECRET + "\n")
    return path


# -- subprocess: keygen -> token -> decode, jwks ---------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "algorithm", "extra"),
    [
        ("hmac", "HS256", []),
        ("RS256", "RS256", ["--bits", "2048"]),
        ("ES384", "ES384", []),
        ("ed25519", "EdDSA", []),
    ],
)
def test_keygen_token_decode_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, algorithm: str, extra: list[str]
) -> None:
    key = tmp_path / "key"
    generated = run("keygen", kind, "--out", str(key), *extra)
    assert generated.returncode == 0, generated.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    if kind == "hmac":
        sign = verify = ["--secret-file", str(key)]
    else:
        assert "PRIVATE KEY" in key.read_text()
        assert "PUBLIC KEY" in (tmp_path / "key.pub").read_text()
        sign, verify = ["--key", str(key)], ["--key", str(tmp_path / "key.pub")]

    minted = run("token", "alice", "--fresh", "--role", "admin", "--claim", "tier=3", *sign)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()

    decoded = run("decode", token, *verify)
    assert decoded.returncode == 0, decoded.stderr
    document = json.loads(decoded.stdout)
    assert document["verified"] is True
    assert document["header"]["alg"] == algorithm
    claims = document["claims"]
    assert (claims["sub"], claims["type"], claims["fresh"], claims["role"], claims["tier"]) == (
        "alice",
        "access",
        True,
        "admin",
        3,
    )
    assert "UNVERIFIED" not in decoded.stderr

    # Another key of the same kind must not verify it (in-process: the exit path is the same).
    other = tmp_path / "other"
    assert call(capsys, "keygen", kind, "--out", str(other), *extra)[0] == 0
    wrong = ["--secret-file", str(other)] if kind == "hmac" else ["--key", str(other) + ".pub"]
    code, out, err = call(capsys, "decode", token, *wrong)
    assert (code, out) == (1, "")
    assert "token rejected" in err


def test_jwks_kid_is_the_rfc7638_thumbprint_and_matches_tokens(tmp_path: Path) -> None:
    assert run("keygen", "ES256", "--out", str(tmp_path / "ec")).returncode == 0
    generated = run("keygen", "EdDSA", "--out", str(tmp_path / "ed"))
    published = run("jwks", str(tmp_path / "ec.pub"), str(tmp_path / "ed"))  # a private file: public half only
    assert published.returncode == 0, published.stderr
    keys = json.loads(published.stdout)["keys"]
    assert [key["alg"] for key in keys] == ["ES256", "EdDSA"]
    for key in keys:
        assert key["kid"] == thumbprint(key)
        assert "d" not in key
        assert key["use"] == "sig"
    assert keys[1]["kid"] in generated.stderr  # keygen reports the kid too
    token = run("token", "bob", "--key", str(tmp_path / "ec")).stdout.strip()
    header = json.loads(run("decode", token).stdout)["header"]
    assert header["kid"] == keys[0]["kid"]


def test_decode_without_a_key_is_marked_unverified(secret_file: Path) -> None:
    token = run("token", "carol", "--secret-file", str(secret_file)).stdout.strip()
    # From stdin, pasted with its "Bearer " scheme.
    decoded = run("decode", stdin=f"Bearer {token}\n")
    assert decoded.returncode == 0
    assert decoded.stderr.startswith("UNVERIFIED:")
    document = json.loads(decoded.stdout)
    assert document["verified"] is False
    assert document["claims"]["sub"] == "carol"
    assert set(document["dates"]) == {"iat", "nbf", "exp"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["decode", "not-a-token"], 1, "not a JWT"),
        (["decode", "a.b.c", "--secret", SECRET], 1, "token rejected"),
        (["token", "x", "--key", "/nonexistent/key.pem"], 2, "cannot read key file"),
        (["keygen", "dsa"], 2, "not one of"),
    ],
    ids=["garbage", "bad-segments", "missing-file", "unknown-kind"],
)
def test_bad_input_exits_non_zero_without_a_traceback(args: list[str], code: int, message: str) -> None:
    result = run(*args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_entry_points_are_declared() -> None:
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("sanic-jwt-extended") == "sanic_jwt_extended.cli:main"
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("sanic_jwt_extended") == "sanic_jwt_extended.pytest_plugin"


# -- in-process: the same rules as an app -------------------------------------------------------


def roles_app(**options: Any) -> tuple[Client, JWTManager]:
    app, manager = make_app("cli_app", use_acl=True, **options)

    @app.get("/admin")
    @jwt_required(allow=["admin"])
    async def admin(request: Request) -> HTTPResponse:
        return json_response({"ok": True})

    return Client(app), manager


def test_cli_tokens_are_accepted_by_an_app_with_the_same_options(capsys: pytest.CaptureFixture[str]) -> None:
    client, _ = roles_app(default_iss="https://issuer.example", default_aud="api", public_claim_namespace="https://x/")
    options = ["--secret", SECRET, "--set", "default_iss=https://issuer.example", "--set", "default_aud=api"]
    options += ["--set", "public_claim_namespace=https://x/"]
    code, out, err = call(capsys, "token", "alice", "--role", "admin", "--claim", "plan=pro", *options)
    assert code == 0, err
    token = out.strip()
    response = client.get("/admin", token)
    assert response.status == 200, response.json
    assert client.get("/fresh", token).status == 401  # not fresh unless asked
    code, out, _ = call(capsys, "decode", token, *options)
    claims = json.loads(out)["claims"]
    assert (claims["iss"], claims["aud"], claims["https://x/plan"]) == ("https://issuer.example", "api", "pro")

    # Without the audience option, verification fails as the app's would.
    code, _, err = call(capsys, "decode", token, "--secret", SECRET)
    assert code == 1
    assert "audience" in err.lower()


def test_app_tokens_decode_and_backdated_cli_tokens_expire(capsys: pytest.CaptureFixture[str]) -> None:
    client, manager = roles_app()
    code, out, _ = call(capsys, "decode", manager.create_refresh_token("dave"), "--secret", SECRET)
    assert code == 0
    assert json.loads(out)["claims"]["type"] == "refresh"

    _, out, _ = call(capsys, "token", "dave", "--secret", SECRET, "--expires", "10m", "--issued-ago", "11m")
    response = client.get("/protected", out.strip())
    assert response.status == 401
    assert response.json == {"msg": "Token has expired"}
    code, _, err = call(capsys, "decode", out.strip(), "--secret", SECRET)
    assert (code, "Token has expired" in err) == (1, True)
    # leeway, as a Config option, applies to the CLI's verification too.
    code, _, _ = call(capsys, "decode", out.strip(), "--secret", SECRET, "--set", "leeway=120")
    assert code == 0


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ([], 1),  # written for aud "web", checked against default_aud "api"
        (["--set", 'decode_audience=["api","web"]'], 0),
        (["--set", 'decode_audience=["api","web"]', "--set", "decode_issuer=https://other.example"], 1),
        (["--set", 'decode_audience=["api","web"]', "--set", 'decode_issuer=["https://i.example","x"]'], 0),
    ],
)
def test_decode_accepts_what_the_app_accepts(capsys: pytest.CaptureFixture[str], options: list[str], code: int) -> None:
    # The CLI verifies with the same accepted audiences/issuers as the app (decode_*, else default_*).
    _, out, _ = call(capsys, "token", "erin", "--secret", SECRET, "--aud", "web", "--iss", "https://i.example")
    common = ["--set", "default_aud=api", "--set", "default_iss=https://i.example"]
    assert call(capsys, "decode", out.strip(), "--secret", SECRET, *common, *options)[0] == code


def test_cookie_configuration_puts_a_csrf_value_in_cli_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = call(capsys, "token", "erin", "--secret", SECRET, "--set", 'token_location=["cookies"]')
    _, decoded, _ = call(capsys, "decode", out.strip())
    assert isinstance(json.loads(decoded)["claims"]["csrf"], str)
    _, out, _ = call(capsys, "token", "erin", "--secret", SECRET, "--refresh", "--set", "use_blocklist=true",
                     "--set", "refresh_token_rotation=true")  # fmt: skip
    _, decoded, _ = call(capsys, "decode", out.strip())
    assert json.loads(decoded)["claims"]["fam"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["token", "x"], 2, "token needs a key"),
        (["token", "x", "--secret", "short"], 2, "secret_key: is 5 bytes"),
        (["token", "x", "--secret", SECRET, "--set", "leewy=1"], 2, "Did you mean 'leeway'"),
        (["token", "x", "--secret", SECRET, "--set", "leeway=-1"], 2, "leeway: must be"),
        (["token", "x", "--secret", SECRET, "--set", "broken"], 2, "NAME=VALUE"),
        (["token", "x", "--secret", SECRET, "--claim", "sub=eve"], 2, "reserved"),
        (["token", "x", "--secret", SECRET, "--header", "alg=none"], 2, "may not set ['alg']"),
        (["token", "x", "--secret", SECRET, "--expires", "0"], 2, "not a positive duration"),
        (["token", "x", "--secret", SECRET, "--expires", "never"], 2, "require_exp=false"),
        (["token", "x", "--secret", SECRET, "--expires", "99999999999d"], 2, "longer than 100 years"),
        (["token", "x", "--secret", SECRET, "--issued-ago", "99999999999d"], 2, "longer than 100 years"),
        (["token", "x", "--secret", SECRET, "--refresh", "--fresh"], 2, "never fresh"),
        (["token", "x", "--secret", SECRET, "--algorithm", "none"], 2, "never accepted"),
        (["token", "x", "--secret", SECRET, "--algorithm", "RS256"], 2, "secret_key: is set but"),
        (["token", "x", "--secret", SECRET, "--secret-env", "NOPE"], 2, "give the secret once"),
        (["decode", "x.y.z", "--secret-env", "SANIC_JWT_TEST_UNSET_VARIABLE"], 2, "is not set"),
        (["decode", "a.b", "--secret", SECRET], 1, "token rejected"),
        (["decode", "e30.e30.", "--secret", SECRET[:40], "--algorithm", "HS512"], 2, "secret_key: is 40 bytes"),
        (["keygen", "rsa", "--bits", "1024"], 2, "at least 2048"),
        (["keygen", "hmac", "--bytes", "16"], 2, "at least 32"),
        (["jwks", "/etc/hostname"], 2, "neither a PEM key nor a JWK"),
    ],
)
def test_error_table(capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str) -> None:
    result, out, err = call(capsys, *args)
    assert result == code
    assert message in err
    assert out == ""


def test_decode_names_the_algorithm_mismatch(capsys: pytest.CaptureFixture[str]) -> None:
    _, token, _ = call(capsys, "token", "x", "--secret", SECRET, "--algorithm", "HS512")
    code, _, err = call(capsys, "decode", token.strip(), "--secret", SECRET)
    assert code == 1
    assert "alg='HS512'" in err


def test_jwks_refuses_hmac_jwks_and_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "oct.json").write_text(json.dumps({"kty": "oct", "k": "c2VjcmV0"}))
    code, _, err = call(capsys, "jwks", str(tmp_path / "oct.json"))
    assert (code, "never published" in err) == (2, True)
    assert call(capsys, "keygen", "ES256", "--out", str(tmp_path / "k"))[0] == 0
    code, _, err = call(capsys, "jwks", str(tmp_path / "k"), str(tmp_path / "k.pub"))
    assert (code, "already in the set" in err) == (2, True)


def test_keygen_never_overwrites_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "secret"
    path.write_text("keep me")
    code, _, err = call(capsys, "keygen", "hmac", "--out", str(path))
    assert (code, "--force" in err, path.read_text()) == (2, True, "keep me")
    assert call(capsys, "keygen", "hmac", "--out", str(path), "--force")[0] == 0
    assert len(path.read_text().strip()) >= 64


def test_keygen_secrets_are_long_and_safe_on_a_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    secrets_seen = {call(capsys, "keygen", "HS512")[1].strip() for _ in range(20)}
    assert len(secrets_seen) == 20
    assert all(len(s) >= 64 and not s.startswith("-") for s in secrets_seen)


def test_a_verify_only_jwk_set_file_verifies_tokens_of_each_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("old", "new"):
        assert call(capsys, "keygen", "RS256", "--bits", "2048", "--out", str(tmp_path / name))[0] == 0
    _, jwks, _ = call(capsys, "jwks", str(tmp_path / "new.pub"), str(tmp_path / "old.pub"))
    (tmp_path / "jwks.json").write_text(jwks)
    for name in ("old", "new"):
        _, token, _ = call(capsys, "token", "x", "--key", str(tmp_path / name))
        code, out, err = call(capsys, "decode", token.strip(), "--key", str(tmp_path / "jwks.json"))
        assert code == 0, err
        assert json.loads(out)["verified"] is True


def test_cli_builds_no_sanic_app() -> None:
    # Minting and decoding go through Config/keys/codec only: no app registry entry.
    before = dict(Sanic._app_registry)
    assert main(["token", "x", "--secret", SECRET]) == 0
    assert Sanic._app_registry == before


# -- --app: the app's own manager -----------------------------------------------------------------

APP_MODULE = f"""
from sanic import Sanic
from sanic_jwt_extended import JWT

def create_app():
    app = Sanic("cli_app_module")
    with JWT.initialize(app) as manager:
        manager.config.secret_key = {SECRET!r}
        manager.config.default_iss = "https://issuer.example"
        manager.config.use_acl = True

        @manager.additional_claims_loader
        def claims(identity):
            return {{"tenant": "t-" + identity}}
    return app

bare = Sanic("cli_bare_module")
"""


def test_app_option_mints_and_verifies_with_the_apps_manager(tmp_path: Path) -> None:
    (tmp_path / "cliapp.py").write_text(APP_MODULE)

    def run_here(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sanic_jwt_extended", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    minted = run_here("token", "alice", "--app", "cliapp:create_app", "--fresh", "--role", "admin")
    assert minted.returncode == 0, minted.stderr
    decoded = run_here("decode", minted.stdout.strip(), "--app", "cliapp:create_app")
    assert decoded.returncode == 0, decoded.stderr
    claims = json.loads(decoded.stdout)["claims"]
    # The loader's claim and the configured issuer: only the app itself knows them.
    assert (claims["tenant"], claims["iss"], claims["fresh"], claims["role"]) == (
        "t-alice",
        "https://issuer.example",
        True,
        "admin",
    )
    expired = run_here("token", "alice", "--app", "cliapp:create_app", "--issued-ago", "1h").stdout.strip()
    rejected = run_here("decode", expired, "--app", "cliapp:create_app")
    assert (rejected.returncode, "Token has expired" in rejected.stderr) == (1, True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app", "cliapp_errors:nope"], "cannot load the app (AttributeError"),
        (["--app", "no_such_module_here:app"], "cannot load the app (ModuleNotFoundError"),
        (["--app", "cliapp_errors:bare"], "has no JWT manager"),
        (["--app", "cliapp_errors:SECRET_VALUE"], "not a Sanic app"),
        (["--app", "cliapp_errors:create_app", "--secret", SECRET], "drop --secret"),
        (["--app", "cliapp_errors:create_app", "--expires", "never"], "require_exp"),
    ],
)
def test_app_option_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "cliapp_errors.py").write_text(APP_MODULE + "\nSECRET_VALUE = 'x'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cliapp_errors", raising=False)
    code, out, err = call(capsys, "token", "alice", *args)
    assert (code, out) == (2, "")
    assert message in err
