"""Spans collected in memory: the tracer provider a test process installs once.

OpenTelemetry allows one global tracer provider per process; the first test
that asks installs it, and each test records only while its fixture is open
(so the suite's other tests do not pile spans up in memory).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider


class Collected(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.recording = False

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if self.recording:
            self.spans.append(span)

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, (name, sorted({s.name for s in self.spans}))
        return found[0]


_COLLECTED = Collected()


def _install() -> Collected:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider.add_span_processor(_COLLECTED)
    return _COLLECTED


@pytest.fixture
def spans() -> Iterator[Collected]:
    collected = _install()
    collected.spans.clear()
    collected.recording = True
    try:
        yield collected
    finally:
        collected.recording = False
        collected.spans.clear()


def is_child(child: ReadableSpan, parent: ReadableSpan) -> bool:
    assert child.context is not None and parent.context is not None
    return (
        child.parent is not None
        and child.context.trace_id == parent.context.trace_id
        and child.parent.span_id == parent.context.span_id
    )
