"""Transaction groups: database blocks of one run that share ``transaction: NAME``.

One connection per group, ``BEGIN`` when its first member starts, members
serialized on it, ``COMMIT`` once every member has settled (succeeded or
skipped), ``ROLLBACK`` if the run fails or is cancelled. This is what makes a
``SELECT … FOR UPDATE`` in one block protect the write in a later one
(DESIGN.md 3). Members inside a loop or parallel body settle many times, so
such a group commits when the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from engine.model import BlockModel

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
    members: frozenset[str]  # top-level member ids still to settle before COMMIT
    nested: bool  # a member lives in a container body: commit at the end of the run
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    conn: asyncpg.Connection | None = None
    tx: asyncpg.transaction.Transaction | None = None
    settled: set[str] = field(default_factory=set)
    used_by: dict[str, None] = field(default_factory=dict)  # block paths, in first-use order


class Transactions:
    def __init__(
        self,
        pool: asyncpg.Pool,
        groups: dict[str, tuple[frozenset[str], bool]],
        committer: Committer | None = None,
    ) -> None:
        self._pool = pool
        # Commits a group: writes `transaction_committed` to the run log inside the
        # transaction, then commits, so the log says "committed" exactly when the
        # data did (see engine/recovery.py and RunRecorder.commit_in).
        self._committer = committer
        self._groups = {
            name: _Group(name, members, nested) for name, (members, nested) in groups.items()
        }
        self._by_member = {m: name for name, (members, _) in groups.items() for m in members}

    @asynccontextmanager
    async def use(self, name: str, path: str) -> AsyncIterator[asyncpg.Connection]:
        """Group ``name``'s connection for the block at ``path`` (BEGIN on first use)."""
        group = self._groups.get(name)
        if group is None:  # a group named only at run time (shouldn't happen)
            group = self._groups[name] = _Group(name, frozenset(), True)
        async with group.lock:
            if group.conn is None:
                group.conn = await self._pool.acquire()
                group.tx = group.conn.transaction()
                await group.tx.start()
                group.used_by.clear()
            group.used_by[path] = None
            yield group.conn

    async def settled(self, block_id: str) -> None:
        """A top-level block settled; commit its group if it was the last member."""
        name = self._by_member.get(block_id)
        if name is None:
            return
        group = self._groups[name]
        group.settled.add(block_id)
        if not group.nested and group.settled >= group.members:
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
                    await tx.rollback()
            except asyncpg.PostgresError as exc:
                if conn.is_in_transaction():
                    with contextlib.suppress(Exception):
                        await tx.rollback()
                if commit:
                    raise GroupNotCommitted(group.name, exc) from exc
                raise
            except BaseException:
                # The commit did not happen (its marker failed, or the run was taken
                # over): roll back here rather than leave it to the pool's reset.
                if conn.is_in_transaction():
                    with contextlib.suppress(Exception):
                        await tx.rollback()
                raise
            finally:
                await self._pool.release(conn)
            return True


def transaction_groups(blocks: Iterable[BlockModel]) -> dict[str, tuple[frozenset[str], bool]]:
    """Group membership, computed once per plan: name → (top-level members, nested?)."""
    groups: dict[str, tuple[set[str], bool]] = {}
    for block in blocks:
        name = block.config.get("transaction") if block.type == "database" else None
        if not name:
            continue
        members, nested = groups.get(str(name), (set(), False))
        if block.parent is None:
            members.add(block.id)
        else:
            nested = True
        groups[str(name)] = (members, nested)
    return {k: (frozenset(m), n) for k, (m, n) in groups.items()}
