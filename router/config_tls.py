"""Credentials in the settings: the server's TLS files, a client's certificate
or token, and the auth mode. Files are read and checked here, once, and a
problem names the setting and the file, never a key's bytes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from router.config_common import ConfigError, Section


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """The server's TLS files, read and checked (the key never shows in a repr)."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def __repr__(self) -> str:
        return f"TlsMaterial(ca={len(self.ca_pem)} bytes, cert={len(self.cert_pem)} bytes)"


def read_file(path: Path, where: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([(where, f"file {path} does not exist")]) from None
    except IsADirectoryError:
        raise ConfigError([(where, f"{path} is a directory, not a file")]) from None
    except PermissionError:
        raise ConfigError([(where, f"file {path} is not readable by this user")]) from None
    except OSError as exc:
        raise ConfigError([(where, f"file {path} cannot be read ({exc.strerror})")]) from None


def certificates(pem: bytes, path: Path, where: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        certs = []
    if not certs:
        raise ConfigError([(where, f"{path} holds no PEM certificate")])
    return certs


class TlsConfig(Section):
    ca_cert: Path
    server_cert: Path
    server_key: Path

    def material(self) -> TlsMaterial:
        """Read the files and check them: each exists and parses, and the server
        key belongs to the server certificate (gRPC reports a mismatch only as
        "failed to bind")."""
        ca = read_file(self.ca_cert, "tls.ca_cert")
        cert = read_file(self.server_cert, "tls.server_cert")
        key_pem = read_file(self.server_key, "tls.server_key")
        certificates(ca, self.ca_cert, "tls.ca_cert")
        leaf = certificates(cert, self.server_cert, "tls.server_cert")[0]
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError(
                [("tls.server_key", f"{self.server_key} is not an unencrypted PEM private key")]
            ) from None
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if key.public_key().public_bytes(der, public) != leaf.public_key().public_bytes(
            der, public
        ):
            raise ConfigError(
                [
                    (
                        "tls.server_key",
                        f"{self.server_key} is not the key of the certificate in "
                        f"{self.server_cert}; give the key issued with that certificate",
                    )
                ]
            )
        return TlsMaterial(ca, cert, key_pem)


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """A client's credentials, read: a bearer token, or a certificate and key."""

    ca_pem: bytes | None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    token: SecretStr | None = None

    def __repr__(self) -> str:
        kind = "token" if self.token is not None else "certificate"
        return f"ClientCredentials({kind}, key=<hidden>)"


class ClientConfig(Section):
    """How the CLI and agents reach a router (their own identity's credentials)."""

    address: str = "127.0.0.1:50051"
    ca_cert: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    token: SecretStr | None = None

    def credentials(self) -> ClientCredentials:
        """Read the files; a token wins over a certificate."""
        ca = read_file(self.ca_cert, "client.ca_cert") if self.ca_cert else None
        if self.token is not None:
            return ClientCredentials(ca, token=self.token)
        missing = [f"client.{k}" for k in ("ca_cert", "cert", "key") if getattr(self, k) is None]
        if missing:
            raise ConfigError(
                [("client", f"no credentials: set {', '.join(missing)} (or client.token)")]
            )
        assert self.cert is not None and self.key is not None
        return ClientCredentials(
            ca, read_file(self.cert, "client.cert"), read_file(self.key, "client.key")
        )


class AuthConfig(Section):
    #: mtls: identity from the client certificate (needs ``tls``).
    #: token: identity from an HMAC-signed bearer token (local use).
    mode: Literal["mtls", "token"] = "mtls"
    token_secret: SecretStr | None = None
