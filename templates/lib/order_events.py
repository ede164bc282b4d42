"""The order aggregate: one deterministic reducer and the event upcasters.

Both templates import this module: Order Processing applies each live event with
:func:`apply_event`, Replay Events folds stored events with the same function.
That is the whole point of event sourcing's "use the same logic as the live
system": if the live path and the replay path ran different code, a replay could
disagree with the snapshot without anything being wrong with the data.

Rules that keep the reducer safe to replay forever:

* pure: the new state depends only on the old state and the event (no clock, no
  randomness, no I/O); timestamps come from the event itself;
* total: an unknown event type or an out-of-order transition never raises (a
  stored event is a fact, and a reducer that rejects one would make the order
  impossible to replay); it is recorded in ``state["anomalies"]`` instead;
* never mutates its input: callers may keep the previous state (snapshots,
  the loop's accumulator). The new state is a shallow copy; handlers replace
  nested values (``payment``, ``items``) instead of changing them in place, so
  a long order is folded in linear time rather than deep-copied per event.

Upcasting: events are stored as they were received, with ``event_version``.
On read, :func:`upcast` rewrites old payloads into the current shape, one
version step at a time, so v1 and v2 events of the same fact replay alike and
the stored history is never rewritten. A version newer than ``CURRENT_VERSION``
cannot be read by this code at all: appends refuse it (:func:`version_error`)
and the reducer keeps a stored one as an anomaly instead of guessing its shape.

The templates' inputs are read in ``order_inputs`` (beside this module), so a
template and its Agent variant refuse the same inputs with the same words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

# Re-exported: workflow files, those copied by earlier releases included, import them
# from here; they moved to these modules (templates/lib_imports.json lists every name).
from _order_json import json_equal  # noqa: F401
from order_capture import capture_refusal, repeated_capture  # noqa: F401
from order_inputs import read_as_of, read_envelope, read_version  # noqa: F401
from order_replay import kept_snapshot_fixes, repair_refusal  # noqa: F401

# The lifecycle rules the reducer applies (re-exported: they were defined here).
from order_rules import (  # noqa: F401
    ALLOWED_FROM,
    NOT_APPLIED_FROM,
    TERMINAL,
    leaves_terminal,
    not_applied,
    payment_notes,
    payment_taken,
)

Event = dict[str, Any]
State = dict[str, Any]
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# -- upcasters ------------------------------------------------------------------


def upcast_order_created_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 carried one ``name``; v2 splits it into ``first_name`` / ``last_name``."""
    out = {k: v for k, v in data.items() if k != "name"}
    name = data.get("name")
    if name is not None and "first_name" not in data:
        first, _, last = str(name).strip().partition(" ")
        out["first_name"] = first
        out["last_name"] = last.strip()
    return out


def upcast_payment_received_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 sent ``amount`` in major units (12.5); v2 sends ``amount_cents`` (1250)."""
    out = {k: v for k, v in data.items() if k != "amount"}
    if "amount" in data and "amount_cents" not in data:
        out["amount_cents"] = _cents(data["amount"])
    return out


def _cents(amount: Any) -> int:
    """A v1 ``amount`` in cents. One with at most two decimals (all that ``enrich``
    takes) is multiplied exactly, as the number its JSON spells (a float's ``repr``):
    as a float, ``123456789012345.67 * 100`` is ``12345678901234568`` (past 2**53
    cents a float holds no exact cent). Below about 2 * 10**13 both agree, so what
    stored events replay to does not change. One with more decimals, stored before
    ``enrich`` refused it, keeps the float rounding it always replayed to."""
    spelled = repr(amount) if isinstance(amount, float) else str(amount)
    try:
        exact = Decimal(spelled) * 100
    except ArithmeticError:  # "12,50": the reducer keeps it as an anomaly
        exact = None
    if exact is not None and exact.is_finite() and exact == exact.to_integral_value():
        return int(exact)
    return int(round(float(amount) * 100))


#: (event_type, from_version) -> function turning that version's data into the next.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("order_created", 1): upcast_order_created_v1_v2,
    ("payment_received", 1): upcast_payment_received_v1_v2,
}

#: The version each event type is written in today: what the reducer expects, and
#: the newest it can read. Every type the reducer handles is listed (tested), so
#: a newer version of any of them is caught rather than read as this one.
CURRENT_VERSION: dict[str, int] = {
    "order_created": 2,
    "item_added": 1,
    "payment_received": 2,
    "order_shipped": 1,
    "tracking_updated": 1,
    "order_delivered": 1,
    "order_cancelled": 1,
}


def version_error(event_type: str, event_version: int) -> str | None:
    """Why this code cannot read ``event_type`` at ``event_version``, or None.

    A newer version comes from a newer release (or one rolled back since): its
    payload may mean something else, and folding it as the newest known shape
    would be a silent guess. Unknown types are not judged here: the reducer
    already keeps them as anomalies, whatever their version.
    """
    known = CURRENT_VERSION.get(event_type)
    if known is None or event_version <= known:
        return None
    return (
        f"{event_type} event_version {event_version} is newer than this reducer reads"
        f" (up to {known})"
    )


def upcast(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return ``event`` with its ``data`` in the current version of its type.

    Applies ``UPCASTERS`` step by step (v1 → v2 → v3 …). An event that is
    already current (or newer: see :func:`version_error`) is returned as it is:
    nothing here or in the reducer mutates an event, and replay of a long
    history should not copy every event once more.
    """
    etype = str(event.get("event_type") or "")
    version = int(event.get("event_version") or 1)
    target = CURRENT_VERSION.get(etype, version)
    if version >= target:
        return event
    data = dict(event.get("data") or {})
    while version < target:
        step = UPCASTERS.get((etype, version))
        if step is None:
            raise LookupError(f"no upcaster for {etype} v{version} -> v{version + 1}")
        data = step(data)
        version += 1
    return {**event, "data": data, "event_version": version}


# -- the reducer ----------------------------------------------------------------

#: What a handler raises on data it cannot use (``"items": 5``): the reducer is
#: total, so such an event is kept as an anomaly instead.
_ODD_DATA = (TypeError, ValueError, ArithmeticError, LookupError)


def initial_state() -> State:
    return {"status": "new", "items": [], "anomalies": []}


def _objects(event: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[str]]:
    """``event`` with a ``data`` or ``metadata`` that is not a JSON object (a stored
    ``5``, ``"x"``, ``[]``: another writer, a hand edit) read as ``{}``, and what was
    wrong. Handlers and rules read both with ``.get``: a crash would make the order
    unreplayable, which a total reducer must not."""
    odd = [
        f"{key} is a {type(event[key]).__name__}, not an object"
        for key in ("data", "metadata")
        if event.get(key) is not None and not isinstance(event[key], Mapping)
    ]
    if not odd:
        return event, []
    objects = {k: v if isinstance(v := event.get(k), Mapping) else {} for k in ("data", "metadata")}
    return {**event, **objects}, odd


def apply_event(state: Mapping[str, Any] | None, event: Mapping[str, Any]) -> State:
    """Apply one (upcast) event to the order's state and return the new state."""
    new: State = dict(state) if state else initial_state()
    new.setdefault("items", [])
    new.setdefault("anomalies", [])
    unreadable_data: Exception | None = None
    event, odd = _objects(event)
    try:
        ev = upcast(event)
    except _ODD_DATA as exc:  # "amount": "12,50" in a v1 payment: recorded below
        ev, unreadable_data = event, exc
    for why in odd:  # data that is no object is not applied; such metadata is ignored
        if why.startswith("data"):
            unreadable_data = TypeError(why)
        else:
            _anomaly(new, ev, f"{why}: ignored")
    etype = str(ev.get("event_type") or "")
    meta: dict[str, Any] = ev.get("metadata") or {}
    handler = _HANDLERS.get(etype)
    status = new.get("status")
    if handler is None:
        _anomaly(new, ev, f"unknown event type {etype!r}")
    elif too_new := version_error(etype, int(ev.get("event_version") or 1)):
        _anomaly(new, ev, f"{too_new}: not applied", unreadable=True)
    elif refused := not_applied(new, etype, meta):
        _anomaly(new, ev, refused)
    else:
        # What an applied payment is listed for, judged on the order before it (the
        # failed payment it replaces; a currency or amount not the order's).
        notes = payment_notes(new, ev.get("data"), meta) if etype == "payment_received" else []
        # On a copy: a handler that fails on odd data (written before the
        # templates refused it, or by another writer) leaves no half change, and
        # one that would take the order out of a terminal status is undone.
        trial = dict(new)
        failed: Exception | None = None
        try:
            if unreadable_data is not None:
                raise unreadable_data
            handler(trial, ev.get("data") or {})
        except _ODD_DATA as exc:
            failed = exc
        if failed is None and leaves_terminal(status, trial.get("status"), etype):
            _anomaly(new, ev, f"{etype} while {status}: not applied")
        else:
            expected = ALLOWED_FROM.get(etype)
            unusual = expected is not None and status not in expected
            if failed is None:
                new = trial
                for note in notes:
                    _anomaly(new, ev, note)
            if unusual:
                _anomaly(new, ev, f"{etype} while {status}")
            if failed is not None:
                reason = f"{type(failed).__name__}: {failed}"
                _anomaly(new, ev, f"{etype} could not be applied ({reason})")
    if ev.get("aggregate_id") is not None:
        new["order_id"] = ev["aggregate_id"]
    new["last_event_id"] = None if ev.get("event_id") is None else str(ev["event_id"])
    new["last_event_type"] = etype
    if meta.get("timestamp") is not None:
        new["updated_at"] = meta["timestamp"]
    return new


def fold(
    events: Iterable[Mapping[str, Any]], state: Mapping[str, Any] | None = None
) -> State | None:
    """Apply ``events`` in order; ``state`` is where to start (a snapshot)."""
    current: State | None = dict(state) if state else None
    for ev in events:
        current = apply_event(current, ev)
    return current


def replay_step(state: Mapping[str, Any] | None, row: Mapping[str, Any]) -> State | None:
    """Fold one row of a replay stream (Replay Events' ``load_stream``).

    The stream starts with the kept snapshot it replays from, marked
    ``is_snapshot`` (a column no stored event has, so no payload can pose as
    one); that row's ``state`` is the state to start from. Every other row is an
    event for :func:`apply_event`. Loading both in one query saves a round trip,
    which is most of the cost of a replay that starts from a recent snapshot.
    """
    if row.get("is_snapshot"):
        return row["state"]
    return apply_event(state, row)


def _anomaly(s: State, ev: Mapping[str, Any], reason: str, unreadable: bool = False) -> None:
    found = {"event_id": ev.get("event_id"), "reason": reason}
    if unreadable:  # not applied: a state folded without it lacks its effect
        found["unreadable"] = True
    s["anomalies"] = [*s["anomalies"], found]


def _created(s: State, d: dict[str, Any]) -> None:
    """A new order, or one whose ``order_created`` arrives late (senders deliver
    out of order) or twice: then it fills in what is missing and resets nothing.
    A paid order stays paid, and items added before it stay."""
    is_new = s.get("status") == "new"
    if is_new:
        s["status"] = "pending"
    known = s.get("customer") or {}
    s["customer"] = {
        key: known[key] if known.get(key) is not None else d.get(key)
        for key in ("user_id", "first_name", "last_name", "email")
    }
    items = d.get("items")
    if items is not None and not isinstance(items, list):
        raise TypeError(f"items is a {type(items).__name__}, not a list")
    created = list(items or [])
    s["items"] = [*created, *(i for i in s["items"] if i not in created)]
    for key in ("currency", "total_cents", "shipping_address"):
        if key in d and (is_new or s.get(key) is None):
            s[key] = d[key]


def _item_added(s: State, d: dict[str, Any]) -> None:
    s["items"] = [*s["items"], {k: v for k, v in d.items() if k not in ("order_id", "user_id")}]


#: A payment arriving after the order shipped or was delivered (events out of order,
#: or paid on delivery) records the payment and keeps the status: an order does not
#: move back, and a delivered one does not leave its terminal status.
_PAST_PAYMENT = frozenset({"shipped", "delivered"})


def _paid(s: State, d: dict[str, Any]) -> None:
    if s.get("status") not in _PAST_PAYMENT:
        s["status"] = "paid"
    s["payment"] = {
        "charge_id": d.get("charge_id"),
        "amount_cents": d.get("amount_cents"),
        "currency": d.get("currency", s.get("currency")),
        "method": d.get("payment_method"),
        "paid_at": d.get("paid_at"),
    }


def _shipped(s: State, d: dict[str, Any]) -> None:
    s["status"] = "shipped"
    s["shipping"] = {
        "carrier": d.get("carrier"),
        "tracking_number": d.get("tracking_number"),
        "shipped_at": d.get("shipped_at"),
    }


def _tracking(s: State, d: dict[str, Any]) -> None:
    """A carrier scan: long-lived orders get many, and the state stays small."""
    shipping = dict(s.get("shipping") or {})
    shipping["location"] = d.get("location")
    shipping["scans"] = int(shipping.get("scans") or 0) + 1
    s["shipping"] = shipping


def _delivered(s: State, d: dict[str, Any]) -> None:
    s["status"] = "delivered"
    s["delivered_at"] = d.get("delivered_at")


def _cancelled(s: State, d: dict[str, Any]) -> None:
    """The reason is ``cancellation_reason``, as the README documents, or ``reason``,
    the only key earlier releases read: it comes first, so every stored event that
    carries it replays to the state it always gave. A repeat cancellation (the same
    one resent, or another) keeps the reason the order was cancelled with, and only
    fills it in when none was given: it used to wipe it when it carried none."""
    reason = d.get("reason")
    if reason is None:
        reason = d.get("cancellation_reason")
    if s.get("status") == "cancelled" and s.get("cancellation_reason") is not None:
        return
    s["status"] = "cancelled"
    s["cancellation_reason"] = reason


_HANDLERS: dict[str, Callable[[State, dict[str, Any]], None]] = {
    "order_created": _created,
    "item_added": _item_added,
    "payment_received": _paid,
    "order_shipped": _shipped,
    "tracking_updated": _tracking,
    "order_delivered": _delivered,
    "order_cancelled": _cancelled,
}


def event_from_row(row: Mapping[str, Any]) -> Event:
    """The reducer's view of a stored ``events`` row (JSON-safe: ids as text)."""
    return {
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "event_version": row.get("event_version", 1),
        "aggregate_id": row["aggregate_id"],
        "data": row.get("data") or {},
        "metadata": row.get("metadata") or {},
    }
