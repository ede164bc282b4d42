"""What makes a replay of an order not consistent, in words (Replay Events' ``compare``).

A replay is only as good as the stream it folds. ``aggregate_version`` is meant to run
1, 2, 3 … with one event each (docs/event-sourcing.md), and ``as_of`` to select a
prefix of it; a hand edit or a restore can break either, and a fold over the rest
then gives a state that lacks an event, or holds one twice, while looking like the
order's. These functions name such a fault, so that the check is reported
inconsistent saying why, and a repair is refused instead of writing that state into
the snapshot.

Kept apart from ``order_events`` (the reducer): they judge the stream, not an event,
and need nothing of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def stream_problems(breaks: Iterable[Mapping[str, Any]]) -> list[str]:
    """What is wrong with an order's versions, from the rows that break the run 1, 2, 3 …

    ``breaks`` are ``{"version": v, "after": previous version or None}``, in version
    order: every stored version below 1, and every version that is not the one before
    it plus 1 (the first one: not 1). Replay Events' ``load_current`` selects them with
    ``lag()`` over the order's events. An empty list: the versions are whole.
    """
    below: list[int] = []
    missing: list[str] = []
    copies: dict[int, int] = {}
    for row in breaks:
        version, after = int(row["version"]), row["after"]
        if version < 1:
            below.append(version)
        elif after is not None and version == int(after):
            copies[version] = copies.get(version, 1) + 1
        else:
            first = max(int(after or 0), 0) + 1
            if first < version - 1:
                missing.append(f"versions {first} to {version - 1} are missing")
            elif first == version - 1:
                missing.append(f"version {first} is missing")
    found = [
        *(f"version {v} is stored (versions start at 1; the fold leaves it out)" for v in below),
        *missing,
        *(f"version {v} is stored {n} times" for v, n in sorted(copies.items())),
    ]
    if not found:
        return []
    return ["the events' versions do not run 1, 2, 3 … one each: " + "; ".join(found)]


def as_of_problem(as_of: str | None, reached: int, first_later: int | None) -> str | None:
    """Why ``as_of`` did not select a prefix of the stream, or None.

    ``reached`` is the last version the replay folded (recorded at or before
    ``as_of``); ``first_later`` the lowest version recorded after it. Below
    ``reached``, the fold skipped events and went on past them: ``created_at`` runs
    out of order with ``aggregate_version``, which an append never writes.
    """
    if as_of is None or first_later is None or int(first_later) >= reached:
        return None
    return (
        f"as_of {as_of} does not select a prefix of the events: version {first_later}"
        f" was recorded after it and version {reached} at or before it (created_at out"
        " of order with aggregate_version)"
    )


def stream_refusal(problems: list[str]) -> str | None:
    """Why a repair must not rebuild the snapshot from these events, or None."""
    if not problems:
        return None
    return (
        f"not repaired: {problems[0]}. A snapshot folded from these events would pass for"
        " the order's state; restore the events (from a backup) first"
    )
