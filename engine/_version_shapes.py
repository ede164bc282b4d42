"""A stored workflow version's shape as a run's reader needs it: its file and its
top-level blocks in order, so a run lists every block of the version it ran
(engine/runstore.py), also those no event names yet."""

from __future__ import annotations

import heapq
from typing import Any

import asyncpg


def top_order(plan: Any) -> tuple[str, ...]:
    """A plan's top-level blocks in flow order: upstream first, ties by id, not by the
    file's order: a version stored before schema version 7 kept jsonb's order only.
    (Kahn's sort on the plan's own edge lists: every run's result is built with it.)"""
    region = plan.top
    waits_for = {n: {e.source for e in region.incoming[n]} for n in region.nodes}
    ready = [n for n, sources in waits_for.items() if not sources]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for target in {e.target for e in region.outgoing[node]}:
            waits_for[target].discard(node)
            if not waits_for[target]:
                heapq.heappush(ready, target)
    return tuple(order)


#: Per workflow version (hash): its file and its top-level blocks, in order. A stored
#: version never changes, so a run is read without a query for it once it was seen
#: (the live run viewer and `runs show` read runs over and over).
_VERSIONS: dict[str, tuple[str | None, tuple[str, ...]]] = {}
_VERSIONS_KEPT = 1024


async def version_shape(
    pool: asyncpg.Pool, version: str | None
) -> tuple[str | None, tuple[str, ...]]:
    """The file of a run's workflow version and its top-level blocks (none known when
    the version is not stored, or no longer loads: then a run lists what its events say)."""
    shape = _VERSIONS.get(version) if version else None
    if shape is not None or not version:
        return shape or (None, ())
    row = await pool.fetchrow(
        "SELECT file, source FROM flowyard_workflow_versions WHERE hash = $1", version
    )
    if row is None:
        return None, ()
    shape = (row["file"], _top_blocks(row["source"], row["file"]))
    if len(_VERSIONS) >= _VERSIONS_KEPT:
        del _VERSIONS[next(iter(_VERSIONS))]  # the oldest seen
    _VERSIONS[version] = shape
    return shape


def _top_blocks(source: dict[str, Any], file: str) -> tuple[str, ...]:
    """The top-level blocks as the engine plans them (a container's body is not)."""
    import blocks  # noqa: F401 - registers the block types a plan is built from
    from engine.model import WorkflowError
    from engine.validate import validate_document

    try:
        return top_order(validate_document(source, file).plan)
    except WorkflowError:  # a block type gone since: such a run cannot be resumed either
        return ()
