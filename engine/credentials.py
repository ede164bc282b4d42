"""Credentials a run is given, secrets from the moment their value exists.

A block notes the credential it reads as a run secret (an Agent's ``api_key``, a
Slack ``webhook_url``, a Database ``connection``, an HTTP ``Authorization`` header:
``BlockHandler.credential_texts``), and every record written after is redacted. A
value that came from the run's input or another block's output was recorded
before, in clear: ``api_key: <input.key>`` left the key in the stored input and the
trigger's output, ``Authorization: "Bearer <login.token>"`` the token in the login
Function's output, and both in the run's result. So the references in credential
fields are read as soon as their value exists — from the input when the run is
accepted and when it starts, from a block's output as it succeeds — and what they
read is a secret from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from engine.references import MissingReference, Reference, parse, references_in, walk

#: Credential references by what they read: ``input``, or a block's id.
CredentialRefs = Mapping[str, tuple[Reference, ...]]


def credential_refs(handlers: Mapping[str, Any]) -> dict[str, tuple[Reference, ...]]:
    """The references in the workflow's credential fields, by root (``<env.…>`` left
    out: those are secrets already)."""
    by_root: dict[str, list[Reference]] = {}
    for handler in handlers.values():
        for ref in references_in(handler.credential_texts()):
            ref = _through_items(ref, handler, handlers)
            if ref.root == "input" or ref.root in handlers:
                by_root.setdefault(ref.root, []).append(ref)
    return {root: tuple(refs) for root, refs in by_root.items()}


#: A path segment for every item of a list (every ``{key, value}`` pair of a
#: mapping), as a loop or a parallel over ``items`` hands them to its body; never a
#: segment of a written reference (``[\w-]+``).
EACH = "*"


def _through_items(ref: Reference, handler: Any, handlers: Mapping[str, Any]) -> Reference:
    """``ref`` read through the loop variables it starts with: ``<acct.key>`` in the
    body of a loop over ``items: <input.accounts>`` (``as: acct``) reads
    ``<input.accounts.*.key>``. Only ``<input.…>`` itself had been traced, and a key
    given in the input's list was stored in clear. A variable whose ``items`` is no
    single reference is left as it is (nothing before the run holds it)."""
    block = handler.block
    while True:
        container = _binding(ref.root, block, handlers)
        items = container.config.get("items") if container is not None else None
        found = parse(items) if isinstance(items, str) else []
        if len(found) != 1 or (found[0][0], found[0][1]) != (0, len(items)):
            return ref
        source = found[0][2]
        path = (*source.path, EACH, *ref.path)
        ref = Reference(source.root, path, ref.optional or source.optional, ref.text)
        block = container.block  # its items may be an outer container's variable


def _binding(name: str, block: Any, handlers: Mapping[str, Any]) -> Any:
    """The nearest container around ``block`` whose variable is ``name``, or None."""
    parent = block.parent
    while parent is not None and parent in handlers:
        container = handlers[parent]
        if container.block.type in ("loop", "parallel"):
            if str(container.config.get("as") or "item") == name:
                return container
        parent = container.block.parent
    return None


def _read(value: Any, ref: Reference) -> list[Any]:
    """What ``ref`` reads in ``value``: one value, or one for each item :data:`EACH`
    stands for; none where the value is missing."""
    if EACH not in ref.path:
        try:
            return [walk(value, ref)]
        except MissingReference:  # the block that reads it says so, if it matters
            return []
    cut = ref.path.index(EACH)
    items = _read(value, Reference(ref.root, ref.path[:cut], True, ref.text))
    rest = Reference(ref.root, ref.path[cut + 1 :], ref.optional, ref.text)
    found = []
    for each in items:
        if isinstance(each, Mapping):  # iterated as its {key, value} pairs
            each = [{"key": k, "value": v} for k, v in each.items()]
        if isinstance(each, list):
            for item in each:
                found += _read(item, rest)
    return found


def note_read(value: Any, refs: Iterable[Reference], note: Callable[[Any], None]) -> None:
    """``note`` what each of ``refs`` reads in ``value`` (the output of their root)."""
    for ref in refs:
        for found in _read(value, ref):
            note(found)


def secret_text(value: Any) -> str | None:
    """The text a value read as a secret is redacted as: a number by its digits (a PIN
    read with ``int()``); None for what is no secret (null, a boolean, a mapping)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def input_credentials(
    refs: CredentialRefs, handlers: Mapping[str, Any], run_input: Any
) -> set[str]:
    """The credentials a run's input holds: what ``<input.…>`` and the references to
    a trigger's output (made from the input) read in it, and what a trigger says is
    one by itself (BlockHandler.input_secrets)."""
    found: set[str] = set()

    def note(value: Any) -> None:
        if (text := secret_text(value)) is not None:
            found.add(text)

    for root, root_refs in refs.items():
        if root == "input":
            note_read(run_input, root_refs, note)
        elif handlers[root].category == "trigger":
            note_read(handlers[root].output_for(run_input), root_refs, note)
    for handler in handlers.values():
        if handler.category == "trigger":
            for value in handler.input_secrets(run_input):
                note(value)
    return found
