"""Block handlers and the registry that maps a workflow ``type`` to one.

A block type is one subclass of :class:`BlockHandler` in its own module under
``blocks/``, decorated with :func:`register`. The handler class carries what the
validator, the editor palette and the JSON Schema need (``config_schema``,
``ports``, ``outputs``); an instance is made once per block per loaded workflow
(``prepare`` work such as compiling code happens there), and ``run`` is called
once per attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from engine.references import references_in

if TYPE_CHECKING:
    from engine.context import BlockContext
    from engine.model import BlockModel, Problem
    from engine.references import Reference


@dataclass(slots=True)
class Result:
    """What a handler returns when it needs more than a plain output dict."""

    output: Any
    port: str = "default"
    inputs: dict[str, Any] | None = None  # shown in the run viewer instead of the config


@dataclass(frozen=True, slots=True)
class ContainerBody:
    """A container's sub-graphs: one per parallel branch, or a single ``body``."""

    groups: dict[str, list[str]] = field(default_factory=dict)


class BlockHandler:
    type: ClassVar[str] = ""
    category: ClassVar[str] = "action"  # trigger | action | logic | container
    description: ClassVar[str] = ""
    #: JSON Schema ``properties`` for the block's own config keys.
    config_schema: ClassVar[dict[str, Any]] = {}
    required: ClassVar[tuple[str, ...]] = ()
    #: Rules across keys (exactly one of `if`/`cases`) as JSON Schema, published for
    #: the editor and other tools. ``problems()`` says each in words, so the
    #: validator skips what these report (engine.schema.said_in_words).
    schema_rules: ClassVar[tuple[dict[str, Any], ...]] = ()
    #: Keys that are not reference-resolved before ``run`` (code, SQL, expressions, bodies).
    raw_keys: ClassVar[frozenset[str]] = frozenset()
    #: Output fields, for the editor's reference autocomplete and the docs.
    outputs: ClassVar[tuple[str, ...]] = ()
    #: True when the block acts outside the run (HTTP, SQL, mail): the run log is
    #: flushed before it starts, so a crash can never hide that it was attempted.
    side_effects: ClassVar[bool] = False
    #: Whether running the block again after it completed applies nothing twice: it
    #: acts on nothing outside the run, or its effect carries a key the peer drops a
    #: repeat by (HTTP's Idempotency-Key). A resume runs such a block again when its
    #: record cannot be restored (its output held a secret, or was too big); any
    #: other, it does not: the run fails (engine/recovery.py). A handler with
    #: ``side_effects`` must say it (``register`` checks). It holds for every
    #: instance, even one that turns ``side_effects`` off (a Database block in a
    #: transaction group, whose writes stand once the group commits).
    repeatable: ClassVar[bool] = True
    #: Whether the block's success is written to the run log as soon as it completes,
    #: not with the next flush (up to FLUSH_INTERVAL_S later): an effect no key makes
    #: idempotent (a Slack post, an email) would otherwise be sent again by the resume
    #: of a process that died in between. A Database statement is not (one round trip
    #: per statement on the hot path): make it idempotent (docs/blocks/database.md).
    recorded_at_once: ClassVar[bool] = False
    #: Config fields whose value is a credential (an API key, a URL holding one):
    #: what their references read is a run secret as soon as it exists
    #: (engine/credentials.py). ``credential_texts`` may say more.
    credential_fields: ClassVar[tuple[str, ...]] = ()
    #: Default per-attempt timeout in seconds (None: no limit).
    default_timeout: ClassVar[float | None] = None
    #: True when the handler enforces the block's ``timeout`` itself, over its own
    #: execution only: the engine sets no timer around it (a Function block waiting
    #: for a free worker of the pool is not running yet).
    times_itself: ClassVar[bool] = False

    def __init__(self, block: BlockModel) -> None:
        self.block = block
        self.config = block.config

    # -- load time -------------------------------------------------------
    def problems(self) -> list[Problem]:
        """Extra validation beyond the JSON Schema (expressions, SQL, bodies)."""
        return []

    def ports(self) -> tuple[str, ...]:
        """Output ports an edge may name (``route.true``); ``error`` is always allowed."""
        return ("default",)

    def body(self) -> ContainerBody | None:
        """Containers (loop, parallel) name their body blocks here."""
        return None

    def credential_texts(self) -> list[Any]:
        """The config values that are credentials (``credential_fields``)."""
        return [self.config[k] for k in self.credential_fields if k in self.config]

    def came_out_empty(self, field: str, resolved: Mapping[str, Any]) -> bool:
        """Whether ``field``, written as a reference, resolved to no text (nothing, or
        blanks: ``<env.X>`` set to nothing, ``<input.x?>`` with no value). Not "not
        given", as a field left out or a literal "" is: read so, a block used its
        default in the place of what the workflow names (the runner's own database,
        OPENAI_BASE_URL, SMTP_FROM). Retried, it comes out empty again."""
        written = self.config.get(field)
        if not (isinstance(written, str) and next(references_in(written), None) is not None):
            return False
        value = resolved.get(field)
        return not (isinstance(value, str) and value.strip())

    def output_for(self, run_input: Any) -> Any:
        """A trigger's output for a run given ``run_input``, as ``run`` makes it
        (None: not one that makes it from the input alone)."""
        return None

    def input_secrets(self, run_input: Any) -> list[Any]:
        """Values of a trigger's ``run_input`` that are credentials whatever reads them
        (a webhook's ``?token=``): the run uses them, its records show ``***``, as
        for an ``<env.…>`` secret (engine/credentials.py, input_credentials)."""
        return []

    def references_in_raw(self) -> dict[str, Any]:
        """Raw values (key → value) whose references must name upstream blocks.

        A handler leaves out keys whose references mean something else (a webhook's
        ``idempotency_key`` points into its own request)."""
        return {k: self.config[k] for k in self.raw_keys if k in self.config}

    def reference_problem(self, ref: Reference) -> str | None:
        """Why ``ref``, a reference in any block's field or the workflow's ``output``,
        can never find a value in this block's output, or None (the default: any
        field may be there). A webhook's ``<hook.headers.X-Request-Id>`` never is:
        its headers are named ``x_request_id``."""
        return None

    # -- run time --------------------------------------------------------
    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> Any:
        """Run one attempt; ``config`` has every non-raw key resolved.

        Return the output (a dict; anything else becomes ``{"result": value}``) or
        a :class:`Result` to choose a port.
        """
        raise NotImplementedError


def block_ids(value: Any) -> list[str]:
    """A container's list of body block ids; anything but a list is none (the JSON
    Schema reports the wrong type, so validation must not trip over it first)."""
    return [str(b) for b in value] if isinstance(value, list) else []


_REGISTRY: dict[str, type[BlockHandler]] = {}


def register(cls: type[BlockHandler]) -> type[BlockHandler]:
    if not cls.type:
        raise TypeError(f"{cls.__name__} has no block type name")
    if cls.side_effects and not _says_repeatable(cls):
        # The default (True) is for blocks without effects: left unsaid, a resume
        # would send a new effect's second copy (engine/recovery.py).
        raise TypeError(f"{cls.__name__} has side effects: set `repeatable` (True or False)")
    if cls.type in _REGISTRY and _REGISTRY[cls.type] is not cls:
        raise ValueError(f"block type {cls.type!r} is registered twice")
    _REGISTRY[cls.type] = cls
    return cls


def _says_repeatable(cls: type[BlockHandler]) -> bool:
    return any("repeatable" in vars(c) for c in cls.__mro__ if c is not BlockHandler)


def handler_for(type_name: str) -> type[BlockHandler] | None:
    return _REGISTRY.get(type_name)


def block_types() -> dict[str, type[BlockHandler]]:
    return dict(_REGISTRY)
