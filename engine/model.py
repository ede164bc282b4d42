"""The workflow model: what a YAML/JSON workflow file says, as typed objects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine._cut_secrets import CUT_MARK
from engine.strict_load import block_and_field
from engine.yaml_errors import syntax_error_text

BLOCK_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
EDGE_RE = re.compile(r"^\s*([a-z][a-z0-9_]*)(?:\.([A-Za-z0-9_\-]+))?\s*->\s*([a-z][a-z0-9_]*)\s*$")

#: Keys every block accepts, whatever its type.
COMMON_KEYS = ("type", "retries", "retry_backoff", "timeout", "on_error", "name", "description")


#: How long a problem's message, and its block id or field path, may be (characters).
MAX_MESSAGE, MAX_NAME = 1000, 200


def cut_middle(text: str, limit: int) -> str:
    """``text``, when longer than ``limit``, cut to about ``limit`` characters: its
    start and its end, where a message says what is wrong with the value it quotes
    (`[[…]] is not of type 'object'`), and how much was left out between them."""
    if len(text) <= limit:
        return text
    kept = limit - 40  # room for the mark (under 40 characters): never longer than limit
    tail = kept // 4
    head = kept - tail
    left_out = len(text) - head - tail
    return f"{text[:head]}{CUT_MARK} ({left_out:,} characters left out) {CUT_MARK}{text[-tail:]}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation error: where it is (file, block, field) and what is wrong."""

    message: str
    file: str = ""
    block: str | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        # Cut here, where every problem passes, not where each quotes a value: a
        # message quoting a whole value made a 7.7 MB 422 body and 34 MB log lines.
        object.__setattr__(self, "message", cut_middle(self.message, MAX_MESSAGE))
        for name in ("block", "field"):
            if (value := getattr(self, name)) is not None:
                object.__setattr__(self, name, cut_middle(value, MAX_NAME))

    def __str__(self) -> str:
        where = [self.file or "<workflow>"]
        if self.block:
            where.append(f"block {self.block!r}")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{': '.join(where)}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "block": self.block,
            "field": self.field,
            "message": self.message,
        }


class WorkflowError(ValueError):
    """A workflow that cannot run; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    port: str | None  # None: taken whenever the source succeeds
    target: str

    def __str__(self) -> str:
        src = f"{self.source}.{self.port}" if self.port else self.source
        return f"{src} -> {self.target}"


@dataclass(slots=True)
class BlockModel:
    id: str
    type: str
    config: dict[str, Any]
    retries: int = 0
    retry_backoff: float = 0.5
    timeout: float | None = None
    on_error: str = "fail"
    parent: str | None = None  # the container whose body holds this block
    group: str | None = None  # the parallel branch (or "body") inside the parent


@dataclass(slots=True)
class Workflow:
    name: str
    blocks: dict[str, BlockModel]
    edges: list[Edge]
    description: str = ""
    output: Any = None
    layout: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    file: str = ""
    source: dict[str, Any] = field(default_factory=dict)  # the document as loaded
    plan: Any = None  # engine.graph.Plan, built once at load time
    content_hash: str = ""  # of file + source; set once by engine.workflow_versions.save_version

    def containers_of(self, block_id: str) -> list[str]:
        """The loops and parallels around ``block_id``, innermost first (none: it is at
        the top). Bodies nesting in a cycle are cut at plan time (engine.graph)."""
        chain, parent = [], self.blocks[block_id].parent
        while parent is not None:
            chain.append(parent)
            parent = self.blocks[parent].parent
        return chain

    def triggers(self) -> list[BlockModel]:
        """The top-level trigger blocks (manual, webhook, schedule), in file order;
        the one a run starts from is engine/triggers.py's to say."""
        from engine.registry import handler_for

        found = []
        for b in self.blocks.values():
            h = handler_for(b.type)
            if h is not None and h.category == "trigger" and b.parent is None:
                found.append(b)
        return found

    def trigger(self) -> BlockModel | None:
        """The first trigger block in file order."""
        return next(iter(self.triggers()), None)


class Document(dict):  # type: ignore[type-arg]
    """A parsed workflow document; ``written`` keeps the text of each plain scalar
    that is not a string (by path), so a message can quote what the file says."""

    written: dict[tuple[str, ...], str]


#: Deeper than this, a value is refused: validation and runs walk values recursively.
MAX_DEPTH = 100


def read_document(text: str, file: str = "") -> dict[str, Any]:
    """Parse YAML (1.2 core schema) or JSON text into a mapping; a syntax error, a
    duplicate key or a key that is not text is a Problem (see engine.strict_load)."""
    from engine.strict_load import TooMuchRepeated, load_json, load_yaml

    try:
        loaded = load_json(text) if file.endswith(".json") else load_yaml(text)
    except TooMuchRepeated as exc:
        raise WorkflowError([Problem(exc.found.message, file, *exc.found[1:])]) from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise WorkflowError(
            [Problem(f"cannot parse: {syntax_error_text(exc, text)}", file)]
        ) from None
    except ValueError as exc:  # JSON's NaN or Infinity
        raise WorkflowError([Problem(f"cannot parse: {exc}", file)]) from None
    except RecursionError:
        raise WorkflowError(
            [Problem("cannot parse: the file is nested too deeply", file)]
        ) from None
    if not isinstance(loaded.doc, dict):
        raise WorkflowError([Problem("a workflow file must be a mapping", file)])
    found = [Problem(f.message, file, f.block, f.field) for f in loaded.found]
    found += _shape_problems(loaded.doc, file)
    if found:
        raise WorkflowError(found)
    doc = Document(loaded.doc)
    doc.written = loaded.written
    return doc


def _shape_problems(doc: dict[str, Any], file: str) -> list[Problem]:
    """A value that holds itself (a YAML anchor used inside itself) or is nested past
    MAX_DEPTH: named here, not a RecursionError from the schema check or a run."""
    todo: list[tuple[Any, tuple[str, ...], frozenset[int]]] = [(doc, (), frozenset())]
    while todo:
        value, path, above = todo.pop()
        if not isinstance(value, (dict, list)):
            continue
        block, field = block_and_field(path)
        if id(value) in above:
            return [
                Problem(
                    "a value contains itself (a YAML anchor used inside itself)", file, block, field
                )
            ]
        if len(path) > MAX_DEPTH:
            return [Problem(f"nested more than {MAX_DEPTH} levels deep", file, block, field)]
        items = value.items() if isinstance(value, dict) else enumerate(value)
        todo += [(v, (*path, str(k)), above | {id(value)}) for k, v in items]
    return []


#: The largest workflow file read, in bytes: four times what the editor can save in
#: one request (FLOWYARD_MAX_BODY's 1 MiB: ~400 Function blocks of 60 lines). Files
#: are parsed and validated on the engine's event loop at ~15 µs a byte: a 60 MB one
#: held it for minutes, on every lookup that found the file changed, and meanwhile no
#: webhook of any workflow was accepted and /api/health said the database was down.
MAX_FILE_BYTES = 4 * 1024 * 1024


def too_big(path: Path) -> str | None:
    """Why the workflow file ``path`` is not read (over MAX_FILE_BYTES), else None."""
    try:
        size = path.stat().st_size
    except OSError:
        return None  # said by the read that follows
    if size <= MAX_FILE_BYTES:
        return None
    return (
        f"the file is {size:,} bytes, over the {MAX_FILE_BYTES:,} a workflow file may have:"
        " keep long code in a lib/ module beside the workflows (docs/blocks/function.md)"
        " and data in the database"
    )


def load_file(path: str | Path) -> Workflow:
    """Load and validate a workflow file."""
    from engine.validate import validate_document

    p = Path(path)
    if why := too_big(p):
        raise WorkflowError([Problem(why, str(p))])
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkflowError([Problem(f"cannot read: {exc.strerror}", str(p))]) from None
    except UnicodeDecodeError as exc:
        raise WorkflowError([Problem(not_utf8(exc), str(p))]) from None
    return validate_document(read_document(text, str(p)), str(p))


def not_utf8(exc: UnicodeDecodeError) -> str:
    """What a workflow file that is not UTF-8 is told (``flowyard validate``, the API)."""
    return f"cannot read: not UTF-8 text (byte {exc.start})"


def load_text(text: str, file: str = "") -> Workflow:
    from engine.validate import validate_document

    return validate_document(read_document(text, file), file)


def parse_edge(text: str) -> Edge | None:
    m = EDGE_RE.match(text) if isinstance(text, str) else None
    if not m:
        return None
    return Edge(m.group(1), m.group(2), m.group(3))
