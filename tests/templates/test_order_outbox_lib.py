"""Step 10's rules (lib/order_outbox.py): who is sent what the order holds, which
held message fails the run, and Slack's text from what `correlate` recorded."""

from __future__ import annotations

from pathlib import Path

SLACK = {"event_id": "e2", "order_id": "o1", "version": 2, "charge_id": "ch_1",
         "capture": "succeeded", "http_status": 200, "refused": None, "problem": None}  # fmt: skip


def test_held_messages_lists_configured_subscribers_with_something_held(lib_path: Path) -> None:
    from order_outbox import held_messages

    pending = {"email": [{"event_id": "e1"}], "customer": [{"event_id": "e1"}, {"event_id": "e2"}]}
    everyone = {"customer": True, "slack": True, "email": True}
    listed = held_messages(pending, None, everyone)["subscribers"]
    assert [(s["name"], len(s["messages"])) for s in listed] == [("customer", 2), ("email", 1)]
    # Unset now: what it holds stays (not listed, so not sent nor deleted).
    listed = held_messages(pending, None, {**everyone, "email": False})["subscribers"]
    assert [s["name"] for s in listed] == ["customer"]
    # After a capture, Slack's list is correlate's (this outcome's message included).
    listed = held_messages({"slack": [{"old": 1}]}, [SLACK], everyone)["subscribers"]
    assert listed == [{"name": "slack", "messages": [SLACK]}]
    assert held_messages(None, [], everyone) == {"subscribers": []}


def test_errors_are_named_by_subscriber_and_only_customer_and_email_fail_the_run(
    lib_path: Path,
) -> None:
    from order_outbox import held_failure, subscriber_errors

    subscribers = [{"name": "customer"}, {"name": "slack"}, {"name": "email"}]
    slack_down = {"index": 1, "type": "HttpError", "message": "Slack webhook returned 503"}
    errors = subscriber_errors(
        subscribers, {"outbox": {"results": [], "errors": [slack_down]}}, {"search": {"m": 1}}
    )
    assert errors == {
        "slack": {"type": "HttpError", "message": "Slack webhook returned 503"},
        "search": {"m": 1},
    }
    assert held_failure("o1", "e2", errors) is None
    smtp_down = {"index": 2, "message": "SMTP 127.0.0.1:25: ConnectionRefusedError"}
    errors = subscriber_errors(subscribers, {"outbox": {"errors": [smtp_down]}}, None)
    failure = held_failure("o1", "e2", errors)
    assert failure is not None and failure.startswith(
        "order o1: the confirmation email was not sent (SMTP 127.0.0.1:25: ConnectionRefusedError)"
    )
    customer = subscriber_errors(
        subscribers, {"outbox": {"errors": [{"index": 0, "message": "x"}]}}, {}
    )
    assert "the customer system did not take" in (held_failure("o1", "e2", customer) or "")
    assert subscriber_errors(None, None, None) == {}


def test_slack_text_follows_the_recorded_outcome(lib_path: Path) -> None:
    from order_outbox import payment_note

    assert payment_note(SLACK) == "Order o1 is paid (charge ch_1): ready for fulfillment."
    failed = payment_note({**SLACK, "capture": "failed", "http_status": 500})
    assert "FAILED (HTTP 500) with NO KNOWN OUTCOME: not ready for fulfillment" in failed
    assert "no other charge is taken" in failed and "check the charge" in failed
    declined = payment_note({**SLACK, "capture": "failed", "http_status": 402})
    assert "FAILED (HTTP 402): not ready for fulfillment" in declined
    unset = payment_note({**SLACK, "capture": "failed", "http_status": None,
                          "problem": "the setting STRIPE_SECRET_KEY is not set"})  # fmt: skip
    assert "FAILED (the setting STRIPE_SECRET_KEY is not set)" in unset
    assert "no answer from the processor" in payment_note({**SLACK, "capture": "failed",
                                                          "http_status": None})  # fmt: skip
    refused = payment_note({**SLACK, "capture": "refused", "refused": "the order is cancelled"})
    assert "arrived but the order is cancelled: it was NOT captured" in refused
    pinged = payment_note({**SLACK, "order_id": "<!channel>"})
    assert "<" not in pinged and "&lt;!channel&gt;" in pinged


def test_a_held_message_is_checked_against_the_order_when_it_is_sent(lib_path: Path) -> None:
    from order_outbox import held_messages, payment_note

    everyone = {"customer": True, "slack": True, "email": True}
    email = {"event_id": "e1", "order_id": "o1", "version": 1, "to": "ada@example.com"}
    pending = {"customer": [{"event_id": "e1"}], "slack": [SLACK], "email": [email]}
    now = held_messages(pending, None, everyone, "cancelled")
    listed = {s["name"]: s["messages"] for s in now["subscribers"]}
    # Withdrawn in its place (so `took` deletes it), never sent; listed for the output.
    assert listed["email"] == [{**email, "withdrawn": "the order is cancelled"}]
    assert now["withdrawn"] == [
        {"subscriber": "email", "event_id": "e1", "why": "the order is cancelled"}
    ]
    assert listed["customer"] == [{"event_id": "e1"}]  # every event, as it happened
    [slack] = listed["slack"]
    assert "ready for fulfillment" not in payment_note(slack)
    assert "cancelled since: do not fulfil; refund the charge" in payment_note(slack)
    paid_first = {**SLACK, "capture": "refused", "refused": "the order is already paid (charge x)"}
    assert "fulfil on it" not in payment_note({**paid_first, "order_status": "cancelled"})
    failed = payment_note({**SLACK, "capture": "failed", "order_status": "cancelled"})
    assert "do not resend" in failed and "resend the event's delivery" not in failed
    # Still pending or paid: sent as written. A delivered order gets no confirmation.
    assert "withdrawn" not in held_messages(pending, None, everyone, "paid")
    assert held_messages(pending, None, everyone, "delivered")["withdrawn"][0]["why"] == (
        "the order is delivered"
    )
    # A workflow of an earlier release does not say the status: sent as written.
    assert held_messages(pending, None, everyone)["subscribers"][2]["messages"] == [email]


def test_a_repeat_replaced_by_its_own_charge_is_not_called_one_to_release(lib_path: Path) -> None:
    """bb83 #1: the refusal names the later payment's charge; Slack compares it with
    the repeat's own (repeated_capture's words, read back) before saying "release"."""
    from order_capture import repeated_capture
    from order_outbox import payment_note

    def note(own: str, later: str, order_status: str | None = None) -> str:
        refused = repeated_capture("payment_received", "failed", None, "paid", False, later)
        return payment_note({**SLACK, "charge_id": own, "capture": "refused",
                             "refused": refused["capture_refused"], "order_status": order_status})  # fmt: skip

    other = note("ch_1", "ch_2")
    assert "Release this charge: the order's payment is the later one." in other
    same = note("ch_1", "ch_1")
    assert "do NOT release it" in same and "Release this charge" not in same
    assert "NOT captured" not in same  # the charge may well be: by the later payment
    # A charge id the processor chose freely, with the refusal's own words in it.
    tricky = "ch_x) after its capture failed (charge ch_x"
    assert "do NOT release it" in note(tricky, tricky)
    assert "Release this charge" in note(tricky, "ch_x")
    cancelled = note("ch_1", "ch_1", "cancelled")
    assert "refund it if its capture (the later payment's" in cancelled
    assert "release this charge" not in cancelled.lower()


def test_a_payment_refused_for_a_cancelled_order_is_not_said_to_meet_it_cancelled_since(
    lib_path: Path,
) -> None:
    """bb83 #4; and a workflow of an earlier release (no order_status) says the same."""
    from order_capture import capture_refusal
    from order_outbox import payment_note

    refused = capture_refusal({"status": "cancelled"}, "payment_received")
    for status in ("cancelled", None):
        note = payment_note({**SLACK, "capture": "refused", "refused": refused,
                             "order_status": status})  # fmt: skip
        assert note.endswith("the order is cancelled: it was NOT captured. Do not fulfil;"
                             " release this charge.")  # fmt: skip
    # Refused for another reason, the order cancelled since: said so.
    paid = payment_note({**SLACK, "capture": "refused", "order_status": "cancelled",
                         "refused": "the order is already paid (charge ch_0)"})  # fmt: skip
    assert paid.endswith("The order is cancelled since: do not fulfil; release this charge.")
