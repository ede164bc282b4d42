"""The lines of a workflow file as a save patches them (engine/workflow_text.py):
split at the keys of one indentation, the file's own indentation found from its
text, and new lines written in it.

A hand-written file may indent by 2, 3, 4 or 8 spaces, and put a list's ``- `` at
its key's column or further right. A save follows what the file does, so a
block, field or ``layout`` entry it inserts reads like the lines around it and
the rest of the file keeps its text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from engine.yaml_writer import dump_yaml_indented

#: A top-level key, at column 0.
TOP_KEY = re.compile(r"([A-Za-z_][\w-]*):(?:\s|$)")

Sections = dict[str, tuple[list[str], list[str]]]


@dataclass(frozen=True)
class Indents:
    """How a file indents: ``unit`` spaces a mapping level, and a block list's
    ``- `` ``items`` spaces right of its key (0: at the key's column, as PyYAML
    and the canonical layout write it)."""

    unit: int = 2
    items: int = 0


@functools.cache
def block_key(indent: int) -> re.Pattern[str]:
    """A block id (or a ``layout`` entry) at column ``indent``."""
    return re.compile(" " * indent + r"([a-z][a-z0-9_]*):(?:\s|$)")


@functools.cache
def field_key(indent: int) -> re.Pattern[str]:
    """A block's field at column ``indent``."""
    return re.compile(" " * indent + r"([A-Za-z_][\w-]*):(?:\s|$)")


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def first_content(lines: list[str]) -> str | None:
    """The first line that is neither blank nor a comment."""
    return next((line for line in lines if not is_note(line, len(line))), None)


def opens_block(line: str) -> bool:
    """``key:`` with its value on the lines below (perhaps a comment after it)."""
    rest = line.split(":", 1)[1].strip() if ":" in line else "-"
    return not rest or rest.startswith("#")


def is_item(line: str) -> bool:
    stripped = line.lstrip(" ")
    return stripped.startswith("-") and stripped[1:2] in ("", " ", "\n")


def file_indents(top: Sections) -> Indents:
    """The file's indentation, from its own lines: the unit from its block keys
    (else from the first other section written one key per line), the list items'
    offset from its first top-level list (``edges``, usually)."""
    unit = items = None
    for key in ["blocks", *top]:
        own = top.get(key, ([], []))[1]
        line = first_content(own[1:]) if own and opens_block(own[0]) else None
        if line is None:
            continue
        if is_item(line):
            items = indent_of(line) if items is None else items
        elif unit is None and indent_of(line) > 0:
            unit = indent_of(line)
    return Indents(unit or 2, items or 0)


def items_under(own: list[str], indents: Indents) -> Indents:
    """``indents`` with the offset of the list that ``own`` (a key and its lines)
    already holds, if it holds one: a rewritten list keeps its ``- `` where it was."""
    line = first_content(own[1:]) if own and opens_block(own[0]) else None
    if line is None or not is_item(line):
        return indents
    return Indents(indents.unit, max(indent_of(line) - indent_of(own[0]), 0))


def written(mapping: dict[str, Any], indents: Indents, at: int = 0) -> list[str]:
    """``mapping``'s lines written in the file's indentation, its keys at column ``at``."""
    text = dump_yaml_indented(mapping, indents.unit, indents.items)
    # A text ending in blank lines (`|+`) ends the document it is written as (`...`):
    # inside the file the keys that follow end the text, and the marker would end
    # the file there.
    text = text.removesuffix("\n...\n") + "\n" if text.endswith("\n...\n") else text
    # An empty line stays empty: inside a `|` text, spaces on it would be text; a line
    # of blanks the text holds is moved right with the rest.
    return [
        " " * at + line if line.strip("\n") else line for line in text.splitlines(keepends=True)
    ]


def sections(lines: list[str], key_re: re.Pattern[str]) -> tuple[list[str], Sections]:
    """Split at each key line: (lines before the first key, {key: (prefix, own lines)}).

    A key's prefix is the run of blank lines and comments right above it, no
    deeper than the key itself: a comment above a block describes that block
    and stays with it even when the block is rewritten.
    """
    head: list[str] = []
    found: Sections = {}
    body = head
    for line in lines:
        m = key_re.match(line)
        if m is None or m.group(1) in found:
            body.append(line)
            continue
        depth = indent_of(line)
        cut = len(body)
        while cut > 0 and is_note(body[cut - 1], depth):
            cut -= 1
        prefix = body[cut:]
        del body[cut:]
        body = [line]
        found[m.group(1)] = (prefix, body)
    return head, found


def is_note(line: str, depth: int) -> bool:
    """A blank line, or a comment no deeper than ``depth``."""
    stripped = line.lstrip(" ")
    return not stripped.strip() or (stripped.startswith("#") and len(line) - len(stripped) <= depth)
