"""Writing workflow documents as YAML: the SPEC's key order, text a YAML 1.2 reader
reads back as the same value, code as ``|`` blocks, and a hand-written file's
indentation for the lines a save inserts (engine/workflow_text.py)."""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml


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
    def analyze_scalar(self, scalar: str) -> Any:
        # PyYAML writes no block text holding a line's trailing blanks or a tab: code
        # with a blank line keeping its indentation became one double-quoted line
        # ("if a:\n    b\n    \n…"), and a one-line edit's diff one unreadable line.
        # A literal block keeps both as written (YAML reads a line's characters after
        # its indentation as they are), so it is allowed for such text too.
        analysis = super().analyze_scalar(scalar)
        if not analysis.allow_block and _literal_fits(scalar):
            analysis.allow_block = True
        return analysis


#: What a literal block holds as written: printable text, tabs and \n line breaks
#: (not \r, NEL or U+2028/9, which YAML reads as other breaks, nor a BOM).
_LITERAL_TEXT = re.compile(
    "[\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)


def _literal_fits(text: str) -> bool:
    # The text's last blank, after the last line break, is PyYAML's to refuse still.
    return "\n" in text and not text.endswith((" ", "\t")) and bool(_LITERAL_TEXT.fullmatch(text))


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    if "\x85" in data:
        # NEL is a line break to a YAML reader: PyYAML writes it raw in a `|` text or
        # in quotes, where it read back as a newline or a space. Escaped (\N) instead.
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _list_presenter(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    # Positions in `layout` are short number pairs: keep them on one line.
    flow = len(data) <= 4 and all(isinstance(x, (int, float)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


# Quote text that a YAML 1.2 reader (a linter, a Go or JavaScript tool in CI, our own
# loader) would read as a number or a boolean, not only what YAML 1.1 would: `1e3`,
# `0o17`, `y`. Unquoted, such text would come back as something else.
for _tag, _regex, _first in (
    ("float", r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$", "-+0123456789."),
    ("int", r"^0o[0-7]+$", "0"),
    ("bool", r"^(?:y|Y|n|N)$", "yYnN"),
):
    _Dumper.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_regex), list(_first))
_Dumper.add_representer(str, _str_presenter)
_Dumper.add_representer(list, _list_presenter)


def dump_yaml_indented(data: dict[str, Any], indent: int, item_indent: int) -> str:
    """``data`` as YAML in the order given, indented the way a hand-written file is:
    ``indent`` spaces a mapping level (any width: PyYAML's own ``indent`` stops at
    9), a list's ``- `` ``item_indent`` spaces right of its key, and a mapping or
    list inside a list item right after its ``- `` (``- name: x``, not ``-   name:
    x``). A save inserts such lines into a file indented so (engine/workflow_text.py)."""
    dumper = _indented_dumper(indent, item_indent)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)


@functools.cache
def _indented_dumper(indent: int, item_indent: int) -> type[yaml.SafeDumper]:
    class Indented(_Dumper):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.best_indent = indent

        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            # PyYAML's own rule with two of its steps set apart: a block list as a
            # mapping value ("indentless") and a collection that is a list item.
            self.indents.append(self.indent)
            if self.indent is None:
                self.indent = self.best_indent if flow else 0
            elif self.sequence_context and not flow:
                self.indent += 2
            elif indentless:
                self.indent += item_indent
            else:
                self.indent += self.best_indent

    return Indented
