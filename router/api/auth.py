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
import re
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr

from router.errors import PermissionDenied, Unauthenticated


class Role(StrEnum):
    OPERATOR = "operator"
    PARTNER = "partner"
    REPORTER = "reporter"


_SEGMENT = r"[a-z0-9][a-z0-9._-]{0,62}"
_URI = re.compile(rf"^ballast://(operator|partner|reporter)/({_SEGMENT}(?:/{_SEGMENT})?)\Z")


@dataclass(frozen=True, slots=True)
class Identity:
    role: Role
    name: str  # "alice", "acme", "ethereum/node-a"

    @property
    def uri(self) -> str:
        return f"ballast://{self.role}/{self.name}"

    @property
    def chain(self) -> str | None:
        """The one chain a reporter may report for; None for other roles."""
        return self.name.split("/", 1)[0] if self.role is Role.REPORTER else None

    @property
    def key(self) -> str:
        """Rate-limit and audit key."""
        return f"{self.role}:{self.name}"


def parse_identity(uri: str) -> Identity:
    m = _URI.match(uri)
    if m is None:
        raise Unauthenticated(
            f"credential identity {uri[:100]!r} is not of the form ballast://<role>/<name>"
        )
    role, name = m.group(1), m.group(2)
    if role != Role.REPORTER and "/" in name:
        raise Unauthenticated(f"{role} identity {uri!r} must have a single name segment")
    return Identity(Role(role), name)


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


def set_current_identity(identity: Identity | None) -> None:
    _CURRENT.set(identity)


def current_identity() -> Identity:
    """The authenticated caller of the RPC being served (set by the auth interceptor)."""
    identity = _CURRENT.get()
    if identity is None:
        raise Unauthenticated("this method needs an authenticated caller")
    return identity
