"""Log lines: JSON one per line with the ids of the work being done, a text
format for terminals, and no secret in any of them, whichever library logs it."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace

from router.telemetry import context as log_context
from router.telemetry.logs import setup_logging
from tests.router.cli_support import ballast
from tests.tracing_support import Collected, spans  # noqa: F401

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
TOKEN_SECRET = "token-secret-9f8e7d6c5b4a"
DB_PASSWORD = "s3cr3t-db-pass"


@pytest.fixture
def restored() -> Iterator[None]:
    """Put the process's logging back as it was (setup_logging changes the root)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)


def test_json_lines_carry_the_context_ids_and_the_span(
    restored: None,
    spans: Collected,  # noqa: F811
) -> None:
    out = io.StringIO()
    setup_logging(False, "json", stream=out)
    log = logging.getLogger("ballast.execution")

    def activity() -> int:
        """As an activity's task: ``bind`` holds for the rest of its context only."""
        with log_context.bound(request_id="r-1", plan_id="plan-7", step_id="2/source"):
            log_context.bind(transfer_id="0xabc", chain="ethereum")
            with trace.get_tracer("test").start_as_current_span("work") as span:
                log.info("step %d sent", 2)
        return span.get_span_context().trace_id

    trace_id = contextvars.copy_context().run(activity)
    log.warning("after the task")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # one event per line, the traceback too
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"] == "step 2 sent" and first["level"] == "INFO"
    assert first["logger"] == "ballast.execution" and first["ts"].endswith("+00:00")
    assert {k: first[k] for k in ("request_id", "plan_id", "step_id", "transfer_id", "chain")} == {
        "request_id": "r-1",
        "plan_id": "plan-7",
        "step_id": "2/source",
        "transfer_id": "0xabc",
        "chain": "ethereum",
    }
    assert first["trace_id"] == f"{trace_id:032x}"
    # outside the task none of it sticks
    assert not {"request_id", "plan_id", "transfer_id", "chain", "trace_id"} & set(second)
    assert third["level"] == "ERROR" and "ValueError: boom" in third["exc"]


def test_a_line_for_a_closed_stream_is_dropped_not_reported_elsewhere(
    restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command's captured stderr is closed when the command ends; a later
    line (a server in the same process) must not land in the next command's
    output as '--- Logging error ---'."""
    gone = io.StringIO()
    setup_logging(False, "text", stream=gone)
    gone.close()
    logging.getLogger("ballast.x").info("after the command ended")
    assert "Logging error" not in capsys.readouterr().err


def test_text_lines_for_people(restored: None) -> None:
    out = io.StringIO()
    setup_logging(False, "auto", stream=out)  # not a terminal -> JSON
    logging.getLogger("ballast.x").info("auto")
    assert json.loads(out.getvalue())["message"] == "auto"
    out = io.StringIO()
    setup_logging(False, "text", stream=out)
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_OurHandler"]
    assert len(ours) == 1  # the second set-up replaced the first
    with log_context.bound(plan_id="plan-7"):
        logging.getLogger("ballast.x").info("plain")
    (line,) = out.getvalue().splitlines()
    assert line.endswith("INFO ballast.x plain [plan_id=plan-7]")


async def test_no_secret_reaches_the_log_whichever_library_logs_it(tmp_path: Path) -> None:
    """As a process sets it up: the config's secrets are known, every handler redacts."""
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    script = textwrap.dedent(
        f"""
        import logging
        from router.config import load_settings
        from router.telemetry.logs import setup_logging
        settings = load_settings(
            database_url="postgresql+psycopg://ballast:{DB_PASSWORD}@db:5432/ballast",
            auth={{"mode": "token", "token_secret": "{TOKEN_SECRET}"}},
            chains=[{{"name": "ethereum", "family": "evm", "signer_key": "{KEY}"}}],
        )
        setup_logging(False, "json", secrets=settings.secret_values())
        # a handler a library added for itself before: redacted as well
        logging.getLogger("temporalio").addHandler(logging.StreamHandler())
        setup_logging(False, "json", secrets=settings.secret_values())
        url = "https://user:hunter2@rpc.example/v3/APIKEY123"
        for name in ("web3.providers.HTTPProvider", "urllib3.connectionpool", "grpc._cython",
                     "temporalio.activity", "httpx"):
            logging.getLogger(name).warning(
                "POST %s key %s with Authorization: Bearer tok.en-123 and private_key=%s",
                url, "{KEY}", "0xdeadbeefcafe0123",
            )
        logging.getLogger("web3").warning("key without 0x: {KEY[2:]}")
        logging.getLogger("urllib3").warning("db at %s", settings.database_url)
        logging.getLogger("grpc").warning("token {TOKEN_SECRET} and %s", {pem!r})
        try:
            raise ConnectionError("cannot reach " + url + " signing with {KEY}")
        except ConnectionError:
            logging.getLogger("temporalio.worker").exception("activity failed")
        logging.getLogger("ballast.x").info("our line")
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stderr=asyncio.subprocess.PIPE
    )
    _, err_bytes = await asyncio.wait_for(proc.communicate(), 60)
    err = err_bytes.decode()
    assert proc.returncode == 0, err
    for secret in (
        "hunter2",
        "APIKEY123",
        "user:",
        "tok.en-123",
        "0xdeadbeefcafe0123",
        KEY[2:],
        DB_PASSWORD,
        TOKEN_SECRET,
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    ):
        assert secret not in err, secret
    json_lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    loggers = {line["logger"] for line in json_lines}
    assert {"web3.providers.HTTPProvider", "grpc", "temporalio.worker", "ballast.x"} <= loggers
    assert "POST https://rpc.example key <redacted>" in err  # what is left is still useful
    assert "ConnectionError: cannot reach https://rpc.example" in err


async def test_a_wrong_log_format_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "b.toml"
    cfg.write_text('[[chains]]\nname = "ethereum"\nfamily = "evm"\n')
    ran = await ballast("worker", "--log-format", "xml", "--config", str(cfg))
    assert ran.code == 2
    assert ran.err_lines == ["error: --log-format must be json or text, not 'xml'"]


def test_redaction_keeps_what_is_not_a_secret() -> None:
    from router.telemetry.logs import redact

    assert redact("auth.token_secret: is required") == "auth.token_secret: is required"
    assert redact("password=abc, next") == "password=<redacted>, next"
    assert redact('{"signer_key": "0xabcdef"}') == '{"signer_key": "<redacted>"}'
    assert redact("tx 0x" + "ab" * 32 + " final") == "tx 0x" + "ab" * 32 + " final"  # hashes stay
    assert redact("rpc http://127.0.0.1:8545/ down") == "rpc http://127.0.0.1:8545 down"
