"""Auth rules with no server: identities from certificates and tokens, roles.

The end-to-end matrix over real gRPC is in ``test_auth.py``; this pins each
rule at its edges (the expiry instant, the shortest secret, base64 padding,
the order SAN then CN, the exact scheme check).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr

from router.api import auth
from router.api.auth import Identity, Role, TokenSigner
from router.devtools.pki import TestCA
from router.errors import PermissionDenied, Unauthenticated

SECRET = SecretStr("0123456789abcdef")  # exactly the 16-byte minimum
ALICE = Identity(Role.OPERATOR, "alice")


def test_secret_of_sixteen_bytes_is_the_minimum() -> None:
    TokenSigner(SECRET)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        TokenSigner(SecretStr("0123456789abcde"))


@pytest.mark.parametrize("name", ["a", "ab", "abc", "abcd", "node-a1", "ethereum/node-a"])
def test_tokens_round_trip_whatever_the_base64_padding(name: str) -> None:
    who = Identity(Role.REPORTER, name)
    signer = TokenSigner(SECRET)
    token = signer.issue(who, now=1_000)
    assert "=" not in token  # padding stripped on the wire, restored when read
    assert signer.verify(token, now=1_000) == who


def test_expiry_is_valid_up_to_and_at_its_second() -> None:
    signer = TokenSigner(SECRET)
    token = signer.issue(ALICE, ttl_seconds=60, now=1_000)
    assert signer.verify(token, now=1_059) == ALICE
    assert signer.verify(token, now=1_060) == ALICE  # exp itself is still valid
    with pytest.raises(Unauthenticated, match="expired"):
        signer.verify(token, now=1_060.001)
    with pytest.raises(Unauthenticated, match="expired"):
        signer.verify(token, now=1_061)


def test_tokens_default_to_the_clock_and_an_hour() -> None:
    signer = TokenSigner(SECRET)
    assert signer.verify(signer.issue(ALICE)) == ALICE
    with pytest.raises(Unauthenticated, match="expired"):
        signer.verify(signer.issue(ALICE, ttl_seconds=-5))
    payload = base64.urlsafe_b64decode(signer.issue(ALICE, now=0).split(".")[0] + "==")
    assert payload == b'{"exp": 3600, "sub": "ballast://operator/alice"}'  # canonical: sorted keys


def _signed(payload: bytes, secret: bytes = b"0123456789abcdef") -> str:
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"sub": "ballast://operator/alice"}',
        b'{"exp": 9}',
        b"[1, 2]",
        b'{"sub": "ballast://operator/alice", "exp": "soon"}',
    ],
)
def test_a_well_signed_but_malformed_payload_is_refused(payload: bytes) -> None:
    with pytest.raises(Unauthenticated, match="payload is malformed"):
        TokenSigner(SECRET).verify(_signed(payload), now=0)


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "abc.",
        ".abc",
        "abc",
        _signed(b'{"sub": "ballast://operator/alice", "exp": 9}', b"another-secret-of-16"),
    ],
)
def test_a_bad_signature_is_refused(token: str) -> None:
    with pytest.raises(Unauthenticated, match="signature is invalid"):
        TokenSigner(SECRET).verify(token, now=0)


def test_a_signed_token_for_a_bad_identity_is_refused() -> None:
    token = _signed(b'{"sub": "ballast://operator/alice/extra", "exp": 9}')
    with pytest.raises(Unauthenticated, match="single name segment"):
        TokenSigner(SECRET).verify(token, now=0)


@pytest.mark.parametrize(
    "uri",
    [
        "ballast://operator/alice\n",
        "ballast://operator/alice junk",
        "ballast://operator/alice/",
        "ballast://operator/Alice",
        "ballast://admin/alice",
        "xballast://operator/alice",
        "ballast://reporter/ethereum/node-a/extra",
        "ballast://operator/" + "a" * 64,
    ],
)
def test_identity_uri_allows_nothing_after_the_name(uri: str) -> None:
    with pytest.raises(Unauthenticated):
        auth.parse_identity(uri)


def test_identity_uris_that_parse() -> None:
    assert auth.parse_identity("ballast://reporter/ethereum/node-a") == Identity(
        Role.REPORTER, "ethereum/node-a"
    )
    assert auth.parse_identity("ballast://operator/" + "a" * 63).name == "a" * 63


def _metadata(signer: TokenSigner, value: str | bytes) -> Identity:
    return auth.identity_from_metadata([("x-other", "1"), ("authorization", value)], signer)


def test_bearer_scheme_is_required_in_token_mode() -> None:
    signer = TokenSigner(SECRET)
    token = signer.issue(ALICE)
    assert _metadata(signer, f"Bearer {token}") == ALICE
    assert _metadata(signer, f"bearer {token} ".encode()) == ALICE
    for bad in (f"Basic {token}", f"Token {token}", "Bearer", "Bearer ", token):
        with pytest.raises(Unauthenticated, match="must be 'Bearer <token>'"):
            _metadata(signer, bad)


def test_no_credentials_in_token_mode() -> None:
    with pytest.raises(Unauthenticated, match="no credentials"):
        auth.identity_from_metadata([("x-other", "Bearer abc")], TokenSigner(SECRET))
    with pytest.raises(Unauthenticated, match="no credentials"):
        auth.identity_from_metadata([], TokenSigner(SECRET))


def test_uri_san_comes_before_the_common_name() -> None:
    ctx = {
        "x509_common_name": [b"ballast://operator/from-cn"],
        "x509_subject_alternative_name": [b"dns.example", b"ballast://partner/from-san"],
    }
    assert auth.identity_from_auth_context(ctx) == Identity(Role.PARTNER, "from-san")
    only_cn = {"x509_common_name": [b"ballast://operator/from-cn"]}
    assert auth.identity_from_auth_context(only_cn) == Identity(Role.OPERATOR, "from-cn")
    with pytest.raises(Unauthenticated, match="no client certificate identity"):
        auth.identity_from_auth_context({"x509_common_name": [b"alice"]})
    with pytest.raises(Unauthenticated, match="no client certificate identity"):
        auth.identity_from_auth_context({})


def test_roles_per_service() -> None:
    assert auth.required_role("/ballast.v1.TreasuryService/ListPlans") is Role.OPERATOR
    assert auth.required_role("ballast.v1.PartnerService/BindCover") is Role.PARTNER
    assert auth.required_role("/ballast.v1.ReportingService/StreamReports") is Role.REPORTER
    assert auth.required_role("/grpc.health.v1.Health/Check") is None
    auth.authorize(ALICE, "/ballast.v1.TreasuryService/ListPlans")
    auth.authorize(ALICE, "/grpc.health.v1.Health/Check")  # open to any caller
    with pytest.raises(PermissionDenied, match="needs a partner identity"):
        auth.authorize(ALICE, "/ballast.v1.PartnerService/BindCover")


def test_current_identity_is_only_what_the_interceptor_set() -> None:
    auth.set_current_identity(None)
    with pytest.raises(Unauthenticated):
        auth.current_identity()
    auth.set_current_identity(ALICE, "ab" * 32)
    assert auth.current_identity() == ALICE
    assert auth.current_fingerprint() == "ab" * 32
    auth.set_current_identity(None)
    assert auth.current_fingerprint() is None


def _bare_certificate(cn: str) -> bytes:
    """A self-signed certificate with a CN and no SAN extension at all."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_identity_in_certificate_san_then_cn() -> None:
    ca = TestCA("rules")
    pem = ca.client("ballast://operator/alice").cert_pem
    assert auth.identity_in_certificate(pem) == "ballast://operator/alice"
    both = ca._issue(
        "ballast://operator/from-cn",
        [x509.UniformResourceIdentifier("ballast://partner/from-san")],
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ).cert_pem
    assert auth.identity_in_certificate(both) == "ballast://partner/from-san"
    assert auth.identity_in_certificate(_bare_certificate("ballast://operator/cn")) == (
        "ballast://operator/cn"
    )
    assert auth.identity_in_certificate(_bare_certificate("alice")) is None
    assert auth.identity_in_certificate(b"not a certificate") is None


def test_certificate_fingerprint_is_sha256_of_der() -> None:
    pem = TestCA("rules").client("ballast://operator/alice").cert_pem
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    assert auth.certificate_fingerprint({"x509_pem_cert": [pem]}) == hashlib.sha256(der).hexdigest()
    other = TestCA("rules").client("ballast://operator/bob").cert_pem
    first = auth.certificate_fingerprint({"x509_pem_cert": [pem, other]})
    assert first == hashlib.sha256(der).hexdigest()  # the peer's own certificate comes first
    assert auth.certificate_fingerprint({}) is None
    with pytest.raises(Unauthenticated, match="could not be read"):
        auth.certificate_fingerprint({"x509_pem_cert": [b"junk"]})
