"""What the runtime answers about runs: their results, logs and lists, and the wait
for a run's end wherever it executes.

A mixin of :class:`engine.runtime.Runtime`, kept apart so the facade stays short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple

from engine import runstore
from engine.handoff import FinishWatcher
from engine.inflight import InFlight
from engine.model import Workflow, WorkflowError
from engine.runstore import FINAL_STATUSES

#: The characters of event data one page of a run's log holds at most (one event
#: larger than that is a page of its own).
PAGE_CHARS = 8 * 1024 * 1024

#: Whether an event is given when only the first ``$5`` iterations of each container
#: are asked for: the run's own events, a failure wherever it is, and a block's events
#: when every iteration index in its path (`fold[3].add`) is below ``$5``; every
#: event when ``$5`` is NULL.
_SHOWN = (
    "($5::bigint IS NULL OR block IS NULL OR type = 'block_failed' OR NOT EXISTS"
    " (SELECT 1 FROM regexp_matches(block, '\\[([0-9]+)\\]', 'g') AS m(i)"
    " WHERE m.i[1]::numeric >= $5))"
)

#: A page of a run's events (RunReads.run_events_page): the data of an event not
#: shown is not read, and counts nothing toward PAGE_CHARS.
_PAGE = (
    "SELECT seq, type, block, data, at, shown, scanned FROM (SELECT *, count(*) OVER ()"
    " AS scanned, sum(coalesce(octet_length(data::text), 0)) OVER (ORDER BY seq)"
    " - coalesce(octet_length(data::text), 0) AS before FROM (SELECT seq, type, block, at,"
    f" shown, CASE WHEN shown THEN data END AS data FROM (SELECT *, {_SHOWN} AS shown"
    " FROM flowyard_run_events WHERE execution_id = $1::uuid AND seq > $2 ORDER BY seq"
    " LIMIT $3) scan) page) sized WHERE before < $4 ORDER BY seq"
)


class EventsPage(NamedTuple):
    events: list[dict[str, Any]]
    more: bool  # a full page, or PAGE_CHARS of data: there may be more after it
    last_seq: int  # the last event read, given or not: where the next page starts


#: The fields of an event's data a block table shows (runstore.blocks_from_events).
OUTLINED = ("attempt", "attempts", "duration_ms", "error", "port", "blocks")


class RunReads:
    # Set by Runtime (engine/runtime.py).
    db: Any
    finished: FinishWatcher | None
    _runs: InFlight
    load_workflow: Callable[..., Workflow]

    async def wait(self, execution_id: str, timeout: float | None = None) -> dict[str, Any]:
        """The run's result once it ended, in the SPEC's shape whether this process
        ran it or another did (`serve --engine-process`, a worker): its stored record."""
        task = self._runs.tasks.get(execution_id)
        run = None
        if task is not None:
            run = await asyncio.wait_for(self._runs.result(execution_id, task), timeout)
        if run is None:  # executed elsewhere, or cancelled before it began
            run = await self._stored_end(execution_id, timeout)
        return runstore.waited_result(run)

    async def _stored_end(self, execution_id: str, timeout: float | None) -> dict[str, Any]:
        """The run's result once its log says it ended (another process executes it)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            # Registered before the status is read: an end announced meanwhile still wakes us.
            ended = self.finished.expect(execution_id) if self.finished else None
            result = await self.run_result(execution_id)
            if result is None:
                raise KeyError(f"no run {execution_id}")
            if result["status"] in FINAL_STATUSES:
                return result
            if deadline is not None and loop.time() > deadline:
                raise TimeoutError(f"run {execution_id} is still {result['status']}")
            if ended is None:
                await asyncio.sleep(0.1)
            else:  # a missed NOTIFY (a reconnect) costs a second, not the answer
                await asyncio.wait({ended}, timeout=1.0)
                ended.cancel()

    async def run_result(self, execution_id: str, outline: bool = False) -> dict[str, Any] | None:
        return await runstore.run_result(self.db.log_pool, execution_id, outline)

    async def run_events(
        self, execution_id: str, after: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return await runstore.fetch_events(self.db.log_pool, execution_id, after, limit)

    async def run_events_page(
        self, execution_id: str, after: int, limit: int, iterations: int | None = None
    ) -> EventsPage:
        """Up to ``limit`` events after ``after``, and as many as PAGE_CHARS of their
        data hold (always one at least); and whether there may be more. Ten thousand
        events of a loop whose body returns 100 KB were one 300 MB answer, ~1 GB of
        the server's memory for each run viewer or client paging it.

        With ``iterations``, only the events of each container's first ``iterations``
        iterations are given (:data:`_SHOWN`), the others read past without their
        data: the run viewer's (ui/static/js/run.js)."""
        rows = await self.db.log_pool.fetch(
            _PAGE, execution_id, after, limit, PAGE_CHARS, iterations
        )
        more = bool(rows) and (rows[0]["scanned"] == limit or len(rows) < rows[0]["scanned"])
        shown = [runstore.event(r) for r in rows if r["shown"]]
        return EventsPage(shown, more, rows[-1]["seq"] if rows else after)

    async def run_event_outlines(
        self, execution_id: str, after: int, limit: int
    ) -> list[dict[str, Any]]:
        """A page of the run's events with only what a block table shows of their
        data (no inputs, no outputs): `runs show` of a loop of 300,000 iterations read
        its whole log, ~1 GB, to print a line per path."""
        rows = await self.db.log_pool.fetch(
            "SELECT seq, type, block, json_strip_nulls(json_build_object("
            + ", ".join(f"'{k}', data->'{k}'" for k in OUTLINED)
            + ")) AS data, at FROM flowyard_run_events WHERE execution_id = $1::uuid"
            " AND seq > $2 ORDER BY seq LIMIT $3",
            execution_id,
            after,
            limit,
        )
        return [dict(r) for r in rows]

    async def list_runs(
        self,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        """Runs, newest first; ``workflow`` may be its `name:` or its file name."""
        names = None
        if workflow is not None:
            names = [workflow]
            try:
                names.append(self.load_workflow(workflow).name)
            except WorkflowError:
                pass  # runs of a workflow whose file is gone are still listed by name
        return await runstore.list_runs(self.db.log_pool, names, status, limit, before)
