"""The ``flowyard`` command line.

It lives in ``ui/`` because it is the application layer: it wires the engine,
the block types and (for ``serve``) the Flask app together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine import runstore
from engine.database import embedded_url, stop_embedded
from engine.model import WorkflowError
from engine.retention import parse_duration, prune
from engine.runtime import Runtime
from ui.cli_workflows import cmd_validate, missing_file, read_input


def _workflows_dir(args: argparse.Namespace) -> Path:
    return Path(
        getattr(args, "workflows", None) or os.environ.get("FLOWYARD_WORKFLOWS") or "workflows"
    )


def _with_runtime(
    args: argparse.Namespace, body: Callable[[Runtime], Awaitable[int]], resume: bool = True
) -> int:
    async def main() -> int:
        rt = Runtime(
            _workflows_dir(args), os.environ.get("DATABASE_URL"), Path.cwd(), resume=resume
        )
        await rt.start()
        try:
            code = await body(rt)
            await rt.drain()  # runs resumed at start finish before we exit
            return code
        finally:
            await rt.close()

    return asyncio.run(main())


def cmd_run(args: argparse.Namespace) -> int:
    # Warnings (a `name:` two files share) on stderr, one line each, without a
    # timestamp; `serve` and `worker` set up their own logging.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        payload = read_input(args.input)
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, or a file that is not UTF-8
        print(f"flowyard run: bad --input: {exc}", file=sys.stderr)
        return 2
    missing = missing_file(args.workflow)
    if missing:
        print(missing, file=sys.stderr)
        return 1

    async def body(rt: Runtime) -> int:
        try:
            wf = rt.load_workflow(args.workflow)
        except WorkflowError as exc:
            print(exc, file=sys.stderr)
            return 1
        rt.workflows.say_shared_name(wf)  # which file runs, when another has its name:
        result = await rt.execute(wf, payload)
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        else:
            _print_blocks(result["blocks"])
            print(f"\nrun {result['execution_id']} {result['status']}")
            if result["error"]:
                print(f"error: {result['error']['message']} (block {result['error'].get('block')})")
            print(json.dumps(result["output"], indent=2, default=str))
        return 0 if result["status"] == "succeeded" else 1

    return _with_runtime(args, body)


def _fmt_ms(ms: Any) -> str:
    return f"{ms:.1f} ms" if isinstance(ms, (int, float)) else "-"


def _print_blocks(blocks: dict[str, dict[str, Any]]) -> None:
    width = max([len(b) for b in blocks] + [5])
    print(f"{'block':<{width}}  {'status':<10} {'duration':>10}  attempts  error")
    for bid, rec in blocks.items():
        err = (rec.get("error") or {}).get("message", "") if rec.get("error") else ""
        if rec.get("rolled_back"):
            err = f"(rolled back with its transaction) {err}".rstrip()
        print(
            f"{bid:<{width}}  {rec['status']:<10} {_fmt_ms(rec.get('duration_ms')):>10}  {rec.get('attempts', 0):>8}  {err[:80]}"
        )


def cmd_runs(args: argparse.Namespace) -> int:
    async def body(rt: Runtime) -> int:
        if args.action == "show":
            result = await rt.run_result(args.id)
            if result is None:
                print(f"no run {args.id}", file=sys.stderr)
                return 1
            events = await rt.run_events(args.id)
            print(f"run {result['execution_id']}  {result['workflow']}  {result['status']}")
            print(f"started {result['started_at']}  finished {result['finished_at']}\n")
            # Every top-level block (those not started: pending), each followed by its paths.
            every = runstore.blocks_from_events(events, top_level_only=False)
            _print_blocks(runstore.with_paths_inside(result["blocks"], every))
            if result["error"]:
                print(f"\nerror: {result['error']['message']}")
            return 0
        if args.action == "cancel":
            status = await rt.request_cancel(args.id)
            if status not in ("cancelling", "cancelled"):
                said = "no such run" if status is None else f"the run already {status}"
                print(f"flowyard runs cancel: {args.id}: {said}", file=sys.stderr)
                return 1
            print(f"{args.id} {status}")
            return 0
        if args.action == "prune":
            runs, events = await prune(rt.db.log_pool, parse_duration(args.older_than))
            print(f"pruned {runs} runs ({events} run events) older than {args.older_than}")
            return 0
        if args.action == "resume":
            resumed = await rt.resume_unfinished(args.id)
            await rt.drain()
            for eid in resumed:
                print(f"{eid} {(await rt.run_result(eid))['status']}")
            if args.id and not resumed:
                return await _not_resumed(rt, args.id)
            return 0
        for r in await rt.list_runs(args.workflow, args.status, args.limit):
            print(f"{r['execution_id']}  {r['status']:<10} {r['workflow']:<30} {r['created_at']}")
        return 0

    return _with_runtime(
        args, body, resume=False
    )  # `runs resume` claims runs itself, to report them


async def _not_resumed(rt: Runtime, execution_id: str) -> int:
    """Why `runs resume ID` left the run alone (exit 1): silence would read as
    "resumed" to an operator, while the run may belong to a live process."""
    row = await runstore.fetch_run_row(rt.db.log_pool, execution_id)
    if row is None:
        why = "no such run"
    elif row["status"] not in ("queued", "running"):
        why = f"it already ended ({row['status']})"
    else:
        why = (
            f"it is {row['status']} and owned by a live process ({row['owner'] or 'its queue job'})"
        )
    print(f"{execution_id} not resumed: {why}", file=sys.stderr)
    return 1


def cmd_db(args: argparse.Namespace) -> int:
    if args.action in ("url", "start"):
        url = os.environ.get("DATABASE_URL") or embedded_url(Path.cwd())
        print(url)
        return 0
    if args.action == "stop":
        print("stopped" if stop_embedded(Path.cwd()) else "not running")
        return 0

    async def body(rt: Runtime) -> int:  # init: flowyard's tables (on start) + template schemas
        import templates

        for path in await templates.apply_schemas_in(rt.db.pool):
            print(f"applied {path}")
        return 0

    return _with_runtime(args, body, resume=False)


def cmd_templates(args: argparse.Namespace) -> int:
    import templates

    for t in templates.list_templates():
        print(f"{t['id']:<28} {t['name']}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    import templates

    try:
        made = templates.copy_template(args.template, _workflows_dir(args), args.name)
    except (KeyError, FileExistsError, ValueError) as exc:
        print(f"flowyard new: {exc}", file=sys.stderr)
        return 1
    print(f"created {made.path}")
    # What differs from the template (so the copy clashes with no other file), and
    # where it answers: a user copying beside the original must POST elsewhere.
    for c in made.changes:
        now = f"named {c.now!r}" if c.block is None else f"block {c.block!r} is on {c.now}"
        print(f"  {c.message}: in the copy, {now}")
    for _block, method, hook in made.webhooks:
        print(f"  webhook: {method} /webhooks/{hook}")

    async def body(rt: Runtime) -> int:  # its tables too, so the template runs right away
        await templates.apply_schemas_in(rt.db.pool)
        return 0

    return _with_runtime(args, body, resume=False)


def cmd_worker(args: argparse.Namespace) -> int:
    """A worker process: runs queued jobs (and resumes runs of dead processes) until SIGTERM."""
    from ui.logs import configure_logging

    configure_logging(args.log_format)

    async def main() -> int:
        rt = Runtime(_workflows_dir(args), os.environ.get("DATABASE_URL"), Path.cwd(), queue=True)
        await rt.start()
        stop = _stop_on_signals()
        print(
            f"flowyard worker {rt.owner}: working the queue (concurrency {args.concurrency})",
            flush=True,
        )
        from blocks.schedule import run_scheduler

        # Every worker evaluates the schedules; a tick's idempotency key makes it run once.
        scheduler = asyncio.create_task(run_scheduler(rt, stop))
        try:
            await rt.work(args.concurrency, stop)
            await scheduler
        finally:
            await rt.close()
        return 0

    return asyncio.run(main())


def cmd_engine(args: argparse.Namespace) -> int:
    """The engine process of `serve --engine-process`: runs what the web process hands it."""
    from engine.handoff import take_handoffs
    from ui.logs import configure_logging

    configure_logging(args.log_format)

    async def main() -> int:
        rt = Runtime(_workflows_dir(args), os.environ.get("DATABASE_URL"), Path.cwd())
        rt.notify_finish = True
        await rt.start()
        stop = _stop_on_signals()
        taking = asyncio.create_task(take_handoffs(rt))
        orphaned = asyncio.create_task(_when_orphaned(stop))
        print(f"engine {rt.owner}", flush=True)  # tells the web process it is running
        try:
            await stop.wait()
        finally:
            for task in (taking, orphaned):
                task.cancel()
            await asyncio.gather(taking, orphaned, return_exceptions=True)
            await rt.close()  # runs in flight are left to resume, as on any stop
        return 0

    return asyncio.run(main())


def _stop_on_signals() -> asyncio.Event:
    """An event SIGINT or SIGTERM sets, so a process can finish its work and close."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _when_orphaned(stop: asyncio.Event) -> None:
    """Stop when the web process that started us is gone (killed without telling us):
    an engine process nobody hands runs to must not keep claiming them."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    stop.set()


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.server import serve

    serve(
        args.host,
        args.port,
        _workflows_dir(args),
        Path.cwd(),
        worker=not args.no_worker,
        concurrency=args.concurrency,
        log_format=args.log_format,
        engine_process=args.engine_process,
    )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import blocks  # noqa: F401
    from engine.schema import workflow_schema

    print(json.dumps(workflow_schema(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowyard", description="Run workflows of blocks kept as YAML files."
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the editor, API and webhooks")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--workflows")
    s.add_argument(
        "--no-worker",
        action="store_true",
        help="accept runs into the queue; `flowyard worker` runs them",
    )
    s.add_argument(
        "--concurrency", type=int, default=32, help="queued runs the in-process worker runs at once"
    )
    s.add_argument(
        "--engine-process",
        action="store_true",
        help="run workflows in a second process (uses two cores; see docs/deploy.md)",
    )
    s.add_argument("--log-format", choices=["text", "json"], default="text")
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("run", help="run a workflow and print its result")
    s.add_argument("workflow", help="a workflow file or a name in the workflows folder")
    s.add_argument("--input", help="JSON, or @file.json")
    s.add_argument("--json", action="store_true", help="print the run result as JSON")
    s.add_argument("--workflows")
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser("validate", help="validate workflow files; print every problem")
    s.add_argument("files", nargs="+")
    s.set_defaults(fn=cmd_validate)

    s = sub.add_parser("runs", help="list runs, show one, resume or cancel unfinished ones")
    s.add_argument(
        "action", nargs="?", choices=["list", "show", "resume", "cancel", "prune"], default="list"
    )
    s.add_argument("id", nargs="?")
    s.add_argument("--workflow")
    s.add_argument("--status")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--older-than", default="30d", help="for prune: e.g. 7d, 12h")
    s.add_argument("--workflows")
    s.set_defaults(fn=cmd_runs)

    s = sub.add_parser("worker", help="execute queued runs (scale-out; see docs/deploy.md)")
    s.add_argument("--concurrency", type=int, default=16)
    s.add_argument("--log-format", choices=["text", "json"], default="text")
    s.add_argument("--workflows")
    s.set_defaults(fn=cmd_worker)

    s = sub.add_parser("engine", help="the engine process of `serve --engine-process`")
    s.add_argument("--log-format", choices=["text", "json"], default="text")
    s.add_argument("--workflows")
    s.set_defaults(fn=cmd_engine)

    s = sub.add_parser("db", help="the database: init (template schemas), url, start, stop")
    s.add_argument("action", choices=["init", "url", "start", "stop"])
    s.add_argument("--workflows")
    s.set_defaults(fn=cmd_db)

    s = sub.add_parser("templates", help="list the shipped templates")
    s.set_defaults(fn=cmd_templates)

    s = sub.add_parser("new", help="copy a template into the workflows folder")
    s.add_argument("template")
    s.add_argument("name", nargs="?")
    s.add_argument("--workflows")
    s.set_defaults(fn=cmd_new)

    s = sub.add_parser("schema", help="print the workflow JSON Schema")
    s.set_defaults(fn=cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "runs" and args.action in ("show", "cancel") and not args.id:
        print(f"flowyard runs {args.action}: give a run id", file=sys.stderr)
        return 2
    if args.command == "runs" and args.action in ("show", "cancel", "resume") and args.id:
        try:  # run ids are UUIDs; the database refuses others with a traceback
            uuid.UUID(args.id)
        except ValueError:
            print(f"no run {args.id}", file=sys.stderr)
            return 1
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
