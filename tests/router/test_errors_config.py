"""The one error table, the bug path (INTERNAL hides details), and config loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from ballast.v1 import treasury_pb2

from chains import errors as chain_errors
from reinsurance import errors as re_errors
from router import errors
from router import errors as store_errors  # one tree now
from router.agent.client import RouterClient
from router.api import convert, status
from router.api.server import start_router
from router.config import ConfigError, load_settings
from router.devtools.pki import TestCA
from router.store import open_store
from tests.router.conftest import make_settings

C = grpc.StatusCode


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.InvalidRequest("amount", "bad"), C.INVALID_ARGUMENT),
        (errors.IdempotencyConflict("k", ["premium"]), C.FAILED_PRECONDITION),
        (errors.RateLimited("slow down"), C.RESOURCE_EXHAUSTED),
        (
            store_errors.IdempotencyMismatch("cover", "k1", mismatch=("premium",)),
            C.FAILED_PRECONDITION,
        ),
        (store_errors.NotFound("plan", "p1"), C.NOT_FOUND),
        (store_errors.StaleVersion("plan", "p1", expected=1, actual=2), C.ABORTED),
        (store_errors.InvalidRecord("bad", field="x"), C.INVALID_ARGUMENT),
        (store_errors.StoreUnavailable("db down"), C.UNAVAILABLE),
        (re_errors.InvalidInput("pools[0].capital", "negative"), C.INVALID_ARGUMENT),
        (re_errors.InsufficientCapacity("full"), C.FAILED_PRECONDITION),
        (chain_errors.RpcTimeout("slow", chain="ethereum"), C.UNAVAILABLE),
        (chain_errors.InvalidAmount("neg"), C.INVALID_ARGUMENT),
        (chain_errors.DuplicateTransfer("again"), C.ALREADY_EXISTS),
        (chain_errors.UnknownCover("no such cover"), C.NOT_FOUND),
        (chain_errors.PayoutOverCap("over the limit"), C.FAILED_PRECONDITION),
    ],
)
def test_status_table(exc: BaseException, code: grpc.StatusCode) -> None:
    mapped = status.status_for(exc)
    assert mapped is not None and mapped[0] == code and mapped[1]


def test_unknown_errors_are_bugs() -> None:
    assert status.status_for(RuntimeError("boom")) is None
    assert status.status_for(store_errors.StoreError("raw")) is None


class _Broken:
    """Fault injection: the store raises something no table row covers."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def list_plans(self, *a: Any, **kw: Any) -> Any:
        raise RuntimeError("connection string postgres://user:hunter2@db")


async def test_a_bug_is_internal_with_a_request_id_and_no_details(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(server_files, tmp_path / "b.db")
    inner = await open_store(settings.database_url)
    r = await start_router(settings, store=_Broken(inner))  # type: ignore[arg-type]
    pair = ca.client("ballast://operator/alice")
    try:
        async with RouterClient.mtls(
            r.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
        ) as c:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.treasury.ListPlans(
                    treasury_pb2.ListPlansRequest(), metadata=(("x-request-id", "bug-1"),)
                )
    finally:
        await r.stop(grace=1)
        await inner.aclose()
    assert err.value.code() == C.INTERNAL
    details = err.value.details() or ""
    assert "bug-1" in details and "hunter2" not in details


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "r.toml"
    cfg.write_text(
        'listen = "127.0.0.1:7000"\n'
        '[auth]\nmode = "token"\ntoken_secret = "from-the-file-0000000000"\n'
        '[[chains]]\nname = "ethereum"\nfamily = "evm"\nquorum = 2\n'
    )
    monkeypatch.setenv("BALLAST_LISTEN", "127.0.0.1:7001")
    s = load_settings(cfg)
    assert s.listen == "127.0.0.1:7001"
    assert s.chains[0].quorum == 2
    assert s.auth.token_secret is not None
    assert "from-the-file" not in repr(s)


def test_config_refuses_inconsistent_registries() -> None:
    with pytest.raises(ValueError, match="unknown chain"):
        load_settings(
            chains=[{"name": "ethereum", "family": "evm"}],
            pools=[{"chain": "base", "pool_id": "p1", "address": "0x1"}],
        )
    with pytest.raises(ValueError, match="token_secret"):
        load_settings(auth={"mode": "token"})


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (convert.parse_value, "12\n"),  # '$' would match before a trailing newline
        (convert.parse_value, "١٢"),  # non-ASCII digits
        (convert.parse_name, "eth-main\n"),
        (convert.parse_id, "plan-1\n"),
        (convert.parse_key, "abcdefgh\n"),
        (convert.parse_block_hash, "0x" + "ab" * 32 + "\n"),
    ],
)
def test_shapes_are_matched_exactly(parse: Any, value: str) -> None:
    with pytest.raises(errors.InvalidRequest):
        parse(value, "field")


def test_page_tokens_are_ascii_digits() -> None:
    with pytest.raises(errors.InvalidRequest):
        convert.parse_page(0, "¹")
    assert convert.parse_page(0, "200") == (convert.DEFAULT_PAGE, 200)


SECRET = "s3cret-[/bold]-0123456789abcdef"


@pytest.mark.parametrize(
    ("toml", "setting", "problem"),
    [
        (f'[auth]\ntoken_secrte = "{SECRET}"\n', "auth.token_secrte", "unknown setting"),
        (f'[client]\ntoken = ["{SECRET}"]\n', "client.token", "valid string"),
        (f'[auth]\ntoken_secret = {{ v = "{SECRET}" }}\n', "auth.token_secret", "valid string"),
        (
            f'[[chains]]\nname = "e"\nfamily = "evm"\nsigner_key = 0x{"ab" * 32}\n',
            "chains[0].signer_key",
            "valid string",
        ),
        (f'listen = "{SECRET}"\n', "listen", "HOST:PORT"),
        (f'auth = "{SECRET}"\n', "auth", "valid dictionary"),
    ],
)
def test_config_errors_name_the_setting_and_never_the_value(
    tmp_path: Path, toml: str, setting: str, problem: str
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    text = str(err.value)
    assert setting in text and problem in text
    assert "s3cret" not in text and "abab" not in text and "input" not in text
    assert err.value.problems and all(SECRET not in w + p for w, p in err.value.problems)


def test_invalid_toml_is_reported_by_position_without_the_text(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[auth]\ntoken_secret = "ab\x01cd-secret"\n')
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 2") as err:
        load_settings(cfg)
    assert "secret" not in str(err.value).replace("token_secret", "") and "\\x01" not in str(
        err.value
    )


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "none.toml")


def test_server_tls_is_checked_before_serving(tmp_path: Path, ca: TestCA) -> None:
    files = ca.write(tmp_path, {"server": ca.server(), "other": ca.server()})
    (cert, key), (_, other_key) = files["server"], files["other"]
    ok = load_settings(tls={"ca_cert": tmp_path / "ca.pem", "server_cert": cert, "server_key": key})
    material = ok.server_tls()
    assert material is not None and material.key_pem == key.read_bytes()
    assert "PRIVATE" not in repr(material)

    def problem(**tls: Path) -> str:
        base = {"ca_cert": tmp_path / "ca.pem", "server_cert": cert, "server_key": key}
        with pytest.raises(ConfigError) as err:
            load_settings(tls=base | tls).server_tls()
        return str(err.value)

    assert "tls.server_key" in problem(server_key=other_key) and "not the key" in problem(
        server_key=other_key
    )
    assert "does not exist" in problem(server_cert=tmp_path / "gone.pem")
    assert "no PEM certificate" in problem(ca_cert=key)
    assert "not an unencrypted PEM private key" in problem(server_key=cert)
    assert "is a directory" in problem(server_key=tmp_path)
    with pytest.raises(ConfigError, match=r"tls: auth.mode 'mtls' needs a \[tls\] section"):
        load_settings().server_tls()
    token = load_settings(auth={"mode": "token", "token_secret": "x" * 32})
    assert token.server_tls() is None


def test_client_credentials_say_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"client.ca_cert, client.cert, client.key"):
        load_settings().client.credentials()
    with pytest.raises(ConfigError, match=r"client.key: file .* does not exist"):
        load_settings(
            client={"ca_cert": __file__, "cert": __file__, "key": tmp_path / "k.pem"}
        ).client.credentials()
    creds = load_settings(client={"token": "t0ken-value"}).client.credentials()
    assert creds.token is not None and "t0ken" not in repr(creds)


@pytest.mark.parametrize(
    ("extra", "finality"),
    [
        ({"confirmations": 7}, "Confirmations(7)"),
        ({}, "finalized"),
        ({"confirmations": 0}, "Confirmations(0)"),
    ],
)
def test_each_chain_s_finality_rule_comes_from_its_config(
    tmp_path: Path, extra: dict[str, Any], finality: str
) -> None:
    """`confirmations = N` in a chain's table is the rule its adapter reads and
    sends by; unset, the node's `finalized` tag."""
    from chains.evm_config import Confirmations, FinalizedTag
    from router.config import chain_spec

    config = tmp_path / "ballast.toml"
    lines = [
        "[[chains]]",
        'name = "eth"',
        'family = "evm"',
        "chain_id = 1",
        'rpc_urls = ["http://127.0.0.1:1"]',
        f'settlement_asset = "0x{"11" * 20}"',
        *(f"{k} = {v}" for k, v in extra.items()),
    ]
    config.write_text("\n".join(lines) + "\n")
    spec = chain_spec(load_settings(config), "eth")
    if "confirmations" in extra:
        assert spec.finality == Confirmations(extra["confirmations"]), finality
    else:
        assert isinstance(spec.finality, FinalizedTag), finality
