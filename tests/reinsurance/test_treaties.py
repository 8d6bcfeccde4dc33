"""Treaties on a hand-built loss sample: every recovery and premium by hand.

A few scenarios with known incidents, so each figure below is arithmetic a
reader can check, and a wrong sign, cap or order shows as a wrong number.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from reinsurance import ExcessOfLoss, InvalidInput, LossSample, QuotaShare, StopLoss
from reinsurance.treaties import Treaty, apply_treaties, retained_share, validate_treaties


def sample(*scenarios: Sequence[float]) -> LossSample:
    """One pool "p"; ``scenarios[s]`` lists the incident losses of scenario ``s``."""
    scen = [s for s, losses in enumerate(scenarios) for _ in losses]
    loss = [x for losses in scenarios for x in losses]
    return LossSample(
        pool_ids=("p",),
        event_scenario=np.array(scen, dtype=np.int64),
        event_pool=np.zeros(len(loss), dtype=np.int64),
        event_loss=np.array(loss, dtype=float),
        pool_start=np.array([0, len(loss)]),
        n_scenarios=len(scenarios),
        seed=0,
    )


def net(s: LossSample, *treaties: Treaty) -> tuple[list[float], list[float], list[float]]:
    nl = apply_treaties(s, "p", treaties)
    assert np.allclose(nl.net, nl.gross - nl.recoveries + nl.reinstatement_premiums)
    return nl.recoveries.tolist(), nl.reinstatement_premiums.tolist(), nl.net.tolist()


def test_xol_with_no_reinstatement_pays_one_limit_a_year() -> None:
    s = sample([120.0, 300.0], [40.0], [150.0], [])
    layer = ExcessOfLoss(attachment=50, limit=100, rate_on_line=0.1)  # reinstatements=0
    recov, reinst, net_loss = net(s, layer)
    # events: 70 + 100 (capped per event) = 170, capped at one limit a year
    assert recov == [100.0, 0.0, 100.0, 0.0]
    assert reinst == [0.0, 0.0, 0.0, 0.0]  # nothing to reinstate
    assert net_loss == [320.0, 40.0, 50.0, 0.0]


def test_reinstatement_premiums_are_added_to_the_net_loss() -> None:
    s = sample([100.0, 100.0, 100.0, 100.0], [150.0], [30.0])
    layer = ExcessOfLoss(
        attachment=0, limit=100, rate_on_line=0.1, reinstatements=2, reinstatement_rate=0.5
    )
    recov, reinst, net_loss = net(s, layer)
    assert recov == [300.0, 100.0, 30.0]  # three limits a year at most
    # reinstated: min(paid, 2 limits) -> 200, 100, 30; premium = used/limit x rol x limit x rate
    assert reinst == pytest.approx([10.0, 5.0, 1.5])
    assert net_loss == pytest.approx([110.0, 55.0, 1.5])  # retained + reinstatement premium


def test_reinstatements_at_the_rate_of_one() -> None:
    s = sample([250.0])
    layer = ExcessOfLoss(attachment=50, limit=100, rate_on_line=0.2, reinstatements=1)
    recov, reinst, net_loss = net(s, layer)
    assert recov == [100.0]  # one event: one limit
    assert reinst == pytest.approx([20.0])  # the whole limit reinstated at 100 %
    assert net_loss == pytest.approx([170.0])


def test_tiny_and_empty_layers() -> None:
    s = sample([5.0])
    one = ExcessOfLoss(attachment=0, limit=1, rate_on_line=0.5, reinstatements=1)
    assert net(s, one) == ([1.0], [pytest.approx(0.5)], [pytest.approx(4.5)])
    empty = ExcessOfLoss(attachment=0, limit=0, rate_on_line=0.5, reinstatements=3)
    assert net(s, empty) == ([0.0], [0.0], [5.0])  # no limit: no recovery, no premium


def test_quota_share_applies_before_the_layer() -> None:
    s = sample([180.0], [300.0], [60.0])
    program = (QuotaShare(0.5), ExcessOfLoss(attachment=50, limit=100, rate_on_line=0.1))
    recov, _, net_loss = net(s, *program)
    # retained events 90, 150, 30: the layer sees those, not the gross
    assert recov == [90.0 + 40.0, 150.0 + 100.0, 30.0]
    assert net_loss == [50.0, 50.0, 30.0]


def test_stop_loss_recovers_the_placed_share_of_the_retained_aggregate() -> None:
    s = sample([250.0], [500.0], [80.0])
    recov, _, net_loss = net(s, StopLoss(attachment=100, limit=200, share=0.5))
    assert recov == [75.0, 100.0, 0.0]  # 0.5 x min(max(x - 100, 0), 200)
    assert net_loss == [175.0, 400.0, 80.0]


def test_stop_loss_comes_last_on_what_the_other_treaties_left() -> None:
    s = sample([100.0, 100.0], [400.0])
    program = (
        StopLoss(attachment=20, limit=1000),
        QuotaShare(0.2),
        ExcessOfLoss(attachment=50, limit=10, rate_on_line=0.1),
    )
    recov, _, net_loss = net(s, *program)
    # qs: 40 / 80; xol on events 80, 80 / 320: 20 / 10; retained 140 / 310; sl: 120 / 290
    assert recov == pytest.approx([40.0 + 20.0 + 120.0, 80.0 + 10.0 + 290.0])
    assert net_loss == pytest.approx([20.0, 20.0])


def test_no_treaty_keeps_everything() -> None:
    s = sample([7.0], [])
    assert net(s) == ([0.0, 0.0], [0.0, 0.0], [7.0, 0.0])
    assert retained_share(()) == 1.0
    assert retained_share((QuotaShare(0.3), QuotaShare(0.2), StopLoss(0, 1))) == pytest.approx(0.5)


def test_quota_shares_may_add_up_to_exactly_one() -> None:
    validate_treaties((QuotaShare(0.5), QuotaShare(0.5)))
    recov, _, net_loss = net(sample([10.0]), QuotaShare(0.25), QuotaShare(0.75))
    assert (recov, net_loss) == ([10.0], [0.0])
    with pytest.raises(InvalidInput, match="add up to"):
        validate_treaties((QuotaShare(0.5), QuotaShare(0.5000001)))


@pytest.mark.parametrize(
    "layer",
    [
        ExcessOfLoss(0, 1, rate_on_line=0.0),
        ExcessOfLoss(0, 1, rate_on_line=1.0),
        ExcessOfLoss(0, 1, 0.1, reinstatements=0, reinstatement_rate=0.0),
        ExcessOfLoss(0, 1, 0.1, reinstatements=5, reinstatement_rate=10.0),
        ExcessOfLoss(0, 0, 0.1),
    ],
)
def test_layer_bounds_accepted(layer: ExcessOfLoss) -> None:
    validate_treaties((layer,))


@pytest.mark.parametrize(
    ("treaty", "field"),
    [
        (ExcessOfLoss(0, 1, rate_on_line=-0.01), "t[0].rate_on_line"),
        (ExcessOfLoss(0, 1, rate_on_line=1.01), "t[0].rate_on_line"),
        (ExcessOfLoss(0, 1, 0.1, reinstatement_rate=-0.01), "t[0].reinstatement_rate"),
        (ExcessOfLoss(0, 1, 0.1, reinstatement_rate=10.01), "t[0].reinstatement_rate"),
        (ExcessOfLoss(0, 1, 0.1, reinstatements=-1), "t[0].reinstatements"),
        (ExcessOfLoss(0, 1, 0.1, reinstatements=True), "t[0].reinstatements"),
        (ExcessOfLoss(0, 1, 0.1, reinstatements=1.0), "t[0].reinstatements"),  # type: ignore[arg-type]
        (ExcessOfLoss(-1, 1, 0.1), "t[0].attachment"),
        (ExcessOfLoss(0, -1, 0.1), "t[0].limit"),
        (QuotaShare(-0.1), "t[0].share"),
        (QuotaShare(0.1, ceding_commission=1.5), "t[0].ceding_commission"),
        (StopLoss(-1, 1), "t[0].attachment"),
        (StopLoss(0, -1), "t[0].limit"),
        (StopLoss(0, 1, premium=-1), "t[0].premium"),
        (StopLoss(0, 1, share=1.5), "t[0].share"),
        ("excess of loss", "t[0]"),
    ],
)
def test_bad_treaty_is_refused_naming_its_field(treaty: Treaty, field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        validate_treaties((treaty,), "t")
    assert e.value.field == field


def test_an_unknown_treaty_kind_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown treaty type str"):
        apply_treaties(sample([1.0]), "p", ("quota share",))  # type: ignore[arg-type]


def test_defaults_are_no_reinstatement_no_premium_full_placement() -> None:
    layer, stop, qs = ExcessOfLoss(0, 1, 0.1), StopLoss(0, 1), QuotaShare(0.1)
    assert (layer.reinstatements, layer.reinstatement_rate) == (0, 1.0)
    assert (stop.premium, stop.share) == (0, 1.0)
    assert qs.ceding_commission == 0.0
