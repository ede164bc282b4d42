"""A workflow file's text: parse it, write it canonically, or save a changed
document over it rewriting only what changed (the editor's saves, template copies).

The SPEC asks that a diff of a save shows the logic change alone: see
``render_update`` and docs/editor.md.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

import yaml

from engine._text_lines import (
    TOP_KEY,
    Indents,
    block_key,
    field_key,
    file_indents,
    first_content,
    indent_of,
    is_note,
    items_under,
    opens_block,
    sections,
    written,
)
from engine.model import syntax_error_text
from engine.strict_load import load_yaml
from engine.yaml_writer import dump_yaml


def _load(text: str) -> Any:
    """YAML as the engine reads a workflow file (1.2 core: `on:` is the text "on"),
    so what the editor is given and what a save compares is what runs."""
    return load_yaml(text).doc


def parse(text: str, file: str = "") -> dict[str, Any]:
    """YAML or JSON text to a mapping; any syntax error is a ValueError."""
    try:
        doc = json.loads(text) if file.endswith(".json") else _load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ValueError(syntax_error_text(exc, text)) from None
    except RecursionError:
        raise ValueError("the file nests too deeply to read") from None
    if not isinstance(doc, dict):
        raise ValueError("a workflow file must be a mapping")
    return doc


def render(doc: dict[str, Any], suffix: str) -> str:
    """Serialize with stable key order and ``layout`` last (YAML via the engine)."""
    if suffix == ".json":
        text = dump_yaml(doc)  # reuse the engine's ordering, then emit JSON
        return json.dumps(yaml.safe_load(text), indent=2, ensure_ascii=False) + "\n"
    return dump_yaml(doc)


def render_update(old_text: str, doc: dict[str, Any], suffix: str) -> str:
    """The text to save ``doc`` over a file that holds ``old_text``: ``update_text``'s."""
    return update_text(old_text, doc, suffix).text


class Update(NamedTuple):
    """What a save writes over a file: ``text``; ``rewritten`` says why the whole file
    was written anew the canonical way, its comments and formatting lost (None: the
    file keeps its text but for what changed)."""

    text: str
    rewritten: str | None = None


#: What a save's answer says when the file could not keep its text (ui/api_workflows.py).
REWRITTEN = "the whole file was written anew the canonical way, without its comments and formatting"


def update_text(old_text: str, doc: dict[str, Any], suffix: str) -> Update:
    """The text to save ``doc`` over a file that holds ``old_text``.

    Saving what was loaded returns ``old_text`` itself: the file stays
    byte-identical, comments and flow style included. Otherwise only the
    top-level sections, blocks and block fields whose value changed are rewritten,
    indented as the file indents; the rest (with the comments above and inside
    them) keep their text, so a diff shows the change alone. Comments inside a
    rewritten field are lost. Whenever the patched text would not load back as
    exactly ``doc`` in the canonical order, each key once, the whole file is
    written the canonical way instead, and ``rewritten`` says so. A ``.json`` file is always
    written the canonical way: JSON has no comments to keep.
    """
    try:
        old = parse(old_text, f"x{suffix}")
    except ValueError:
        return Update(render(doc, suffix), f"{REWRITTEN}: the file it replaced did not load")
    doc = in_order_of(old, doc)
    if same(old, doc):
        return Update(old_text)
    full = _line_ends_of(old_text, render(doc, suffix))
    if suffix == ".json":
        return Update(full)
    # A byte order mark (Windows Notepad, PowerShell) is no part of the first key's
    # line: the file's lines are patched without it, and it is kept.
    bom = "\ufeff" if old_text.startswith("\ufeff") else ""
    patched = _patch(old_text.removeprefix(bom), old, doc, full)
    if patched is None:
        why = (
            "its layout could not be followed line by line"
            " (a quoted block id, an anchor shared between blocks, a document not at column 0)"
        )
        return Update(full, f"{REWRITTEN}: {why}")
    return Update(_line_ends_of(old_text, bom + patched))


def _line_ends_of(old_text: str, text: str) -> str:
    """``text`` with CRLF line ends when ``old_text`` has them all so (a repository
    keeping Windows line ends): the lines a save writes ended in LF alone, and the
    file mixed both. YAML and JSON read either alike, so the value is the same."""
    if "\n" not in old_text or old_text.count("\n") != old_text.count("\r\n"):
        return text
    return re.sub(r"(?<!\r)\n", "\r\n", text)


def same(a: Any, b: Any) -> bool:
    """Whether a save of ``b`` over a file holding ``a`` changes nothing. Python's ==
    cannot tell what a save must: to it `0` is `false` and `1` is `true` (an edit of
    `notify: 0` to `false` answered "Saved" and left the file as it was), and a
    mapping is the same in any order (a parallel's `branches` reordered, whose order
    is the order of its results, was not saved). A whole number is still the float it
    equals: the editor (JavaScript) cannot tell `10.0` from `10`."""
    if isinstance(a, dict) and isinstance(b, dict):
        return _same_order(list(a), list(b)) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _same_block(a: Any, b: Any) -> bool:
    """``same``, but for the order of the block's fields, which the file keeps (and a
    save writes `type` first in a new block): only what they hold is compared so."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return same(a, b)


def _same_file(saved: Any, doc: dict[str, Any]) -> bool:
    """Whether the patched file ``saved`` holds ``doc``: ``same`` for each section, each
    block by ``_same_block`` (the order of sections and blocks is checked apart)."""
    if not isinstance(saved, dict) or saved.keys() != doc.keys():
        return False
    blocks, want = saved.get("blocks"), doc.get("blocks")
    if not isinstance(want, dict):
        return all(same(saved[k], doc[k]) for k in doc)
    if not isinstance(blocks, dict) or blocks.keys() != want.keys():
        return False
    return all(_same_block(blocks[b], want[b]) for b in want) and all(
        same(saved[k], doc[k]) for k in doc if k != "blocks"
    )


#: A key JavaScript orders first, by its number, in any object: an array index.
_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")


def _same_order(keys: list[Any], sent: list[Any]) -> bool:
    """``sent`` is ``keys`` in their order, or in the order a browser gives them (its
    objects list integer-like keys first, by number): the editor sends a field it did
    not edit so, which is no edit of its order."""
    if keys == sent:
        return True
    index = [k for k in keys if isinstance(k, str) and _INDEX.fullmatch(k) and int(k) < 2**32 - 1]
    return sent == sorted(index, key=int) + [k for k in keys if k not in index]


def in_order_of(old: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the keys ``old`` has in ``old``'s order, each new one after the
    key sent before it: at the top level, the blocks, each block's fields and ``layout``. A client that
    sends the same workflow with its keys in another order (a JSON PUT built from a
    dict) changes only what it changed. Deeper mappings keep the order sent: a
    parallel's ``branches`` order is the order of its results."""

    def ordered(before: Any, after: Any) -> Any:
        if not (isinstance(before, dict) and isinstance(after, dict)):
            return after
        # A new key goes right after the key the client sent before it (a renamed
        # block keeps its place; blocks added at the end stay there).
        follows: dict[Any, list[Any]] = {}
        previous = None
        for k in after:
            if k in before:
                previous = k
            else:
                follows.setdefault(previous, []).append(k)
        keys = [*follows.get(None, [])]
        for k in before:
            if k in after:
                keys += [k, *follows.get(k, [])]
        return {k: after[k] for k in keys}

    out = ordered(old, doc)
    if isinstance(out.get("blocks"), dict):
        blocks = ordered(old.get("blocks"), out["blocks"])
        old_blocks = old.get("blocks") if isinstance(old.get("blocks"), dict) else {}
        out["blocks"] = {bid: ordered(old_blocks.get(bid), b) for bid, b in blocks.items()}
    if "layout" in out:
        out["layout"] = ordered(old.get("layout"), out["layout"])
    return out


def _patch(old_text: str, old: dict[str, Any], doc: dict[str, Any], full: str) -> str | None:
    canonical = _load(full)
    if not old_text.endswith("\n"):
        old_text += "\n"
    head, top = sections(old_text.splitlines(keepends=True), TOP_KEY)
    indents = file_indents(top)
    if top:  # the comment opening the file is the file's, whatever key comes first
        first = next(iter(top))
        head += top[first][0]
        top[first] = ([], top[first][1])
    out = list(head)
    order = _top_order(old, list(canonical))
    for key in order:
        prefix, own = top.get(key, ([], []))
        if own and key in old and same(old[key], doc[key]):
            out += prefix + own
        elif key == "blocks" and own and opens_block(own[0]) and isinstance(old[key], dict):
            out += prefix + [own[0]] + _patch_blocks(own[1:], old[key], doc[key], indents)
        elif key == "layout" and own and (lines := _patch_layout(own, old, doc, indents)):
            out += prefix + lines
        else:
            value = doc[key]
            if key == "blocks" and isinstance(value, dict):
                value = {bid: _typed_first(block) for bid, block in value.items()}
            out += prefix + written({key: value}, items_under(own, indents))
    text = "".join(out)
    try:
        loaded = load_yaml(text)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    if loaded.found:  # a key twice (a quoted "add": kept, add: written again): not this text
        return None
    saved = loaded.doc
    same_order = isinstance(saved, dict) and list(saved) == order
    if same_order and "blocks" in saved:
        same_order = list(saved["blocks"] or {}) == list(canonical["blocks"] or {})
    return text if same_order and _same_file(saved, doc) else None


def _top_order(old: dict[str, Any], canonical: list[str]) -> list[str]:
    """The top-level keys to write: the file's in the file's order (a hand-written
    `name` before `version` stays there), each new one after the key that comes
    before it in the canonical order (`version` first), and `layout` last wherever
    the file had it (the SPEC: a save keeps `layout` last)."""
    order = [k for k in old if k in canonical and k != "layout"]
    for i, key in enumerate(canonical):
        if key not in order and key != "layout":
            before = next((k for k in reversed(canonical[:i]) if k in order), None)
            order.insert(order.index(before) + 1 if before is not None else 0, key)
    return [*order, "layout"] if "layout" in canonical else order


def _patch_layout(
    own: list[str], old_doc: dict[str, Any], doc: dict[str, Any], indents: Indents
) -> list[str] | None:
    """A changed ``layout`` written as the file writes it: one line ``{…}`` stays one
    line; one entry per line keeps each unchanged entry's line (and the comments
    between them; a renamed block's line under its new key). None: neither, the
    section is written anew."""
    old, new = old_doc["layout"], doc["layout"]
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return None
    blocks = old_doc.get("blocks"), doc.get("blocks")
    renamed = renames(*blocks) if all(isinstance(b, dict) for b in blocks) else {}
    value = own[0].split(":", 1)[1].strip()
    if len(own) == 1 and value.startswith("{") and value.endswith("}"):
        flow = yaml.safe_dump(
            new, default_flow_style=True, width=10**9, sort_keys=False, allow_unicode=True
        )
        return [f"layout: {flow.strip()}\n"]
    if not opens_block(own[0]):
        return None
    first = first_content(own[1:])
    at = indent_of(first) if first is not None else indents.unit
    head, entries = sections(own[1:], block_key(at))
    if at == 0 or any(not is_note(line, at) for line in head):
        return None
    out = [own[0], *head]
    for bid, box in new.items():
        was = renamed.get(bid, bid) if bid not in old else bid
        prefix, lines = entries.get(was, ([], []))
        if lines and was in old and same(old[was], box):
            out += prefix + [f"{' ' * at}{bid}{lines[0][at + len(was) :]}", *lines[1:]]
        else:
            out += prefix + written({bid: box}, indents, at)
    return out


def _patch_blocks(lines: list[str], old: dict[str, Any], new: Any, indents: Indents) -> list[str]:
    """The lines under ``blocks:``: an unchanged block keeps its text, a changed one
    its unchanged fields' (``_patch_fields``); a new one is written at the column
    the file's block keys are at, indented as the file indents."""
    first = first_content(lines)
    at = indent_of(first) if first is not None and indent_of(first) > 0 else indents.unit
    head, blocks = sections(lines, block_key(at))
    renamed = renames(old, new or {})
    out = list(head)
    for bid, block in (new or {}).items():
        was = renamed.get(bid, bid)
        prefix, own = blocks.get(was, ([], []))
        if own and was != bid:  # the renamed block's text, under its new key
            own = [f"{' ' * at}{bid}{own[0][at + len(was) :]}", *own[1:]]
        if own and was in old and _same_block(old[was], block):
            out += prefix + own
            continue
        fields = _patch_fields(own, old.get(was), block, indents) if own else None
        out += prefix + (fields or written({bid: _typed_first(block)}, indents, at))
    return out


def renames(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    """The blocks a save renamed, ``{new id: old id}``: a renamed block keeps its
    text (the comments above it, its unchanged fields) under the new key.

    A rename is the same block under a new key: a new id whose block equals a
    removed one's, wherever the client put it; or else a new id in a removed
    block's place (after the same kept block) with its type, as the editor
    renames (in place, the block perhaps edited in the same save). A block
    added at the end is no rename of one deleted elsewhere."""
    removed = [bid for bid in old if bid not in new]
    added = [bid for bid in new if bid not in old]
    old_places, new_places = _places(old, new), _places(new, old)

    def same_block(was: str, bid: str) -> bool:
        return _same_block(old[was], new[bid])

    def same_place(was: str, bid: str) -> bool:
        return old_places[was] == new_places[bid] and _type_of(old[was]) == _type_of(new[bid])

    pairs: dict[str, str] = {}
    for fits in (same_block, same_place):
        for bid in added:
            taken = set(pairs.values())
            was = next((r for r in removed if r not in taken and fits(r, bid)), None)
            if bid not in pairs and was is not None:
                pairs[bid] = was
    return pairs


def _places(blocks: dict[str, Any], other: dict[str, Any]) -> dict[str, str | None]:
    """Each block ``other`` lacks: the last block before it that both have (None: first)."""
    places: dict[str, str | None] = {}
    kept = None
    for bid in blocks:
        if bid in other:
            kept = bid
        else:
            places[bid] = kept
    return places


def _type_of(block: Any) -> Any:
    return block.get("type") if isinstance(block, dict) else None


def _patch_fields(own: list[str], old: Any, new: Any, indents: Indents) -> list[str] | None:
    """A changed block written one field per line: only the fields whose value
    changed are rewritten (at the column of the block's other fields), so
    ``body: [a, b]`` beside an edited ``max_iterations`` keeps its flow style and
    comments. None when the block is not written so."""
    if not (isinstance(old, dict) and isinstance(new, dict) and opens_block(own[0])):
        return None
    first = first_content(own[1:])
    at = indent_of(first) if first is not None else indent_of(own[0]) + indents.unit
    if at <= indent_of(own[0]):
        return None
    head, fields = sections(own[1:], field_key(at))
    if any(not is_note(line, at) for line in head):
        return None
    out = [own[0], *head]
    for key, value in _typed_first(new).items():
        prefix, lines = fields.get(key, ([], []))
        if lines and key in old and same(old[key], value):
            out += prefix + lines
        else:
            out += prefix + written({key: value}, items_under(lines, indents), at)
    return out


def _typed_first(block: Any) -> Any:
    """A block's fields in the order dump_yaml writes them: ``type`` first."""
    if not isinstance(block, dict):
        return block
    return dict(sorted(block.items(), key=lambda kv: kv[0] != "type"))
