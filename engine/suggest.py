""" "Did you mean …?" for a name written nearly right: a misspelt key (`timout`), block
type (`functoin`), block id (`<strat.name>`, an edge to `gret`) or workflow name. A
newcomer's first mistakes are typos, and a list of every valid name makes them hunt
for the one they meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

#: Past this many names nothing is suggested: difflib compares the word with each.
MAX_CHOICES = 1000


def closest(word: Any, choices: Iterable[Any]) -> str | None:
    """The one choice ``word`` most likely misspells, or None when none is close
    (difflib's ratio of 0.7 and up: `tpye`/`type`, `header`/`headers`, `strat`/`start`;
    case is ignored, so `Type` finds `type`)."""
    if not isinstance(word, str) or not word:
        return None
    choices = list(choices)
    if len(choices) > MAX_CHOICES:  # a run's error path may say this per item of a loop
        return None
    named = {str(c).lower(): str(c) for c in choices if str(c) != word}
    found = difflib.get_close_matches(word.lower(), list(named), n=1, cutoff=0.7)
    return named[found[0]] if found else None


def did_you_mean(word: Any, choices: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` to append to a message, or ``""``."""
    found = closest(word, choices)
    return f"; did you mean {found!r}?" if found else ""
