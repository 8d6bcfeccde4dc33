"""A Solana JSON-RPC node on 127.0.0.1 that answers from a :class:`LiteSvmChain`.

No local validator is obtainable here, so this serves the methods the adapter
uses with a real node's shapes: context slots, commitments, ``minContextSlot``,
batch requests, and error objects with real codes and messages (-32602 invalid
params, -32002 preflight failure with logs, -32016 min context slot, -32004
block not available...). The adapter talks to it through the very same
``AsyncClient`` code path it uses against a real endpoint.

Fault injection (:class:`Fault`) exists for tests only and fires only when a
test queues a fault; everything else is the real SVM.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter, deque
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import (
    InstructionErrorCustom,
    InstructionErrorFieldless,
    TransactionErrorDuplicateInstruction,
    TransactionErrorFieldless,
    TransactionErrorInstructionError,
    TransactionErrorInsufficientFundsForRent,
)

from chains.embedded.litesvm_chain import Commitment, LiteSvmChain, Rejection, TxRecord
from chains.embedded.litesvm_http import DropConnection, Fault, FaultKind, HttpServer, HttpStatus

MAX_MULTIPLE_ACCOUNTS = 100
MAX_SIGNATURE_STATUSES = 256
STATUS_CACHE_SLOTS = 300  # without searchTransactionHistory only recent statuses answer
_MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
_TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")


class RpcFailure(Exception):
    """A JSON-RPC error object to send back."""

    def __init__(self, code: int, message: str, data: object = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def invalid_params(message: str) -> RpcFailure:
    return RpcFailure(-32602, message)


def ui_error(err: object) -> object:
    """A transaction error as a node renders it in JSON."""
    if isinstance(err, str):
        return err
    if isinstance(err, TransactionErrorFieldless):
        return str(err).rsplit(".", 1)[-1]
    if isinstance(err, TransactionErrorInstructionError):
        inner = err.err
        if isinstance(inner, InstructionErrorCustom):
            detail: object = {"Custom": inner.code}
        elif isinstance(inner, InstructionErrorFieldless):
            detail = str(inner).rsplit(".", 1)[-1]
        else:
            detail = {"BorshIoError": str(inner)}
        return {"InstructionError": [err.index, detail]}
    if isinstance(err, TransactionErrorInsufficientFundsForRent):
        return {"InsufficientFundsForRent": {"account_index": err.account_index}}
    if isinstance(err, TransactionErrorDuplicateInstruction):
        return {"DuplicateInstruction": err.index}
    return str(err)


_REJECTION_TEXT = {
    "AlreadyProcessed": "This transaction has already been processed",
    "BlockhashNotFound": "Blockhash not found",
}


class SolanaRpcServer:
    """JSON-RPC over HTTP on an ephemeral 127.0.0.1 port, backed by one chain."""

    def __init__(self, chain: LiteSvmChain) -> None:
        self.chain = chain
        self.http = HttpServer(self._handle_body)
        self.calls: Counter[str] = Counter()
        self.faults: deque[Fault] = deque()
        self.sends_received = 0

    @property
    def url(self) -> str:
        return self.http.url

    async def start(self) -> SolanaRpcServer:
        await self.http.start()
        return self

    async def close(self) -> None:
        await self.http.close()

    def inject(self, fault: Fault) -> None:
        """Queue a fault for the next matching request (tests only)."""
        self.faults.append(fault)

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.method is None or fault.method == method:
                self.faults.remove(fault)
                return fault
        return None

    # -- transport ------------------------------------------------------------

    async def _handle_body(self, body: bytes) -> bytes | None:
        try:
            request = json.loads(body)
        except ValueError:
            return _dump(
                {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
            )
        if isinstance(request, list):
            if not request:
                return _dump(_err(None, RpcFailure(-32600, "Invalid request")))
            answers = [await self._handle_one(r) for r in request]
            for answer in answers:  # an injected transport-level fault spoils the whole batch
                if isinstance(answer, HttpStatus):
                    return answer
                if isinstance(answer, _Raw):
                    return answer.body
            return _dump(answers)
        answer = await self._handle_one(request)
        if isinstance(answer, HttpStatus):
            return answer
        if isinstance(answer, _Raw):
            return answer.body
        return _dump(answer)

    async def _handle_one(self, request: object) -> Any:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _err(None, RpcFailure(-32600, "Invalid request"))
        rid = request.get("id")
        method = request["method"]
        params = request.get("params", [])
        self.calls[method] += 1
        fault = self._take_fault(method)
        if fault is not None:
            if fault.kind is FaultKind.DELAY:
                await asyncio.sleep(fault.delay)
            elif fault.kind is FaultKind.HTTP_STATUS:
                return HttpStatus(fault.status)
            elif fault.kind is FaultKind.RAW:
                return _Raw(fault.raw.encode())
            elif fault.kind is FaultKind.ERROR:
                return {"jsonrpc": "2.0", "error": fault.payload, "id": rid}
        handler = getattr(self, "rpc_" + method, None)
        if handler is None:
            return _err(rid, RpcFailure(-32601, "Method not found"))
        if not isinstance(params, list):
            return _err(rid, invalid_params("Invalid params: expected an array"))
        stale = fault is not None and fault.kind is FaultKind.STALE
        if stale and params and isinstance(params[-1], dict):
            params[-1] = {**params[-1], "commitment": Commitment.FINALIZED}
        try:
            if fault is not None and fault.kind is FaultKind.SWALLOW:
                result = self._swallow_send(params)
            else:
                result = handler(*params)
        except RpcFailure as exc:
            return _err(rid, exc)
        except TypeError:
            return _err(rid, invalid_params(f"Invalid params for {method}"))
        except Exception as exc:  # a bug here must still answer like a node: -32603
            return _err(rid, RpcFailure(-32603, f"Internal error: {type(exc).__name__}"))
        if fault is not None and fault.kind is FaultKind.DROP_RESPONSE:
            raise DropConnection
        if fault is not None and fault.kind is FaultKind.ADVANCE:
            self.chain.advance(int(fault.payload or 1))  # type: ignore[call-overload]
        return {"jsonrpc": "2.0", "result": result, "id": rid}

    # -- helpers --------------------------------------------------------------

    def _commitment(self, config: object, default: str = Commitment.FINALIZED) -> str:
        if config is None:
            return default
        if not isinstance(config, dict):
            raise invalid_params("Invalid params: config must be an object")
        value = config.get("commitment", default)
        if value not in Commitment.ALL:
            raise invalid_params(f"Invalid params: unknown commitment {value!r}")
        return str(value)

    def _context(self, config: object, commitment: str) -> dict[str, Any]:
        slot = self.chain.slot_at(commitment)
        min_slot = config.get("minContextSlot") if isinstance(config, dict) else None
        if min_slot is not None:
            if not isinstance(min_slot, int):
                raise invalid_params("Invalid params: minContextSlot must be an integer")
            if slot < min_slot:
                raise RpcFailure(
                    -32016, "Minimum context slot has not been reached", {"contextSlot": slot}
                )
        return {"slot": slot, "apiVersion": "2.2.0"}

    @staticmethod
    def _pubkey(value: object) -> Pubkey:
        if not isinstance(value, str):
            raise invalid_params("Invalid param: expected a base-58 public key")
        try:
            return Pubkey.from_string(value)
        except ValueError:
            raise invalid_params("Invalid param: Invalid") from None

    @staticmethod
    def _signature(value: object) -> Signature:
        if not isinstance(value, str):
            raise invalid_params("Invalid param: expected a base-58 signature")
        try:
            return Signature.from_string(value)
        except ValueError:
            raise invalid_params("Invalid param: Invalid") from None

    def _ui_account(self, account: Account | None, config: object) -> dict[str, Any] | None:
        if account is None:
            return None
        encoding = config.get("encoding", "base64") if isinstance(config, dict) else "base64"
        data = bytes(account.data)
        if encoding == "base58":
            encoded: object = [b58encode(data), "base58"]
        elif encoding == "base64":
            encoded = [base64.b64encode(data).decode(), "base64"]
        else:
            raise invalid_params(f"Invalid params: encoding {encoding!r} is not supported")
        return {
            "lamports": account.lamports,
            "data": encoded,
            "owner": str(account.owner),
            "executable": account.executable,
            "rentEpoch": 18446744073709551615,
            "space": len(data),
        }

    def _decode_tx(self, wire: object, config: object) -> Transaction | VersionedTransaction:
        if not isinstance(wire, str):
            raise invalid_params("invalid transaction: expected an encoded string")
        encoding = config.get("encoding", "base58") if isinstance(config, dict) else "base58"
        try:
            raw = base64.b64decode(wire, validate=True) if encoding == "base64" else b58decode(wire)
            return VersionedTransaction.from_bytes(raw)
        except Exception:
            raise invalid_params(
                f"failed to deserialize solana_transaction::versioned::VersionedTransaction: "
                f"invalid {encoding} transaction"
            ) from None

    @staticmethod
    def _memo_of(tx: Transaction | VersionedTransaction) -> str | None:
        keys = tx.message.account_keys
        memos = [
            bytes(ix.data).decode("utf-8", "replace")
            for ix in tx.message.instructions
            if keys[ix.program_id_index] == _MEMO_PROGRAM
        ]
        return "; ".join(f"[{len(m)}] {m}" for m in memos) if memos else None

    # -- methods --------------------------------------------------------------

    def rpc_getHealth(self) -> str:
        return "ok"

    def rpc_getVersion(self) -> dict[str, Any]:
        return {"solana-core": "2.2.0", "feature-set": 0}

    def rpc_getSlot(self, config: object = None) -> int:
        commitment = self._commitment(config)
        return int(self._context(config, commitment)["slot"])

    def rpc_getBlockHeight(self, config: object = None) -> int:
        commitment = self._commitment(config)
        self._context(config, commitment)
        return self.chain.block_height_at(commitment)

    def rpc_getLatestBlockhash(self, config: object = None) -> dict[str, Any]:
        commitment = self._commitment(config)
        context = self._context(config, commitment)
        slot = context["slot"]
        return {
            "context": context,
            "value": {
                "blockhash": str(self.chain.blockhash_of(slot)),
                "lastValidBlockHeight": slot + self.chain.blockhash_validity,
            },
        }

    def rpc_isBlockhashValid(self, blockhash: object, config: object = None) -> dict[str, Any]:
        commitment = self._commitment(config)
        context = self._context(config, commitment)
        try:
            value = Hash.from_string(str(blockhash))
        except ValueError:
            raise invalid_params("Invalid param: Invalid") from None
        return {"context": context, "value": self.chain.blockhash_valid(value, commitment)}

    def rpc_getMinimumBalanceForRentExemption(self, size: object, config: object = None) -> int:
        if not isinstance(size, int) or size < 0:
            raise invalid_params("Invalid params: data length must be a non-negative integer")
        return int(self.chain.svm.minimum_balance_for_rent_exemption(size))

    def rpc_getAccountInfo(self, key: object, config: object = None) -> dict[str, Any]:
        commitment = self._commitment(config)
        pubkey = self._pubkey(key)
        context = self._context(config, commitment)
        account = self.chain.account_at(pubkey, commitment)
        return {"context": context, "value": self._ui_account(account, config)}

    def rpc_getBalance(self, key: object, config: object = None) -> dict[str, Any]:
        commitment = self._commitment(config)
        pubkey = self._pubkey(key)
        context = self._context(config, commitment)
        account = self.chain.account_at(pubkey, commitment)
        return {"context": context, "value": 0 if account is None else account.lamports}

    def rpc_getMultipleAccounts(self, keys: object, config: object = None) -> dict[str, Any]:
        commitment = self._commitment(config)
        if not isinstance(keys, list):
            raise invalid_params("Invalid params: expected an array of public keys")
        if len(keys) > MAX_MULTIPLE_ACCOUNTS:
            raise invalid_params(f"Too many inputs provided; max {MAX_MULTIPLE_ACCOUNTS}")
        pubkeys = [self._pubkey(k) for k in keys]
        context = self._context(config, commitment)
        value = [self._ui_account(self.chain.account_at(k, commitment), config) for k in pubkeys]
        return {"context": context, "value": value}

    def rpc_getTokenLargestAccounts(self, key: object, config: object = None) -> dict[str, Any]:
        """The 20 largest token accounts of a mint (a node refuses a non-mint)."""
        commitment = self._commitment(config)
        mint = self._pubkey(key)
        context = self._context(config, commitment)
        account = self.chain.account_at(mint, commitment)
        if account is None or account.owner != _TOKEN_PROGRAM or len(account.data) != 82:
            raise invalid_params("Invalid param: not a Token mint")
        decimals = bytes(account.data)[44]
        rows = []
        for holder in self.chain.token_accounts_of(mint):
            state = self.chain.account_at(holder, commitment)
            if state is None or state.owner != _TOKEN_PROGRAM or len(state.data) != 165:
                continue
            amount = int.from_bytes(bytes(state.data)[64:72], "little")
            rows.append((amount, str(holder)))
        rows.sort(key=lambda row: (-row[0], row[1]))
        value = [
            {
                "address": address,
                "amount": str(amount),
                "decimals": decimals,
                "uiAmount": amount / 10**decimals,
                "uiAmountString": str(amount / 10**decimals),
            }
            for amount, address in rows[:20]
        ]
        return {"context": context, "value": value}

    def rpc_getBlock(self, slot: object, config: object = None) -> dict[str, Any]:
        commitment = self._commitment(config)
        if commitment == Commitment.PROCESSED:
            raise invalid_params("Method does not support commitment below `confirmed`")
        if not isinstance(slot, int) or slot < 0:
            raise invalid_params("Invalid params: slot must be a non-negative integer")
        if slot > self.chain.slot_at(commitment):
            raise RpcFailure(-32004, f"Block not available for slot {slot}")
        if slot < self.chain.slot_at(Commitment.FINALIZED) - 100_000:
            raise RpcFailure(-32001, f"Block {slot} cleaned up, does not exist on node.")
        details = config.get("transactionDetails", "full") if isinstance(config, dict) else "full"
        block: dict[str, Any] = {
            "blockhash": str(self.chain.blockhash_of(slot)),
            "previousBlockhash": str(self.chain.blockhash_of(self.chain.parent_of(slot))),
            "parentSlot": self.chain.parent_of(slot),
            "blockHeight": slot,
            "blockTime": self.chain.block_time(slot),
        }
        if details == "signatures":
            block["signatures"] = [
                str(r.signature) for r in self.chain.txs.values() if r.slot == slot
            ]
        elif details != "none":
            raise invalid_params("Invalid params: only transactionDetails none|signatures served")
        return block

    def rpc_getSignatureStatuses(self, sigs: object, config: object = None) -> dict[str, Any]:
        if not isinstance(sigs, list):
            raise invalid_params("Invalid params: expected an array of signatures")
        if len(sigs) > MAX_SIGNATURE_STATUSES:
            raise invalid_params(f"Too many inputs provided; max {MAX_SIGNATURE_STATUSES}")
        history = (
            bool(config.get("searchTransactionHistory")) if isinstance(config, dict) else False
        )
        parsed = [self._signature(s) for s in sigs]
        out: list[dict[str, Any] | None] = []
        for sig in parsed:
            record = self.chain.txs.get(sig)
            if record is None or (
                not history and record.slot < self.chain.slot - STATUS_CACHE_SLOTS
            ):
                out.append(None)
                continue
            final = self.chain.is_finalized(record.slot)
            err = None if record.err is None else ui_error(record.err)
            out.append(
                {
                    "slot": record.slot,
                    "confirmations": None if final else self.chain.slot - record.slot,
                    "err": err,
                    "status": {"Ok": None} if err is None else {"Err": err},
                    "confirmationStatus": "finalized" if final else "confirmed",
                }
            )
        return {"context": {"slot": self.chain.slot, "apiVersion": "2.2.0"}, "value": out}

    def rpc_getSignaturesForAddress(self, key: object, config: object = None) -> list[Any]:
        commitment = self._commitment(config)
        if commitment == Commitment.PROCESSED:
            raise invalid_params("Method does not support commitment below `confirmed`")
        pubkey = self._pubkey(key)
        limit = config.get("limit", 1000) if isinstance(config, dict) else 1000
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise invalid_params("Invalid limit; max 1000")
        records = self.chain.signatures_for(pubkey, commitment)
        # Paging as a node pages: newest first, strictly older than ``before``,
        # strictly newer than ``until``.
        before = config.get("before") if isinstance(config, dict) else None
        until = config.get("until") if isinstance(config, dict) else None
        if before is not None:
            sig = self._signature(before)
            at = next((i for i, r in enumerate(records) if r.signature == sig), None)
            records = [] if at is None else records[at + 1 :]
        if until is not None:
            sig = self._signature(until)
            at = next((i for i, r in enumerate(records) if r.signature == sig), None)
            records = records if at is None else records[:at]
        out = []
        for record in records[:limit]:
            final = self.chain.is_finalized(record.slot)
            out.append(
                {
                    "signature": str(record.signature),
                    "slot": record.slot,
                    "err": None if record.err is None else ui_error(record.err),
                    "memo": record.memo,
                    "blockTime": record.block_time,
                    "confirmationStatus": "finalized" if final else "confirmed",
                }
            )
        return out

    def rpc_getTransaction(self, sig: object, config: object = None) -> dict[str, Any] | None:
        commitment = self._commitment(config)
        if commitment == Commitment.PROCESSED:
            raise invalid_params("Method does not support commitment below `confirmed`")
        signature = self._signature(sig)
        encoding = config.get("encoding", "json") if isinstance(config, dict) else "json"
        if encoding != "base64":
            raise invalid_params("Invalid params: this node serves getTransaction as base64")
        record = self.chain.transaction(signature, commitment)
        if record is None:
            return None
        return self._ui_transaction(record)

    def _ui_transaction(self, record: TxRecord) -> dict[str, Any]:
        err = None if record.err is None else ui_error(record.err)
        return {
            "slot": record.slot,
            "blockTime": record.block_time,
            "transaction": [base64.b64encode(bytes(record.tx)).decode(), "base64"],
            "meta": {
                "err": err,
                "status": {"Ok": None} if err is None else {"Err": err},
                "fee": record.meta.fee(),
                "preBalances": [],
                "postBalances": [],
                "innerInstructions": [],
                "logMessages": list(record.meta.logs()),
                "preTokenBalances": [],
                "postTokenBalances": [],
                "rewards": [],
                "loadedAddresses": {"writable": [], "readonly": []},
                "computeUnitsConsumed": record.meta.compute_units_consumed(),
            },
            "version": "legacy",
        }

    def _preflight_failure(self, rejected: Rejection) -> RpcFailure:
        err = ui_error(rejected.err)
        text = _REJECTION_TEXT.get(err) if isinstance(err, str) else None
        if text is None and isinstance(err, dict) and "InstructionError" in err:
            index, detail = err["InstructionError"]
            if isinstance(detail, dict) and "Custom" in detail:
                code = detail["Custom"]
                text = f"Error processing Instruction {index}: custom program error: {code:#x}"
            else:
                text = f"Error processing Instruction {index}: {detail}"
        return RpcFailure(
            -32002,
            f"Transaction simulation failed: {text or err}",
            {
                "err": err,
                "logs": rejected.logs,
                "accounts": None,
                "unitsConsumed": rejected.units,
                "returnData": None,
                "innerInstructions": None,
            },
        )

    def rpc_sendTransaction(self, wire: object, config: object = None) -> str:
        self.sends_received += 1
        tx = self._decode_tx(wire, config)
        if not all(tx.verify_with_results()):
            raise RpcFailure(-32003, "Transaction signature verification failure")
        skip_preflight = bool(config.get("skipPreflight")) if isinstance(config, dict) else False
        if not skip_preflight:
            simulated = self.chain.simulate(tx)
            if isinstance(simulated, Rejection):
                raise self._preflight_failure(simulated)
        self.chain.execute(tx, memo=self._memo_of(tx))
        return str(tx.signatures[0])

    def _swallow_send(self, params: list[Any]) -> str:
        """The leader accepted the transaction and then lost it: it never lands."""
        self.sends_received += 1
        tx = self._decode_tx(params[0] if params else None, params[1] if len(params) > 1 else None)
        return str(tx.signatures[0])


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, rem = divmod(n, 58)
        out = _B58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    n = 0
    for char in text:
        n = n * 58 + _B58.index(char)  # ValueError on a non-alphabet char
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body


def _err(rid: object, failure: RpcFailure) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": failure.to_json(), "id": rid}


def _dump(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
