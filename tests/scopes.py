"""A scope of plain values, for tests of expressions and references without a run
(what engine.references.Scope asks of a run's scope)."""

from __future__ import annotations

from typing import Any


class Scope:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.secrets: set[Any] = set()

    def lookup(self, root: str) -> Any:
        return self.values[root]

    def note_secret(self, value: Any) -> None:
        self.secrets.add(value)
