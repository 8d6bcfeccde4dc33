"""Helpers for the contract tests: deploy, transact, and assert exact reverts.

eth-tester reports a revert two ways: an ``eth_call`` (or a transaction without
``gas``) raises ``TransactionFailed`` with the revert data in its message, while a
transaction *with* an explicit ``gas`` is mined silently with status 0.
:func:`assert_reverts` always checks the custom error's selector and arguments
through the first path; with ``mined=True`` it also mines the transaction and
requires status 0. The key refusals of each contract use both; the rest use
the call only, which runs the same code and keeps the suite within its budget.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from eth_abi import decode
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from contracts import CONTRACT_NAMES, load_artifact

GAS = 3_000_000
_BYTES_LITERAL = re.compile(r"(b'.*'|b\".*\")\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    name: str
    types: tuple[str, ...]


def _abi_type(param: dict[str, Any]) -> str:
    kind = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return str(kind)


@cache
def error_registry() -> dict[bytes, ErrorSpec]:
    """Custom errors of every Ballast contract by selector (errors bubble across contracts)."""
    registry: dict[bytes, ErrorSpec] = {}
    for name in CONTRACT_NAMES:
        for item in load_artifact(name).abi:
            if item["type"] != "error":
                continue
            types = tuple(_abi_type(p) for p in item["inputs"])
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            registry[selector] = ErrorSpec(item["name"], types)
    return registry


def revert_data(exc: TransactionFailed) -> bytes:
    """The raw revert data eth-tester embedded in the exception."""
    cause = exc.__cause__
    if cause is not None and cause.args and isinstance(cause.args[0], bytes):
        return cause.args[0]
    message = str(exc.args[0]) if exc.args else ""
    match = _BYTES_LITERAL.search(message)
    if match is None:
        raise AssertionError(f"no revert data in {message!r}")
    data = ast.literal_eval(match.group(1))
    assert isinstance(data, bytes)
    return data


def decode_error(data: bytes) -> tuple[str, tuple[Any, ...]]:
    spec = error_registry().get(data[:4])
    if spec is None:
        raise AssertionError(f"unknown revert selector 0x{data[:4].hex()} (data 0x{data.hex()})")
    values = decode(list(spec.types), data[4:])
    return spec.name, tuple(
        to_checksum_address(v) if t == "address" else v
        for t, v in zip(spec.types, values, strict=True)
    )


def send(fn: ContractFunction, sender: str) -> TxReceipt:
    """Transact and require success."""
    receipt = fn.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
    assert receipt["status"] == 1
    return receipt


def assert_reverts(
    fn: ContractFunction, sender: str, error: str, *args: Any, mined: bool = False
) -> None:
    """``fn`` from ``sender`` reverts with exactly ``error(*args)`` (and, if
    ``mined``, a mined attempt fails too)."""
    w3 = fn.w3
    try:
        fn.call({"from": sender})
    except TransactionFailed as exc:
        got = decode_error(revert_data(exc))
    else:
        raise AssertionError(f"{fn.fn_name} did not revert")
    assert got == (error, args), f"expected {error}{args}, got {got[0]}{got[1]}"
    if not mined:
        return
    tx = fn.transact({"from": sender, "gas": GAS})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 0, "the mined transaction should have failed"


def events(contract: Contract, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    """Decoded ``name`` events that ``contract`` emitted in ``receipt`` (args only)."""
    logs = [
        log
        for log in receipt["logs"]
        if Web3.to_checksum_address(log["address"]) == contract.address
    ]
    event = contract.events[name]()
    topic = bytes(HexBytes(event.topic))
    return [
        dict(event.process_log(log)["args"])
        for log in logs
        if log["topics"] and bytes(log["topics"][0]) == topic
    ]


def deploy(w3: Web3, name: str, *args: Any, sender: str) -> Contract:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(*args).transact({"from": sender})
    )
    assert receipt["status"] == 1
    return cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi))


def tid(label: str) -> bytes:
    """A deterministic 32-byte id for tests."""
    return keccak(text=label)


USDC = 10**6
#: What the provider and the reinsurer each start with.
START_BALANCE = 1_000_000 * USDC


@dataclass(frozen=True, slots=True)
class Deployment:
    w3: Web3
    admin: str
    operator: str
    provider: str  # deposits capital into the pool
    reinsurer: str  # deposits into the vault
    stranger: str  # holds no role
    claimant: str  # receives payouts and transfers
    attester: LocalAccount
    token: Contract
    pool: Contract
    vault: Contract
    bridge: Contract
    reader: Contract

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def balance(self, holder: str) -> int:
        return int(self.token.functions.balanceOf(holder).call())


def fund_pool(d: Deployment, amount: int) -> None:
    """The provider deposits ``amount`` into the pool."""
    send(d.token.functions.approve(d.pool.address, amount), d.provider)
    send(d.pool.functions.deposit(amount), d.provider)


def fund_vault(d: Deployment, amount: int) -> int:
    """The reinsurer deposits ``amount`` into the vault; returns the shares minted."""
    send(d.token.functions.approve(d.vault.address, amount), d.reinsurer)
    before = d.vault.functions.balanceOf(d.reinsurer).call()
    send(d.vault.functions.deposit(amount, d.reinsurer), d.reinsurer)
    return int(d.vault.functions.balanceOf(d.reinsurer).call() - before)


def deploy_runtime(w3: Web3, runtime: bytes, sender: str) -> str:
    """Deploy raw runtime code (for targets that misbehave on purpose)."""
    assert len(runtime) < 256
    init = bytes([0x60, len(runtime), 0x60, 12, 0x60, 0, 0x39, 0x60, len(runtime), 0x60, 0, 0xF3])
    tx = w3.eth.send_transaction({"from": sender, "data": init + runtime})
    address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    assert address is not None and w3.eth.get_code(address) == runtime
    return str(address)


#: Answers every call with a 32-byte word of all ones (not a valid address).
ALL_ONES = bytes([0x7F]) + b"\xff" * 32 + bytes([0x60, 0, 0x52, 0x60, 32, 0x60, 0, 0xF3])
#: Answers every call with a single byte.
SHORT_ANSWER = bytes([0x60, 1, 0x60, 0, 0xF3])
#: Loops until its gas runs out.
GAS_SINK = bytes([0x5B, 0x60, 0, 0x56])
#: Answers every call with 32 zero bytes: an ERC-20 that returns `false`.
RETURNS_FALSE = bytes([0x60, 32, 0x60, 0, 0xF3])
