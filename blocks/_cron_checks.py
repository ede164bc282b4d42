"""What validation refuses in a schedule's cron expression (blocks/schedule.py): more
or fewer than five fields, a range whose ends are one value, a date that never comes."""

from __future__ import annotations

import datetime as dt
import re

from croniter import CroniterBadDateError, croniter

CRON_FIELDS = "minute hour day-of-month month day-of-week"


def not_five_field_cron(cron: str) -> str | None:
    """Why ``cron`` is no five-field cron expression (or ``@daily``-style alias), None
    when it is one. croniter also takes a sixth (seconds) and seventh (year) field:
    ``0 0 2 * * *`` written Quartz-style would then run every second of a minute."""
    fields = cron.split()
    if len(fields) == 1 and fields[0].startswith("@"):
        return None if croniter.is_valid(cron) else f"not a valid cron expression: {cron!r}"
    if len(fields) != 5:
        return (
            f"{cron!r} has {len(fields)} fields: a cron expression has five ({CRON_FIELDS});"
            " seconds and years are not supported"
        )
    if not croniter.is_valid(cron):
        return f"not a valid cron expression: {cron!r} (five fields: {CRON_FIELDS})"
    return None


_RANGE = re.compile(r"([0-9a-z]+)-([0-9a-z]+)(?:/\d+)?", re.IGNORECASE)
_MONTH_NAMES = {
    m: n for n, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)
}
_DAY_NAMES = {d: n for n, d in enumerate("sun mon tue wed thu fri sat".split())}


def range_with_equal_ends(cron: str) -> tuple[str, str] | None:
    """The first range of ``cron`` whose ends are the same value, however spelt
    (``5-5``, ``05-5``, ``mon-mon``, ``1-mon``, ``6-jun``, ``mon-mon/2``, ``7-sun``),
    with the single value to write instead; None when there is none."""
    fields = cron.split()
    if len(fields) != 5:
        return None
    for position, field in enumerate(fields):
        names = {3: _MONTH_NAMES, 4: _DAY_NAMES}.get(position, {})
        for term in field.split(","):
            written = _RANGE.fullmatch(term)
            if written is None:
                continue
            start, end = (_cron_value(text, names) for text in written.groups())
            if start is None or end is None:
                continue
            # Day 7 is Sunday as 0 is: `7-0` (`7-sun`) is Sunday alone, which croniter
            # reads as the whole week too; `0-7` is the whole week as written.
            if start == end or (position == 4 and (start, end) == (7, 0)):
                return written.group(0), written.group(1)
    return None


def _cron_value(text: str, names: dict[str, int]) -> int | None:
    if text.isdigit():
        return int(text)
    return names.get(text.lower())


def ever_fires(cron: str) -> bool:
    try:
        croniter(cron, dt.datetime.now(dt.UTC)).get_next(dt.datetime)
    except CroniterBadDateError:  # croniter looked years ahead and found no such day
        return False
    return True
