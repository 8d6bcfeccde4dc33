"""The plan sheet (``ballast plan``/``approve``/``execute``) names a step the
executor stopped for re-approval, with the reason it recorded."""

from __future__ import annotations

from ballast.v1 import common_pb2, treasury_pb2

from router.cli_views import Units, plan_sheet

WHY = (
    "drift: pool a1 has 950000000000 where the approval saw 1000000000000 (down "
    "50000000000, 500 bps; tolerance 10000000000): the plan stopped before this step "
    "and needs re-approval (approve it again after review, or cancel and plan again)"
)


def test_a_step_stopped_by_drift_is_named_with_its_reason() -> None:
    usdc = common_pb2.Amount(asset="USDC", value="5")
    plan = treasury_pb2.Plan(
        plan_id="plan-held",
        state=treasury_pb2.PLAN_STATE_PENDING_APPROVAL,
        approvals_required=1,
        total_moved=usdc,
        total_cost=common_pb2.Amount(asset="USDC", value="0"),
    )
    plan.steps.add(index=0, source_chain="ethereum", source_pool_id="a1", amount=usdc, detail=WHY)
    plan.steps.add(index=1, source_chain="ethereum", source_pool_id="hub:ethereum", amount=usdc)
    sheet = plan_sheet(plan, Units({"ethereum": 6}))
    notes = [text for text, _ in sheet.notes]
    assert f"step 0 stopped, {WHY}" in notes
    assert not any(text.startswith("step 1") for text in notes)
