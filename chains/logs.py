"""Keep RPC URLs (and the API keys in them) out of logs, including third-party ones.

Provider URLs carry credentials in the user info, path or query. Our own
messages name endpoints by :func:`chains.errors.redact_url` only, but the
libraries underneath log full URLs: web3 at INFO when it closes a session
("Successfully disconnected from: <url>") and at DEBUG per request, httpx /
httpx2 (solana-py's transport) at INFO for every request. So a service calls
:func:`quiet_third_party_logs` once, after it has set up its handlers:

- those libraries' loggers go to WARNING (DEBUG keeps them when asked for);
- every handler on the root logger gets :class:`RedactUrls`, which rewrites any
  URL in a record to scheme://host[:port] before it is formatted, whatever
  logger it came from (handlers added later can be given it the same way).
"""

from __future__ import annotations

import logging
import re

from chains.errors import redact_url

#: Libraries under the adapters that log URLs.
THIRD_PARTY_LOGGERS = (
    "web3",
    "urllib3",
    "httpx",
    "httpcore",
    "httpx2",
    "httpcore2",
    "aiohttp",
    "solana",
    "websockets",
)

_URL = re.compile(r"\b(?:https?|wss?)://[^\s'\"<>`]+", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """``text`` with every http(s)/ws(s) URL cut to scheme://host[:port]."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


class RedactUrls(logging.Filter):
    """A handler filter: the record's message, URLs redacted, arguments folded in."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler's own error path
            return True
        redacted = redact_urls(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_text:
            record.exc_text = redact_urls(record.exc_text)
        return True


def quiet_third_party_logs(*, debug: bool = False, root: logging.Logger | None = None) -> None:
    """Third-party loggers to WARNING (DEBUG with ``debug``) and URL redaction on
    every handler of ``root`` (the root logger by default). Idempotent."""
    level = logging.DEBUG if debug else logging.WARNING
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    target = root or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactUrls) for f in handler.filters):
            handler.addFilter(RedactUrls())
