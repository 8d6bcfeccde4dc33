"""A throwaway certificate authority for tests, demos and local setups.

Keys are generated at run time and never written into the repository. Client
certificates carry the caller's identity as a URI SAN
(``ballast://partner/acme``) and as the CN; server certificates name
``localhost`` and ``127.0.0.1``.

:func:`local_ca` keeps the CA key next to ``ca.pem`` (``ca.key``, mode 0600)
so that a later run issues more identities from the same CA: every
certificate it ever wrote keeps verifying against the one ``ca.pem``.
"""

from __future__ import annotations

import ipaddress
import os
import stat
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


def write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only, whatever the umask or an older
    file's mode (``touch(mode=...)`` leaves an existing file's mode alone)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


class CaFilesError(Exception):
    """The directory holds CA files this tool cannot use; the message says why."""


class TestCA:
    """A CA that issues server and client certificates in memory."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        name: str = "Ballast test CA",
        *,
        days: int = 2,
        _loaded: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None,
    ) -> None:
        self._days = days
        if _loaded is not None:
            self._key, self._cert = _loaded
            self._name = self._cert.subject
            return
        self._key = _key()
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
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

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes, *, days: int = 2) -> TestCA:
        """An existing CA (its certificate and unencrypted EC key) that issues more."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key is not an EC key")
        if key.public_key() != cert.public_key():
            raise ValueError("the CA key does not belong to the CA certificate")
        return cls(days=days, _loaded=(key, cert))

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    @property
    def expires_at(self) -> datetime:
        return self._cert.not_valid_after_utc

    def _issue(
        self, cn: str, sans: list[x509.GeneralName], usage: x509.ObjectIdentifier
    ) -> KeyPair:
        key = _key()
        now = datetime.now(UTC)
        # Never outlive the CA: a client would refuse the chain anyway.
        until = min(now + timedelta(days=self._days), self.expires_at)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(until)
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
            write_private(key, pair.key_pem)
            out[name] = (cert, key)
        return out

    def write_key(self, directory: Path) -> Path:
        """Keep the CA key as ``ca.key`` (0600) so a later run can issue more."""
        path = directory / "ca.key"
        write_private(path, _pem(self._key))
        return path


def local_ca(
    directory: Path, *, name: str = "Ballast dev CA", days: int = 30
) -> tuple[TestCA, bool]:
    """The CA kept in ``directory`` (``ca.pem`` + ``ca.key``), or a new one written
    there; True when it is new. Refuses a CA key others can read, and a
    ``ca.pem`` without its key (it could not issue anything that verifies)."""
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if not cert_path.exists() and not key_path.exists():
        ca = TestCA(name, days=days)
        directory.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(ca.cert_pem)
        ca.write_key(directory)
        return ca, True
    if not key_path.exists():
        raise CaFilesError(
            f"{cert_path} exists without its key ca.key, so no new certificate would "
            "verify against it: remove the directory's files or choose another directory"
        )
    if not cert_path.exists():
        raise CaFilesError(f"{key_path} exists without ca.pem: restore it or remove ca.key")
    mode = stat.S_IMODE(key_path.stat().st_mode)
    if mode & 0o077:
        raise CaFilesError(f"{key_path} is readable by others (mode {mode:04o}): chmod 600 it")
    try:
        ca = TestCA.from_pem(cert_path.read_bytes(), key_path.read_bytes(), days=days)
    except (ValueError, TypeError) as exc:  # TypeError: an encrypted key
        raise CaFilesError(f"{cert_path} and {key_path} are not a usable CA: {exc}") from None
    if ca.expires_at <= datetime.now(UTC):
        raise CaFilesError(f"the CA in {directory} has expired: remove its files for a new one")
    return ca, False
