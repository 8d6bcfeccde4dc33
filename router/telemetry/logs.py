"""Logging for the router's processes: JSON or text lines, context ids, no secrets.

:func:`setup_logging` installs one stderr handler on the root logger:

- ``json``: one object per line — ``ts`` (UTC, ISO 8601), ``level``,
  ``logger``, ``message``, then whichever of ``request_id``, ``plan_id``,
  ``step_id``, ``transfer_id``, ``chain`` the code logging it is working on
  (:mod:`router.telemetry.context`), ``trace_id``/``span_id`` inside a
  sampled span, and ``exc`` with the traceback. For log pipelines.
- ``text``: ``time LEVEL logger message [key=value ...]``, for terminals.
- ``auto`` (default): text when stderr is a terminal, JSON otherwise.

Every handler on the root logger (ours and any added before) gets
:class:`RedactSecrets`: whatever logger a record comes from — ours, web3,
urllib3, httpx, grpc, temporalio — its message, traceback and stack are
redacted before any formatter sees them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from chains.logs import THIRD_PARTY_LOGGERS
from router.telemetry import context

LogFormat = Literal["auto", "json", "text"]

#: Libraries whose lines stay at WARNING unless verbose (they log URLs, bodies).
QUIET_LOGGERS = (
    *THIRD_PARTY_LOGGERS,  # under the chain adapters
    "asyncio",
    "grpc",
    "temporalio",
    "opentelemetry",
)

# ---------------------------------------------------------------- redaction

#: Any URL (RPC endpoints, database URLs): user info, path and query can hold
#: credentials and API keys (Infura/Alchemy put the key in the path).
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
#: ``private_key=...``, ``"signer_key": "..."``, ``password: ...``: the value goes
#: (3 characters or more, so "token_secret: is required" stays readable).
_KEYED = re.compile(
    r"(?i)\b((?:private|secret|signer|attester|api)[_ -]?key|secret|password|passwd|"
    r"token(?:_secret)?)(\"?\s*[=:]\s*\"?)(?!<redacted>)[^\s,;\"'}]{3,}"
)
_PEM = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
)

_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it shows (a configured key, a token)."""
    if value and len(value) >= 6:
        _known.add(value)
        if value.startswith("0x"):
            _known.add(value[2:])


def register_secrets(values: Iterable[str | None]) -> None:
    for v in values:
        register_secret(v)


def redact(text: str) -> str:
    """URLs cut to scheme://host[:port]; bearer/basic credentials, keyed secrets,
    PEM private keys and every registered secret replaced by ``<redacted>``."""
    from chains.errors import redact_url

    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "<redacted>")
    text = _URL.sub(lambda m: redact_url(m[0]), text)
    text = _BEARER.sub(r"\1 <redacted>", text)
    text = _KEYED.sub(r"\1\2<redacted>", text)
    return _PEM.sub("<redacted private key>", text)


class RedactSecrets(logging.Filter):
    """On every root handler: a record's message, traceback and stack, redacted.

    The traceback is rendered here (a handler's filters run before its
    formatter fills ``exc_text``, so a filter that only rewrote ``exc_text``
    would let the first handler print it raw).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler's error path
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# ---------------------------------------------------------------- formats


class ContextFilter(logging.Filter):
    """Copies the context ids (and the current span's) onto the record, at the
    moment it is logged, in the logging task."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.ballast_context = context.current()
        record.ballast_trace = _trace_ids()
        return True


def _trace_ids() -> dict[str, str]:
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


def _fields(record: logging.LogRecord) -> dict[str, str]:
    ctx: dict[str, str] = getattr(record, "ballast_context", None) or context.current()
    return {**ctx, **(getattr(record, "ballast_trace", None) or {})}


class JsonFormatter(logging.Formatter):
    """One JSON object per line (no newline inside: tracebacks are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message [key=value ...]`` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        fields.pop("span_id", None)
        if not fields:
            return line
        head, sep, tail = line.partition("\n")
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{head} [{extra}]{sep}{tail}"


def resolve_format(fmt: LogFormat, stream: Any = None) -> Literal["json", "text"]:
    if fmt != "auto":
        return fmt
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Marks the handler setup_logging installed, so a second call replaces it.

    A line for a stream its owner closed since (a command's captured stderr,
    gone with the command) is dropped, not reported as a logging error on
    whatever stderr is current (another command's output)."""

    def handleError(self, record: logging.LogRecord) -> None:
        if getattr(self.stream, "closed", False):
            return
        super().handleError(record)


def setup_logging(
    verbose: bool = False,
    fmt: LogFormat = "auto",
    *,
    secrets: Iterable[str | None] = (),
    stream: Any = None,
) -> logging.Handler:
    """Our lines at INFO (DEBUG with ``verbose``) on stderr in ``fmt``;
    libraries' at WARNING unless ``verbose``; every root handler redacts.
    Idempotent: a second call replaces the handler (e.g. once the config,
    which may set the format, is read)."""
    register_secrets(secrets)
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, _OurHandler):
            root.removeHandler(h)
    handler = _OurHandler(sys.stderr if stream is None else stream)
    kind = resolve_format(fmt, handler.stream)
    handler.setFormatter(JsonFormatter() if kind == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
    protect_handlers()
    return handler


def protect_handlers(loggers: Iterable[str] = ("", *QUIET_LOGGERS)) -> None:
    """:class:`RedactSecrets` on every handler of these loggers (root first)."""
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                # Redaction runs before the context filter and any formatter.
                handler.filters.insert(0, RedactSecrets())
