"""Schedule trigger: the block, and the scheduler loop ``flowyard serve`` runs.

Each tick is submitted with ``idempotency_key = schedule:<workflow>:<tick in UTC ISO>``
(``schedule:<workflow>:<block>:<tick>`` for any schedule block but the workflow's
first: see tick_key; compared only with that block's keys, engine/_key_scopes.py, so
no webhook delivery sent with a tick's key takes the tick), starts from its schedule
block (the workflow's other trigger blocks are skipped: engine/triggers.py), and the
block's last submitted tick (``flowyard_schedule_ticks``) is moved forward by the
statement that accepts its run, which is only inserted if it did: that is what
makes a tick run once however many processes run the scheduler, with no leader
election — and after retention deleted the tick's run, and its key with it. After
downtime, only the most recent missed tick is submitted (once), never one run per
missed tick.
A fixed-hour job runs once on the day the clocks fall back (the first occurrence of
the repeated wall time); see docs/blocks/schedule.md.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from croniter import CroniterBadDateError, croniter

from blocks._cron_checks import ever_fires, not_five_field_cron, range_with_equal_ends
from blocks._submit_failures import SubmitFailures
from engine.context import BlockContext
from engine.model import BlockModel, Problem, WorkflowError, cut_middle
from engine.references import references_in
from engine.registry import BlockHandler, register

log = logging.getLogger("flowyard.schedule")

#: The keys a tick adds to its run's input beside the block's `input` (Scheduler._submit),
#: with what each holds: an `input` key of the same name would be overwritten on every
#: tick, so validation refuses one.
TICK_KEYS = {"schedule": "{scheduled_for, cron, timezone}", "workflow": "{name}"}


@register
class ScheduleBlock(BlockHandler):
    type = "schedule"
    category = "trigger"
    description = "Start the workflow on a cron schedule."
    config_schema: ClassVar[dict[str, Any]] = {
        "cron": {"type": "string", "description": "Five-field cron expression, e.g. */5 * * * *"},
        "timezone": {
            "type": "string",
            "default": "UTC",
            "description": "IANA zone, e.g. Europe/Berlin",
        },
        "input": {"type": "object", "description": "The run's input (besides scheduled_for)"},
        "catch_up": {
            "type": "boolean",
            "default": True,
            "description": "On start, run the most recent tick missed while no scheduler ran (once)",
        },
    }
    required = ("cron",)
    outputs = ("scheduled_for",)
    #: `input` is each tick's run input as written: the scheduler gives it to the run,
    #: and nothing resolves a reference in it.
    raw_keys: ClassVar[frozenset[str]] = frozenset({"input"})

    def references_in_raw(self) -> dict[str, Any]:
        return {}  # those in `input` are refused by problems(), not checked as upstream

    def problems(self) -> list[Problem]:
        out = []
        cron = self.config.get("cron")
        if isinstance(cron, str) and (wrong := not_five_field_cron(cron)):
            out.append(Problem(wrong, block=self.block.id, field="cron"))
        elif isinstance(cron, str) and (same := range_with_equal_ends(cron)):
            # croniter reads a range whose ends are equal as the whole field: `5-5 0 * * *`
            # would run every minute of hour 0, `0 0 * * mon-mon` every day.
            message = f"the range {same[0]} in {cron!r} is one value: write {same[1]}"
            out.append(Problem(message, block=self.block.id, field="cron"))
        elif isinstance(cron, str) and not ever_fires(cron):
            message = f"the cron expression {cron!r} never fires (no such date, e.g. February 31)"
            out.append(Problem(message, block=self.block.id, field="cron"))
        given = self.config.get("input")
        for key in [k for k in TICK_KEYS if isinstance(given, dict) and k in given]:
            message = (
                f"input key {key!r} is the tick's own: each tick's run input sets "
                f"<input.{key}> to {TICK_KEYS[key]}; name yours otherwise"
            )
            out.append(Problem(message, block=self.block.id, field="input"))
        for ref in references_in(self.config.get("input")):
            # `<env.X>` was stored as its own text in every tick's input, read as the
            # value by nothing: a secret a user meant to pass never arrived.
            message = (
                f"{ref.text} is not resolved here: the input is given to each run as"
                f" written; read {ref.text} in the block that uses it"
            )
            out.append(Problem(message, block=self.block.id, field="input"))
        tz = self.config.get("timezone")
        if isinstance(tz, str):
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                out.append(
                    Problem(f"unknown time zone {tz!r}", block=self.block.id, field="timezone")
                )
        return out

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> dict[str, Any]:
        run_input = ctx.run.input if isinstance(ctx.run.input, dict) else {}
        info = run_input.get("schedule") if isinstance(run_input.get("schedule"), dict) else {}
        when = info.get("scheduled_for") or run_input.get("scheduled_for")
        if not when:  # run by hand: "now", in the block's zone
            when = dt.datetime.now(_zone(config.get("timezone"))).isoformat()
        return {"scheduled_for": when}


def _zone(name: Any) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(str(name)) if name else dt.UTC


def _every_hour(cron: str) -> bool:
    """True when the hour field steps through the whole day (``*``, ``*/2``, and as
    croniter also reads them ``0-23``, ``0-23/2``, ``0/2``, ``@hourly`` in any case):
    such a job runs in each real hour, so also in both copies of the hour the clocks
    fall back over. A list or a part of the day (``1,2``, ``1-5``) is fixed hours."""
    fields = cron.lower().split()
    if fields[:1] == ["@hourly"]:
        return True
    base, stepped, _ = fields[1].partition("/") if len(fields) >= 2 else ("", "", "")
    return base in ("*", "0-23") or (base == "0" and bool(stepped))


def _is_repeat(tick: dt.datetime) -> bool:
    """True for the second occurrence of a wall time the clocks fall back over."""
    return tick.fold == 1 and tick.utcoffset() != tick.replace(fold=0).utcoffset()


def previous_tick(cron: str, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """The latest tick at or before ``now``."""
    local = now.astimezone(tz)
    tick: dt.datetime = croniter(cron, local + dt.timedelta(microseconds=1)).get_prev(dt.datetime)
    # croniter's get_prev lands a day early in the repeated autumn hour; walk
    # forward with next_tick, which is right there, so catch-up never misses a tick.
    while (following := next_tick(cron, tz, tick)) <= now:
        tick = following
    if _is_repeat(tick) and not _every_hour(cron):
        tick = tick.replace(fold=0)  # the slot's one run is the first occurrence
    return tick


def next_tick(cron: str, tz: dt.tzinfo, after: dt.datetime) -> dt.datetime:
    """The first tick after ``after``. A fixed-hour job (``30 2 * * *``) whose wall
    time repeats when the clocks fall back runs at the first occurrence only; the
    repeat has another UTC time, so the idempotency key alone would not stop it."""
    it = croniter(cron, after.astimezone(tz))
    tick: dt.datetime = it.get_next(dt.datetime)
    while _is_repeat(tick) and not _every_hour(cron):
        tick = it.get_next(dt.datetime)
    return tick


def _written_at(file: str) -> dt.datetime:
    """When the workflow file was last written (now, if it cannot be told)."""
    try:
        return dt.datetime.fromtimestamp(Path(file).stat().st_mtime, dt.UTC)
    except (OSError, ValueError):
        return dt.datetime.now(dt.UTC)


def tick_key(workflow: str, tick: dt.datetime, block: str | None = None) -> str:
    """The idempotency key of a tick: ``schedule:<workflow>:<tick in UTC ISO>`` for the
    workflow's first schedule block (the key every earlier version gave a tick, so one
    it accepted still finds its key taken), ``schedule:<workflow>:<block>:<tick>`` for
    ``block``, any other: two blocks' ticks at one time are two runs. (Since schema
    version 8 each block's keys are apart anyway, engine/_key_scopes.py; the keys
    stay as they were, those of earlier versions' ticks.)"""
    at = tick.astimezone(dt.UTC).isoformat()
    return f"schedule:{workflow}:{block}:{at}" if block else f"schedule:{workflow}:{at}"


def key_block(wf: Any, block_id: str) -> str | None:
    """What ``block_id``'s tick keys name (:func:`tick_key`): None for the workflow's
    first schedule block, in file order, else the block's id."""
    first = next(
        (b.id for b in wf.blocks.values() if b.type == "schedule" and b.parent is None), None
    )
    return None if block_id == first else block_id


def _signature(block: BlockModel) -> str:
    """What a schedule block's ticks depend on: its config, as text to compare."""
    return json.dumps(block.config, sort_keys=True, default=str)


@dataclass
class _Entry:
    workflow: str
    block: str
    #: The workflow's name in the folder (its file's), which finds its file again:
    #: ``workflow``, its ``name:``, may be another file's name.
    source: str
    cron: str
    tz: dt.tzinfo
    signature: str
    next_due: dt.datetime
    pending: dt.datetime | None = None  # a tick to submit (catch-up, or a failed submit)


class Scheduler:
    """The state of one scheduler loop: the next due tick of each schedule block."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.entries: dict[tuple[str, str], _Entry] = {}
        self._scanned = False
        self._unloadable: dict[str, str] = {}  # workflow name -> why it cannot load
        self.failures = SubmitFailures()  # logs a failed submit once, not every second

    def rescan(self, now: dt.datetime) -> None:
        """Pick up new, changed and removed workflows. The first scan catches up."""
        seen: set[tuple[str, str]] = set()
        for name in self.runtime.workflow_names():
            try:
                wf = self.runtime.load_workflow(name)
            except Exception as exc:  # an invalid file must not stop the other schedules
                # Said once per problem, loudly: its ticks do not run until it is fixed.
                if self._unloadable.get(name) != str(exc):
                    # Each problem is cut, but there may be many: `validate` lists all.
                    why = cut_middle(str(exc), 4000)
                    log.warning("schedules of %s do not run: %s", name, why)
                self._unloadable[name] = str(exc)
                # Kept (its webhooks answer 503, not 404): a tick due meanwhile waits and
                # runs once the file loads again, where a typo fixed minutes later lost it.
                seen.update(key for key, entry in self.entries.items() if entry.source == name)
                continue
            self._unloadable.pop(name, None)
            for block in wf.blocks.values():
                if block.type != "schedule" or block.parent is not None:
                    continue
                key = (wf.name, block.id)
                seen.add(key)
                signature = _signature(block)
                current = self.entries.get(key)
                if current is not None and current.signature == signature:
                    current.source = name  # the file may have been renamed: its ticks go on
                    continue
                try:
                    self.entries[key] = self._entry(
                        name, wf, block, signature, now, catch_up=not self._scanned
                    )
                except Exception:  # validation should have refused it: say so, skip it
                    self.entries.pop(key, None)
                    log.exception("schedule %s.%s cannot be planned; skipped", wf.name, block.id)
        for key in set(self.entries) - seen:
            del self.entries[key]
        self._scanned = True

    def _entry(
        self,
        source: str,
        wf: Any,
        block: BlockModel,
        signature: str,
        now: dt.datetime,
        catch_up: bool,
    ) -> _Entry:
        cfg = block.config
        tz = _zone(cfg.get("timezone"))
        cron = str(cfg["cron"])
        entry = _Entry(
            wf.name,
            block.id,
            source,
            cron,
            tz,
            signature,
            next_due=next_tick(cron, tz, now),
        )
        # A schedule that was already known before this process started may have
        # missed its last tick while nothing ran: submit that one tick now. If
        # another process (or an earlier life of this one) ran it, the block's last
        # tick, kept when retention prunes the run, makes this a no-op. A tick from
        # before the file was last written is not this schedule's to catch up: it
        # did not exist then (deployed by a restart, it waits for its next tick,
        # as one added while serving does).
        if catch_up and cfg.get("catch_up", True):
            missed = previous_tick(cron, tz, now)
            if _written_at(wf.file) <= missed:
                entry.pending = missed
        return entry

    async def fire_due(self, now: dt.datetime) -> list[str]:
        """Submit every tick that is due; returns the execution ids of new runs."""
        started = []
        for key, entry in list(self.entries.items()):
            if entry.next_due <= now:
                try:
                    # Several ticks due at once (the loop was starved): run the latest only.
                    tick = entry.next_due
                    while (following := next_tick(entry.cron, entry.tz, tick)) <= now:
                        tick = following
                    entry.next_due = next_tick(entry.cron, entry.tz, now)
                except CroniterBadDateError:  # it has no next date: this one stops
                    log.error("schedule %s.%s has no next tick; stopped", *key)
                    del self.entries[key]
                    continue
                entry.pending = tick
            if entry.pending is not None:
                eid = await self._submit(entry, entry.pending)
                if eid is not False:
                    entry.pending = None
                    if eid:
                        started.append(eid)
        return started

    async def _submit(self, entry: _Entry, tick: dt.datetime) -> str | None | bool:
        """The new run's id, None for a tick that already ran, False when submitting failed."""
        try:
            wf = self._reload(entry)
            block = wf.blocks.get(entry.block)
            if (
                block is None
                or block.type != "schedule"
                or block.parent is not None
                or str(block.config.get("cron")) != entry.cron
                or _zone(block.config.get("timezone")) != entry.tz
            ):
                # Re-timed or removed since the last rescan: this tick is the old
                # schedule's. The next rescan (within 10 s) plans what the file says
                # now. Anything else edited (its input) leaves the tick the schedule's.
                log.info(
                    "schedule %s.%s changed before its tick at %s; not submitted",
                    entry.workflow,
                    entry.block,
                    tick,
                )
                self.entries.pop((entry.workflow, entry.block), None)
                return None
            iso = tick.astimezone(entry.tz).isoformat()
            run_input = {
                **dict(block.config.get("input") or {}),
                "schedule": {"scheduled_for": iso, "cron": entry.cron, "timezone": str(entry.tz)},
                "workflow": {"name": wf.name},
            }
            # The run starts from this block: the workflow's other triggers are skipped.
            sub = await self.runtime.submit(
                wf,
                run_input,
                trigger="schedule",
                idempotency_key=tick_key(wf.name, tick, key_block(wf, entry.block)),
                tick=(entry.block, tick.astimezone(dt.UTC)),
            )
        except Exception as exc:  # retried every second: said once, not each time
            self.failures.failed(entry.workflow, entry.block, tick, exc)
            return False
        self.failures.submitted(entry.workflow, entry.block)
        return str(sub.execution_id) if sub.created else None

    def _reload(self, entry: _Entry) -> Any:
        """The workflow of the file that declared ``entry``: by its path, never by the
        workflow's name, which a lookup reads as a file name first (and which may be
        another file's)."""
        path = self.runtime.workflow_path(entry.source)
        if not path.is_file():
            raise WorkflowError([Problem(f"{path.name} is gone", str(path))])
        return self.runtime.load_workflow(path)

    def next_wakeup(self, now: dt.datetime, ceiling: float) -> float:
        if any(e.pending for e in self.entries.values()):
            return min(ceiling, 1.0)
        soonest = min((e.next_due for e in self.entries.values()), default=None)
        if soonest is None:
            return ceiling
        return max(0.05, min(ceiling, (soonest - now).total_seconds()))


async def run_scheduler(runtime: Any, stop: asyncio.Event, *, rescan_every: float = 10.0) -> None:
    """Submit scheduled runs until ``stop`` is set (``flowyard serve`` starts this)."""
    scheduler = Scheduler(runtime)
    last_scan = -rescan_every
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        now = dt.datetime.now(dt.UTC)
        try:
            if loop.time() - last_scan >= rescan_every:
                scheduler.rescan(now)
                last_scan = loop.time()
            await scheduler.fire_due(now)
            wait = scheduler.next_wakeup(dt.datetime.now(dt.UTC), rescan_every)
        except Exception:  # one bad schedule must never stop every other one
            log.exception("scheduler: unexpected error; going on")
            wait = 1.0
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except TimeoutError:
            pass
