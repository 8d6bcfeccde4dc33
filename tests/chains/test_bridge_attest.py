"""Attestations on embedded chains: read from the source at finality, never from a
caller; forged and replayed ones refused on chain (EVM) or before the treasury
signs (Solana); sends not made by our pools never attested."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from eth_account import Account as EthAccount
from eth_account.messages import encode_defunct
from pydantic import SecretBytes, SecretStr
from solana.rpc.async_api import AsyncClient
from solders.account import Account as SolAccount
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from chains import errors
from chains.base import ChainFamily, InboundTransfer, Transfer, TxState
from chains.bridge import (
    DeliveryAttester,
    DeliveryState,
    EvmBridgeChain,
    Lane,
    LocalBridge,
    SolanaBridgeChain,
    bridge_chain,
    solana_delivery_digest,
)
from chains.bridge.embedded import SOLANA, EmbeddedBridge, embedded_bridge
from chains.embedded.litesvm_http import Fault, FaultKind
from chains.embedded.solana_setup import token_account_data
from chains.evm import BridgeRoute
from chains.factory import ChainSpec
from chains.solana import MEMO_PROGRAM_ID, TOKEN_PROGRAM_ID
from chains.testing import FaultyEndpoint
from tests.chains.bridge_net import deliveries, escrow_key, fresh_relayer, head, send
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.evm_harness import skip_unless_selected
from tests.chains.solana_harness import skip_unless_selected as skip_unless_litesvm

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def net(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedBridge]:
    skip_unless_selected(request.config, "embedded")
    skip_unless_litesvm(request.config)
    async with embedded_bridge(fee_bps=5, fixed_fee=100) as bridge:
        yield bridge


def signed_by(key: SecretStr | bytes, digest: bytes) -> bytes:
    secret = key.get_secret_value() if isinstance(key, SecretStr) else key
    return bytes(EthAccount.sign_message(encode_defunct(primitive=digest), secret).signature)


# -------------------------------------------------------------- from the source


@pytest.mark.parametrize(("src", "dst"), [("evm-a", "evm-b"), ("evm-b", SOLANA), (SOLANA, "evm-a")])
async def test_an_attestation_carries_what_the_source_chain_shows(
    net: EmbeddedBridge, src: str, dst: str
) -> None:
    s = await send(net, src, dst, 1_000_000)
    await net.finalize()
    attested = await net.bridge.attest(src, s.id)
    sent = attested.sent
    assert (sent.transfer_id, sent.src_chain, sent.dst_chain) == (s.id, src, dst)
    assert sent.amount == 1_000_000 and sent.sender == s.transfer.source.address
    assert sent.dst_chain_id == net.bridge.chains[src].route_id(dst)
    assert attested.fee == 1_000_000 * 5 // 10_000 + 100
    inbound = attested.inbound
    assert (inbound.dst_chain, inbound.recipient) == (dst, s.recipient)
    assert inbound.amount == 1_000_000 - attested.fee == attested.delivered
    assert await net.bridge.verify(inbound) == attested
    # Where the caller says it saw the send only narrows the search: right or wrong,
    # the chain's facts come back.
    assert await net.bridge.attest(src, s.id, near=sent.block_number) == attested
    assert await net.bridge.attest(src, s.id, near=sent.block_number + 1) == attested
    assert await net.bridge.attest(src, s.id, near=10**12) == attested
    # A caller claiming the whole amount, or more, with our attestation: refused.
    for claimed in (1_000_000, inbound.amount + 1):
        with pytest.raises(errors.AttestationMismatch):
            await net.bridge.verify(dataclasses.replace(inbound, amount=claimed))
    # Even signed by the attester key itself: the source decides, not the signature.
    dst_side = net.bridge.chains[dst]
    more = inbound.amount + 1
    digest = dst_side.digest(s.id, dst_side.route_id(src), inbound.recipient, more)
    overpaid = dataclasses.replace(
        inbound, amount=more, attestation=signed_by(net.attester_key, digest)
    )
    with pytest.raises(errors.AttestationMismatch, match="source send attests"):
        await net.bridge.verify(overpaid)


async def test_the_saga_gets_the_delivery_a_final_send_entitles_to(net: EmbeddedBridge) -> None:
    attester = DeliveryAttester(net.bridge)
    s = await send(net, "evm-a", SOLANA, 420_000)
    with pytest.raises(errors.NotYetFinal) as caught:
        await attester.attest("evm-a", SOLANA, s.id)
    assert caught.value.retryable
    await net.finalize()
    inbound = await attester.attest("evm-a", SOLANA, s.id)
    assert inbound == (await net.bridge.attest("evm-a", s.id)).inbound
    assert inbound.recipient == s.recipient and inbound.amount == 420_000 - (210 + 100)
    with pytest.raises(errors.AttestationMismatch):  # the send goes elsewhere
        await attester.attest("evm-a", "evm-b", s.id)


async def test_unknown_ids_chains_and_same_chain_transfers_are_not_bridge_sends(
    net: EmbeddedBridge,
) -> None:
    for chain in net.chains:
        with pytest.raises(errors.UnknownSend):
            await net.bridge.attest(chain, tid())
    with pytest.raises(errors.InvalidTransferId):
        await net.bridge.attest("evm-a", "0x1234")
    with pytest.raises(errors.UnknownChain):
        await net.bridge.attest("nowhere", tid())
    with pytest.raises(errors.UnknownLane):
        net.bridge.lane("evm-a", "nowhere")
    for chain in ("evm-a", SOLANA):  # an id spent by a same-chain transfer
        recipient = await net.new_recipient(chain)
        local = Transfer(tid(), net.pools(chain)[0], chain, recipient, 10)
        await net.adapter(chain).send_transfer(local)
        await net.finalize()
        with pytest.raises(errors.UnknownSend):
            await net.bridge.attest(chain, local.transfer_id)


# ------------------------------------------------------------------ forgeries


async def test_forged_attestations_are_refused_by_the_evm_endpoint(net: EmbeddedBridge) -> None:
    s = await send(net, SOLANA, "evm-b", 2_000_000)
    await net.finalize()
    good = (await net.bridge.attest(SOLANA, s.id)).inbound
    evm_b = net.bridge.chains["evm-b"]
    digest = evm_b.digest(s.id, evm_b.route_id(SOLANA), good.recipient, good.amount)
    elsewhere = net.bridge.chains["evm-a"].digest(
        s.id, net.bridge.chains["evm-a"].route_id(SOLANA), good.recipient, good.amount
    )
    forged = [
        dataclasses.replace(good, attestation=signed_by(EthAccount.create().key, digest)),
        dataclasses.replace(good, amount=good.amount + 1),  # altered after signing
        dataclasses.replace(good, attestation=signed_by(net.attester_key, elsewhere)),
    ]
    adapter = net.adapter("evm-b")
    for bad in forged:
        with pytest.raises(errors.TransactionReverted) as caught:
            await adapter.prepare(bad)  # the endpoint refuses it in the gas estimate
        assert caught.value.fields["revert"] == "InvalidAttestation"
        with pytest.raises(errors.AttestationMismatch):
            await net.bridge.verify(bad)
    # Past every pre-check (a node lying about the estimate), the chain itself refuses.
    lying = FaultyEndpoint(net.evm["evm-b"].endpoint, label="lying")
    lying.answer(1, "eth_estimateGas", hex(300_000))
    careless = net.evm["evm-b"].new_adapter([lying])
    signed = await careless.prepare(forged[0])
    await careless.broadcast(signed)
    outcome = await careless.status(signed)
    assert outcome.state is TxState.FAILED and outcome.revert == "InvalidAttestation"
    assert await deliveries(net, "evm-b", s.id, s.since) == 0
    assert await net.balance("evm-b", s.recipient) == 0
    await adapter.complete_inbound(good)  # the real one still goes through, once
    assert await net.balance("evm-b", s.recipient) == good.amount


async def test_forged_deliveries_to_solana_are_refused_before_the_treasury_signs(
    net: EmbeddedBridge,
) -> None:
    s = await send(net, "evm-a", SOLANA, 2_000_000)
    await net.finalize()
    good = (await net.bridge.attest("evm-a", s.id)).inbound
    sol = net.bridge.chains[SOLANA]
    other = await net.new_recipient(SOLANA)
    src_id = sol.route_id("evm-a")
    evm = net.bridge.chains["evm-a"]
    forged = [
        dataclasses.replace(  # someone else's key
            good,
            attestation=signed_by(
                EthAccount.create().key,
                solana_delivery_digest(net.escrow, s.id, src_id, good.recipient, good.amount),
            ),
        ),
        dataclasses.replace(good, recipient=other),  # redirected
        dataclasses.replace(  # our key, another recipient: the source says otherwise
            good,
            recipient=other,
            attestation=signed_by(
                net.attester_key,
                solana_delivery_digest(net.escrow, s.id, src_id, other, good.amount),
            ),
        ),
        dataclasses.replace(  # an EVM attestation presented to Solana
            good,
            attestation=signed_by(
                net.attester_key,
                evm.digest(s.id, 1, "0x" + "00" * 19 + "01", good.amount),
            ),
        ),
        dataclasses.replace(good, attestation=b"\x00" * 65),
    ]
    for bad in forged:
        with pytest.raises(errors.AttestationMismatch):
            await net.bridge.verify(bad)
    assert net.solana.token_balance(other) == 0
    assert await deliveries(net, SOLANA, s.id, s.since) == 0
    assert (await net.bridge.verify(good)).inbound == good


async def test_replayed_deliveries_are_refused_by_the_chain(net: EmbeddedBridge) -> None:
    to_evm = await send(net, SOLANA, "evm-a", 700_000)
    to_sol = await send(net, "evm-b", SOLANA, 700_000)
    await net.finalize()
    for s in (to_evm, to_sol):
        inbound = (await net.bridge.attest(s.src, s.id)).inbound
        await net.adapter(s.dst).complete_inbound(inbound)
        paid = await net.balance(s.dst, s.recipient)
        with pytest.raises(errors.DuplicateTransfer):
            await net.adapter(s.dst).prepare(inbound)
        if s.dst == SOLANA:  # a node whose view lags gets it past the pre-check ...
            net.solana.server.inject(Fault(FaultKind.STALE, method="getMultipleAccounts"))
            signed = await net.adapter(s.dst).prepare(inbound)
            with pytest.raises(errors.DuplicateTransfer):  # ... the marker refuses it
                await net.adapter(s.dst).broadcast(signed)
        else:
            lying = FaultyEndpoint(net.evm[s.dst].endpoint, label="stale")
            lying.answer(1, "eth_call", "0x" + "00" * 32)  # "not delivered yet"
            with pytest.raises(errors.DuplicateTransfer) as caught:
                await net.evm[s.dst].new_adapter([lying]).complete_inbound(inbound)
            assert caught.value.fields["revert"] == "TransferIdUsed"
        assert await net.balance(s.dst, s.recipient) == paid
        assert await deliveries(net, s.dst, s.id, s.since) == 1


# --------------------------------------------------------- not our sends


async def test_an_endpoint_send_by_a_stranger_is_never_attested(net: EmbeddedBridge) -> None:
    relayer = await fresh_relayer(net)
    since = await head(net, "evm-b")
    chain = net.evm["evm-a"]
    stranger, token, bridge = chain.admin, chain.deployment.token, chain.deployment.bridge
    await chain.mint(stranger.address, 5_000)
    chain.transact(
        stranger, token, chain.abi("SettlementToken").fn("approve").encode(bridge, 5_000)
    )
    recipient = EthAccount.create().address
    foreign = tid()
    send_fn = chain.abi("BridgeEndpoint").fn("send")
    word = bytes(12) + bytes.fromhex(recipient[2:])
    chain.transact(
        stranger, bridge, send_fn.encode(bytes.fromhex(foreign[2:]), 31_700_002, word, 5_000)
    )
    await net.finalize()
    with pytest.raises(errors.ForeignSend):
        await net.bridge.attest("evm-a", foreign)
    assert await relayer.run_once() == []
    await net.finalize()
    assert await relayer.run_once() == []
    assert await relayer.journal.get(foreign) is None
    assert await deliveries(net, "evm-b", foreign, since) == 0


async def test_an_escrow_payment_not_signed_by_the_treasury_is_never_attested(
    net: EmbeddedBridge,
) -> None:
    relayer = await fresh_relayer(net)
    since = await head(net, "evm-a")
    ledger, mint = net.solana.ledger, net.solana.mint
    outsider, account = Keypair(), Keypair().pubkey()
    rent = ledger.svm.minimum_balance_for_rent_exemption(165)
    ledger.set_accounts(
        {
            outsider.pubkey(): SolAccount(10**9, b"", Pubkey.default(), False),
            account: SolAccount(
                rent, token_account_data(mint, outsider.pubkey(), 9_000), TOKEN_PROGRAM_ID, False
            ),
        }
    )
    foreign = tid()
    recipient = EthAccount.create().address
    memo = f"ballast:{foreign}:to:31700001:{'00' * 12}{recipient[2:].lower()}"
    pay = Instruction(
        TOKEN_PROGRAM_ID,
        bytes([12]) + (9_000).to_bytes(8, "little") + bytes([6]),
        [
            AccountMeta(account, is_signer=False, is_writable=True),
            AccountMeta(mint, is_signer=False, is_writable=False),
            AccountMeta(escrow_key(net), is_signer=False, is_writable=True),
            AccountMeta(outsider.pubkey(), is_signer=True, is_writable=False),
        ],
    )
    note = Instruction(
        MEMO_PROGRAM_ID, memo.encode(), [AccountMeta(outsider.pubkey(), True, False)]
    )
    blockhash = ledger.blockhash_of(ledger.slot)
    tx = Transaction(
        [outsider], Message.new_with_blockhash([pay, note], outsider.pubkey(), blockhash), blockhash
    )
    escrow_before = net.solana.token_balance(net.escrow)
    client = AsyncClient(net.solana.server.url)
    try:
        await client.send_raw_transaction(bytes(tx))
    finally:
        await client.close()
    assert net.solana.token_balance(net.escrow) == escrow_before + 9_000  # it did pay in
    await net.finalize()
    with pytest.raises(errors.UnknownSend):  # no marker: not a send of ours
        await net.bridge.attest(SOLANA, foreign)
    assert await relayer.run_once() == []
    await net.finalize()
    assert await relayer.run_once() == []
    assert await relayer.journal.get(foreign) is None  # never even tracked
    assert await deliveries(net, "evm-a", foreign, since) == 0


# ------------------------------------------------------------ configuration


async def test_a_destination_that_does_not_accept_our_attester_is_stuck_at_once(
    net: EmbeddedBridge,
) -> None:
    impostor = LocalBridge(
        net.bridge.chains.values(),
        [Lane("evm-a", "evm-b")],
        SecretStr("0x" + bytes(EthAccount.create().key).hex()),
    )
    with pytest.raises(errors.Unauthorized, match="accepts attestations of"):
        await impostor.check_attesters()
    relayer = await fresh_relayer(net, bridge=impostor)
    s = await send(net, "evm-a", "evm-b", 90_000)
    await net.finalize()
    (report,) = await relayer.run_once()
    assert report.state is DeliveryState.STUCK and not report.retrying
    assert "InvalidAttestation" in report.reason and report.amount_sent == 90_000
    assert await deliveries(net, "evm-b", s.id, s.since) == 0
    assert await net.balance("evm-b", s.recipient) == 0


async def test_the_bridge_refuses_an_inconsistent_configuration(net: EmbeddedBridge) -> None:
    sides = net.bridge.chains
    key = net.attester_key
    with pytest.raises(errors.InvalidInput, match="no chain"):
        LocalBridge([sides["evm-a"]], [Lane("evm-a", "evm-b")], key)
    with pytest.raises(errors.InvalidInput, match="twice"):
        LocalBridge(sides.values(), [Lane("evm-a", "evm-b"), Lane("evm-a", "evm-b", 1)], key)
    chain = net.evm["evm-a"]
    wrong_id = EvmBridgeChain(
        chain.config(routes={**chain.routes, "evm-b": BridgeRoute(7)}), [chain.endpoint], pools=[]
    )
    with pytest.raises(errors.InvalidInput, match="routes evm-b as chain id 7"):
        LocalBridge([wrong_id, sides["evm-b"]], [Lane("evm-a", "evm-b")], key)
    no_route = EvmBridgeChain(
        chain.config(routes={"evm-b": chain.routes["evm-b"]}), [chain.endpoint], pools=[]
    )
    with pytest.raises(errors.InvalidInput, match="no bridge route"):
        LocalBridge([no_route, sides[SOLANA]], [Lane(SOLANA, "evm-a")], key)


async def test_the_attester_key_never_shows(net: EmbeddedBridge) -> None:
    secret = net.attester_key.get_secret_value()
    attester = EthAccount.from_key(secret).address
    assert attester in repr(net.bridge) and net.bridge.attester == attester
    for text in (repr(net.bridge), repr(net), str(net.bridge.chains)):
        assert secret[2:] not in text.lower()
    for bad in (SecretStr("s3cret-not-a-key"), SecretStr("0x" + "zz" * 32)):
        with pytest.raises(errors.InvalidInput) as caught:
            LocalBridge([], [], bad)
        assert "s3cret" not in str(caught.value) and "zz" not in str(caught.value)
    with pytest.raises(errors.InvalidInput, match="SecretStr"):
        LocalBridge([], [], secret)  # type: ignore[arg-type]


async def test_a_bridge_side_built_from_a_chain_spec_reads_without_the_key(
    net: EmbeddedBridge,
) -> None:
    s = await send(net, SOLANA, "evm-a", 60_000)
    await net.finalize()
    config = net.solana_adapter._config
    spec = ChainSpec(
        family=ChainFamily.SOLANA,
        name=SOLANA,
        rpc_urls=(config.rpc_url,),
        settlement_asset=config.settlement_mint,
        signer_key=SecretBytes(bytes(net.solana.authority)),
        bridge_endpoint=net.escrow,
        routes={c.name: BridgeRoute(c.chain_id) for c in net.evm},
    )
    side = bridge_chain(spec)
    try:
        assert isinstance(side, SolanaBridgeChain)
        assert side.authority == str(net.solana.authority.pubkey())
        assert side._config.treasury_key is None  # the key is not kept
        found = await side.find_send(s.id)
        assert found == await net.bridge.chains[SOLANA].find_send(s.id)
        assert found.amount == 60_000 and found.dst_chain == "evm-a"
    finally:
        await side.aclose()


async def test_a_stray_inbound_for_an_unknown_chain_is_refused(net: EmbeddedBridge) -> None:
    stray = InboundTransfer(tid(), "evm-a", "nowhere", "0x" + "11" * 20, 5, b"\x01" * 65)
    with pytest.raises(errors.UnknownChain):
        await net.bridge.verify(stray)
