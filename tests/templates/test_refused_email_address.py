"""An address the Email block refuses does not wedge the order (both variants).

Black-box report: order_created with "zoë@exämple.com" (or "not an email", or
"a@x.com, b@y.com"), email configured: the event was stored, the run failed with
"`to`: … is not an email address", and every later run of that order failed with
the same words ("It is sent by the order's next event; resend this delivery…"),
which could never succeed: the outbox sends an order's messages in order, and that
one never goes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import Mailbox, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

REFUSED = {
    "zoë@exämple.com": "`to`: 'zoë@exämple.com' is not an email address",
    "not an email": "`to`: 'not' is not an email address",
    "a@x.com, b@y.com": "`to` comes from the data, so each value is one address, not 'a@x.com, b@y.com'",
}  # fmt: skip


@pytest.mark.parametrize("address", list(REFUSED))
async def test_an_order_with_an_address_the_email_block_refuses_is_stored_and_goes_on(
    variant: tuple[Any, str], httpserver: HTTPServer, mailbox: Mailbox, address: str
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    first = await deliver(rt, {**created, "email": address}, path=path)
    out = first["output"]
    assert out["version"] == 1 and not out["subscriber_errors"]
    assert out["confirmation_skipped"] == (
        f"the Email block refuses the address ({REFUSED[address]})"
    )
    held = await rt.db.pool.fetchval(
        "SELECT count(*) FROM subscriber_outbox WHERE order_id = $1 AND subscriber = 'email'",
        order,
    )
    assert held == 0
    # The order's next events run as any other's.
    after = await deliver(rt, paid, path=path)
    assert after["output"]["capture"] == "succeeded" and not after["output"]["subscriber_errors"]
    assert [m for m in mailbox.messages if order in str(m["Subject"])] == []
    state = await rt.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert state["customer"]["email"] == address  # the fact, as sent


@pytest.mark.parametrize("address", ["ada@example.com", "Ada Lovelace <ada@example.com>"])
def test_an_address_the_email_block_takes_is_confirmed(lib_path: Path, address: str) -> None:
    from order_outbox import confirmation

    assert confirmation(None, "order_created", {"email": address}) == {
        "to": address,
        "skipped": None,
    }
