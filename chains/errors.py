"""The one error tree of the chain layer.

Every exception that leaves ``chains/`` is one of these; web3, eth-tester,
solana-py, solders and httpx errors are mapped at the adapter boundary and never
leak. Each error carries structured fields and says whether retrying the same
call can help (``retryable``); the retry policy in :mod:`chains.retry` reads
only that flag.

::

    ChainError                          (retryable=False unless noted)
    ├── InvalidInput(ValueError)        bad request; nothing was sent
    │   ├── InvalidAddress
    │   ├── InvalidAmount
    │   ├── InvalidTransferId
    │   └── UnsupportedEffect           this chain family cannot do it (cessions on Solana)
    ├── UnknownChain(LookupError)
    ├── UnknownPool(LookupError)
    ├── UnknownCover(LookupError)       no open cover with a certificate under this id
    ├── AccountMismatch                 account exists but is not a pool of ours
    │                                   (wrong asset/mint, wrong owner, missing)
    ├── ReadOnlyAdapter                 built without a signer key: reads only
    ├── RpcError                        an endpoint failed to answer usefully
    │   ├── RpcTimeout                  retryable
    │   ├── RpcUnavailable              retryable (connection refused, 5xx, 429)
    │   ├── RpcResponseError            the node answered with an error payload
    │   │                               (retryable only for known-transient codes)
    │   └── MalformedResponse           answer we cannot parse
    ├── EndpointDisagreement            endpoints of one chain disagree on block
    │                                   hash, balances or head; never averaged
    ├── NotFinal                        the state asked for is not final yet;
    │   │                               retryable (finality will come)
    │   └── NotYetFinal                 a bridge send seen at the head, not yet at
    │                                   a final block: never attested before
    ├── BridgeError                     the bridge refuses to attest or deliver
    │   ├── UnknownSend(LookupError)    no send of ours with this id on the source
    │   ├── UnknownLane(LookupError)    no configured lane between the two chains
    │   ├── ForeignSend                 sent by an account that is not one of our
    │   │                               pools: never attested
    │   ├── FeeExceedsAmount            the lane fee takes the whole amount: a
    │   │                               delivery would be zero or negative
    │   └── AttestationMismatch         a delivery differs from the source send,
    │                                   or its attestation is not the attester's
    └── TransactionError                a write failed (``tx_hash`` once one was signed)
        ├── TransactionReverted         the chain refused it (reason attached)
        ├── InsufficientCapital         free capital below the amount
        ├── DuplicateTransfer           the transfer id was used before
        ├── PayoutOverCap               a claim payment above the cover's remaining limit
        ├── PremiumUnpaid               the payer has not approved (or lacks) the premium
        ├── Unauthorized                our key lacks the role
        ├── WrongChain                  signed for another chain id
        ├── BlockhashExpired            Solana: retryable by re-signing only
        │                               once the signature is known absent
        ├── ConfirmationTimeout         sent, outcome unknown: reconcile by id
        │                               before doing anything else
        ├── FeeCapExceeded              retryable: the network wants more per gas
        │                               than the configured cap; nothing was signed
        │                               (or the transaction waits at the cap)
        └── NonceError                  the key's nonce sequence blocks sending
            ├── NonceConflict           another transaction holds or took this
            │                           nonce ("replacement transaction underpriced",
            │                           "nonce too low" for a transaction not ours)
            ├── NonceGap                a lower nonce is missing on the node: later
            │                           ones cannot be mined until it is filled
            └── StuckTransaction        transactions this process did not sign are
                                        pending on the key ahead of ours

Errors never carry key material: messages name addresses, ids and amounts only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


class ChainError(Exception):
    """Root of every error the chain layer raises."""

    #: Whether the same call may succeed if tried again. A class default,
    #: overridden per instance where it depends on the answer (RpcResponseError).
    retryable: bool = False

    def __init__(self, message: str, *, chain: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.chain = chain
        self.fields: dict[str, Any] = fields

    def __str__(self) -> str:
        where = f"[{self.chain}] " if self.chain else ""
        return f"{where}{self.message}"


class InvalidInput(ChainError, ValueError):
    """The request itself is wrong; it was rejected before anything was sent."""


class InvalidAddress(InvalidInput):
    pass


class InvalidAmount(InvalidInput):
    pass


class InvalidTransferId(InvalidInput):
    pass


class UnsupportedEffect(InvalidInput):
    """The effect exists, but not on this chain family (vaults are EVM contracts)."""


class UnknownChain(ChainError, LookupError):
    pass


class UnknownPool(ChainError, LookupError):
    pass


class UnknownCover(ChainError, LookupError):
    """No open cover with a policy certificate under this id in this pool."""


class AccountMismatch(ChainError):
    """The account exists but is not one of our pools: never read as a balance."""


class ReadOnlyAdapter(ChainError):
    """The adapter was built without a signer key (a reporting agent): it reads only."""


class RpcError(ChainError):
    def __init__(self, message: str, *, endpoint: str | None = None, **kw: Any) -> None:
        super().__init__(message, endpoint=endpoint, **kw)
        self.endpoint = endpoint


class RpcTimeout(RpcError):
    retryable = True


class RpcUnavailable(RpcError):
    retryable = True


class RpcResponseError(RpcError):
    """The endpoint answered with an error payload.

    Retryable per instance: rate limits and "block not available yet" are
    transient, "invalid params" is not.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        transient: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(message, code=code, **kw)
        self.code = code
        self.transient = transient
        self.retryable = transient


class MalformedResponse(RpcError):
    pass


class EndpointDisagreement(ChainError):
    """Endpoints of one chain gave different answers for the same question."""


class NotFinal(ChainError):
    retryable = True


class NotYetFinal(NotFinal):
    """A bridge send the source chain shows at its head but not at a final block.
    Nothing is attested before finality; it will come (retryable)."""


class BridgeError(ChainError):
    """The bridge refuses to attest or deliver a transfer (``transfer_id`` names it)."""

    def __init__(self, message: str, *, transfer_id: str | None = None, **kw: Any) -> None:
        super().__init__(message, transfer_id=transfer_id, **kw)
        self.transfer_id = transfer_id


class UnknownSend(BridgeError, LookupError):
    """The source chain has no bridge send of ours with this id (even at its head)."""


class UnknownLane(BridgeError, LookupError):
    """No lane is configured from the send's chain to its destination."""


class ForeignSend(BridgeError):
    """The send was made by an account that is not one of our pools (anyone may
    call ``BridgeEndpoint.send`` or pay into the escrow): it is never attested."""


class FeeExceedsAmount(BridgeError):
    """The lane fee is at least the amount sent: nothing (or less) would arrive."""


class AttestationMismatch(BridgeError):
    """A delivery does not match the final source send (amount, recipient, chain),
    or its attestation was not signed by the attester for exactly that delivery."""


class TransactionError(ChainError):
    """A write failed. ``tx_hash`` names the transaction once one was signed, so a
    failure the chain recorded (a mined revert) can always be looked up."""

    def __init__(
        self,
        message: str,
        *,
        transfer_id: str | None = None,
        tx_hash: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, transfer_id=transfer_id, tx_hash=tx_hash, **kw)
        self.transfer_id = transfer_id
        self.tx_hash = tx_hash


class TransactionReverted(TransactionError):
    pass


class InsufficientCapital(TransactionError):
    pass


class DuplicateTransfer(TransactionError):
    pass


class PayoutOverCap(TransactionError):
    """A claim payment above what the cover's limit still allows (``requested``,
    ``remaining`` when known). The chain refuses it too: nothing is paid."""


class PremiumUnpaid(TransactionError):
    """The cover's premium cannot be collected: the payer has not approved the
    pool (EVM) or the treasury authority (Solana) for it, or does not hold it."""


class Unauthorized(TransactionError):
    pass


class WrongChain(TransactionError):
    pass


class BlockhashExpired(TransactionError):
    retryable = True


class ConfirmationTimeout(TransactionError):
    """Sent but not seen confirmed in time. Not retryable blindly: reconcile
    with ``find_transfer`` first, a resend could move the capital twice."""


class FeeCapExceeded(TransactionError):
    """The network's fee is above the configured maximum per gas. Nothing was
    signed (or a signed transaction waits at the cap); waiting may help."""

    retryable = True


class NonceError(TransactionError):
    """The signing key's nonce sequence blocks sending; fields name the nonces."""


class NonceConflict(NonceError):
    """Another transaction holds or consumed the nonce this one was signed with."""


class NonceGap(NonceError):
    """A nonce below this one is missing on the node: fill it (broadcast or cancel)."""


class StuckTransaction(NonceError):
    """Transactions this process did not sign are pending on the key ahead of ours."""


def http_status_error(status: int, message: str, **fields: Any) -> RpcError:
    """An endpoint's non-200 HTTP answer: 429 and 5xx are passing (try again),
    anything else is the request's fault and final."""
    if status == 429 or status >= 500:
        return RpcUnavailable(message, **fields)
    return RpcResponseError(message, code=status, **fields)


def redact_url(url: str) -> str:
    """How errors and logs name an endpoint: scheme, host and port only.

    Provider URLs carry API keys in the path, query or user info; none of that
    may reach a message.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "endpoint"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}" if parts.scheme and host else "endpoint"
