"""What of a workflow document is stored as PostgreSQL text with every run: its
``name:`` (``flowyard_runs.workflow``, ``flowyard_workflow_versions.name``) and its
file (``flowyard_workflow_versions.file``). Text holds no NUL and no lone UTF-16
surrogate: a name with one saved as valid, then every run and delivery was a 500.

The rest of the document is stored as ``json`` text, which escapes both; block ids
and webhook paths are refused unless ASCII (engine/schema.py, blocks/webhook.py).
"""

from __future__ import annotations

from typing import Any

from engine._json import unstorable
from engine.model import Problem


def unstorable_problems(doc: dict[str, Any], file: str) -> list[Problem]:
    """A Problem for a workflow name or file name no run can be stored with."""
    problems = []
    name = doc.get("name")
    if isinstance(name, str) and (why := unstorable(name, "the workflow name")):
        problems.append(Problem(why, file, None, "name"))
    # A file name that is not UTF-8 (b"\xff.yaml") reads with a surrogate escape.
    if why := unstorable(file, "the file name"):
        problems.append(Problem(f"{why}: rename the file", file, None, None))
    return problems
