"""Validated fields end where the value ends: a trailing newline is not a valid id.

`re.match` with `$` accepts "abc\n"; such a value would be stored and later
compared unequal to the clean one, splitting one pool or transfer into two.
"""

from __future__ import annotations

import pytest

from router.domain import check_block_hash, check_id, check_sha256, check_transfer_id
from router.store import InvalidRecord

GOOD_HASH = "0x" + "ab" * 32


@pytest.mark.parametrize(
    ("check", "good"),
    [
        (lambda v: check_id(v, "pool_id"), "eth-main"),
        (check_block_hash, GOOD_HASH),
        (check_transfer_id, GOOD_HASH),
        (lambda v: check_sha256(v, "payload_hash"), "ab" * 32),
    ],
)
def test_trailing_newline_is_refused(check, good: str) -> None:  # type: ignore[no-untyped-def]
    assert check(good) == good
    with pytest.raises(InvalidRecord):
        check(good + "\n")
