"""What a running block sees: its run, its scope, and the services of the runtime."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Container
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.credentials import secret_text
from engine.references import Compiled, Scope, Skipped, compile_value

if TYPE_CHECKING:
    import asyncpg
    import httpx

    from engine.database import Database
    from engine.functions import FunctionPool
    from engine.graph import Plan
    from engine.model import BlockModel
    from engine.recorder import RunRecorder
    from engine.transactions import Transactions


@functools.cache
def warm_http_client() -> None:
    """Import the runtime's HTTP client (httpx over aiohttp: engine/_http.py) once per
    process, when a workflow with an HTTP or Slack block is loaded.

    Done by the first request instead, it took 0.5-1 s (importing aiohttp, which builds
    its TLS contexts as it loads, then the client's own) out of that block's ``timeout`` before anything was
    sent, blocking every run of the process meanwhile: the first capture after a start,
    ``timeout: 1``, timed out against a peer answering at once, and was never sent.
    Not at module import: every flowyard command would pay it (as the Agent block's
    SDK: blocks/_agent_client.py, warm_sdk)."""
    from engine._http import tls_context

    tls_context()


@dataclass
class Services:
    """Long-lived things a runtime owns and every run shares."""

    db: Database
    functions: FunctionPool
    #: Where a workflow's functions may find a ``lib/`` one folder above their file:
    #: the workflows folder and the workspace (engine/function_libs.py).
    lib_roots: tuple[Path, ...] = ()
    _http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """One pooled HTTP client per runtime (keep-alive across runs)."""
        if self._http is None:
            from engine._http import new_client

            self._http = new_client()
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


class RunContext:
    """State of one run: inputs, secrets seen, the recorder and transaction groups."""

    def __init__(
        self,
        execution_id: str,
        plan: Plan,
        input: dict[str, Any],
        services: Services,
        recorder: RunRecorder,
        transactions: Transactions,
        restored: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.plan = plan
        self.workflow = plan.workflow
        self.input = input
        self.services = services
        self.recorder = recorder
        self.transactions = transactions
        self.secrets: set[str] = set()
        self.restored = restored or {}
        self.env = os.environ
        # Whose idempotency keys this run's effects send: its own, or for a re-run
        # from the failed block, the run it re-runs (its `rerun_keys` event, set by
        # the caller: engine.recovery.key_base; older re-runs: on what they carried).
        self.key_base = next(
            (r["key_of"] for r in self.restored.values() if r.get("key_of")), execution_id
        )
        # The run a re-run repeats (the first of a chain of re-runs), else None:
        # <workflow.rerun_of>. Unlike key_base, set for a re-run of every block too.
        self.rerun_of: str | None = None
        # The trigger block the run starts from (engine/triggers.py): the workflow's
        # other trigger blocks are skipped. None: every one runs (no trigger, or a
        # run accepted before runs kept it).
        self.trigger_block: str | None = None
        # A resumed run: the blocks its log already shows skipped (not logged again).
        self.logged_skips: frozenset[str] = frozenset()

    def note_secret(self, value: Any) -> None:
        if (text := secret_text(value)) is not None:
            self.secrets.add(text)


class Frame(Scope):
    """A scope of names: the outputs of a region's blocks, loop variables, and a parent."""

    __slots__ = ("run", "outputs", "sizes", "variables", "parent", "step_limit")

    def __init__(
        self,
        run: RunContext,
        parent: Frame | None = None,
        variables: dict[str, Any] | None = None,
        step_limit: int | None = None,
    ) -> None:
        self.run = run
        self.parent = parent
        self.outputs: dict[str, Any] = {}
        #: Characters of JSON of the outputs, as the run log encoded them, where known:
        #: what a loop or parallel counts of its `results` (blocks/_collected.py).
        self.sizes: dict[str, int] = {}
        self.variables = variables or {}
        #: In a fold's body (and bodies inside it): the most characters of JSON the
        #: event of a block without effects keeps. A state that grows with each step
        #: was recorded whole at every step, a run log growing with the square of the
        #: fold's length; over the limit the record says so, and a resume runs the
        #: step again from the state before it (blocks with effects keep theirs).
        self.step_limit = (
            step_limit if step_limit is not None or parent is None else parent.step_limit
        )

    def lookup(self, root: str) -> Any:
        frame: Frame | None = self
        while frame is not None:
            if root in frame.variables:
                return frame.variables[root]
            if root in frame.outputs:
                return frame.outputs[root]
            frame = frame.parent
        run = self.run
        if root == "input":
            return run.input
        if root == "env":
            return run.env
        if root == "workflow":
            return {
                "execution_id": run.execution_id,
                "name": run.workflow.name,
                "rerun_of": run.rerun_of,
            }
        if root == "state" and self.parent is not None:
            # In a body with no accumulator around it (a parallel's): null, as in a
            # loop without `accumulate` (validation refuses `<state>` outside bodies).
            return None
        if root in run.workflow.blocks:
            raise Skipped(root)
        raise KeyError(root)

    def note_secret(self, value: Any) -> None:
        self.run.note_secret(value)

    def visible(
        self, upstream: Container[str], names: frozenset[str] | None = None
    ) -> dict[str, Any]:
        """Every name this frame can see (outer first), for Function blocks' ``input``;
        with ``names``, only those (what the code reads), without merging the rest.

        Block outputs are limited to ``upstream``: a block that merely finished
        earlier (a sibling branch) is not an input (SPEC: "a run's blocks see only
        upstream outputs"), and must not appear or vanish with timing.

        A block id is never the run input's field of that name: a block that did not
        run for this one (skipped, or not upstream) is absent, else a caller could
        send ``{"approve": {"approved": true}}`` and stand in for an approval block
        behind an untaken branch."""
        chain = []
        frame: Frame | None = self
        while frame is not None:
            chain.append(frame)
            frame = frame.parent
        run_input = self.run.input if isinstance(self.run.input, dict) else {}
        blocks = self.run.workflow.blocks
        if names is not None:
            found: dict[str, Any] = {}
            for name in names:
                for f in chain:  # innermost first: the nearest definition wins
                    if name in f.variables:
                        found[name] = f.variables[name]
                        break
                    if name in f.outputs and name in upstream:
                        found[name] = f.outputs[name]
                        break
                else:
                    if name in run_input and name not in blocks:
                        found[name] = run_input[name]
            return found
        merged: dict[str, Any] = {k: v for k, v in run_input.items() if k not in blocks}
        for f in reversed(chain):
            merged.update((k, v) for k, v in f.outputs.items() if k in upstream)
            merged.update(f.variables)
        return merged


class BlockContext:
    """Handed to a handler's ``run``: who it is, where it runs, and the services."""

    __slots__ = ("run", "block", "frame", "path", "attempt", "inputs", "_executor")

    def __init__(
        self,
        run: RunContext,
        block: BlockModel,
        frame: Frame,
        path: str,
        attempt: int,
        executor: Any,
    ) -> None:
        self.run = run
        self.block = block
        self.frame = frame
        self.path = path
        self.attempt = attempt
        self.inputs: dict[str, Any] = {}
        self._executor = executor

    @property
    def execution_id(self) -> str:
        return self.run.execution_id

    @property
    def idempotency_key(self) -> str:
        """Stable across retries, resumes and re-runs from the failed block:
        execution id (the first run's, for a re-run) + block path."""
        return f"{self.run.key_base}:{self.path}"

    @property
    def services(self) -> Services:
        return self.run.services

    def resolve(self, value: Any) -> Any:
        """Resolve references in a raw value (or an already compiled one)."""
        compiled = (
            value
            if isinstance(value, Compiled)
            else compile_value(value, self.run.plan.known_roots)
        )
        return compiled.resolve(self.frame)

    async def run_body(
        self, group: str, variables: dict[str, Any], label: str, step_limit: int | None = None
    ) -> Any:
        """Run this container's body ``group`` once, with ``variables`` in scope.

        Returns a ``BodyResult``: ``.output`` is the body's last output (of the blocks
        that ended it: engine.region_output.body_output) and ``.frame`` its scope, for resolving
        references into the body. ``label`` names the iteration: ``loop[3].add``.
        ``step_limit``: ``Frame.step_limit`` for the body's blocks.
        """
        return await self._executor.run_body(self, group, variables, label, step_limit)

    @asynccontextmanager
    async def transaction(self, name: str) -> AsyncIterator[asyncpg.Connection]:
        """The connection of transaction group ``name`` (BEGIN on first use)."""
        async with self.run.transactions.use(name, self.path) as conn:
            yield conn
