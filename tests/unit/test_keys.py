"""Key loading: algorithm pinning and key/algorithm family checks, at startup."""

from __future__ import annotations

import hmac
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from sanic_jwt_extended.exceptions import ConfigurationError, InvalidSignatureError
from sanic_jwt_extended.key_loading import load_keys
from sanic_jwt_extended.keys import hmac_states, supported_algorithms

from ..helpers import make_app, public_pem

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC = ec.generate_private_key(ec.SECP256R1())
ED = ed25519.Ed25519PrivateKey.generate()


def load(**kwargs: Any) -> Any:
    base: dict[str, Any] = {
        "algorithm": "HS256",
        "decode_algorithms": None,
        "secret_key": None,
        "private_key": None,
        "public_key": None,
        "allow_weak_secret": False,
    }
    base.update(kwargs)
    return load_keys(**base)


@pytest.mark.parametrize(
    ("algorithm", "private"),
    [("RS256", RSA), ("PS512", RSA), ("ES256", EC), ("EdDSA", ED)],
)
def test_asymmetric_keys_derive_the_public_half(algorithm: str, private: Any) -> None:
    keys = load(algorithm=algorithm, private_key=private)
    assert keys.signing_key is private
    assert keys.verification_key.public_numbers() if algorithm != "EdDSA" else keys.verification_key
    assert "PRIVATE" not in repr(keys)


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"algorithm": "RS256", "private_key": public_pem(RSA)}, "private_key"),  # public key as signing key
        ({"algorithm": "ES256", "private_key": RSA}, "private_key"),  # wrong family
        ({"algorithm": "RS256", "public_key": RSA}, "public_key"),  # private key as public key
        ({"algorithm": "HS256", "secret_key": public_pem(RSA)}, "secret_key"),  # PEM as HMAC secret
        ({"algorithm": "RS256", "decode_algorithms": ["RS256", "ES256"], "private_key": RSA}, "decode_algorithms"),
        ({"algorithm": "HS256", "decode_algorithms": "HS256", "secret_key": "s" * 64}, "decode_algorithms"),
        ({"algorithm": "HS384", "secret_key": "s" * 40}, "secret_key"),
        ({"algorithm": "HS256", "decode_algorithms": ["HS256", "HS512"], "secret_key": "s" * 40}, "secret_key"),
        ({"algorithm": "HS256", "decode_algorithms": ["HS512"], "secret_key": "s" * 64}, "decode_algorithms"),
    ],
    ids=repr,
)
def test_key_mistakes_fail_naming_the_option(kwargs: dict[str, Any], option: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{option}"):
        load(**kwargs)


def test_rs_and_ps_share_rsa_keys_and_public_only_verifies() -> None:
    keys = load(algorithm="RS256", decode_algorithms=["RS256", "PS256"], public_key=public_pem(RSA))
    assert keys.signing_key is None
    assert keys.decode_algorithms == ("RS256", "PS256")


def test_none_is_never_supported() -> None:
    assert "none" not in supported_algorithms()
    assert {"HS256", "RS256", "ES256", "EdDSA", "PS256"} <= set(supported_algorithms())


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret_bytes", [1, 32, 63, 64, 65, 127, 128, 129, 300])
def test_hmac_states_give_the_standard_hmac(algorithm: str, secret_bytes: int) -> None:
    # Verification copies these states instead of calling hmac.digest: they must agree for
    # secrets shorter than, equal to and longer than the hash's block (64 or 128 bytes).
    secret = bytes(index % 256 for index in range(secret_bytes))
    inner, outer = hmac_states(secret, [algorithm])[algorithm]
    for message in (b"", b"a", b"x" * 55, b"y" * 64, b"z" * 1000):
        first = inner.copy()
        first.update(message)
        second = outer.copy()
        second.update(first.digest())
        name = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}[algorithm]
        assert second.digest() == hmac.digest(secret, message, name)


CLAIMS = {"sub": "a", "iat": 1_700_000_000, "nbf": 1_700_000_000, "exp": 2_000_000_000, "type": "access", "jti": "j"}


@pytest.mark.parametrize("secret", ["s" * 64, "s" * 65, "s" * 128, "s" * 129, "s" * 200])
def test_tokens_signed_elsewhere_verify_with_the_precomputed_states(secret: str) -> None:
    # PyJWT signs with the standard HMAC; our states must accept its tokens, and refuse one
    # signed with a secret differing in its last byte (past the block for long secrets).
    _, manager = make_app(f"hmac_states_{len(secret)}", secret_key=secret, decode_algorithms=["HS256", "HS512"])
    for algorithm in ("HS256", "HS512"):
        good = jwt.encode(CLAIMS, secret, algorithm)
        assert manager.decode_token(good).identity == "a"
        bad = jwt.encode(CLAIMS, secret[:-1] + "t", algorithm)
        with pytest.raises(InvalidSignatureError):
            manager.decode_token(bad)
