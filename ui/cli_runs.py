"""``flowyard run`` and ``flowyard runs …``: running a workflow from the command line
and looking at, cancelling, resuming and pruning runs — and the runtime every
command that needs the engine runs in."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from blocks.manual import run_input_problems
from engine import runstore
from engine._json import dumps
from engine._loop import run as run_loop
from engine.model import WorkflowError
from engine.privileges import Needs
from engine.retention import parse_duration, prune
from engine.runtime import Runtime
from engine.triggers import NoTriggerChosen, started_by_hand
from ui.cli_runs_list import list_runs
from ui.cli_workflows import file_beside, missing_file, read_input
from ui.config import check_start_settings, require_database
from ui.terminal_text import printable


def workflows_dir(args: argparse.Namespace) -> Path:
    return Path(
        getattr(args, "workflows", None) or os.environ.get("FLOWYARD_WORKFLOWS") or "workflows"
    )


def bad_workflows_dir(args: argparse.Namespace) -> str | None:
    """A workflows folder that exists but is no folder (None: nothing wrong): `serve`
    started, and every save then failed as "database unavailable"; `worker` and `run`
    found no workflow in it, run after run."""
    path = workflows_dir(args)
    if path.exists() and not path.is_dir():
        given = "--workflows" if getattr(args, "workflows", None) else "FLOWYARD_WORKFLOWS"
        if given == "FLOWYARD_WORKFLOWS" and not os.environ.get(given):
            given = "workflows folder"  # ./workflows, a file
        return f"bad {given} {str(path)!r}: it is a file, not a folder of workflows"
    return None


#: The exit code of a command stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


def with_runtime(
    args: argparse.Namespace,
    body: Callable[[Runtime], Awaitable[int]],
    resume: bool = True,
    database_url: str | None = None,
    needs: Needs | None = None,
) -> int:
    """Run ``body`` on a started runtime. The database is checked first (unless the
    caller did, ``database_url``): one that does not answer is one line, exit 1, as
    is a setting the engine cannot use (ui/config.py), or a right its user lacks for
    ``needs`` (engine/privileges.py; flowyard's own tables by default)."""
    check_start_settings(args.command)
    url = database_url or require_database(args.command, Path.cwd(), needs)

    async def main() -> int:
        rt = Runtime(workflows_dir(args), url, Path.cwd(), resume=resume)
        await rt.start()
        try:
            code = await body(rt)
            if code != INTERRUPTED:  # Ctrl-C stops now; what was resumed resumes later
                await rt.drain()  # runs resumed at start finish before we exit
            return code
        finally:
            await rt.close()

    return run_loop(main())


def cmd_run(args: argparse.Namespace) -> int:
    # Warnings (a `name:` two files share) on stderr, one line each, without a
    # timestamp; `serve` and `worker` set up their own logging.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        payload = read_input(args.input)
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, or a file that is not UTF-8
        print(f"flowyard run: bad --input: {exc}", file=sys.stderr)
        return 2
    bad = bad_workflows_dir(args)
    if bad:
        print(f"flowyard run: {bad}", file=sys.stderr)
        return 2
    missing = missing_file(args.workflow)
    if missing:
        print(missing, file=sys.stderr)
        return 1

    async def body(rt: Runtime) -> int:
        try:
            wf = rt.load_workflow(args.workflow)
        except WorkflowError as exc:
            print(f"{exc}{file_beside(args.workflow, exc)}", file=sys.stderr)
            return 1
        rt.workflows.say_shared_name(wf)  # which file runs, when another has its name:
        try:
            started_by_hand(wf)
        except NoTriggerChosen as exc:  # refused before any run, as the API's 422
            print(f"flowyard run: {exc}", file=sys.stderr)
            return 2
        problems = run_input_problems(wf, payload)
        if problems:  # refused before any run, as the API's 422
            print(
                "flowyard run: the input does not match the workflow's input_schema:",
                file=sys.stderr,
            )
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            return 2
        sub = await rt.submit(wf, payload)
        try:
            result = await rt.wait(sub.execution_id)
        except asyncio.CancelledError:
            # Ctrl-C: the run is cancelled, as its owner asked, not left unfinished
            # for whichever later command starts to resume it silently.
            await rt.cancel(sub.execution_id)
            ended = await rt.wait(sub.execution_id, timeout=30)
            print(
                f"flowyard run: interrupted; run {sub.execution_id} {ended['status']}",
                file=sys.stderr,
            )
            return INTERRUPTED
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        else:
            _print_blocks(result["blocks"])
            print(f"\nrun {result['execution_id']} {result['status']}")
            if result["error"]:
                print(_error_line(result["error"]))
            print(json.dumps(result["output"], indent=2, default=str))
        return 0 if result["status"] == "succeeded" else 1

    return with_runtime(args, body)


def _error_line(error: dict[str, Any]) -> str:
    """A run's error, naming its block when a block failed: a run-level error
    (cancelled, timed out) has none, and said `(block None)`."""
    block = error.get("block")
    said = f"error: {error['message']}" + (f" (block {block})" if block is not None else "")
    return printable(said)


def _fmt_ms(ms: Any) -> str:
    return f"{ms:.1f} ms" if isinstance(ms, (int, float)) else "-"


def _when(result: dict[str, Any]) -> str:
    """When the run started and finished: `None` was printed for a run cancelled
    before it started and for one still running."""
    ended = result["status"] in runstore.FINAL_STATUSES
    started = result["started_at"] or ("— (never started)" if ended else "— (not yet)")
    finished = result["finished_at"] or ("—" if ended else f"— (still {result['status']})")
    return f"started {started}  finished {finished}"


#: How much of a run's input or output `runs show` prints on its line.
SHOWN_JSON = 200


def _compact(value: Any, execution_id: str) -> str:
    """``value`` as compact JSON (numbers exact), cut past `SHOWN_JSON` characters."""
    text = dumps(value)
    if len(text) <= SHOWN_JSON:
        return printable(text)
    return printable(
        f"{text[:SHOWN_JSON]}… ({len(text):,} characters; all of it: GET /api/runs/{execution_id})"
    )


#: Run events read at once by `runs show`.
SHOW_PAGE = 10_000


async def _paths_inside(rt: Runtime, execution_id: str) -> dict[str, dict[str, Any]]:
    """Every path's record as the block table shows it: the log read page by page,
    without the inputs and outputs the table does not show."""
    every: dict[str, dict[str, Any]] = {}
    after = 0
    while page := await rt.run_event_outlines(execution_id, after, SHOW_PAGE):
        runstore.blocks_from_events(page, top_level_only=False, into=every)
        after = page[-1]["seq"]
    return every


def _print_blocks(blocks: dict[str, dict[str, Any]]) -> None:
    width = max([len(b) for b in blocks] + [5])
    print(f"{'block':<{width}}  {'status':<10} {'duration':>10}  attempts  error")
    for bid, rec in blocks.items():
        err = (rec.get("error") or {}).get("message", "") if rec.get("error") else ""
        if rec.get("rolled_back"):
            err = f"(rolled back with its transaction) {err}".rstrip()
        print(
            f"{bid:<{width}}  {rec['status']:<10} {_fmt_ms(rec.get('duration_ms')):>10}  {rec.get('attempts', 0):>8}  {printable(err[:80])}"
        )


#: The options of `runs` and `runs list`, which the other actions do not take.
LIST_OPTIONS = ("--workflow", "--status", "--limit", "--before")
#: What each other action takes, said when it is given one of LIST_OPTIONS.
ACTION_TAKES = {
    "show": "show takes only a run id",
    "cancel": "cancel takes only a run id",
    "resume": "resume takes only a run id (without one: every run whose process died)",
    # It took --workflow and --status and pruned every finished run.
    "prune": "prune takes only --older-than (it removes every finished run older than that)",
}


def _given(args: argparse.Namespace, option: str) -> bool:
    # --limit defaults to the number 50; one given is the string typed.
    value = getattr(args, option[2:])
    return isinstance(value, str) if option == "--limit" else value is not None


def runs_usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with `runs` options (None: nothing), said before the database
    is opened, as the API answers 400: `--status bogus` listed nothing and exited 0,
    `--limit 0` listed one run, `prune --older-than abc` was a traceback."""
    if args.action != "list":
        # Given before the action (`runs --workflow x prune`) or after it (`runs show
        # --limit 2 ID`, which read 2 as the id), they were ignored or refused as
        # "unrecognized arguments" under the top-level usage.
        given = [f for f in LIST_OPTIONS if _given(args, f)]
        if given:
            return f"{ACTION_TAKES[args.action]}, not {' or '.join(given)}"
    if args.status is not None and args.status not in runstore.RUN_STATUSES:
        return f"bad --status {args.status!r}: one of {', '.join(runstore.RUN_STATUSES)}"
    limit = str(args.limit).strip()
    if not (limit.isascii() and limit.isdigit() and int(limit) >= 1):
        return f"bad --limit {args.limit!r}: a number of at least 1"
    args.limit = int(limit)
    if args.before is not None and not runstore.is_run_id(args.before):
        return f"bad --before {args.before!r}: a run's execution id (the last one listed)"
    if args.action == "prune":
        try:
            args.older_than_s = parse_duration(args.older_than)
        except ValueError as exc:
            return f"bad --older-than: {exc}"
    return None


def cmd_runs(args: argparse.Namespace) -> int:
    bad = runs_usage_problem(args)
    command = "runs" if args.action == "list" else f"runs {args.action}"
    if bad:
        print(f"flowyard {command}: {bad}", file=sys.stderr)
        return 2
    if args.action in ("show", "cancel") and not args.id:
        print(f"flowyard {command}: give a run id", file=sys.stderr)
        return 2
    if args.id and not runstore.is_run_id(args.id):  # the database refuses others with a traceback
        print(f"no run {args.id}", file=sys.stderr)
        return 1

    async def body(rt: Runtime) -> int:
        if args.action == "show":
            result = await rt.run_result(args.id, outline=True)  # a table: no values
            if result is None:
                print(f"no run {args.id}", file=sys.stderr)
                return 1
            every = await _paths_inside(rt, args.id)
            print(
                printable(f"run {result['execution_id']}  {result['workflow']}  {result['status']}")
            )
            print(_when(result))
            # The input as stored (redacted), and the output: cut, with where the rest is.
            ended = result["status"] in runstore.FINAL_STATUSES
            print(f"input  {_compact(result['input'], result['execution_id'])}")
            output = _compact(result["output"], result["execution_id"])
            print(f"output {output if ended else '— (not finished)'}")
            print()
            # Every top-level block (those not started: pending), each followed by its paths.
            _print_blocks(runstore.with_paths_inside(result["blocks"], every))
            if result["error"]:
                print(printable(f"\nerror: {result['error']['message']}"))
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
            runs, events = await prune(rt.db.log_pool, args.older_than_s)
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
        return await list_runs(rt, args)

    # `runs list` and `show` only read: a user that may only read runs can use them.
    needs = Needs("runs", writes=args.action in ("resume", "cancel", "prune"))
    # `runs resume` claims runs itself, to report them
    return with_runtime(args, body, resume=False, needs=needs)


def add_runs_parser(sub: Any, workflows_help: str) -> None:
    """`runs [list]`, `runs show ID`, `runs resume [ID]`, `runs cancel ID`, `runs prune`:
    each with a help of its own (`runs show --help` printed the whole `runs` usage)."""
    s = sub.add_parser(
        "runs",
        help="list runs, show one, resume or cancel unfinished ones, prune old ones",
        description="Without an action: list recent runs, as `runs list`.",
    )
    _list_options(s)
    s.add_argument("--workflows", metavar="DIR", help=workflows_help)
    actions = s.add_subparsers(dest="action", metavar="ACTION")
    # After add_subparsers, whose own default (None) it replaces: no action is `list`.
    # Defaults too of what only some actions have; `list`'s options are SUPPRESSed,
    # so that one given before the action (`runs --limit 5 list`) stays.
    s.set_defaults(fn=cmd_runs, action="list", id=None, older_than="30d", before=None)

    def action(name: str, text: str, run_id: str | None = None) -> argparse.ArgumentParser:
        # No abbreviations: `prune --workflow x` was read as --workflows (a folder).
        a = actions.add_parser(
            name, help=text, description=text[0].upper() + text[1:] + ".", allow_abbrev=False
        )
        if run_id is not None:
            a.add_argument("id", nargs="?", metavar="ID", help=run_id)
        a.add_argument("--workflows", default=argparse.SUPPRESS, metavar="DIR", help=workflows_help)
        if name != "list":  # read, so that runs_usage_problem says what the action takes
            for option in LIST_OPTIONS:
                a.add_argument(option, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return a

    _list_options(action("list", "list recent runs, newest first"), suppress=True)
    action("show", "show a run: its status and every block's", "the run's execution id")
    action(
        "resume",
        "finish runs whose process died (every start does it too)",
        "only this run (default: every such run)",
    )
    action("cancel", "stop a run, wherever it executes", "the run's execution id")
    prune = action("prune", "delete the records of runs that ended long ago")
    prune.add_argument(
        "--older-than", default="30d", help="age of the runs to delete: e.g. 7d, 12h (default 30d)"
    )


def _list_options(p: argparse.ArgumentParser, suppress: bool = False) -> None:
    """`runs` and `runs list` take the same options; on `list` they only override."""
    unset = argparse.SUPPRESS if suppress else None
    p.add_argument("--workflow", default=unset, help="only the runs of this workflow")
    p.add_argument("--status", default=unset, help="only runs with this status (queued, …)")
    # a string when given: cmd_runs checks it, in one line
    p.add_argument("--limit", default=unset or 50, help="at most this many runs (default 50)")
    p.add_argument(
        "--before",
        default=unset,
        metavar="ID",
        help=f"only runs older than run ID: the next page after it (a list gives at most"
        f" {runstore.MAX_LISTED})",
    )


async def _not_resumed(rt: Runtime, execution_id: str) -> int:
    """Why `runs resume ID` left the run alone (exit 1): silence would read as
    "resumed" to an operator, while the run may belong to a live process."""
    row = await runstore.fetch_run_row(rt.db.log_pool, execution_id)
    if row is None:
        why = "no such run"
    elif row["status"] not in ("queued", "running"):
        why = f"it already ended ({row['status']})"
    elif (queue := await _deployment_of(rt, execution_id)) != rt.deployment:
        # Executed here, it would use this deployment's environment (engine/deployments.py).
        why = (
            f"it belongs to the deployment FLOWYARD_QUEUE={queue}, not to this one"
            f" ({rt.deployment}): resume it with that deployment's settings"
        )
    else:
        why = (
            f"it is {row['status']} and owned by a live process ({row['owner'] or 'its queue job'})"
        )
    print(f"{execution_id} not resumed: {why}", file=sys.stderr)
    return 1


async def _deployment_of(rt: Runtime, execution_id: str) -> str:
    return await rt.db.log_pool.fetchval(
        "SELECT queue FROM flowyard_runs WHERE execution_id = $1::uuid", execution_id
    )
