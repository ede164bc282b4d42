"""The workflow model: what a YAML/JSON workflow file says, as typed objects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BLOCK_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
EDGE_RE = re.compile(r"^\s*([a-z][a-z0-9_]*)(?:\.([A-Za-z0-9_\-]+))?\s*->\s*([a-z][a-z0-9_]*)\s*$")

#: Keys every block accepts, whatever its type.
COMMON_KEYS = ("type", "retries", "retry_backoff", "timeout", "on_error", "name", "description")


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation error: where it is (file, block, field) and what is wrong."""

    message: str
    file: str = ""
    block: str | None = None
    field: str | None = None

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
    content_hash: str = ""  # of file + source; set once by engine.runstore.save_version

    def trigger(self) -> BlockModel | None:
        from engine.registry import handler_for

        for b in self.blocks.values():
            h = handler_for(b.type)
            if h is not None and h.category == "trigger":
                return b
        return None


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that reports duplicate keys (PyYAML keeps the last silently)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.blocks_node: yaml.Node | None = None  # the `blocks:` mapping, once composed
        self.block_of: dict[int, str] = {}  # id(a block's mapping node) -> block id
        self.duplicates: list[tuple[str, int, str | None, bool]] = []  # key, line, block, is id

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                line = key_node.start_mark.line + 1
                is_id = node is self.blocks_node
                block = str(key) if is_id else self.block_of.get(id(node))
                self.duplicates.append((str(key), line, block, is_id))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def load(self) -> Any:
        node = self.get_single_node()
        if isinstance(node, yaml.MappingNode):
            self.blocks_node = next((v for k, v in node.value if k.value == "blocks"), None)
            if isinstance(self.blocks_node, yaml.MappingNode):
                self.block_of = {id(v): str(k.value) for k, v in self.blocks_node.value}
                for key_node, _ in self.blocks_node.value:
                    # A block id is text as written: YAML 1.1 would read `on:`, `no:` or
                    # `1:` as a bool or an int, and the block would then vanish from
                    # edges ("names missing block 'on'") or dodge the id pattern.
                    if isinstance(key_node, yaml.ScalarNode):
                        key_node.tag = "tag:yaml.org,2002:str"
        return None if node is None else self.construct_document(node)


def syntax_error_text(exc: Exception) -> str:
    """A YAML or JSON syntax error as a person reads it: where, then what
    (PyYAML's own text says ``in "<unicode string>"`` twice)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        text = f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
        if exc.context and exc.context_mark is not None:
            ctx = exc.context_mark
            text += f" ({exc.context} at line {ctx.line + 1}, column {ctx.column + 1})"
        return text
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
    return str(exc)


def read_document(text: str, file: str = "") -> dict[str, Any]:
    """Parse YAML or JSON text into a mapping; a syntax error is a Problem."""
    duplicates: list[tuple[str, int, str | None, bool]] = []
    try:
        if file.endswith(".json"):
            doc = json.loads(text)
        else:
            loader = _StrictLoader(text)
            try:
                doc = loader.load()
                duplicates = loader.duplicates
            finally:
                loader.dispose()
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise WorkflowError([Problem(f"cannot parse: {syntax_error_text(exc)}", file)]) from None
    if not isinstance(doc, dict):
        raise WorkflowError([Problem("a workflow file must be a mapping", file)])
    if duplicates:
        raise WorkflowError(
            [
                Problem(f"duplicate block id {key!r} (line {line})", file, key, "blocks")
                if is_id
                else Problem(
                    f"duplicate key {key!r} (line {line})", file, block, key if block else None
                )
                for key, line, block, is_id in duplicates
            ]
        )
    return doc


def load_file(path: str | Path) -> Workflow:
    """Load and validate a workflow file."""
    from engine.validate import validate_document

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkflowError([Problem(f"cannot read: {exc.strerror}", str(p))]) from None
    except UnicodeDecodeError as exc:
        raise WorkflowError(
            [Problem(f"cannot read: not UTF-8 text (byte {exc.start})", str(p))]
        ) from None
    return validate_document(read_document(text, str(p)), str(p))


def load_text(text: str, file: str = "") -> Workflow:
    from engine.validate import validate_document

    return validate_document(read_document(text, file), file)


def parse_edge(text: str) -> Edge | None:
    m = EDGE_RE.match(text) if isinstance(text, str) else None
    if not m:
        return None
    return Edge(m.group(1), m.group(2), m.group(3))


def dump_yaml(doc: dict[str, Any]) -> str:
    """Write a workflow document with stable key order and ``layout`` last.

    Top-level keys follow the SPEC's order; each block keeps ``type`` first and the
    rest in the order given, so a diff from the editor shows the logic change alone.
    """
    order = ["version", "name", "description", "blocks", "edges", "output"]
    out: dict[str, Any] = {k: doc[k] for k in order if k in doc}
    for k, v in doc.items():
        if k not in out and k != "layout":
            out[k] = v
    if "blocks" in out and isinstance(out["blocks"], dict):
        out["blocks"] = {
            bid: (
                {"type": b["type"], **{k: v for k, v in b.items() if k != "type"}}
                if isinstance(b, dict) and "type" in b
                else b
            )
            for bid, b in out["blocks"].items()
        }
    if "layout" in doc:
        out["layout"] = doc["layout"]
    return yaml.dump(out, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _list_presenter(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    # Positions in `layout` are short number pairs: keep them on one line.
    flow = len(data) <= 4 and all(isinstance(x, (int, float)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(str, _str_presenter)
_Dumper.add_representer(list, _list_presenter)
