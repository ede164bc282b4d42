"""The Order Processing template's append transaction, as bench/event_store.py runs it.

The bench binds the template's SQL itself (read from its workflow.yaml), so it
measures what ships without the engine around it. When the template's statements
read a reference set here by no one, :func:`bind` fails naming it, and so does
tests/templates/test_event_store_bench.py, which runs this against the template.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

import asyncpg

from templates import LIB
from templates.event_store import workflow_sql

if str(LIB) not in sys.path:
    sys.path.append(str(LIB))
from order_events import apply_event  # noqa: E402 - the templates' lib/

#: A Database block's query as ``$n`` SQL, and the reference each ``$n`` reads.
Statement = tuple[str, tuple[str, ...]]

APPEND_BLOCKS = ("lock_order", "load_snapshot", "store_event", "save_snapshot")

#: The settings the template's ``enrich`` step returns with each event, as the bench
#: runs it: no subscriber set up (no CUSTOMER_WEBHOOK_URL, Slack or SMTP), so
#: save_snapshot holds no outbox rows — the workflow's notification steps take and
#: delete them, and here they would pile up per order — and SNAPSHOT_EVERY's default.
SETTINGS = {
    "customer_configured": False,
    "slack_configured": False,
    "email_configured": False,
    "snapshot_every": 100,
}


def enriched(order: str, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An ``item_added`` event for ``order`` as ``enrich`` returns it, and the values of
    the references the statements read from it (``<enrich.event_id>``, ...)."""
    ev = {"event_id": str(uuid.uuid4()), "event_type": "item_added", "event_version": 1,
          "aggregate_id": order, "aggregate_type": "order", "data": data, "metadata": {},
          **SETTINGS}  # fmt: skip
    return ev, {f"<enrich.{k}>": v for k, v in ev.items()}


def bind(statement: Statement, vals: dict[str, Any]) -> list[Any]:
    """A statement's parameters, one per reference it reads; a reference given no
    value fails, named (the template's SQL changed under the bench)."""
    try:
        return [vals[ref] for ref in statement[1]]
    except KeyError:
        missing = ", ".join(sorted({ref for ref in statement[1] if ref not in vals}))
        raise LookupError(
            f"bench/event_store.py sets no value for {missing}, which the template's"
            " statement reads: bind it as the workflow does"
        ) from None


def append_statements() -> dict[str, Statement]:
    return {block: workflow_sql("order_processing", block) for block in APPEND_BLOCKS}


async def append_one(
    conn: asyncpg.Connection,
    sql: dict[str, Statement],
    order: str,
    data: dict[str, Any],
) -> None:
    """One event through the template's append transaction, bound as the workflow binds it."""
    ev, vals = enriched(order, data)
    async with conn.transaction():
        await conn.fetch(sql["lock_order"][0], *bind(sql["lock_order"], vals))
        snap = await conn.fetchrow(sql["load_snapshot"][0], *bind(sql["load_snapshot"], vals))
        vals["<load_snapshot.version?>"] = snap["version"] if snap else None
        # For a payment whose held payment's capture failed (NULL for an item_added).
        vals["<load_snapshot.replaces_payment?>"] = snap["replaces_payment"] if snap else None
        stored = await conn.fetchrow(sql["store_event"][0], *bind(sql["store_event"], vals))
        state = apply_event(snap["state"] if snap else None, ev)
        version = stored["aggregate_version"]
        vals |= {  # what the template's `apply` step returns, and the stored event's row
            "<apply.state>": state,
            "<apply.status>": state["status"],
            "<apply.version>": version,
            "<apply.keep_history>": version % ev["snapshot_every"] == 0,
            "<apply.confirm_to?>": None,  # an item_added owes no confirmation email
            "<store_event.sequence_number>": stored["sequence_number"],
        }
        await conn.fetch(sql["save_snapshot"][0], *bind(sql["save_snapshot"], vals))


def stored_values(order: str, version: int) -> dict[str, Any]:
    """What store_event reads for the order's ``version``-th event."""
    return enriched(order, {"v": version})[1] | {
        "<load_snapshot.version?>": version - 1,
        "<load_snapshot.replaces_payment?>": None,
    }
