"""Whose idempotency keys a key is compared with: each trigger block's keys are a
namespace of their own (schema version 8).

Until then a workflow's keys were one namespace: a webhook delivery sent with
``Idempotency-Key: schedule:<workflow>:<tick>`` (a key anyone can predict) took
that tick's key and the tick never ran, and of two webhook blocks (two providers)
whose event ids happened to be equal, one's event was refused or answered with the
other's run. Now a run's key is stored as it was sent (and shown so) beside its
scope, :func:`key_scope`: how the run was started and the trigger block it starts
from. A repeat is looked for among the runs of the same workflow and scope only.

A run accepted before has no scope when its trigger block is unknown (accepted
before schema version 7, which started runs from all their trigger blocks; the
upgrade gives every other run its scope, engine/migrations.py KEY_SCOPES). Its
key is matched by the run's trigger, as it was then among runs of that kind (a
webhook delivery's among the workflow's webhook deliveries), so a sender's resend
of a delivery accepted before the upgrade is still a repeat of it. No run is
accepted without a scope any more: such runs only lose their keys (a retry takes
it over, retention prunes them), so the unique index need not cover them.

Earlier releases stored some keys in another form than this one computes
(blocks/_earlier_keys.py: a 300-character key as it was, now its ``sha256:…``; a
value read from the body as Python's text, ``True``, now its JSON, ``true``). The
webhook hands those forms in beside the key, and they are matched only against
runs without a scope, of the same trigger (:data:`EARLIER_HOLDS`): every run that
stored one was accepted before schema version 3, long before runs had a scope, and
every run accepted since the upgrade to version 8 has one — so a new delivery is
never a repeat of another new one by an earlier form.
"""

from __future__ import annotations

from typing import NamedTuple


def key_scope(trigger: str, trigger_block: str | None) -> str:
    """The namespace of a run's idempotency key: how the run was started (``webhook``,
    ``schedule``, ``manual``) and the trigger block it starts from (``webhook:stripe``;
    ``manual:`` for a workflow without one). A trigger has no ``:``, so no two
    (trigger, block) pairs give one scope."""
    return f"{trigger}:{trigger_block or ''}"


class ScopedKey(NamedTuple):
    """What finds a key's run (the parameters of a lookup, in this order)."""

    workflow: str
    key: str | None
    scope: str
    trigger: str


#: A run of the accepting statement's workflow (``$2``) and trigger (``$4``) holding
#: its key since before keys had a scope: the key is taken. ``{held}``: how the run's
#: key is compared, :data:`HELD_AS_SENT` or :func:`held_in_any_form`.
UNSCOPED_HOLDER = """
          SELECT FROM flowyard_runs AS u
           WHERE u.workflow = $2 AND {held} AND u.key_scope IS NULL
             AND u.trigger = $4
"""
#: The key as this release computes it (``$6``, the accepting statement's key).
HELD_AS_SENT = "u.idempotency_key = $6"


def held_in_any_form(forms: int) -> str:
    """``{held}`` when the parameter ``$forms`` lists the key and its earlier forms."""
    return f"u.idempotency_key = ANY(${forms}::text[])"


#: A run ``{run}`` holds the key of the scope ``{scope}`` and the trigger ``{trigger}``
#: (SQL expressions): a run of that scope, or one without a scope of that trigger.
#: Never both at once: a run without one keeps a scoped run from being inserted
#: (UNSCOPED_HOLDER) until its key moves to that run.
HOLDS = "({run}.key_scope = {scope} OR ({run}.key_scope IS NULL AND {run}.trigger = {trigger}))"

#: A run ``{run}`` without a scope, of the trigger ``{trigger}``, holding one of the
#: key's forms ``{forms}`` (an SQL array of the key and the forms earlier releases
#: stored it in).
EARLIER_HOLDS = (
    "({run}.key_scope IS NULL AND {run}.trigger = {trigger}"
    " AND {run}.idempotency_key = ANY({forms}))"
)
