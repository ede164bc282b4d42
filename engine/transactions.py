"""Transaction groups: database blocks of one run that share ``transaction: NAME``.

One connection per group, ``BEGIN`` when its first member starts, members
serialized on it, ``COMMIT`` once every member has settled (succeeded or
skipped), ``ROLLBACK`` if the run fails or is cancelled. This is what makes a
``SELECT … FOR UPDATE`` in one block protect the write in a later one
(DESIGN.md 3).

A member inside a loop or parallel body runs once per iteration or branch, so it
is the top-level block holding it — its outermost container — that settles for
it: once that has (every iteration and branch done) and so has every other
top-level unit of the group, the group commits, before any block downstream of
them starts (the executor awaits :meth:`Transactions.settled` before it starts
the blocks a settled one made ready). Committing only at the end of the run made
a block downstream read the data from before the group, or wait on its row locks
until its statement timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from engine.database import server_unreachable
from engine.model import Workflow

#: Commits group ``name``'s transaction on ``conn`` by calling ``commit``, writing
#: what must commit with it first.
Committer = Callable[[str, asyncpg.Connection, Callable[[], Awaitable[None]]], Awaitable[None]]


class GroupNotCommitted(Exception):
    """The server refused a group's COMMIT (a deferred constraint, a serialization
    failure): the run fails, naming the group. Without the server's detail, which
    quotes the values involved."""

    def __init__(self, group: str, exc: asyncpg.PostgresError) -> None:
        message = getattr(exc, "message", None) or str(exc)
        code = f" (SQLSTATE {exc.sqlstate})" if getattr(exc, "sqlstate", None) else ""
        super().__init__(f"transaction group {group!r} did not commit: {message}{code}")


@dataclass
class _Group:
    name: str
    # The top-level blocks to settle before COMMIT: members, and the outermost
    # containers of members in bodies. None: a group named only at run time, which
    # commits when the run ends.
    units: frozenset[str] | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    conn: asyncpg.Connection | None = None
    tx: asyncpg.transaction.Transaction | None = None
    settled: set[str] = field(default_factory=set)
    used_by: dict[str, None] = field(default_factory=dict)  # block paths, in first-use order


class Transactions:
    def __init__(
        self,
        pool: asyncpg.Pool,
        groups: dict[str, frozenset[str]],
        committer: Committer | None = None,
    ) -> None:
        self._pool = pool
        # Commits a group: writes `transaction_committed` to the run log inside the
        # transaction, then commits, so the log says "committed" exactly when the
        # data did (see engine/recovery.py and RunRecorder.commit_in).
        self._committer = committer
        self._groups = {name: _Group(name, units) for name, units in groups.items()}
        # A container may hold members of several groups: each commits on its settling.
        self._by_unit: dict[str, list[str]] = {}
        for name, units in groups.items():
            for unit in units:
                self._by_unit.setdefault(unit, []).append(name)

    @asynccontextmanager
    async def use(self, name: str, path: str) -> AsyncIterator[asyncpg.Connection]:
        """Group ``name``'s connection for the block at ``path`` (BEGIN on first use)."""
        group = self._groups.get(name)
        if group is None:  # a group named only at run time (shouldn't happen)
            group = self._groups[name] = _Group(name, None)
        async with group.lock:
            if group.conn is None:
                group.conn = await self._pool.acquire()
                group.tx = group.conn.transaction()
                await group.tx.start()
                group.used_by.clear()
            group.used_by[path] = None
            yield group.conn

    async def settled(self, block_id: str) -> None:
        """A top-level block settled (a member, or a container holding members): commit
        each group it was the last unit of."""
        for name in self._by_unit.get(block_id, ()):
            group = self._groups[name]
            group.settled.add(block_id)
            if group.units is not None and group.settled >= group.units:
                await self._end(group, commit=True)

    async def commit_all(self) -> None:
        for group in self._groups.values():
            await self._end(group, commit=True)

    async def rollback_all(self) -> list[tuple[str, list[str]]]:
        """Roll back every open group; returns each one rolled back with the paths of
        the blocks whose statements it undid (a run record says so of them)."""
        undone = []
        for group in self._groups.values():
            used_by = list(group.used_by)
            if await self._end(group, commit=False):
                undone.append((group.name, used_by))
        return undone

    async def _end(self, group: _Group, commit: bool) -> bool:
        """Commit or roll back ``group``'s transaction; False when none was open."""
        async with group.lock:
            conn, tx = group.conn, group.tx
            if conn is None or tx is None:
                return False
            group.conn = group.tx = None
            try:
                if commit and self._committer is not None:
                    await self._committer(group.name, conn, tx.commit)
                elif commit:
                    await tx.commit()
                else:
                    await _roll_back(tx)
            except asyncpg.PostgresError as exc:
                await _abandon(conn, tx)
                if commit:
                    raise GroupNotCommitted(group.name, exc) from exc
                raise
            except BaseException:
                # The commit did not happen (its marker failed, or the run was taken
                # over): roll back here rather than leave it to the pool's reset.
                await _abandon(conn, tx)
                raise
            finally:
                await self._pool.release(conn)
            return True


async def _roll_back(tx: asyncpg.transaction.Transaction) -> None:
    """Roll ``tx`` back. If its connection is gone (PostgreSQL stopped, the network
    dropped), so is the transaction: the server discards it with its session. That is
    a rollback done, not a failure: raising here made the run's task die instead of
    waiting for the database like a run without a group (engine/resumption.py)."""
    try:
        await tx.rollback()
    except Exception as exc:
        if not server_unreachable(exc):
            raise


async def _abandon(conn: asyncpg.Connection, tx: asyncpg.transaction.Transaction) -> None:
    """Roll back what a failed COMMIT or ROLLBACK may have left open, without hiding
    why it failed: a connection that dropped is handed back to the pool by asyncpg,
    and asking it anything then raises InterfaceError (its transaction went with it)."""
    with contextlib.suppress(Exception):
        if conn.is_in_transaction():
            await tx.rollback()


def transaction_groups(workflow: Workflow) -> dict[str, frozenset[str]]:
    """Group membership, computed once per plan: name → the top-level blocks whose
    settling commits it (its top-level members, and the outermost container of each
    member inside a body)."""
    groups: dict[str, set[str]] = {}
    for block in workflow.blocks.values():
        name = block.config.get("transaction") if block.type == "database" else None
        if name:
            unit = [block.id, *workflow.containers_of(block.id)][-1]
            groups.setdefault(str(name), set()).add(unit)
    return {name: frozenset(units) for name, units in groups.items()}
