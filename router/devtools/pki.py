"""A throwaway certificate authority for tests, demos and local setups.

Keys are generated at run time and never written into the repository. Client
certificates carry the caller's identity as a URI SAN
(``ballast://partner/acme``) and as the CN; server certificates name
``localhost`` and ``127.0.0.1``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True, slots=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes = b""

    def __repr__(self) -> str:  # never show key material
        return f"KeyPair(cert={len(self.cert_pem)} bytes, key=<hidden>)"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class TestCA:
    """A CA that issues server and client certificates in memory."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str = "Ballast test CA", *, days: int = 2) -> None:
        self._key = _key()
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._days = days
        now = datetime.now(UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def _issue(
        self, cn: str, sans: list[x509.GeneralName], usage: x509.ObjectIdentifier
    ) -> KeyPair:
        key = _key()
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=self._days))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _pem(key))

    def server(self, *hosts: str) -> KeyPair:
        names: list[x509.GeneralName] = [x509.DNSName("localhost")]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        names.extend(x509.DNSName(h) for h in hosts)
        return self._issue("localhost", names, ExtendedKeyUsageOID.SERVER_AUTH)

    def client(self, identity_uri: str) -> KeyPair:
        """A client certificate whose URI SAN (and CN) is ``identity_uri``."""
        return self._issue(
            identity_uri,
            [x509.UniformResourceIdentifier(identity_uri)],
            ExtendedKeyUsageOID.CLIENT_AUTH,
        )

    def write(self, directory: Path, pairs: dict[str, KeyPair]) -> dict[str, tuple[Path, Path]]:
        """Write ``ca.pem`` and ``<name>.pem``/``<name>.key`` (0600) for each pair."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_bytes(self.cert_pem)
        out = {}
        for name, pair in pairs.items():
            cert, key = directory / f"{name}.pem", directory / f"{name}.key"
            cert.write_bytes(pair.cert_pem)
            key.touch(mode=0o600)
            key.write_bytes(pair.key_pem)
            out[name] = (cert, key)
        return out
