"""Text that is no reference but would be one without its typo: `<f.result >`,
`<f..result>`, `<f.rows[0].id>` (engine.validate_scope reports each, with the
reference it would be). Apart from engine/references.py, which resolves references."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.references import REFERENCE_RE

#: `<` … `>` on one line, with no other angle bracket between: where a reference
#: with a typo in it sits (`<f.result >`, `<f..result>`).
_ANGLED_RE = re.compile(r"<([A-Za-z_][^<>\n]*)>")
#: A blank between two parts of a name (`res ult`), not one beside a dot (`f .x`)
#: or before the `?` (`<f.x ?>`).
_BLANK_IN_A_NAME_RE = re.compile(r"[^\s.]\s+(?=[^\s.?])")


@dataclass(frozen=True, slots=True)
class MistypedReference:
    """Text that is no reference, but would be one without its blanks and stray dots."""

    text: str  # as written: `<f.result >`
    meant: str  # `<f.result>`

    @property
    def message(self) -> str:
        return (
            f"{self.text} is not a valid reference (a reference has no blanks, and its "
            f"path is names or list indexes joined by single dots): write {self.meant}"
        )


def mistyped_references(
    value: Any, known_roots: Iterable[str], *, code: bool = False
) -> Iterator[MistypedReference]:
    """Each `<…>` in a config value (strings, nested dicts and lists) that is clearly
    a mistyped reference: dotted, starting with a letter or `_` right after the `<`
    (`a < b.c` is a comparison), and a valid reference to a known root once its
    blanks are taken out and repeated or trailing dots dropped.

    Such text is not a reference (REFERENCE_RE has no blanks, so `a < b and c > d`
    never is one) and was used as it is, silently. A blank inside a name is taken
    for a typo once (`<f.res ult>`), never in ``code`` (an expression, SQL), where
    words apart are code: `a <input.n and b> 3`. Text keeps a second one apart too:
    `if a <input.x and b > 3` quoted in a prompt is no reference. Function code does
    not come here (validation reads its references only): its compiler names a
    broken one (blocks/function.py)."""
    known = frozenset(known_roots)
    if isinstance(value, str):
        for m in _ANGLED_RE.finditer(value):
            typo = _mistyped(m.group(0), m.group(1), known, code)
            if typo is not None:
                yield typo
    elif isinstance(value, dict):
        for v in value.values():
            yield from mistyped_references(v, known, code=code)
    elif isinstance(value, list):
        for v in value:
            yield from mistyped_references(v, known, code=code)


#: `[0]`, `[-1]`, `["total"]`: an index or key in brackets, as JavaScript and n8n write
#: it (`<f.rows[0].id>`); a reference's path joins them with dots (`<f.rows.0.id>`).
_BRACKETED_RE = re.compile(r"""\[\s*(-?\d+|"[\w\-]+"|'[\w\-]+')\s*\]""")


def _mistyped(
    written: str, inner: str, known: frozenset[str], code: bool
) -> MistypedReference | None:
    if ("." not in inner and "[" not in inner) or REFERENCE_RE.fullmatch(written):
        return None  # undotted (`<b>`, `<br/>`, `x <f and y>`), or a reference already
    if len(_BLANK_IN_A_NAME_RE.findall(inner.strip())) > (0 if code else 1):
        return None
    inner = _BRACKETED_RE.sub(lambda m: "." + m.group(1).strip("'\""), inner)
    tidied = re.sub(r"\.{2,}", ".", "".join(inner.split()))
    tidied = re.sub(r"\.+(\??)$", r"\1", tidied)  # `<f.result.>`, `<f.>`, `<f.x.?>`
    meant = REFERENCE_RE.fullmatch(f"<{tidied}>")
    if meant is None or meant.group(1) not in known:
        return None
    return MistypedReference(written, meant.group(0))
