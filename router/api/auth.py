"""Who is calling, and may they call this.

Identity comes from credentials only, never from request fields:

* mTLS: the client certificate (verified against our CA during the handshake)
  carries a URI SAN (or a CN) ``ballast://<role>/<name>``:
  ``ballast://operator/alice``, ``ballast://partner/acme``,
  ``ballast://reporter/ethereum`` or ``ballast://reporter/ethereum/node-a``
  (a reporter's first path segment is the one chain it may report for).
* token mode (local use): ``authorization: Bearer <token>`` where the token is
  ``b64url(json{sub, exp}) "." b64url(HMAC-SHA256(secret, payload))`` and
  ``sub`` is such a URI. The secret is a ``SecretStr`` and never logged.

Authorisation is by service: operators call ``TreasuryService``, partners
``PartnerService``, reporters ``ReportingService``; health checking and
reflection are open to anyone who completed the handshake.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from router.domain.identity import Identity, Role, parse_identity

__all__ = [
    "SERVICE_ROLES",
    "Identity",
    "Role",
    "TokenSigner",
    "authorize",
    "certificate_fingerprint",
    "current_fingerprint",
    "current_identity",
    "identity_from_auth_context",
    "identity_from_metadata",
    "identity_in_certificate",
    "parse_identity",
    "required_role",
    "set_current_identity",
]
from router.errors import PermissionDenied, Unauthenticated


def identity_from_auth_context(auth: Mapping[str, Sequence[bytes]]) -> Identity:
    """The identity in a verified client certificate (URI SAN first, then CN)."""
    candidates: list[str] = []
    for key in ("x509_subject_alternative_name", "x509_common_name"):
        for raw in auth.get(key, ()):
            text = raw.decode("utf-8", "replace")
            if text.startswith("ballast://"):
                candidates.append(text)
    if not candidates:
        raise Unauthenticated(
            "no client certificate identity: present a certificate issued by the Ballast CA "
            "with a URI SAN ballast://<role>/<name>"
        )
    return parse_identity(candidates[0])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """HMAC-signed bearer tokens for local use (token auth mode)."""

    def __init__(self, secret: SecretStr) -> None:
        value = secret.get_secret_value().encode()
        if len(value) < 16:
            raise ValueError("token secret must be at least 16 bytes")
        self._secret = value

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def issue(
        self, identity: Identity, *, ttl_seconds: int = 3600, now: float | None = None
    ) -> str:
        exp = int((time.time() if now is None else now) + ttl_seconds)
        payload = _b64(json.dumps({"sub": identity.uri, "exp": exp}, sort_keys=True).encode())
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, *, now: float | None = None) -> Identity:
        payload, _, mac = token.partition(".")
        if not payload or not mac or not hmac.compare_digest(self._mac(payload), mac):
            raise Unauthenticated("bearer token signature is invalid: request a new token")
        try:
            claims = json.loads(_unb64(payload))
            sub, exp = str(claims["sub"]), int(claims["exp"])
        except (ValueError, KeyError, TypeError) as exc:
            raise Unauthenticated("bearer token payload is malformed") from exc
        if exp < (time.time() if now is None else now):
            raise Unauthenticated("bearer token has expired: request a new token")
        return parse_identity(sub)


def identity_from_metadata(
    metadata: Sequence[tuple[str, str | bytes]], signer: TokenSigner
) -> Identity:
    for key, value in metadata:
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
            return signer.verify(token.strip())
    raise Unauthenticated("no credentials: send 'authorization: Bearer <token>' metadata")


#: Which role may call each service; anything else needs no identity.
SERVICE_ROLES: dict[str, Role] = {
    "ballast.v1.TreasuryService": Role.OPERATOR,
    "ballast.v1.PartnerService": Role.PARTNER,
    "ballast.v1.ReportingService": Role.REPORTER,
}


def required_role(method: str) -> Role | None:
    """The role a full method name (``/pkg.Service/Method``) needs, None if open."""
    service = method.lstrip("/").split("/", 1)[0]
    return SERVICE_ROLES.get(service)


def authorize(identity: Identity, method: str) -> None:
    role = required_role(method)
    if role is not None and identity.role is not role:
        raise PermissionDenied(f"{identity.uri} may not call {method}: it needs a {role} identity")


_CURRENT: ContextVar[Identity | None] = ContextVar("ballast_identity", default=None)
_FINGERPRINT: ContextVar[str | None] = ContextVar("ballast_cert_fingerprint", default=None)


def set_current_identity(identity: Identity | None, fingerprint: str | None = None) -> None:
    _CURRENT.set(identity)
    _FINGERPRINT.set(fingerprint)


def current_fingerprint() -> str | None:
    """SHA-256 of the caller's client certificate (DER, hex); None in token mode."""
    return _FINGERPRINT.get()


def certificate_fingerprint(auth: Mapping[str, Sequence[bytes]]) -> str | None:
    """The fingerprint of the verified client certificate in a call's auth context."""
    pems = auth.get("x509_pem_cert", ())
    if not pems:
        return None
    try:
        cert = x509.load_pem_x509_certificate(pems[0])
    except ValueError:
        raise Unauthenticated("the client certificate could not be read") from None
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def identity_in_certificate(pem: bytes) -> str | None:
    """The ``ballast://`` identity a certificate carries (URI SAN first, then CN), if any."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        uris = []
    cns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    found = [u for u in (*uris, *cns) if u.startswith("ballast://")]
    return found[0] if found else None


def current_identity() -> Identity:
    """The authenticated caller of the RPC being served (set by the auth interceptor)."""
    identity = _CURRENT.get()
    if identity is None:
        raise Unauthenticated("this method needs an authenticated caller")
    return identity
