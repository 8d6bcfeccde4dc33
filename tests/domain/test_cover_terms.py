"""The five cover types, their terms, and how one loss is split across a holder's covers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router import domain as m
from router.errors import InvalidRecord

U = 10**6


def test_each_type_has_one_definition_with_its_cap_and_triggers() -> None:
    d = m.COVER_DEFINITIONS
    assert set(d) == set(m.CoverType)
    assert (d[m.CoverType.PROTOCOL].cap_basis, d[m.CoverType.PROTOCOL].cap_bps) == (
        m.CapBasis.TVL,
        9_000,
    )
    assert d[m.CoverType.GOVERNANCE].cap_basis is m.CapBasis.GOVERNANCE_ASSETS
    assert d[m.CoverType.GOVERNANCE].cap_bps == 3_000
    assert d[m.CoverType.LIQUIDITY].cap_basis is m.CapBasis.INSURED_VALUE
    assert d[m.CoverType.LIQUIDITY].cap_bps == 2_000
    assert d[m.CoverType.POSITION].needs_position
    assert d[m.CoverType.ORACLE].triggers == {
        m.IncidentKind.ORACLE_FAILURE,
        m.IncidentKind.ORACLE_MANIPULATION,
    }
    assert m.IncidentKind.FLASH_LOAN in d[m.CoverType.LIQUIDITY].triggers
    assert m.IncidentKind.IMPERMANENT_LOSS in d[m.CoverType.LIQUIDITY].triggers
    assert d[m.CoverType.GOVERNANCE].triggers == {m.IncidentKind.GOVERNANCE_ATTACK}
    # Every incident kind triggers some cover.
    assert set().union(*(x.triggers for x in d.values())) == set(m.IncidentKind)


@pytest.mark.parametrize(
    ("ctype", "extra", "tvl", "gov", "cap"),
    [
        (m.CoverType.PROTOCOL, {}, 1_000 * U, 0, 900 * U),
        (m.CoverType.ORACLE, {}, 1_000 * U, 0, 1_000 * U),
        (m.CoverType.GOVERNANCE, {}, 1_000 * U, 500 * U, 150 * U),
        (m.CoverType.LIQUIDITY, {"insured_value": 400 * U}, 1_000 * U, 0, 80 * U),
        (
            m.CoverType.POSITION,
            {"insured_value": 70 * U, "position_ref": "acct-1"},
            1_000 * U,
            0,
            70 * U,
        ),
    ],
)
def test_limit_caps(ctype: m.CoverType, extra: dict, tvl: int, gov: int, cap: int) -> None:  # type: ignore[type-arg]
    terms = m.CoverTerms(ctype, "dep-1", 10 * U, 30, **extra)
    assert m.limit_cap(terms, tvl=tvl, governance_assets=gov)[0] == cap


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"deductible": 10 * U}, "terms.deductible"),  # deductible = limit
        ({"deductible": 11 * U}, "terms.deductible"),
        ({"per_event_max": 5 * U, "deductible": 5 * U}, "terms.deductible"),
        ({"per_event_max": 11 * U}, "terms.per_event_max"),
        ({"limit": 0}, "cover_amount"),
        ({"period_days": 0}, "period_days"),
        ({"period_days": m.MAX_PERIOD_DAYS + 1}, "period_days"),
        ({"insured_value": 5 * U}, "terms.insured_value"),  # protocol cover: registry caps it
        ({"position_ref": "acct-1"}, "terms.position_ref"),  # only position cover has one
        ({"deployment_id": ""}, "deployment_id"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(kw: dict, field: str) -> None:  # type: ignore[type-arg]
    base: dict[str, object] = {
        "cover_type": m.CoverType.PROTOCOL,
        "deployment_id": "dep-1",
        "limit": 10 * U,
        "period_days": 30,
    }
    with pytest.raises(InvalidRecord) as err:
        m.CoverTerms(**(base | kw))  # type: ignore[arg-type]
    assert err.value.field == field


def test_position_and_liquidity_cover_need_what_they_insure() -> None:
    with pytest.raises(InvalidRecord, match="insured value") as err:
        m.CoverTerms(m.CoverType.LIQUIDITY, "dep-1", U, 30)
    assert err.value.field == "terms.insured_value"
    with pytest.raises(InvalidRecord) as err:
        m.CoverTerms(m.CoverType.POSITION, "dep-1", U, 30, insured_value=U)
    assert err.value.field == "terms.position_ref"


def test_per_event_max_defaults_to_the_limit() -> None:
    assert m.CoverTerms(m.CoverType.ORACLE, "dep-1", 7 * U, 30).per_event_max == 7 * U


def test_layers_pay_in_order_and_never_twice() -> None:
    primary = m.CoverTerms(m.CoverType.PROTOCOL, "dep-1", 100 * U, 30, deductible=10 * U)
    excess = m.CoverTerms(m.CoverType.PROTOCOL, "dep-1", 500 * U, 30, deductible=50 * U)
    # 300 lost: the primary pays 100 (its limit, above its 10 deductible); 200
    # remain, the excess pays 200 - 50 = 150. The holder keeps 50: no unit twice.
    assert m.allocate_loss(300 * U, [primary, excess]) == (100 * U, 150 * U)
    # Small loss: under the primary's deductible nothing is paid.
    assert m.allocate_loss(5 * U, [primary, excess]) == (0, 0)
    # What is left of a limit caps too (an earlier claim used part of it).
    assert m.allocate_loss(300 * U, [primary, excess], remaining=[30 * U, 500 * U]) == (
        30 * U,
        220 * U,
    )
    with pytest.raises(InvalidRecord):
        m.allocate_loss(1, [primary], remaining=[])


def _terms(draw: st.DrawFn) -> m.CoverTerms:
    limit = draw(st.integers(1, 10**12))
    per_event = draw(st.integers(1, limit))
    deductible = draw(st.integers(0, per_event - 1))
    return m.CoverTerms(
        m.CoverType.ORACLE, "dep-1", limit, 30, deductible=deductible, per_event_max=per_event
    )


covers = st.lists(st.composite(_terms)(), max_size=6)


@given(loss=st.integers(0, 10**13), terms=covers, data=st.data())
def test_allocation_never_pays_more_than_the_loss_or_a_cap(
    loss: int, terms: list[m.CoverTerms], data: st.DataObject
) -> None:
    remaining = [data.draw(st.integers(0, t.limit)) for t in terms]
    paid = m.allocate_loss(loss, terms, remaining)
    assert len(paid) == len(terms)
    assert sum(paid) <= loss
    for p, t, r in zip(paid, terms, remaining, strict=True):
        assert 0 <= p <= min(t.per_event_max, t.limit, r)
        assert p <= max(0, loss - t.deductible)
    # Whatever the order, the holder is never paid more than the loss either.
    assert sum(m.allocate_loss(loss, terms[::-1], remaining[::-1])) <= loss


@given(loss=st.integers(0, 10**13), terms=covers)
def test_allocation_pays_the_whole_layer_when_nothing_caps_it(
    loss: int, terms: list[m.CoverTerms]
) -> None:
    """Each cover pays exactly min(unpaid - deductible, per-event max) when positive:
    the rule is the documented one, not merely within bounds."""
    unpaid = loss
    for p, t in zip(m.allocate_loss(loss, terms), terms, strict=True):
        assert p == max(0, min(unpaid - t.deductible, t.per_event_max))
        unpaid -= p
