"""``ballast`` as an operator runs it: the installed entry point in its own process.

Every failure is one line on stderr with a non-zero exit code, never a
traceback and never a secret; the example config serves as it is.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from ballast.v1 import treasury_pb2
from cryptography import x509
from grpc_health.v1 import health_pb2

from router.agent.client import RouterClient
from router.devtools.pki import TestCA
from tests.router.cli_support import Ran, ballast, ballast_command, ballast_env

ROOT = Path(__file__).resolve().parents[2]
SECRET = "[/bold]s3cret-[bold]value-0123456789"  # Rich markup in a secret


def assert_one_line_failure(ran: Ran, code: int, *expected: str, case: str = "") -> str:
    assert ran.code == code, (case, ran.code, ran.out, ran.err)
    assert len(ran.err_lines) == 1, (case, ran.err)
    line = ran.err_lines[0]
    assert line.startswith("error: "), (case, line)
    assert "Traceback" not in ran.err + ran.out, case
    for text in expected:
        assert text in line, (case, line)
    return line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_config(
    tmp: Path, server_files: dict[str, Path], *, tls: bool = True, **over: str
) -> Path:
    values = {
        "listen": f"127.0.0.1:{free_port()}",
        "database_url": f"sqlite+aiosqlite:///{tmp / 'r.db'}",
        "ca_cert": str(server_files["ca"]),
        "server_cert": str(server_files["cert"]),
        "server_key": str(server_files["key"]),
    } | over
    text = f'listen = "{values["listen"]}"\ndatabase_url = "{values["database_url"]}"\n'
    if tls:
        text += "[tls]\n" + "".join(
            f'{k} = "{values[k]}"\n' for k in ("ca_cert", "server_cert", "server_key")
        )
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "serve.toml"
    path.write_text(text)
    return path


SERVE_FAILURES: dict[str, tuple[Callable[[Path, dict[str, Path]], Path], int, tuple[str, ...]]] = {
    "no tls section in mtls mode": (
        lambda tmp, files: serve_config(tmp, files, tls=False),
        2,
        ("[tls] section", "dev-certs"),
    ),
    "missing key file": (
        lambda tmp, files: serve_config(tmp, files, server_key=str(tmp / "nope.key")),
        2,
        ("tls.server_key", "does not exist"),
    ),
    "certificate and key that do not match": (
        lambda tmp, files: serve_config(
            tmp,
            files,
            server_key=str(
                TestCA().write(tmp / "other", {"x": TestCA().server()})["x"][1]  # another key
            ),
        ),
        2,
        ("tls.server_key", "not the key of the certificate"),
    ),
    "unparsable database url": (
        lambda tmp, files: serve_config(tmp, files, database_url="not a url"),
        2,
        ("database_url",),
    ),
    "unsupported database": (
        lambda tmp, files: serve_config(tmp, files, database_url="mysql://db/ballast"),
        2,
        ("database_url", "unsupported database", "sqlite or postgresql"),
    ),
    "database that does not answer": (
        lambda tmp, files: serve_config(
            tmp, files, database_url="postgresql+psycopg://bob:hunter2@127.0.0.1:1/ballast"
        ),
        1,
        ("database_url", "cannot open the database"),
    ),
}


@pytest.mark.parametrize("case", list(SERVE_FAILURES))
async def test_serve_failures_are_one_line_that_says_what_to_fix(
    case: str, server_files: dict[str, Path], tmp_path: Path
) -> None:
    make, code, expected = SERVE_FAILURES[case]
    ran = await ballast("serve", "--config", str(make(tmp_path, server_files)))
    assert_one_line_failure(ran, code, *expected)
    assert "hunter2" not in ran.err + ran.out


async def test_serve_on_a_port_in_use_is_one_line(
    server_files: dict[str, Path], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = serve_config(tmp_path, server_files, listen=f"127.0.0.1:{port}")
        ran = await ballast("serve", "--config", str(cfg))
    assert_one_line_failure(ran, 1, f"127.0.0.1:{port}", "already in use")


@pytest.mark.parametrize(
    ("setting", "body"),
    [
        ("auth.token_secrte", f'[auth]\nmode = "token"\ntoken_secrte = "{SECRET}"\n'),  # typo
        ("client.token", f'[client]\ntoken = ["{SECRET}"]\n'),  # a secret of the wrong type
        ("auth.token_secret", f'[auth]\ntoken_secret = {{ value = "{SECRET}" }}\n'),
        (
            "chains[0].signer_key",
            f'[[chains]]\nname = "ethereum"\nfamily = "evm"\nsigner_key = ["{SECRET}"]\n',
        ),
    ],
)
async def test_config_errors_name_the_setting_never_the_secret(
    setting: str, body: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    ran = await ballast("status", "--config", str(cfg))
    assert_one_line_failure(ran, 2, "invalid configuration", setting)
    for fragment in ("s3cret", "value-0123456789", "[bold]", "[/bold]"):
        assert fragment not in ran.err + ran.out


async def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    ran = await ballast("status", "--no-such-option")
    assert_one_line_failure(ran, 2, "--no-such-option", "ballast status --help")
    ran = await ballast("agent")
    assert_one_line_failure(ran, 2, "--chain")
    ran = await ballast("status", "--config", str(tmp_path / "missing.toml"))
    assert_one_line_failure(ran, 2, "missing.toml")


async def test_a_router_that_is_not_there_is_one_line(tmp_path: Path, ca: TestCA) -> None:
    files = ca.write(tmp_path, {"alice": ca.client("ballast://operator/alice")})
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[client]\naddress = "127.0.0.1:{free_port()}"\nca_cert = "{tmp_path / "ca.pem"}"\n'
        f'cert = "{files["alice"][0]}"\nkey = "{files["alice"][1]}"\n'
    )
    ran = await ballast("status", "--config", str(cfg))
    assert_one_line_failure(ran, 1, "UNAVAILABLE", "is a router listening")


async def test_dev_certs_adds_identities_to_the_same_ca(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    first = await ballast("dev-certs", str(certs), "-i", "ballast://operator/alice")
    assert first.code == 0, first.err
    ca_pem = (certs / "ca.pem").read_bytes()
    server_pem = (certs / "server.pem").read_bytes()
    assert (certs / "ca.key").stat().st_mode & 0o777 == 0o600

    second = await ballast("dev-certs", str(certs), "-i", "ballast://partner/acme")
    assert second.code == 0, second.err
    assert "existing" in second.out
    assert (certs / "ca.pem").read_bytes() == ca_pem
    assert (certs / "server.pem").read_bytes() == server_pem  # the running server's stays
    ca_cert = x509.load_pem_x509_certificate(ca_pem)
    acme = x509.load_pem_x509_certificate((certs / "partner-acme.pem").read_bytes())
    acme.verify_directly_issued_by(ca_cert)  # raises if another CA issued it
    for key in ("ca.key", "server.key", "operator-alice.key", "partner-acme.key"):
        assert (certs / key).stat().st_mode & 0o777 == 0o600

    (certs / "ca.key").chmod(0o644)
    ran = await ballast("dev-certs", str(certs), "-i", "ballast://partner/globex")
    assert_one_line_failure(ran, 2, "ca.key", "chmod 600")
    (certs / "ca.key").unlink()
    ran = await ballast("dev-certs", str(certs), "-i", "ballast://partner/globex")
    assert_one_line_failure(ran, 2, "without its key")


async def test_the_example_config_serves_as_it_is(tmp_path: Path) -> None:
    """The commands README.md gives, in a copy of the repository's example."""
    shutil.copy(ROOT / "ballast.example.toml", tmp_path / "ballast.example.toml")
    made = await ballast(
        "dev-certs",
        "certs",
        *("-i", "ballast://operator/alice", "-i", "ballast://partner/acme"),
        *("-i", "ballast://reporter/ethereum"),
        cwd=tmp_path,
    )
    assert made.code == 0, made.err
    port = free_port()
    env = {"BALLAST_LISTEN": f"127.0.0.1:{port}", "BALLAST_CLIENT__ADDRESS": f"127.0.0.1:{port}"}
    proc = await asyncio.create_subprocess_exec(
        *ballast_command(),
        "serve",
        "--config",
        "ballast.example.toml",
        cwd=tmp_path,
        env=ballast_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    certs = tmp_path / "certs"
    try:
        async with RouterClient.mtls(
            f"127.0.0.1:{port}",
            ca_pem=(certs / "ca.pem").read_bytes(),
            cert_pem=(certs / "operator-alice.pem").read_bytes(),
            key_pem=(certs / "operator-alice.key").read_bytes(),
        ) as c:
            health = await c.health.Check(
                health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=60
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            pos = await c.treasury.GetPosition(treasury_pb2.GetPositionRequest())
            assert {p.pool_id for p in pos.pools} == {"eth-main", "eth-alt", "sol-main"}
        status = await ballast("status", "--config", "ballast.example.toml", cwd=tmp_path, env=env)
        assert status.code == 0, status.err
        assert "eth-main" in status.out
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"draining in-flight calls" in err and b"Traceback" not in err
