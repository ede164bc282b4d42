"""Reading a workflow file's text strictly: YAML as YAML 1.2's core schema has it,
JSON as RFC 8259 has it, and every key a piece of text written once.

Why YAML 1.2: PyYAML follows YAML 1.1, where `on`, `off`, `yes`, `no` are booleans,
`0123` is the octal 83 and `2024-01-01` a date. A block id `on` then "went missing"
from its own edge, and `name: 0123` was said to be 83. In 1.2 (what linters, Go and
JavaScript readers in CI follow) only true/false are booleans and nothing is a date.

Why text keys: a workflow is JSON too (the editor, the API). A key YAML reads as a
number, a boolean, null or a list has no JSON form, so it is refused naming the key,
not turned into something else on the next save (nor a TypeError, for a list).
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from typing import Any, NamedTuple

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from engine._json import _finite_float, _refuse_constant
from engine._yaml_aliases import MAX_ALIASED, too_much_aliased

STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"
MERGE = "tag:yaml.org,2002:merge"
_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
#: An explicit tag on a scalar is fine when the text is one of its forms.
_JSON_SCALARS = {
    f"tag:yaml.org,2002:{tag}": {f"tag:yaml.org,2002:{form}" for form in forms}
    for tag, forms in (
        ("int", ["int"]),
        ("float", ["int", "float"]),
        ("bool", ["bool"]),
        ("null", ["null"]),
    )
}
_COLLECTION = {_SEQ: "a list", _MAP: "a mapping"}
_BLOCK_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Resolver12(BaseResolver):
    """YAML 1.2 core schema: which plain scalars are not text."""


for _tag, _regex, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL)$", "~nN"),
    ("merge", r"^<<$", "<"),  # recognised only to be refused in words (see _StrictLoader)
):
    Resolver12.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_regex), list(_first))
Resolver12.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])


class _Constructor12(SafeConstructor):
    def construct_yaml_int(self, node: ScalarNode) -> int:
        # 1.2: `0123` is decimal (1.1 read it as octal 83); octal is written 0o17.
        text = str(self.construct_scalar(node))
        sign = -1 if text.startswith("-") else 1
        body = text.lstrip("+-")
        try:
            if body[:2] in ("0o", "0x"):
                return sign * int(body[2:], 8 if body[1] == "o" else 16)
            return sign * int(body.replace("_", ""), 10)
        except ValueError:  # an explicit `!!int abc`
            raise ConstructorError(
                None, None, f"{text!r} is not an integer", node.start_mark
            ) from None

    def construct_yaml_float(self, node: ScalarNode) -> float:
        try:
            return super().construct_yaml_float(node)
        except ValueError:  # an explicit `!!float abc`
            raise ConstructorError(
                None, None, f"{node.value!r} is not a number", node.start_mark
            ) from None


_Constructor12.add_constructor("tag:yaml.org,2002:int", _Constructor12.construct_yaml_int)
_Constructor12.add_constructor("tag:yaml.org,2002:float", _Constructor12.construct_yaml_float)


class _Base(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _Constructor12,
    Resolver12,
):
    """PyYAML's own parser, not libyaml's: its errors (with the line and the column
    they name) are the ones `flowyard validate` and the editor show."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor12.__init__(self)
        Resolver12.__init__(self)


class Found(NamedTuple):
    """A key problem the loader found: message, block, field."""

    message: str
    block: str | None
    field: str | None


class TooMuchRepeated(ValueError):
    """Aliases repeat more than MAX_ALIASED: refused before a value is built (see
    engine._yaml_aliases); ``found`` says where."""

    def __init__(self, found: Found) -> None:
        super().__init__(found.message)
        self.found = found


class Loaded(NamedTuple):
    doc: Any
    found: list[Found]
    #: Path (keys and list indexes as text) -> the text of each plain scalar that is
    #: not a string, so a message can say `0123`, not only the 123 it was read as.
    written: dict[tuple[str, ...], str]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def block_and_field(path: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(block, field) of a node at ``path``."""
    if len(path) >= 2 and path[0] == "blocks":
        return path[1], ".".join(path[2:]) or None
    return None, ".".join(path) or None


class _StrictLoader(_Base):
    """Reports duplicate keys (PyYAML keeps the last silently), keys that are not
    text, and merge keys; notes where each node is, for those messages."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.path_of: dict[int, tuple[str, ...]] = {}  # id(collection node) -> its path
        self.found: list[Found] = []
        self.written: dict[tuple[str, ...], str] = {}

    def _walk(self, node: Node, path: tuple[str, ...]) -> None:
        # Iterative: a file nested thousands deep must not overflow the stack here.
        todo = [(node, path)]
        while todo:
            node, path = todo.pop()
            self._check_tag(node, path)
            if isinstance(node, ScalarNode) and node.tag == _FLOAT:
                self._check_finite(node, path)
            if isinstance(node, ScalarNode):
                if node.style is None and node.tag != STR:
                    self.written.setdefault(path, node.value)
            elif id(node) not in self.path_of:  # an alias: its first place is enough
                self.path_of[id(node)] = path
                if isinstance(node, MappingNode):
                    todo += [
                        (v, (*path, k.value)) for k, v in node.value if isinstance(k, ScalarNode)
                    ]
                elif isinstance(node, SequenceNode):
                    todo += [(v, (*path, str(i))) for i, v in enumerate(node.value)]

    def _check_tag(self, node: Node, path: tuple[str, ...]) -> None:
        """Only JSON's kinds of value, each tagged as what it is: `!!set`, `!!binary`,
        `!!timestamp` have no JSON form, and `!!bool maybe` or `!!map [1]` made the
        constructor raise a TypeError or KeyError. Refused, then read as plain text
        or a plain list or mapping so that reading can go on to find the rest."""
        if isinstance(node, ScalarNode):
            if (
                node.tag in (STR, MERGE)
                or node.style is None
                and node.tag == self.resolve(ScalarNode, node.value, (True, False))
            ):
                return
            implicit = self.resolve(ScalarNode, node.value, (True, False))
            fine = _JSON_SCALARS.get(node.tag)
            if fine is not None and implicit in fine:
                return
            plain = STR
        else:
            plain = _SEQ if isinstance(node, SequenceNode) else _MAP
            if node.tag == plain:
                return
        shown = node.tag.replace("tag:yaml.org,2002:", "!!")
        line = node.start_mark.line + 1
        if node.tag in _JSON_SCALARS or node.tag in (STR, _SEQ, _MAP):
            what = repr(node.value) if isinstance(node, ScalarNode) else _COLLECTION[plain]
            message = f"{shown} (line {line}) does not fit {what}"
        else:
            message = (
                f"{shown} (line {line}) is not a value a workflow can hold: only text, "
                "numbers, true/false, null, lists and mappings"
            )
        self.found.append(Found(message, *block_and_field(path)))
        node.tag = plain

    def _check_finite(self, node: ScalarNode, path: tuple[str, ...]) -> None:
        """NaN and ±Infinity (`.nan`, `.inf`, `1e999`) are refused, as in a JSON file
        and a run's input: JSON has no number for them, so a value a run gave its
        caller or a peer was not JSON (`"output": Infinity`), and its record held null.
        Refused, then read as text so that reading can go on to find the rest."""
        if self.resolve(ScalarNode, node.value, (True, False)) != _FLOAT:
            return  # `!!float 12`, or not a number at all (the constructor says so)
        try:
            if math.isfinite(float(node.value)):
                return
            why = "is too large: it overflows to infinity, which JSON has no number for"
        except ValueError:  # YAML's own spellings: .inf, -.Inf, .nan
            why = "is not a JSON number (JSON has no NaN or Infinity)"
        line = node.start_mark.line + 1
        self.found.append(Found(f"{node.value} (line {line}) {why}", *block_and_field(path)))
        node.tag = STR

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        path = self.path_of.get(id(node), ())
        block, field = block_and_field(path)
        seen: set[str] = set()
        kept = []
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == MERGE:
                self.found.append(Found(_merge_message(line), block, field))
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                self.found.append(self._not_text(key_node, key, path, line))
                continue
            if key in seen:
                if path == ("blocks",):
                    self.found.append(
                        Found(f"duplicate block id {key!r} (line {line})", key, "blocks")
                    )
                else:
                    inner = ".".join([*path[2:], key]) if block else None
                    self.found.append(Found(f"duplicate key {key!r} (line {line})", block, inner))
            seen.add(key)
            kept.append((key_node, value_node))
        node.value = kept
        return super().construct_mapping(node, deep=deep)

    def _not_text(self, key_node: Node, key: Any, path: tuple[str, ...], line: int) -> Found:
        text = key_node.value if isinstance(key_node, ScalarNode) else _flow(key)
        why = f"(line {line}; YAML reads it as {_kind(key)}, not text)"
        block, field = block_and_field(path)
        if path == ("blocks",):
            return Found(
                f"block id {text} {why}: quote it ('{text}') or choose another id",
                text,
                "blocks",
            )
        if path == () or (len(path) == 2 and path[0] == "blocks"):
            # Where only the format's own keys go: whatever it is, it is not one of them.
            return Found(f"unknown key {text} {why}", block, ".".join([*path[2:], text]))
        return Found(f"key {text} {why}: keys must be text, e.g. '{text}'", block, field)

    def load(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        if (bomb := too_much_aliased(node)) is not None:
            message = (
                f"aliases repeat too much: with this one (of the anchor on line "
                f"{bomb.anchor_line}) they add more than {MAX_ALIASED:,} values and "
                "characters of text to the file; repeat smaller values, or write them out"
            )
            raise TooMuchRepeated(Found(message, *block_and_field(bomb.path)))
        self._walk(node, ())
        if isinstance(node, MappingNode):
            blocks = next((v for k, v in node.value if k.value == "blocks"), None)
            if isinstance(blocks, MappingNode):
                for key_node, _ in blocks.value:
                    # A number as a block id (`1:`) is text as written, so the id
                    # pattern names it; `null:` or `true:` would pass that pattern
                    # while every other YAML reader sees null or a boolean: refused.
                    if (
                        isinstance(key_node, ScalarNode)
                        and key_node.tag != STR
                        and not _BLOCK_ID_RE.match(key_node.value)
                        and key_node.tag != MERGE
                    ):
                        key_node.tag = STR
        return self.construct_document(node)


def _flow(value: Any) -> str:
    return (
        yaml.safe_dump(value, default_flow_style=True, width=1000)
        .strip()
        .removesuffix("...")
        .strip()
    )


def _merge_message(line: int) -> str:
    return (
        f"merge keys (`<<: *anchor`, line {line}) are not supported: write the keys out, "
        "or use an anchor for a whole value (`key: *anchor`)"
    )


def load_yaml(text: str) -> Loaded:
    """Parse workflow YAML (1.2 core schema); yaml.YAMLError for a syntax error."""
    loader = _StrictLoader(text)
    try:
        doc = loader.load()
    finally:
        loader.dispose()
    return Loaded(doc, loader.found, loader.written)


def load_json(text: str) -> Loaded:
    """Parse workflow JSON strictly: a duplicate key is found naming the key and its
    block (the standard library keeps the last silently); NaN, Infinity and a number
    that overflows to infinity are a ValueError (JSON has none of them)."""
    dups: dict[int, list[str]] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                dups.setdefault(id(out), []).append(key)
            out[key] = value
        return out

    doc = json.loads(
        text,
        object_pairs_hook=pairs,
        parse_constant=_refuse_constant,
        parse_float=_finite_float,
    )
    found: list[Found] = []
    if dups:
        _json_duplicates(doc, dups, found)
    return Loaded(doc, found, {})


def _json_duplicates(doc: Any, dups: dict[int, list[str]], found: list[Found]) -> None:
    todo: deque[tuple[Any, tuple[str, ...]]] = deque([(doc, ())])
    while todo:
        value, path = todo.popleft()  # in document order, as the problems are listed
        if isinstance(value, dict):
            block, _ = block_and_field(path)
            for key in dups.get(id(value), []):
                if path == ("blocks",):
                    found.append(Found(f"duplicate block id {key!r}", key, "blocks"))
                else:
                    inner = ".".join([*path[2:], key]) if block else None
                    found.append(Found(f"duplicate key {key!r}", block, inner))
            todo += [(v, (*path, k)) for k, v in value.items()]
        elif isinstance(value, list):
            todo += [(v, (*path, str(i))) for i, v in enumerate(value)]
