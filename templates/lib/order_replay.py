"""What makes a replay of an order not consistent, in words (Replay Events' ``compare``).

A replay is only as good as the stream it folds. ``aggregate_version`` is meant to run
1, 2, 3 … with one event each (docs/event-sourcing.md), and ``as_of`` to select a
prefix of it; a hand edit or a restore can break either, and a fold over the rest
then gives a state that lacks an event, or holds one twice, while looking like the
order's. These functions name such a fault, so that the check is reported
inconsistent saying why, and a repair is refused instead of writing that state into
the snapshot.

Also here, what a replay judges the snapshots by: the kept snapshots the events
contradict, and why a repair is refused. ``order_events`` re-exports those two, where
workflows (and the copies earlier releases made) import them from. Kept apart from
the reducer: they judge the stream and the snapshots, not an event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from _order_json import json_equal


def stream_problems(
    breaks: Iterable[Mapping[str, Any]], folded_past: Iterable[Mapping[str, Any]] = ()
) -> list[str]:
    """What is wrong with an order's versions, from the rows that break the run 1, 2, 3 …

    ``breaks`` are ``{"version": v, "after": previous version or None}``, in version
    order: every stored version below 1, and every version that is not the one before
    it plus 1 (the first one: not 1). Replay Events' ``load_current`` selects them with
    ``lag()`` over the order's events. An empty list: the versions are whole.

    ``folded_past`` are the snapshots past the stream's last version whose
    ``last_event_*`` columns name an event no longer in ``events``, as
    ``{"version": v, "after": the last version or None, "kept": bool}``: they were
    folded from events deleted since (the last ones, which no gap between two stored
    versions shows). A snapshot past the last event that names no such event (one
    written by hand, or one whose version alone was edited) is not listed: the
    snapshot is what is wrong, and a repair rebuilds it.
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
    problems = []
    if found:
        problems.append("the events' versions do not run 1, 2, 3 … one each: " + "; ".join(found))
    for row in folded_past:
        version, first = int(row["version"]), max(int(row["after"] or 0), 0) + 1
        which = f"kept snapshot {version}" if row.get("kept") else "the snapshot"
        if first < version:
            problems.append(
                f"versions {first} to {version} are missing: {which} was folded from them"
            )
        else:
            problems.append(f"version {version} is missing: {which} was folded from it")
    return problems


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


def snapshot_differences(
    snapshot: Mapping[str, Any], state: Any, version: int, wrong_columns: Iterable[str]
) -> list[str]:
    """What differs between the live ``snapshot`` (its ``version`` and ``state``) and the
    replay at the head (``state`` after ``version``), one phrase each; empty: they agree.

    ``wrong_columns`` are the snapshot's ``last_event_*`` columns that do not name the
    event at its version (``load_current`` compares them); they are named only when the
    versions agree, since a snapshot at another version points at another event anyway.
    States are compared as JSON (``json_equal``), key by key to name the keys.
    """
    found: list[str] = []
    at = int(snapshot["version"])
    if at < version:
        found.append(f"it lags {_versions(version - at)} behind the events")
    elif at > version:
        found.append(f"it runs {_versions(at - version)} past the last event")
    kept = snapshot["state"]
    if not json_equal(kept, state):
        if isinstance(kept, Mapping) and isinstance(state, Mapping):
            keys = sorted(
                k for k in {*kept, *state} if k not in kept or k not in state
                or not json_equal(kept[k], state[k])
            )  # fmt: skip
            found.append(f"its state differs from the events' in {', '.join(keys)}")
        else:
            found.append("its state differs from the events'")
    columns = list(wrong_columns)
    if at == version and columns:
        verb = "does" if len(columns) == 1 else "do"
        found.append(f"its {', '.join(columns)} {verb} not name the event at version {version}")
    return found


def _versions(n: int) -> str:
    return f"{n} version" if n == 1 else f"{n} versions"


def stream_refusal(problems: list[str]) -> str | None:
    """Why a repair must not rebuild the snapshot from these events, or None."""
    if not problems:
        return None
    return (
        f"not repaired: {problems[0]}. A snapshot folded from these events would pass for"
        " the order's state; restore the events (from a backup) first"
    )


def repair_refusal(state: Mapping[str, Any] | None) -> str | None:
    """Why a snapshot must not be rebuilt from ``state``, or None: an event this code
    cannot read was left out of it, and a snapshot without its effect would pass for
    the order's state until a release that reads it replays the order."""
    unread = [a for a in (state or {}).get("anomalies", []) if a.get("unreadable")]
    if not unread:
        return None
    first = unread[0]
    return (
        f"not repaired: event {first['event_id']} could not be read ({first['reason']});"
        " rebuild the snapshot with a release that reads it"
    )


def kept_snapshot_fixes(
    rows: Iterable[Mapping[str, Any]],
    kept: Iterable[Mapping[str, Any]],
    reached_head: bool = True,
) -> list[dict[str, Any]]:
    """The kept snapshots (``order_snapshot_history`` rows) that the events contradict,
    each as ``{version, state}`` with the state the events give at that version.

    ``rows`` is a replay stream from event 1 (no kept snapshot in it); a kept
    snapshot past its last event has no such state and is listed with state None
    (to be dropped). A wrong kept snapshot is otherwise trusted for ever: every
    default replay and time travel starts from it, and a repair of the live
    snapshot alone leaves it to be folded on again.

    A kept row whose ``points_at_its_event`` is false (its ``last_event_sequence``
    or ``last_event_at`` names another event than the one at its version) is
    listed too, whatever its state: time travel picks its start by those columns,
    and a repair rewrites them. A row without the key (a workflow copied by an
    earlier release does not load it) is judged by its state alone.

    ``reached_head`` false: ``rows`` stop at a point before the order's last
    event (``version``, ``as_of``). The kept snapshots the fold passed are judged
    all the same (the events up to a version fix the state there, whatever came
    later); a later one is not, since these rows give no state for it.
    """
    # Imported here: order_events imports this module to re-export this function.
    from order_events import replay_step

    kept = list(kept)
    wanted = {int(k["version"]): k["state"] for k in kept}
    misplaced = {int(k["version"]) for k in kept if k.get("points_at_its_event") is False}
    found: dict[int, Any] = {}
    state: Mapping[str, Any] | None = None
    version = 0
    for row in rows:
        state = replay_step(state, row)
        version = int(row["aggregate_version"])
        if version in wanted:
            found[version] = state
    return [
        {"version": v, "state": found.get(v)}
        for v, kept_state in sorted(wanted.items())
        if (reached_head or v <= version)
        and (v not in found or v in misplaced or not json_equal(kept_state, found[v]))
    ]
