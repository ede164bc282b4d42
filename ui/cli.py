"""The ``flowyard`` command line.

It lives in ``ui/`` because it is the application layer: it wires the engine,
the block types and (for ``serve``) the Flask app together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from engine._loop import run as run_loop
from engine.database import embedded_url, stop_embedded
from engine.embedded_paths import EmbeddedPathError
from engine.migrations import NewerSchema
from engine.privileges import Needs
from engine.queue import ensure_schema
from engine.runtime import Runtime
from ui.cli_arguments import bad_address, bad_concurrency, bad_serve_modes
from ui.cli_runs import (
    add_runs_parser,
    bad_workflows_dir,
    cmd_run,
    with_runtime,
    workflows_dir,
)
from ui.cli_workflows import cmd_validate
from ui.config import check_start_settings, max_active_runs, require_database, shutdown_grace


def cmd_db(args: argparse.Namespace) -> int:
    if args.action in ("start", "stop") and os.environ.get("DATABASE_URL"):
        # Every command then uses DATABASE_URL, never the embedded server: `start`
        # printed that URL and started nothing, while `stop` stopped the embedded
        # one anyway. Both say so now, rather than report a success that changes
        # nothing (start) or cut a server the operator did not mean (stop).
        print(
            f"flowyard db {args.action}: DATABASE_URL is set, so the workspace's embedded"
            f" PostgreSQL is not used; `db {args.action}` manages only that one (unset"
            " DATABASE_URL to use it)",
            file=sys.stderr,
        )
        return 1
    if args.action in ("url", "start"):
        try:
            url = os.environ.get("DATABASE_URL") or embedded_url(Path.cwd())
        except EmbeddedPathError as exc:
            print(f"flowyard db {args.action}: {exc}", file=sys.stderr)
            return 1
        print(url)
        return 0
    if args.action == "stop":
        print("stopped" if stop_embedded(Path.cwd()) else "not running")
        return 0

    import templates

    async def body(rt: Runtime) -> int:  # init: flowyard's tables (on start) + template schemas
        # The queue's tables too: a user that may only write rows cannot create them
        # at its first `serve` or `worker` (engine/privileges.py).
        await ensure_schema(rt.db.log_pool)
        for path in await templates.apply_schemas_in(rt.db.pool):
            print(f"applied {path}")
        return 0

    needs = Needs("db init", queue=True, tables=templates.template_tables())
    return with_runtime(args, body, resume=False, needs=needs)


def cmd_templates(args: argparse.Namespace) -> int:
    import templates

    for t in templates.list_templates():
        print(f"{t['id']:<28} {t['name']}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    import templates

    bad = bad_workflows_dir(args)
    if bad:
        print(f"flowyard new: {bad}", file=sys.stderr)
        return 2
    # Checked before copying: a copy without its tables fails on its first run
    # ("relation does not exist") with nothing saying `db init` is missing.
    url = require_database("new", Path.cwd(), Needs("new", tables=templates.template_tables()))
    try:
        made = templates.copy_template(args.template, workflows_dir(args), args.name)
    except (KeyError, FileExistsError, ValueError, templates.CopyNotWritten) as exc:
        print(f"flowyard new: {exc}", file=sys.stderr)
        return 1
    print(f"created {made.path}")
    # What differs from the template (so the copy clashes with no other file, or a
    # lib/ file the user edited was kept), and where it answers: a user copying
    # beside the original must POST elsewhere.
    for c in made.changes:
        print(f"  {c.said()}")
    for _block, method, hook in made.webhooks:
        print(f"  webhook: {method} /webhooks/{hook}")

    async def body(rt: Runtime) -> int:  # its tables too, so the template runs right away
        await templates.apply_schemas_where_allowed(rt.db.pool)
        return 0

    return with_runtime(args, body, resume=False, database_url=url)


def worker_runtime(workflows: Path, url: str, workspace: Path, concurrency: int) -> Runtime:
    """A worker's runtime: ``concurrency`` bounds the runs it takes over from dead
    processes too, not only procrastinate's jobs — both execute in its one event loop."""
    return Runtime(workflows, url, workspace, queue=True, max_active_runs=concurrency)


def cmd_worker(args: argparse.Namespace) -> int:
    """A worker process: runs queued jobs (and resumes runs of dead processes) until SIGTERM."""
    from ui.logs import configure_logging, say_stopped, say_stopping

    bad = bad_concurrency(args.concurrency) or bad_workflows_dir(args)
    if bad:
        print(f"flowyard worker: {bad}", file=sys.stderr)
        return 2
    concurrency = int(args.concurrency)
    configure_logging(args.log_format)
    check_start_settings("worker")
    url = require_database("worker", Path.cwd(), Needs("worker", queue=True))

    async def main() -> int:
        rt = worker_runtime(workflows_dir(args), url, Path.cwd(), concurrency)
        await rt.start()
        stop = _stop_on_signals(lambda: say_stopping(rt.runs_in_flight, None))
        print(
            f"flowyard worker {rt.owner}: working the queue (concurrency {concurrency})",
            flush=True,
        )
        from blocks.schedule import run_scheduler

        # Every worker evaluates the schedules; a tick's idempotency key makes it run once.
        scheduler = asyncio.create_task(run_scheduler(rt, stop))
        try:
            await rt.work(concurrency, stop)
            await scheduler
        finally:
            await rt.close()  # names the runs it interrupts (resumed ones, not jobs)
            say_stopped()
        return 0

    return run_loop(main())


def cmd_engine(args: argparse.Namespace) -> int:
    """The engine process of `serve --engine-process`: runs what the web process hands it."""
    from engine.handoff import take_handoffs
    from ui.logs import configure_logging, say_stopped, say_stopping

    configure_logging(args.log_format)

    async def main() -> int:
        rt = Runtime(
            workflows_dir(args),
            os.environ.get("DATABASE_URL"),
            Path.cwd(),
            max_active_runs=max_active_runs(),
        )
        rt.notify_finish = True
        await rt.start()
        grace = shutdown_grace()
        stop = _stop_on_signals(lambda: say_stopping(rt.runs_in_flight, grace))
        taking = asyncio.create_task(take_handoffs(rt))
        orphaned = asyncio.create_task(_when_orphaned(stop))
        print(f"engine {rt.owner}", flush=True)  # tells the web process it is running
        try:
            await stop.wait()
        finally:
            for task in (taking, orphaned):
                task.cancel()
            await asyncio.gather(taking, orphaned, return_exceptions=True)
            await rt.close(grace)  # then what is still going is named, left to resume
            say_stopped()
        return 0

    return run_loop(main())


def _stop_on_signals(say: Callable[[], None]) -> asyncio.Event:
    """An event SIGINT or SIGTERM sets, so a process can finish its work and close;
    ``say`` logs the stop at the signal (on the loop, not in a signal handler)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        say()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping)
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

    bad = (
        bad_address(args.host, args.port)
        or bad_concurrency(args.concurrency)
        or bad_workflows_dir(args)
    )
    bad = bad or bad_serve_modes(args.no_worker, args.engine_process)
    if bad:
        print(f"flowyard serve: {bad}", file=sys.stderr)
        return 2
    serve(
        args.host,
        int(args.port),
        workflows_dir(args),
        Path.cwd(),
        worker=not args.no_worker,
        concurrency=int(args.concurrency),
        log_format=args.log_format,
        engine_process=args.engine_process,
    )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import blocks  # noqa: F401
    from engine.schema import workflow_schema

    print(json.dumps(workflow_schema(), indent=2))
    return 0


WORKFLOWS_HELP = "the folder of workflow files (default: $FLOWYARD_WORKFLOWS, else ./workflows)"


def _add_log_format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="log lines as text or as JSON objects (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowyard", description="Run workflows of blocks kept as YAML files."
    )
    p.add_argument("--version", action="version", version=f"flowyard {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser(
        "serve",
        help="serve the editor, API and webhooks",
        description="Serve the editor, the API and webhooks (settings: docs/deploy.md).",
    )
    s.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    # --port and --concurrency are strings when given: cmd_serve checks them, in one line.
    s.add_argument("--port", default=8080, help="port to listen on (default: %(default)s)")
    s.add_argument("--workflows", metavar="DIR", help=WORKFLOWS_HELP)
    s.add_argument(
        "--no-worker",
        action="store_true",
        help="accept runs into the queue; `flowyard worker` runs them",
    )
    s.add_argument(
        "--concurrency",
        default=32,
        help="runs the in-process worker executes at once (default: %(default)s)",
    )
    s.add_argument(
        "--engine-process",
        action="store_true",
        help="run workflows in a second process (uses two cores; see docs/deploy.md)",
    )
    _add_log_format(s)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("run", help="run a workflow and print its result")
    s.add_argument("workflow", help="a workflow file or a name in the workflows folder")
    s.add_argument("--input", help="JSON, or @file.json, or - (or @-) to read it from stdin")
    s.add_argument("--json", action="store_true", help="print the run result as JSON")
    s.add_argument("--workflows", metavar="DIR", help=WORKFLOWS_HELP)
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser("validate", help="validate workflow files; print every problem")
    s.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="a workflow file (.yaml, .yml, .json) or a folder of them",
    )
    s.set_defaults(fn=cmd_validate)

    add_runs_parser(sub, WORKFLOWS_HELP)

    s = sub.add_parser("worker", help="execute queued runs (scale-out; see docs/deploy.md)")
    s.add_argument(  # a string when given: cmd_worker checks it, in one line
        "--concurrency", default=16, help="runs this worker executes at once (default: %(default)s)"
    )
    _add_log_format(s)
    s.add_argument("--workflows", metavar="DIR", help=WORKFLOWS_HELP)
    s.set_defaults(fn=cmd_worker)

    s = sub.add_parser("engine", help="the engine process of `serve --engine-process`")
    _add_log_format(s)
    s.add_argument("--workflows", metavar="DIR", help=WORKFLOWS_HELP)
    s.set_defaults(fn=cmd_engine)

    s = sub.add_parser("db", help="the database: init (template schemas), url, start, stop")
    s.add_argument(
        "action",
        choices=["init", "url", "start", "stop"],
        help="init: create the templates' tables; url: print the database URL; start, stop:"
        " the embedded PostgreSQL of this workspace",
    )
    s.add_argument("--workflows", metavar="DIR", help=WORKFLOWS_HELP)
    s.set_defaults(fn=cmd_db)

    s = sub.add_parser("templates", help="list the shipped templates")
    s.set_defaults(fn=cmd_templates)

    s = sub.add_parser("new", help="copy a template into the workflows folder")
    s.add_argument("template", help="a template id, as `flowyard templates` lists them")
    s.add_argument("name", nargs="?", help="the copy's workflow name (default: the template id)")
    s.add_argument("--workflows", metavar="DIR", help=WORKFLOWS_HELP)
    s.set_defaults(fn=cmd_new)

    s = sub.add_parser("schema", help="print the workflow JSON Schema")
    s.set_defaults(fn=cmd_schema)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flowyard")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


#: The exit code of a command whose output was cut (`flowyard runs | head -3`): 128 +
#: SIGPIPE, what a shell reports for `cat` stopped by `head` (and `set -o pipefail`
#: treats alike).
OUTPUT_CLOSED = 141


def main(argv: list[str] | None = None) -> int:
    args = None
    try:
        args = build_parser().parse_args(argv)
        code = int(args.fn(args) or 0)
        sys.stdout.flush()  # what is still buffered can find the reader gone too
    except NewerSchema as exc:
        # A newer release migrated the database after the start-up check
        # (require_database), or a command without it (`engine`): one line, as there.
        print(f"flowyard {args.command if args else ''}: {exc}", file=sys.stderr, flush=True)
        return 1
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # another pipe (a peer's socket): not ours to hide
        # Python flushes stdout again on exit: point it at /dev/null, or that flush
        # prints "Exception ignored … BrokenPipeError" after all.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OUTPUT_CLOSED
    return code


def _stdout_closed() -> bool:
    """Whether standard output is a pipe nobody reads any more."""
    import select

    if not hasattr(select, "poll"):
        return True
    poll = select.poll()
    poll.register(sys.stdout.fileno(), select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))


if __name__ == "__main__":
    sys.exit(main())
