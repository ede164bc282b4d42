"""Statements that begin, end or mark a transaction, refused in a Database block.

In a transaction group the engine owns the transaction: it begins it before the
first member, commits it once every member settled (writing `transaction_committed`
to the run log inside it) and rolls it back when the run fails. A member's own
`COMMIT` made the members before it permanent, and the ones after it ran outside
any transaction, while the run record said "rolled back"; a `ROLLBACK` lost them
while the run log said "committed".

Outside a group each block's statement runs in a transaction of its own on a pooled
connection, so these statements act on nothing: a `BEGIN` block, INSERT blocks and
a `COMMIT` block are not atomic (each INSERT commits at once; the BEGIN's
transaction is rolled back when its connection returns to the pool).
"""

from __future__ import annotations

from engine.sql_lexer import leading_words

_STARTS = "starts"
_ENDS = "ends"
_SAVEPOINT = "savepoint"
_PREPARED = "prepared"


def _kind(words: tuple[str, ...]) -> tuple[str, str] | None:
    """(what it does, the statement's name) for a transaction-control statement."""
    first, second = (words + ("", ""))[:2]
    if first == "BEGIN" or (first, second) == ("START", "TRANSACTION"):
        return _STARTS, " ".join(words[:2]) if first == "START" else first
    if first in ("COMMIT", "ROLLBACK") and second == "PREPARED":
        return _PREPARED, f"{first} PREPARED"
    if first == "ROLLBACK" and (
        second == "TO" or words[1:3] in (("WORK", "TO"), ("TRANSACTION", "TO"))
    ):
        return _SAVEPOINT, "ROLLBACK TO SAVEPOINT"
    if first in ("SAVEPOINT", "RELEASE"):
        return _SAVEPOINT, first
    if first in ("COMMIT", "END", "ROLLBACK", "ABORT"):
        return _ENDS, first
    if (first, second) == ("PREPARE", "TRANSACTION"):
        return _ENDS, "PREPARE TRANSACTION"
    return None


def transaction_control_problem(query: str, group: str | None) -> str | None:
    """Why ``query`` may not run in a Database block of transaction group ``group``
    (None: a block outside any group), or None when it may."""
    found = _kind(leading_words(query))
    if found is None:
        return None
    kind, name = found
    if group:
        if kind == _PREPARED:
            return (
                f"`{name}` cannot run inside a transaction block (PostgreSQL refuses it): run it "
                "in a Database block without `transaction`"
            )
        return f"`{name}` {_IN_A_GROUP[kind]}".format(group=group)
    if kind == _PREPARED:
        return None  # finishing a two-phase transaction prepared elsewhere is real work
    return (
        f"`{name}` does nothing for the blocks around it: each Database block runs its "
        "statement in a transaction of its own, so blocks between a BEGIN block and a COMMIT "
        "block still commit one by one. Give the blocks that must commit together the same "
        "`transaction: NAME`"
    )


_IN_A_GROUP = {
    _STARTS: (
        "starts a transaction, but transaction group {group!r} has its own open already: the "
        "group begins it before its first block and commits it after its last. Remove the "
        "statement"
    ),
    _ENDS: (
        "would end the transaction of group {group!r} early: the blocks before it "
        "would be committed or undone whatever the run does, those after it would run "
        "outside the group, and the run log would say otherwise. The group commits once all "
        "its blocks have succeeded and rolls back when the run fails: remove the statement"
    ),
    _SAVEPOINT: (
        "would act on a savepoint inside transaction group {group!r}, whose savepoints are "
        "the engine's (each attempt of a block with `retries` or `on_error: continue` runs "
        "in one): undoing part of the group would leave the run log saying those blocks' "
        "statements are in. Remove the statement"
    ),
}
