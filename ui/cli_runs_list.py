"""`flowyard runs [list]`: runs newest first, one line each, a page at a time.

One listing gives at most ``runstore.MAX_LISTED`` runs, whatever ``--limit`` asks:
`--limit 100000` stopped at 1000 without a word and there was no way to the rest.
So a list cut there says so on stderr (stdout stays the list, for scripts), with the
``--before`` that lists the next page, as the API's ``next_before`` does."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine import runstore
from engine.suggest import did_you_mean


async def list_runs(rt: Any, args: argparse.Namespace) -> int:
    """Print the runs ``args`` ask for (exit code 0), or why not (1)."""
    try:
        runs = await rt.list_runs(args.workflow, args.status, args.limit, args.before)
    except runstore.NoSuchRun:
        # Not an empty list: a script paging on would take it for the end of the runs.
        print(
            f"flowyard runs: --before names no run ({args.before}): it may have been deleted"
            " by retention; list again without --before",
            file=sys.stderr,
        )
        return 1
    if not runs and args.workflow and args.before is None:
        # An empty list for `--workflow helo` looked like a workflow never run: say it,
        # with the name meant when the folder has one close to it (stdout stays empty).
        hint = did_you_mean(args.workflow, rt.workflows.names())
        which = f"{args.status} " if args.status else ""
        print(f"flowyard runs: no {which}runs of workflow {args.workflow!r}{hint}", file=sys.stderr)
    # As wide as the longest name listed: a fixed 30 ran longer names into the date.
    width = max([30] + [len(r["workflow"]) for r in runs])
    for r in runs:
        print(f"{r['execution_id']}  {r['status']:<10} {r['workflow']:<{width}} {r['created_at']}")
    if args.limit > len(runs) == runstore.MAX_LISTED:
        last = runs[-1]["execution_id"]
        if await rt.list_runs(args.workflow, args.status, 1, last):  # there are older ones
            print(
                f"flowyard runs: listed {runstore.MAX_LISTED} runs, the most one list gives;"
                f" the older ones: the same command with --before {last}",
                file=sys.stderr,
            )
    return 0
