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

from engine.references import MissingReference, Reference, references_in, walk

#: Credential references by what they read: ``input``, or a block's id.
CredentialRefs = Mapping[str, tuple[Reference, ...]]


def credential_refs(handlers: Mapping[str, Any]) -> dict[str, tuple[Reference, ...]]:
    """The references in the workflow's credential fields, by root (``<env.…>`` left
    out: those are secrets already)."""
    by_root: dict[str, list[Reference]] = {}
    for handler in handlers.values():
        for ref in references_in(handler.credential_texts()):
            if ref.root == "input" or ref.root in handlers:
                by_root.setdefault(ref.root, []).append(ref)
    return {root: tuple(refs) for root, refs in by_root.items()}


def note_read(value: Any, refs: Iterable[Reference], note: Callable[[Any], None]) -> None:
    """``note`` what each of ``refs`` reads in ``value`` (the output of their root)."""
    for ref in refs:
        try:
            note(walk(value, ref))
        except MissingReference:  # the block that reads it says so, if it matters
            pass


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
    a trigger's output (made from the input) read in it."""
    found: set[str] = set()

    def note(value: Any) -> None:
        if (text := secret_text(value)) is not None:
            found.add(text)

    for root, root_refs in refs.items():
        if root == "input":
            note_read(run_input, root_refs, note)
        elif handlers[root].category == "trigger":
            note_read(handlers[root].output_for(run_input), root_refs, note)
    return found
