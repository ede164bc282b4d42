"""Work that grows with a workflow's size grows in proportion to it, not with its
square: a user's workflow of 1,000–16,000 blocks (a long chain of conditions and
joins) must validate, save and plan in time linear in its blocks.

Measured by counting, not timing: the elements copied into new sets (every
``set(…)`` made while validating) at two sizes, the larger twice the smaller.
Reference parsing copied the plan's every block id for every text it scanned, so
validating 4,000 conditions (16,000 blocks) copied 128 million ids, most of
`flowyard validate`'s and a save's time.
"""

from __future__ import annotations

import builtins
import json

import pytest

import blocks  # noqa: F401 - registers the block types
from engine.model import load_text

_set = builtins.set


def _conditions(n: int) -> str:
    """A chain of ``n`` condition → true/false → join groups, each reading upstream."""
    found: dict = {"start": {"type": "manual"}}
    edges, prev = [], "start"
    for i in range(n):
        c, t, e, j = f"c{i}", f"t{i}", f"e{i}", f"j{i}"
        found[c] = {"type": "condition", "if": f"<{prev}.x?> == {i}"}
        found[t] = {"type": "function", "code": "return {'x': 1}"}
        found[e] = {"type": "http", "url": f"http://127.0.0.1:9/<{c}.value>"}
        found[j] = {"type": "function", "code": f"return {{'x': <{c}.value>}}"}
        edges += [f"{prev} -> {c}", f"{c}.true -> {t}", f"{c}.false -> {e}"]
        edges += [f"{t} -> {j}", f"{e} -> {j}"]
        prev = j
    return json.dumps({"version": 1, "name": "big", "blocks": found, "edges": edges})


def _set_elements_copied(text: str, monkeypatch: pytest.MonkeyPatch) -> int:
    copied = [0]

    class CountingSet(_set):
        def __init__(self, iterable=()) -> None:
            super().__init__(iterable)
            copied[0] += len(self)

    with monkeypatch.context() as m:
        m.setattr(builtins, "set", CountingSet)
        load_text(text, "big.json")
    return copied[0]


def test_validating_copies_linearly_many_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    small = _set_elements_copied(_conditions(100), monkeypatch)
    large = _set_elements_copied(_conditions(200), monkeypatch)
    # Linear: twice the blocks, about twice the copies; quadratic would be 4×.
    assert large <= 2.5 * small, (small, large)
