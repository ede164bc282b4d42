"""Runs: start, list, show, events, the live SSE stream, re-run."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Response, request, url_for

from blocks.manual import run_input_problems
from engine import pruned_keys, runstore
from engine._json import unstorable
from engine.database import server_unreachable
from engine.run_reads import EventsPage
from engine.triggers import NoTriggerChosen, started_by_hand
from ui import long_requests, webhooks
from ui import workflow_files as wf
from ui.api import bp, error, jresponse, json_body, runtime
from ui.app import bridge, settings
from ui.run_keys import keyed, refused, repeat_of, run_key

FINAL_EVENTS = frozenset({"run_succeeded", "run_failed", "run_cancelled"})
HEARTBEAT_S = 15.0

log = logging.getLogger("flowyard.ui")


def load_by_name(name: str) -> tuple[Any, Response | None]:
    path = wf.find(settings().workflows_dir, name) or wf.find_by_title(
        settings().workflows_dir, name
    )
    if path is None:
        return None, error(404, f"no workflow named {name!r}")
    return load_workflow(path)


def load_workflow(path: Any) -> tuple[Any, Response | None]:
    """The workflow in ``path``, or the 422 naming its problems."""
    from engine.model import WorkflowError

    try:
        return runtime().load_workflow(path), None
    except WorkflowError as exc:
        # The file by its name, as a save or validate names it: not the server's path.
        problems = [
            {**p.to_dict(), "file": Path(p.file).name if p.file else p.file} for p in exc.problems
        ]
        return None, error(422, "invalid workflow", problems=problems)


def run_input() -> tuple[dict[str, Any], Response | None]:
    """The body as a manual run's input: a JSON object (``{}`` when empty), whatever
    its Content-Type (curl's ``-d`` sends form-typed JSON), or the 400 to answer."""
    data, raw, refused = json_body()
    if refused is not None:
        return {}, refused
    if not isinstance(data, dict):
        return {}, error(400, "the run input must be a JSON object")
    # Refused here, not by the run's INSERT (a 500): a NUL or a lone surrogate.
    refused_why = unstorable(data, "the run input", raw)
    if refused_why:
        return {}, error(400, refused_why)
    return data, None


def _not_the_version_read(workflow: Any) -> Response | None:
    """The 412 for a run asked with ``If-Match`` (the editor's Run…: the version its
    page shows) when the workflow's file is no longer at that version: a `git pull`
    or another tab's save since, which would run what the page does not show."""
    from ui.api_workflows import stale_version

    return stale_version(Path(workflow.file)) if request.headers.get("If-Match") else None


def start_refused(workflow: Any) -> Response | None:
    """The 422 for a workflow a run by hand cannot tell where to start: several
    trigger blocks and no manual one (engine/triggers.py). No run is recorded. The
    reason is also its one problem: the editor lists a 422's problems to fix."""
    try:
        started_by_hand(workflow)
    except NoTriggerChosen as exc:
        return error(422, str(exc), problems=[str(exc)])
    return None


def input_refused(workflow: Any, data: dict[str, Any]) -> Response | None:
    """The 422 for an input the workflow's manual trigger's ``input_schema`` refuses:
    answered before any run is accepted, so none is recorded."""
    problems = run_input_problems(workflow, data)
    if problems:
        return error(422, "the input does not match the workflow's input_schema", problems=problems)
    return None


def run_links(execution_id: str) -> dict[str, str]:
    return {
        "status_url": url_for("api.get_run", execution_id=execution_id),
        "stream_url": url_for("api.stream_run", execution_id=execution_id),
        "run_url": url_for("pages.run_page", execution_id=execution_id),
    }


def _submit(workflow: Any, data: dict[str, Any], wait: bool) -> Response:
    try:  # an Idempotency-Key names one run (ui/run_keys.py)
        sub = bridge().call(runtime().submit(workflow, data, trigger="manual", **keyed(run_key())))
    except Exception as exc:
        if (answer := refused(exc)) is None:
            raise
        return answer
    eid, repeat = str(sub.execution_id), repeat_of(sub)
    if not wait or sub.pruned:  # a pruned run's result went with it
        return jresponse({"execution_id": eid, **run_links(eid), **repeat}, 202)
    result = wait_for_run(eid)
    if isinstance(result, Response):
        return result
    return jresponse({**result, **run_links(eid), **repeat}, 200)


def wait_for_run(eid: str) -> dict[str, Any] | Response:
    """The run's result, or the answer to give instead: 202 when every thread waits
    may hold is taken, 504 when the run is still going after a sync webhook's limit.

    A wait holds a server thread like a live stream; they share one cap, or requests
    waiting for a run nobody executes (`serve --no-worker`, no worker up) took every
    thread, and /api/health and webhooks stopped answering. Past the cap the run is
    accepted all the same and answered as without `wait` (202, poll status_url): a
    503 would have the caller retry a run that is already under way. So is a wait the
    stopping server ends (``EngineBridge.release_waits``): the run resumes at the next
    start, where a 500 (the wait cancelled) said it failed."""
    slot = long_requests.slots()
    if not slot.acquire(blocking=False):
        return jresponse({"execution_id": eid, **run_links(eid)}, 202)
    try:
        # Bounded like a sync webhook's wait; the run goes on, its status_url tells.
        return bridge().wait(runtime().wait(eid), timeout=webhooks.SYNC_TIMEOUT_S)
    except concurrent.futures.CancelledError:
        return jresponse({"execution_id": eid, **run_links(eid)}, 202)
    except TimeoutError:
        body = {"error": "the run did not finish in time", "execution_id": eid, **run_links(eid)}
        return jresponse(body, 504)
    finally:
        slot.release()


_WAIT_VALUES = ("", "0", "1", "false", "true", "no", "yes")


@bp.post("/workflows/<name>/runs")
def start_run(name: str) -> Response:
    """The JSON body is the run's input (``{}`` when empty); ``?wait=1`` waits for the result."""
    data, refused = run_input()
    if refused is not None:
        return refused
    workflow, err = load_by_name(name)
    if err is not None:
        return err
    refused = _not_the_version_read(workflow) or start_refused(workflow)
    refused = refused or input_refused(workflow, data)
    if refused is not None:
        return refused
    wait = request.args.get("wait", "").lower()
    if wait not in _WAIT_VALUES:
        return error(400, f"wait is 1 or 0 (true/false, yes/no), not {wait!r}")
    return _submit(workflow, data, wait in ("1", "true", "yes"))


@bp.get("/runs")
def list_runs() -> Response:
    status = request.args.get("status") or None
    if status is not None and status not in runstore.RUN_STATUSES:
        return error(400, f"status is one of {', '.join(sorted(runstore.RUN_STATUSES))}")
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        return error(400, "limit must be a number")
    if limit < 1:
        return error(400, "limit must be at least 1")
    limit = min(limit, 500)  # more is capped, as list APIs do
    before = request.args.get("before") or None
    if before is not None and not runstore.is_run_id(before):
        return error(400, "before is a run's execution_id (the last of the previous page)")
    workflow = request.args.get("workflow") or None
    refused = unstorable(workflow, "workflow")  # a NUL reached PostgreSQL: a 500
    if refused:
        return error(400, refused)
    try:
        runs = bridge().call(
            runtime().list_runs(workflow=workflow, status=status, limit=limit, before=before)
        )
    except runstore.NoSuchRun:
        # Not an empty page: a client paging on would take it for the end of the list.
        return error(
            400,
            f"before names no run ({before}): it may have been deleted by retention;"
            " list again from the newest (without before)",
        )
    files = _api_names()
    for run in runs:
        run["file"] = files.get(run.get("workflow"))
    body: dict[str, Any] = {"runs": runs}
    if len(runs) == limit:  # there may be older ones: ?before=<next_before>
        body["next_before"] = runs[-1]["execution_id"]
    return jresponse(body)


@bp.get("/runs/<execution_id>")
def get_run(execution_id: str) -> Response:
    if not runstore.is_run_id(execution_id):
        return error(404, f"no run {execution_id!r}")
    reading = runtime().run_result(execution_id)
    result = bridge().call(reading, settings().read_timeout, what="reading the run")
    if result is None:
        return _no_run(execution_id)
    # The stored record's `file` is the path the run was started from (the server's,
    # absolute for a webhook run): said as the list says it instead.
    result["file"] = _api_names().get(result.get("workflow"))
    return jresponse(result)


def _no_run(execution_id: str) -> Response:
    """404; or 410 for a run retention pruned whose delivery's key it kept: the
    status_url a resend of that delivery is answered with (engine/pruned_keys.py)."""
    when = bridge().call(pruned_keys.pruned_at(runtime().db.log_pool, execution_id))
    if when is None:
        return error(404, f"no run {execution_id!r}")
    said = f"run {execution_id!r} was pruned by retention (FLOWYARD_RUN_RETENTION)"
    return error(410, said, pruned=True, pruned_at=when.isoformat())


def _api_names() -> dict[str, str]:
    """A run's `file`, by the workflow name runs record (its `name:`): the name the API
    and the editor address its file by now (`/api/workflows/<file>`, `/editor/<file>`),
    so a run of a file since renamed links to where it is."""
    return {wf.summary(p)["title"]: p.stem for p in wf.list_files(settings().workflows_dir)}


def _after() -> int | Response:
    """The seq to answer events after: ``Last-Event-ID``, else ``?after=`` (none: 0).

    A non-integer ``after`` is a 400, as a bad ``limit`` is: starting from 0 answered
    another page than the one asked for, without a word. ``Last-Event-ID`` stays
    lenient (a bad one is ignored): the browser's EventSource sends it by itself on a
    reconnect, and a 400 would end the live view for good (it does not retry after
    an error status), where replaying from ``after`` only repeats events."""
    header = request.headers.get("Last-Event-ID")
    if header:
        try:
            return _seq(int(header))
        except ValueError:
            pass
    raw = request.args.get("after") or "0"
    try:
        return _seq(int(raw))
    except ValueError:
        return error(400, f"after is a run event's seq, a whole number, not {raw!r}")


def _seq(after: int) -> int:
    """``after`` within a seq's range: past the last seq a run can have (an INTEGER
    column) there are no events, where the value itself was a 500 from the driver."""
    return min(max(0, after), 2**31 - 1)


@bp.get("/runs/<execution_id>/events")
def get_run_events(execution_id: str) -> Response:
    if not runstore.is_run_id(execution_id):
        return error(404, f"no run {execution_id!r}")
    after = _after()
    if isinstance(after, Response):
        return after
    page = EVENTS_PAGE
    events, more, _ = bridge().call(runtime().run_events_page(execution_id, after, page))
    pool = runtime().db.log_pool
    if not events and bridge().call(runstore.run_status(pool, execution_id)) is None:
        return error(404, f"no run {execution_id!r}")
    body: dict[str, Any] = {"events": events}
    if more:  # a full page, or 8 MiB of data: ask again with ?after=<next_after>
        body["next_after"] = events[-1]["seq"]
    return jresponse(body)


#: Events per answer of /events and per read of the stream (a long run is paged).
EVENTS_PAGE = 10_000


def _sse(event: dict[str, Any]) -> str:
    payload = json.dumps(event, default=str, ensure_ascii=False)
    return f"id: {event.get('seq', '')}\nevent: run_event\ndata: {payload}\n\n"


def _read_past(page: EventsPage, after: int) -> str:
    """A ``read_to`` event when the page read past events it did not give (a stream of
    the first iterations only), else nothing: a page reopening the stream from its
    last event would read them again, and a stream answered at once (every slot held)
    would never get past them."""
    sent = int(page.events[-1]["seq"]) if page.events else after
    if page.last_seq <= sent:
        return ""
    return f"event: read_to\ndata: {json.dumps({'seq': page.last_seq})}\n\n"


def _iterations() -> int | None | Response:
    """``?iterations=N``: the events of each container's first N iterations only, and
    failures wherever they are (the run viewer shows no more than that)."""
    raw = request.args.get("iterations")
    if raw is None:
        return None
    digits = raw.lstrip("0")
    if not raw.isascii() or not raw.isdigit() or not digits:
        return error(400, f"iterations is a whole number of iterations from 1, not {raw!r}")
    # More than any loop has is every iteration: int() refuses more than 4300
    # digits, and PostgreSQL's bigint parameter anything from 2**63.
    return int(digits) if len(digits) <= 18 else 2**62


@bp.get("/runs/<execution_id>/stream")
def stream_run(execution_id: str) -> Response:
    """Server-sent events: every run event after ``Last-Event-ID``/``after``, in order.

    It polls the append-only event log (~100 ms) rather than holding a database
    listener per client: simple, and the log is the single source of truth. The
    stream ends with an ``end`` event after the run's final event, and is closed
    without one when the server stops (the browser reconnects from the last event).
    """
    b, rt, poll = bridge(), runtime(), settings().stream_poll
    pool = rt.db.log_pool
    if (
        not runstore.is_run_id(execution_id)
        or b.call(runstore.run_status(pool, execution_id)) is None
    ):
        return error(404, f"no run {execution_id!r}")
    after = _after()
    if isinstance(after, Response):
        return after
    iterations = _iterations()
    if isinstance(iterations, Response):
        return iterations

    def generate() -> Iterator[str]:
        try:
            yield from held_or_polled()
        except Exception as exc:
            if not server_unreachable(exc):
                raise
            # Ended as a stopping server ends it, not cut mid-answer (a traceback here, a
            # broken response there): the page reopens it from its last event (run.js).
            log.warning("run stream %s ended: database unavailable: %r", execution_id, exc)

    def held_or_polled() -> Iterator[str]:
        slot = long_requests.slots()
        if not slot.acquire(blocking=False):
            # Every thread streams and waits may hold is held: answer with what there is now and
            # close; the browser reconnects after `retry` from the last event it got.
            # Viewers then poll, and webhooks keep their threads.
            yield "retry: 2000\n\n"
            page = b.call(rt.run_events_page(execution_id, after, EVENTS_PAGE, iterations))
            yield from map(_sse, page.events)
            if any(ev.get("type") in FINAL_EVENTS for ev in page.events):
                yield "event: end\ndata: {}\n\n"
            else:
                yield _read_past(page, after)
            return
        try:
            yield from follow()
        finally:
            slot.release()

    def follow() -> Iterator[str]:
        last, beat = after, time.monotonic()
        yield "retry: 1000\n\n"
        while not b.stopping.is_set():
            page = b.call(rt.run_events_page(execution_id, last, EVENTS_PAGE, iterations))
            for ev in page.events:
                yield _sse(ev)
                if ev.get("type") in FINAL_EVENTS:
                    yield "event: end\ndata: {}\n\n"
                    return
            if page.last_seq > last:
                yield _read_past(page, last)
                last = page.last_seq
            else:
                # A run finished before we subscribed past its final event. Its status
                # alone: re-reading a long run's whole log every poll would not scale.
                status = b.call(runstore.run_status(pool, execution_id))
                if status in runstore.FINAL_STATUSES and last > 0:
                    tail = b.call(rt.run_events(execution_id, after=last, limit=1))
                    if not tail:
                        yield "event: end\ndata: {}\n\n"
                        return
                if time.monotonic() - beat > HEARTBEAT_S:
                    beat = time.monotonic()
                    yield ": keep-alive\n\n"
                # Woken at once when the server stops: waitress waits for this thread.
                b.stopping.wait(poll)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return Response(generate(), mimetype="text/event-stream", headers=headers)
