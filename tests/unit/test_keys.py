"""Key loading: algorithm pinning and key/algorithm family checks, at startup."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from sanic_jwt_extended.exceptions import ConfigurationError
from sanic_jwt_extended.key_loading import load_keys
from sanic_jwt_extended.keys import supported_algorithms

from ..helpers import public_pem

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
