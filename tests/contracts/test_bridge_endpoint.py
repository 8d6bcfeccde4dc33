"""BridgeEndpoint: lock on send, attested single-use delivery, release then mint."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys import keys
from eth_keys.constants import SECPK1_N
from eth_utils import keccak

from contracts import attestation_digest
from tests.contracts.support import USDC, Deployment, assert_reverts, events, send, tid

SRC_CHAIN = 10
RECIPIENT_32 = b"\x00" * 12 + b"\xaa" * 20


def sign(key: bytes, digest: bytes) -> bytes:
    return bytes(Account.sign_message(encode_defunct(primitive=digest), key).signature)


def attest(d: Deployment, transfer: str, recipient: str, amount: int, **over: object) -> bytes:
    """The attester's signature for a delivery on ``d.bridge`` (fields overridable)."""
    fields: dict[str, object] = {
        "endpoint": d.bridge.address,
        "chain_id": d.chain_id,
        "transfer_id": tid(transfer),
        "src_chain_id": SRC_CHAIN,
        "recipient": recipient,
        "amount": amount,
    }
    fields.update(over)
    return sign(d.attester.key, attestation_digest(**fields))  # type: ignore[arg-type]


def lock_liquidity(d: Deployment, amount: int) -> None:
    """The provider sends ``amount`` through the endpoint, leaving it locked there."""
    send(d.token.functions.approve(d.bridge.address, amount), d.provider)
    send(d.bridge.functions.send(tid(f"lock-{amount}"), 1, RECIPIENT_32, amount), d.provider)


def test_python_digest_matches_solidity(chain: Deployment) -> None:
    digest = attestation_digest(
        chain.bridge.address, chain.chain_id, tid("t"), SRC_CHAIN, chain.claimant, 123
    )
    onchain = chain.bridge.functions.attestationDigest(tid("t"), SRC_CHAIN, chain.claimant, 123)
    assert onchain.call() == digest


def test_send_locks_tokens_once(chain: Deployment) -> None:
    b = chain.bridge.functions
    p = chain.provider
    send(chain.token.functions.approve(chain.bridge.address, 100 * USDC), p)
    receipt = send(b.send(tid("s"), 42, RECIPIENT_32, 60 * USDC), p)
    assert events(chain.bridge, receipt, "BridgeSent") == [
        {
            "transferId": tid("s"),
            "sender": p,
            "dstChainId": 42,
            "recipient": RECIPIENT_32,
            "amount": 60 * USDC,
        }
    ]
    assert b.sent(tid("s")).call() is True
    assert b.senderOf(tid("s")).call() == p
    assert b.sent(tid("other")).call() is False
    assert b.delivered(tid("s")).call() is False
    assert b.lockedLiquidity().call() == 60 * USDC
    assert_reverts(b.send(tid("s"), 42, RECIPIENT_32, 1), p, "TransferIdUsed", tid("s"))
    assert b.lockedLiquidity().call() == 60 * USDC


def test_send_refusals(chain: Deployment) -> None:
    b = chain.bridge.functions
    p = chain.provider
    assert_reverts(b.send(b"\x00" * 32, 1, RECIPIENT_32, 1), p, "ZeroId")
    assert_reverts(b.send(tid("s"), 1, RECIPIENT_32, 0), p, "ZeroAmount")
    assert_reverts(b.send(tid("s"), 1, b"\x00" * 32, 1), p, "ZeroAddress")
    assert_reverts(
        b.send(tid("s"), 1, RECIPIENT_32, 1),
        p,
        "InsufficientAllowance",
        p,
        chain.bridge.address,
        0,
        1,
    )
    assert b.sent(tid("s")).call() is False


def test_deliver_releases_locked_liquidity_first(chain: Deployment) -> None:
    lock_liquidity(chain, 100 * USDC)
    b = chain.bridge.functions
    sig = attest(chain, "d", chain.claimant, 40 * USDC)
    # Anyone may relay: the signature is the authority.
    receipt = send(b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 40 * USDC, sig), chain.stranger)
    assert events(chain.bridge, receipt, "BridgeDelivered") == [
        {
            "transferId": tid("d"),
            "srcChainId": SRC_CHAIN,
            "recipient": chain.claimant,
            "amount": 40 * USDC,
        }
    ]
    assert events(chain.bridge, receipt, "LiquidityUsed") == [
        {"transferId": tid("d"), "released": 40 * USDC, "minted": 0}
    ]
    assert chain.balance(chain.claimant) == 40 * USDC
    assert b.lockedLiquidity().call() == 60 * USDC
    assert b.delivered(tid("d")).call() is True


def test_replayed_delivery_is_refused(chain: Deployment) -> None:
    lock_liquidity(chain, 100 * USDC)
    b = chain.bridge.functions
    sig = attest(chain, "d", chain.claimant, 10 * USDC)
    send(b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 10 * USDC, sig), chain.stranger)
    assert_reverts(
        b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 10 * USDC, sig),
        chain.stranger,
        "TransferIdUsed",
        tid("d"),
        mined=True,
    )
    # Even a fresh, valid attestation for the same id (other amount) is refused.
    other = attest(chain, "d", chain.claimant, 5 * USDC)
    assert_reverts(
        b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 5 * USDC, other),
        chain.stranger,
        "TransferIdUsed",
        tid("d"),
    )
    assert chain.balance(chain.claimant) == 10 * USDC


def test_mints_the_shortfall_only_when_a_minter(chain: Deployment) -> None:
    lock_liquidity(chain, 30 * USDC)
    b = chain.bridge.functions
    sig = attest(chain, "d", chain.claimant, 50 * USDC)
    fn = b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 50 * USDC, sig)
    assert_reverts(fn, chain.stranger, "InsufficientLiquidity", 50 * USDC, 30 * USDC)
    assert b.delivered(tid("d")).call() is False
    send(chain.token.functions.setMinter(chain.bridge.address, True), chain.admin)
    supply = chain.token.functions.totalSupply().call()
    receipt = send(fn, chain.stranger)
    assert events(chain.bridge, receipt, "LiquidityUsed") == [
        {"transferId": tid("d"), "released": 30 * USDC, "minted": 20 * USDC}
    ]
    assert chain.balance(chain.claimant) == 50 * USDC
    assert b.lockedLiquidity().call() == 0
    assert chain.token.functions.totalSupply().call() == supply + 20 * USDC


def test_forged_or_mismatched_attestations_are_refused(chain: Deployment) -> None:
    lock_liquidity(chain, 100 * USDC)
    b = chain.bridge.functions
    c, amount = chain.claimant, 10 * USDC
    forger = keccak(text="not the attester")
    wrong = {
        "signed by another key": sign(forger, attestation_digest(
            chain.bridge.address, chain.chain_id, tid("d"), SRC_CHAIN, c, amount)),
        "another amount": attest(chain, "d", c, amount + 1),
        "another recipient": attest(chain, "d", chain.stranger, amount),
        "another transfer id": attest(chain, "e", c, amount),
        "another source chain": attest(chain, "d", c, amount, src_chain_id=SRC_CHAIN + 1),
        "another destination chain": attest(chain, "d", c, amount, chain_id=chain.chain_id + 1),
        "another endpoint": attest(chain, "d", c, amount, endpoint=chain.pool.address),
        "raw digest, no EIP-191 prefix": bytes(
            Account.unsafe_sign_hash(attestation_digest(
                chain.bridge.address, chain.chain_id, tid("d"), SRC_CHAIN, c, amount),
                chain.attester.key,
            ).signature
        ),
        "empty": b"",
        "64 bytes": attest(chain, "d", c, amount)[:64],
        "66 bytes": attest(chain, "d", c, amount) + b"\x00",
        "garbage": b"\x01" * 65,
    }  # fmt: skip
    for label, sig in wrong.items():
        fn = b.deliver(tid("d"), SRC_CHAIN, c, amount, sig)
        try:
            assert_reverts(fn, chain.stranger, "InvalidAttestation")
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from exc
    assert b.delivered(tid("d")).call() is False
    assert chain.balance(c) == 0


def test_high_s_twin_of_a_valid_signature_is_refused(chain: Deployment) -> None:
    """ecrecover accepts (r, n - s, flipped v) as well; the endpoint must not."""
    lock_liquidity(chain, 100 * USDC)
    b = chain.bridge.functions
    sig = attest(chain, "d", chain.claimant, 10 * USDC)
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    twin = r + (SECPK1_N - s).to_bytes(32, "big") + bytes([55 - v])
    # The twin really is a valid signature by the attester for plain ecrecover.
    digest = attestation_digest(
        chain.bridge.address, chain.chain_id, tid("d"), SRC_CHAIN, chain.claimant, 10 * USDC
    )
    eth_signed = keccak(b"\x19Ethereum Signed Message:\n32" + digest)
    twin_sig = keys.Signature(vrs=(twin[64] - 27, int.from_bytes(r, "big"), SECPK1_N - s))
    recovered = twin_sig.recover_public_key_from_msg_hash(eth_signed).to_checksum_address()
    assert recovered == chain.attester.address
    assert_reverts(
        b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 10 * USDC, twin),
        chain.stranger,
        "InvalidAttestation",
        mined=True,
    )
    # The same signature with v as 0/1 (some signers emit that) is the canonical one: accepted.
    zero_one = sig[:64] + bytes([v - 27])
    send(b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 10 * USDC, zero_one), chain.stranger)
    assert chain.balance(chain.claimant) == 10 * USDC


def test_deliver_refusals_before_the_signature(chain: Deployment) -> None:
    b = chain.bridge.functions
    sig = attest(chain, "d", chain.claimant, 0)
    assert_reverts(
        b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 0, sig), chain.stranger, "ZeroAmount"
    )
    zero = "0x" + "00" * 20
    assert_reverts(b.deliver(tid("d"), SRC_CHAIN, zero, 1, sig), chain.stranger, "ZeroAddress")


def test_only_admin_rotates_the_attester(chain: Deployment) -> None:
    lock_liquidity(chain, 100 * USDC)
    b = chain.bridge.functions
    new = Account.from_key(keccak(text="next attester"))
    assert b.attester().call() == chain.attester.address
    for caller in (chain.stranger, chain.operator):
        assert_reverts(b.setAttester(new.address), caller, "Unauthorized", caller)
    assert_reverts(b.setAttester("0x" + "00" * 20), chain.admin, "ZeroAddress")
    receipt = send(b.setAttester(new.address), chain.admin)
    assert events(chain.bridge, receipt, "AttesterChanged") == [
        {"previousAttester": chain.attester.address, "newAttester": new.address}
    ]
    # The old key's attestations stop working; the new key's work.
    old_sig = attest(chain, "d", chain.claimant, 1)
    assert_reverts(
        b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 1, old_sig),
        chain.stranger,
        "InvalidAttestation",
    )
    digest = attestation_digest(
        chain.bridge.address, chain.chain_id, tid("d"), SRC_CHAIN, chain.claimant, 1
    )
    send(b.deliver(tid("d"), SRC_CHAIN, chain.claimant, 1, sign(new.key, digest)), chain.stranger)
    assert chain.balance(chain.claimant) == 1
