"""Just enough ABI handling for our own contracts, from their committed artifacts.

The adapter encodes calldata and decodes results with ``eth_abi`` directly:
no web3 contract objects, so one ``eth_call`` for 500 pools costs one encode,
and custom errors are mapped by selector without a node's help.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak

from chains.errors import (
    ChainError,
    DuplicateTransfer,
    InsufficientCapital,
    InvalidAmount,
    PayoutOverCap,
    PremiumUnpaid,
    TransactionReverted,
    Unauthorized,
    UnknownCover,
)


def _canonical(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical(c) for c in param.get("components", ()))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@dataclass(frozen=True, slots=True)
class AbiFunction:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def encode(self, *args: Any) -> str:
        return "0x" + (self.selector + encode(list(self.inputs), list(args))).hex()

    def decode(self, data: bytes) -> tuple[Any, ...]:
        return tuple(decode(list(self.outputs), data))


@dataclass(frozen=True, slots=True)
class AbiError:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    names: tuple[str, ...]

    def decode(self, data: bytes) -> dict[str, Any]:
        values = decode(list(self.inputs), data[4:]) if self.inputs else ()
        return dict(zip(self.names, values, strict=True))


class ContractAbi:
    """Functions, errors and event topics of one contract ABI."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        self.functions: dict[str, AbiFunction] = {}
        self.errors: dict[bytes, AbiError] = {}
        self.events: dict[str, str] = {}
        for item in abi:
            kind = item.get("type")
            name = str(item.get("name", ""))
            inputs = tuple(_canonical(p) for p in item.get("inputs", ()))
            signature = f"{name}({','.join(inputs)})"
            if kind == "function":
                outputs = tuple(_canonical(p) for p in item.get("outputs", ()))
                self.functions[name] = AbiFunction(
                    name, keccak(text=signature)[:4], inputs, outputs
                )
            elif kind == "error":
                selector = keccak(text=signature)[:4]
                names = tuple(str(p.get("name", "")) for p in item.get("inputs", ()))
                self.errors[selector] = AbiError(name, selector, inputs, names)
            elif kind == "event":
                self.events[name] = "0x" + keccak(text=signature).hex()

    def fn(self, name: str) -> AbiFunction:
        return self.functions[name]


#: Solidity's built-in ``Error(string)`` and ``Panic(uint256)``.
ERROR_STRING = AbiError("Error", bytes.fromhex("08c379a0"), ("string",), ("reason",))
PANIC = AbiError("Panic", bytes.fromhex("4e487b71"), ("uint256",), ("code",))


def decode_revert(data: bytes, known: Mapping[bytes, AbiError]) -> tuple[str, dict[str, Any]]:
    """Name and arguments of a revert, or ``("unknown", {"data": hex})``."""
    selector = data[:4]
    for table in (known, {ERROR_STRING.selector: ERROR_STRING, PANIC.selector: PANIC}):
        err = table.get(selector)
        if err is not None:
            try:
                return err.name, err.decode(data)
            except Exception:  # malformed arguments: still name the error
                return err.name, {}
    return "unknown", {"data": "0x" + data.hex()}


def encode_address_array(selector: bytes, addresses: Sequence[str]) -> str:
    """Calldata for ``f(address[])`` without eth_abi: the hot path of every read."""
    head = (32).to_bytes(32, "big") + len(addresses).to_bytes(32, "big")
    words = "".join("0" * 24 + a[2:].lower() for a in addresses)
    return "0x" + selector.hex() + head.hex() + words


def decode_pool_states(data: bytes) -> tuple[list[str], list[int]]:
    """``(address[] assets, uint256[] balances, uint256[] locked)`` → lowercase assets, balances.

    Hand-rolled (eth_abi checksums every address it decodes, which costs more
    than the whole RPC round trip for 1,000 pools); strict about the layout.
    """
    view = memoryview(data)

    def word(at: int) -> int:
        if at + 32 > len(view):
            raise ValueError("short poolStates answer")
        return int.from_bytes(view[at : at + 32], "big")

    def array(offset: int) -> tuple[int, int]:
        n = word(offset)
        if offset + 32 + 32 * n > len(view):
            raise ValueError("poolStates array runs past the answer")
        return n, offset + 32

    n_assets, at_assets = array(word(0))
    n_bal, at_bal = array(word(32))
    if n_assets != n_bal:
        raise ValueError("poolStates arrays differ in length")
    assets = []
    for i in range(n_assets):
        raw = bytes(view[at_assets + 32 * i : at_assets + 32 * i + 32])
        if raw[:12] != bytes(12):
            raise ValueError("poolStates asset is not an address")
        assets.append("0x" + raw[12:].hex())
    balances = [word(at_bal + 32 * i) for i in range(n_bal)]
    return assets, balances


def encode_balances_of(selector: bytes, token: str, holders: Sequence[str]) -> str:
    """Calldata for ``balancesOf(address token, address[] holders)``."""
    head = bytes(12) + bytes.fromhex(token[2:]) + (64).to_bytes(32, "big")
    count = len(holders).to_bytes(32, "big")
    words = "".join("0" * 24 + a[2:].lower() for a in holders)
    return "0x" + selector.hex() + head.hex() + count.hex() + words


def decode_uint_array(data: bytes) -> list[int]:
    """A single ``uint256[]`` return value, strictly."""
    if len(data) < 64:
        raise ValueError("short uint256[] answer")
    offset = int.from_bytes(data[:32], "big")
    if offset + 32 > len(data):
        raise ValueError("uint256[] offset runs past the answer")
    n = int.from_bytes(data[offset : offset + 32], "big")
    start = offset + 32
    if start + 32 * n > len(data):
        raise ValueError("uint256[] runs past the answer")
    return [int.from_bytes(data[start + 32 * i : start + 32 * i + 32], "big") for i in range(n)]


def error_for_revert(
    revert: tuple[str, dict[str, Any]],
    *,
    chain: str,
    transfer_id: str,
    tx_hash: str | None = None,
) -> ChainError:
    """Our error for a decoded revert of our contracts (see their custom errors)."""
    name, args = revert
    where = f" ({tx_hash})" if tx_hash else ""
    kw: dict[str, Any] = {
        "chain": chain,
        "transfer_id": transfer_id,
        "revert": name,
        "tx_hash": tx_hash,
        **args,
    }
    if name == "PayoutOverCap":
        return PayoutOverCap(
            f"claim payment of {args.get('requested')} is above the cover's remaining "
            f"{args.get('remaining')}{where}",
            **kw,
        )
    if name in ("NoCertificate", "CoverNotOpen"):
        return UnknownCover(f"no open cover with a certificate ({name}){where}", **kw)
    if name in ("InsufficientAllowance", "InsufficientBalance"):
        return PremiumUnpaid(f"the premium cannot be collected ({name}){where}", **kw)
    if name in ("TransferIdUsed", "CessionExists", "RecoveryIdUsed", "CoverExists"):
        return DuplicateTransfer(f"id {transfer_id} already used on chain ({name}){where}", **kw)
    if name in ("InsufficientFreeCapital", "CessionOverCapacity"):
        return InsufficientCapital(
            f"{name}: {args.get('free')} free, needs {args.get('requested')}{where}", **kw
        )
    if name == "RecoveryOverCap":
        return InsufficientCapital(
            f"recovery of {args.get('requested')} is above the cession's remaining "
            f"{args.get('remaining')}{where}",
            **kw,
        )
    if name in ("Unauthorized", "NotMinter", "NotAdmin", "NotCedent"):
        return Unauthorized(f"the key or pool lacks the role: {name}{where}", **kw)
    if name == "ZeroAmount":
        return InvalidAmount(f"the chain refused a zero amount{where}", chain=chain)
    detail = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return TransactionReverted(f"reverted with {name}({detail}){where}", **kw)
