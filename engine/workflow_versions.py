"""Workflow versions: every run executes, and resumes with, the workflow document it
was accepted with, stored once by content hash in ``flowyard_workflow_versions``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg

#: Marks a hash taken over the document in its written order. Before schema version
#: 7 the hash was over its keys sorted, so a file whose keys were already sorted would
#: hash as before and find the row stored then, whose source is in jsonb's order (the
#: only order it kept): the run would go in that order, not the file's.
_WRITTEN_ORDER = "written-order\0"


def version_hash(file: str, source: Any) -> str:
    """The version hash of a workflow document: of its file and its text in the order
    written. A file whose keys were only reordered is another version — key order is
    what a loop over a literal mapping, an ``output:`` mapping or an HTTP body follows."""
    text = json.dumps(source, default=str)
    return hashlib.sha256((_WRITTEN_ORDER + file + "\0" + text).encode()).hexdigest()[:32]


async def save_version(pool: asyncpg.Pool, workflow: Any, known: set[str]) -> str:
    """Store the workflow document by content hash (once; ``known`` caches what is stored),
    so a run always executes — and resumes with — the version it was accepted with.
    ``source`` is json, the text as written: the process that executes the run (the
    engine process, a worker, a resume) rebuilds the workflow with its mappings' keys
    in the file's order (jsonb sorted them)."""
    version = workflow.content_hash
    if not version:  # once per loaded workflow, not once per run
        version = workflow.content_hash = version_hash(workflow.file, workflow.source)
    if version not in known:
        await pool.execute(
            "INSERT INTO flowyard_workflow_versions (hash, name, file, source) VALUES ($1, $2, $3, $4::json)"
            " ON CONFLICT (hash) DO NOTHING",
            version,
            workflow.name,
            workflow.file,
            workflow.source,
        )
        known.add(version)
    return version
