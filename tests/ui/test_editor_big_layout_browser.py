"""Opening a big workflow that has no layout (hand-written or generated YAML) lays
its blocks out in steps linear in its blocks and edges (real Chromium).

The editor placed such blocks in columns by depth, found by relaxing every edge
until nothing changed: a chain whose edges are listed bottom-up took one pass per
block, blocks × edges steps (16 million for 4,000 blocks); then it filtered every
block of a scope once per column, blocks × columns again. Counted, not timed: the
array elements the layout visits (``for … of``, ``filter``, ``map``) at two sizes.
"""

from __future__ import annotations

from typing import Any

from tests.ui.conftest import BROWSER_TESTS

pytestmark = BROWSER_TESTS

# The chain's edges are listed last block first; docToGraph is given a graph that
# only takes the cells (the drawing itself is X6's).
COUNT_STEPS = """
async (n) => {
  const { docToGraph } = await import('/static/js/editor/convert.js');
  const blocks = { start: { type: 'manual' } };
  const edges = [];
  let prev = 'start';
  for (let i = 0; i < n; i += 1) {
    blocks[`f${i}`] = { type: 'function', code: 'return 1' };
    edges.push(`${prev} -> f${i}`);
    prev = `f${i}`;
  }
  edges.reverse();
  let steps = 0;
  const proto = Array.prototype;
  const saved = { iter: proto[Symbol.iterator], filter: proto.filter, map: proto.map };
  proto[Symbol.iterator] = function () {
    const it = saved.iter.call(this);
    return { next() { const r = it.next(); if (!r.done) steps += 1; return r; }, [Symbol.iterator]() { return this; } };
  };
  proto.filter = function (...args) { steps += this.length; return saved.filter.apply(this, args); };
  proto.map = function (...args) { steps += this.length; return saved.map.apply(this, args); };
  let cells = [];
  try {
    docToGraph({ fromJSON: (json) => { cells = json.cells; } }, { blocks, edges }, {});
  } finally {
    proto[Symbol.iterator] = saved.iter;
    proto.filter = saved.filter;
    proto.map = saved.map;
  }
  const x = Object.fromEntries(cells.filter((c) => c.shape !== 'edge').map((c) => [c.id, c.x]));
  return { steps, xs: Array.from({ length: n }, (_, i) => x[`f${i}`]) };
}
"""


def test_laying_out_a_chain_takes_steps_linear_in_its_blocks(page: Any) -> None:
    page.goto("/")
    small = page.evaluate(COUNT_STEPS, 500)
    large = page.evaluate(COUNT_STEPS, 1000)
    # Each block still gets its own column, left to right along the chain.
    for xs in (small.pop("xs"), large.pop("xs")):
        assert all(a < b for a, b in zip(xs, xs[1:], strict=False)), xs[:5]
    # Linear: twice the blocks, about twice the steps; quadratic would be 4×.
    assert large["steps"] <= 2.5 * small["steps"], (small, large)
