"""``<block.field>`` references: parsed once per workflow, resolved per run.

Every string in a block's config is compiled at load time into one of three
shapes: a constant (no reference), a lone reference (keeps the value's type), or
an interpolation (text with references rendered as text, JSON for dicts/lists).
Code, SQL and expressions are not interpolated: references there become
variables or bind parameters (see :func:`rewrite_sql`,
engine.python_refs.rewrite_python, engine.javascript_refs.rewrite_javascript).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from engine.suggest import did_you_mean

# `<root.path.to.0.field?>`: a root name, dotted segments, an optional `?`.
# Spaces are not allowed inside, so `a < b and c > d` is never a reference. A root
# is ASCII (block ids are); a path segment is any word (`größe`, `数量`) or `-`, as
# the keys of a German or Japanese shop's JSON are.
REFERENCE_RE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)((?:\.[\w\-]+)*)(\?)?>")

#: Roots that are not block ids.
SPECIAL_ROOTS = frozenset({"input", "env", "workflow", "loop", "state"})
#: What ``<loop.…>`` holds in the body of a loop or a parallel over items: the
#: iteration's number from 0 and from 1 (validation refuses any other field).
LOOP_FIELDS = ("index", "iteration")


def loop_variables(index: int) -> dict[str, int]:
    """``<loop>`` for the iteration at ``index``: one field per name of LOOP_FIELDS."""
    return {"index": index, "iteration": index + 1}


#: Why `<env>` alone is refused, at validation and at run time.
ENV_WHOLE_ADVICE = "write <env.NAME> for the one variable a block needs"


class MissingReference(LookupError):
    """A reference could not be resolved (missing block output or field)."""

    def __init__(self, ref: Reference, reason: str) -> None:
        super().__init__(f"reference {ref.text} {reason}")
        self.ref = ref


class NotRun(KeyError):
    """Raised by a scope's ``lookup`` for a block that was skipped where such a
    block reads as null (the run's ``output:``, see engine/executor.py)."""


class Skipped(KeyError):
    """Raised by a scope's ``lookup`` for a block of the workflow that has no output
    where it is read: validation lets a block read only blocks that settle before it,
    so one that did not run was skipped (a join after an untaken branch)."""


@dataclass(frozen=True, slots=True)
class Reference:
    root: str
    path: tuple[str, ...]
    optional: bool
    text: str

    @property
    def is_secret(self) -> bool:
        return self.root == "env"


class Scope(Protocol):
    def lookup(self, root: str) -> Any:
        """The value of a root name, or raise KeyError."""

    def note_secret(self, value: Any) -> None:
        """Remember a value read from ``<env.…>`` so run records can redact it."""


def parse(text: str, known_roots: Iterable[str] | None = None) -> list[tuple[int, int, Reference]]:
    """Find the references in ``text`` as (start, end, reference).

    With ``known_roots``, a bare ``<name>`` whose root is unknown (HTML such as
    ``<b>``) is literal text; a dotted one is still returned so that a typo in a
    block id is reported rather than silently sent as text.
    """
    # The plan's roots are a frozenset already: copied for every text, they made
    # validating a workflow quadratic in its blocks (every block's every string
    # copied every block id; 4,000 conditions took ~10 s, most of it in here).
    known = (
        known_roots
        if isinstance(known_roots, (frozenset, set)) or known_roots is None
        else set(known_roots)
    )
    found = []
    for m in REFERENCE_RE.finditer(text):
        root, dotted, q = m.group(1), m.group(2), m.group(3)
        if known is not None and root not in known and not dotted:
            continue
        path = tuple(dotted[1:].split(".")) if dotted else ()
        found.append((m.start(), m.end(), Reference(root, path, bool(q), m.group(0))))
    return found


def is_one_reference(text: str) -> bool:
    """Whether ``text`` (blanks around it aside) is exactly one reference: a value
    of any type, not text around one."""
    text = text.strip()
    found = parse(text)
    return len(found) == 1 and found[0][0] == 0 and found[0][1] == len(text)


def walk(value: Any, ref: Reference, start: int = 0) -> Any:
    for i, seg in enumerate(ref.path[start:], start):
        if isinstance(value, (dict, Mapping)):
            if seg in value:
                value = value[seg]
                continue
        elif isinstance(value, (list, tuple)) and _is_index(seg):
            idx = int(seg)
            if -len(value) <= idx < len(value):
                value = value[idx]
                continue
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            # Attribute-style objects (rare: values produced inside Function code).
            if hasattr(value, seg) and not seg.startswith("_"):
                value = getattr(value, seg)
                continue
        if ref.optional:
            return None
        where = ".".join((ref.root, *ref.path[:i])) or ref.root
        hint = did_you_mean(seg, value) if isinstance(value, Mapping) else ""
        if ref.root == "env" and i == 0:
            # "has no field 'ORDERS_DB' in <env>" read as if <env> were a block's output.
            raise MissingReference(
                ref, f"is not set: the environment has no variable {seg!r}{hint}"
            )
        raise MissingReference(ref, f"has no field {seg!r} in <{where}>{hint}")
    return value


def _is_index(seg: str) -> bool:
    # ASCII only: `²` and `٣` are digits to str.isdigit, and int("²") raises.
    return seg.isascii() and (seg.isdigit() or (seg.startswith("-") and seg[1:].isdigit()))


def resolve(ref: Reference, scope: Scope) -> Any:
    if ref.root == "env" and not ref.path:
        # The whole environment holds every secret of the server (the token, the
        # database password), none of them redacted as one `<env.NAME>` read is.
        raise MissingReference(ref, f"names no environment variable: {ENV_WHOLE_ADVICE}")
    try:
        root = scope.lookup(ref.root)
    except NotRun:
        return None
    except Skipped:
        if ref.optional:
            return None
        optional = ref.text[:-1] + "?>"
        raise MissingReference(
            ref,
            f"names block {ref.root!r}, which was skipped in this run (no edge into it was "
            f"taken); {optional} reads null when it is",
        ) from None
    except KeyError:
        if ref.optional:
            return None
        raise MissingReference(ref, f"names {ref.root!r}, which has no value here") from None
    if ref.root == "env":
        value = walk(root, ref)
        if value is not None:
            scope.note_secret(value)
        return value
    return walk(root, ref)


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


# -- compiled values ------------------------------------------------------------


class Compiled:
    """A config value with its references parsed; ``resolve`` is cheap."""

    __slots__ = ()

    def resolve(self, scope: Scope) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class Const(Compiled):
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def resolve(self, scope: Scope) -> Any:
        return self.value


class LoneRef(Compiled):
    __slots__ = ("ref",)

    def __init__(self, ref: Reference) -> None:
        self.ref = ref

    def resolve(self, scope: Scope) -> Any:
        return resolve(self.ref, scope)


class Interpolation(Compiled):
    __slots__ = ("parts",)

    def __init__(self, parts: list[str | Reference]) -> None:
        self.parts = parts

    def resolve(self, scope: Scope) -> str:
        return "".join(p if isinstance(p, str) else to_text(resolve(p, scope)) for p in self.parts)


class MappingValue(Compiled):
    __slots__ = ("items",)

    def __init__(self, items: dict[str, Compiled]) -> None:
        self.items = items

    def resolve(self, scope: Scope) -> dict[str, Any]:
        return {k: c.resolve(scope) for k, c in self.items.items()}


class ListValue(Compiled):
    __slots__ = ("items",)

    def __init__(self, items: list[Compiled]) -> None:
        self.items = items

    def resolve(self, scope: Scope) -> list[Any]:
        return [c.resolve(scope) for c in self.items]


def compile_value(value: Any, known_roots: Iterable[str] | None = None) -> Compiled:
    if isinstance(value, str):
        refs = parse(value, known_roots)
        if not refs:
            return Const(value)
        if len(refs) == 1 and refs[0][0] == 0 and refs[0][1] == len(value):
            return LoneRef(refs[0][2])
        parts: list[str | Reference] = []
        pos = 0
        for start, end, ref in refs:
            if start > pos:
                parts.append(value[pos:start])
            parts.append(ref)
            pos = end
        if pos < len(value):
            parts.append(value[pos:])
        return Interpolation(parts)
    if isinstance(value, dict):
        items = {str(k): compile_value(v, known_roots) for k, v in value.items()}
        if all(isinstance(c, Const) for c in items.values()):
            return Const(value)
        return MappingValue(items)
    if isinstance(value, list):
        seq = [compile_value(v, known_roots) for v in value]
        if all(isinstance(c, Const) for c in seq):
            return Const(value)
        return ListValue(seq)
    return Const(value)


def references_in(value: Any, known_roots: Iterable[str] | None = None) -> Iterator[Reference]:
    """Every reference in a raw config value (strings, nested dicts and lists)."""
    if isinstance(value, str):
        for _, _, ref in parse(value, known_roots):
            yield ref
    elif isinstance(value, dict):
        for v in value.values():
            yield from references_in(v, known_roots)
    elif isinstance(value, list):
        for v in value:
            yield from references_in(v, known_roots)


# -- code, expressions, SQL -----------------------------------------------------


def masked(code: str, found: Iterable[tuple[int, int, Reference]]) -> str:
    """``code`` with each reference found in it replaced by underscores of the same
    length: a language's tokenizer then reads it as a name (not as ``<``/``>``
    operators), and every offset stays the same."""
    chars = list(code)
    for start, end, _ in found:
        chars[start:end] = "_" * (end - start)
    return "".join(chars)


def _as_variables(
    code: str, found: Iterable[tuple[int, int, Reference]]
) -> tuple[str, list[Reference]]:
    refs: list[Reference] = []
    index: dict[str, int] = {}
    out: list[str] = []
    pos = 0
    for start, end, ref in found:
        if ref.text not in index:
            index[ref.text] = len(refs)
            refs.append(ref)
        out.append(code[pos:start])
        out.append(f"__ref_{index[ref.text]}")
        pos = end
    out.append(code[pos:])
    return "".join(out), refs


#: A code scanner's finding: (start, end, reference, where it sits or None for code).
Located = tuple[int, int, Reference, str | None]


def scanned_once(
    scan: Callable[[str, frozenset[str] | None], Iterable[Located]],
) -> Callable[[str, Iterable[str] | None], tuple[Located, ...]]:
    """``scan`` of a Function's code, once per code text and known roots: validation
    asks several questions of the same code (which references are code, which sit in
    literals), and each scanned it whole again. ``.cache_clear()`` as lru_cache's."""
    cached = functools.lru_cache(maxsize=1024)(lambda code, roots: tuple(scan(code, roots)))

    def scanned(code: str, known_roots: Iterable[str] | None) -> tuple[Located, ...]:
        return cached(code, None if known_roots is None else frozenset(known_roots))

    scanned.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return scanned
