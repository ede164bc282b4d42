"""A dated model priced otherwise than its family's current one: `gpt-4o-2024-05-13`,
which OpenAI still serves (and answers as), costs $5 / $15 per million tokens, twice
what `gpt-4o` now costs; the prefix match priced it as `gpt-4o`, and each call's
`cost_usd` was half what the provider billed."""

from __future__ import annotations

import pytest

from blocks.agent import cost_usd


def test_the_first_gpt_4o_snapshot_has_its_own_price() -> None:
    assert cost_usd("gpt-4o-2024-05-13", 1_000_000, 1_000_000) == pytest.approx(20.0)
    # The later snapshots are priced as gpt-4o, and the mini as itself.
    assert cost_usd("gpt-4o-2024-08-06", 1_000_000, 1_000_000) == pytest.approx(12.5)
    assert cost_usd("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == pytest.approx(0.75)
