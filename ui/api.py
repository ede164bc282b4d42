"""The REST API: health, workflows CRUD, block types, templates, OpenAPI.

Runs and the live stream are in :mod:`ui.api_runs` (same blueprint).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from flask import Blueprint, Response, request, url_for

from engine._json import strict_loads
from engine.migrations import SCHEMA_VERSION, migrated_under_us_message
from ui.app import bridge, db_watch, settings

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger("flowyard.ui")

CONTAINER_TYPES = ("loop", "parallel")


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, UUID | Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def jresponse(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON with ISO datetimes (Flask's default would write HTTP dates)."""
    body = json.dumps(obj, default=_default, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json", headers=headers)


def error(status: int, message: str, **extra: Any) -> Response:
    return jresponse({"error": message, **extra}, status)


def runtime() -> Any:
    return bridge().runtime


# -- health --------------------------------------------------------------------
@bp.get("/health")
def health() -> Response:
    # The queue worker of a `serve` that runs one: "restarting" between a worker that
    # ended by itself (the database away too long) and the next. `status` stays the
    # database's: a worker restarting is what it does to get well.
    queue = runtime().queue
    state = queue.worker_state if queue is not None else None
    worker = {"queue_worker": state} if state else {}
    # `serve --engine-process`: its engine process, whose death left runs accepted and
    # none executed while health said all was well. Reported, as the queue worker is,
    # without changing `status`: this process still accepts runs, durably.
    engine = bridge().engine_process
    if engine is not None:
        worker["engine_process"] = engine.state
    degraded = jresponse({"status": "degraded", "database": "unavailable", **worker}, 503)
    if db_watch().stalled:  # known not to answer: said at once, no thread held waiting
        return degraded
    try:
        # The run log's pool: what accepting a run needs. The blocks' pool (Database
        # blocks, transaction groups) may be all in use by slow queries while the
        # database answers: asked there, health waited 3 s and said "unavailable".
        pool = runtime().db.log_pool
        blocks = runtime().db.pool
        if blocks.get_idle_size() == 0 and blocks.get_size() >= blocks.get_max_size():
            worker["blocks_pool"] = "exhausted"  # runs' Database blocks wait for a connection
        # The schema version, which this process's start recorded: above its own, a
        # newer release has migrated the database since (its processes are to run).
        found = bridge().call(pool.fetchval("SELECT max(version) FROM flowyard_schema"), timeout=3)
        if found is not None and found > SCHEMA_VERSION:
            newer = {"database": "newer_schema", "error": migrated_under_us_message(found)}
            return jresponse({"status": "degraded", **newer, **worker}, 503)
        db_watch().health_failures.worked()
        return jresponse({"status": "ok", "database": "ok", **worker})
    except Exception as exc:  # any failure means "not healthy"; say which part
        db_watch().health_failures.failed(exc)  # once an outage, not once a probe
        if isinstance(exc, TimeoutError):  # it hangs: is it the database? (ui/db_watch.py)
            db_watch().suspect()
        return degraded


def request_text() -> str | None:
    """The body as UTF-8 text, or None when it is not UTF-8.

    Flask's ``get_data(as_text=True)`` would swap bad bytes for U+FFFD, and a
    saved workflow or a run input would silently lose them.

    A leading byte order mark is skipped, as RFC 8259 allows and the webhooks do:
    Windows tools write one (PowerShell's ``Out-File -Encoding utf8``), and the JSON
    bodies were refused with Python's "decode using utf-8-sig".
    """
    try:
        return request.get_data().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None


def json_body() -> tuple[Any, str, Response | None]:
    """The body as strict JSON (``{}`` when empty or blank), its text, and the 400 to
    answer instead when it is not UTF-8 or not JSON. Strict: NaN, Infinity and
    1e999999 are refused, not stored as null."""
    raw = request_text()
    if raw is None:
        return None, "", error(400, "the body is not UTF-8 text")
    try:
        return (strict_loads(raw) if raw.strip() else {}), raw, None
    except ValueError as exc:
        return None, raw, error(400, f"the body is not JSON: {exc}")


# -- block types and schema ----------------------------------------------------
def _ports(handler: type) -> list[str]:
    from engine.model import BlockModel

    try:
        return list(handler(BlockModel(id="x", type=handler.type, config={})).ports())
    except Exception:  # a handler that needs config to list ports: the default
        return ["default"]


@bp.get("/block-types")
def list_block_types() -> Response:
    from engine.registry import block_types
    from engine.schema import COMMON_PROPERTIES

    out = {}
    for name, h in sorted(block_types().items()):
        ports = _ports(h)
        if name == "condition" and ports == ["default"]:
            ports = ["true", "false"]
        out[name] = {
            "type": name,
            "category": getattr(h, "category", "action"),
            "description": getattr(h, "description", ""),
            "config_schema": getattr(h, "config_schema", {}),
            "required": list(getattr(h, "required", ())),
            "outputs": list(getattr(h, "outputs", ())),
            "ports": ports,
            "container": name in CONTAINER_TYPES or getattr(h, "category", "") == "container",
        }
    return jresponse({"block_types": out, "common": COMMON_PROPERTIES})


@bp.get("/schema")
def get_schema() -> Response:
    from engine.schema import workflow_schema

    return jresponse(workflow_schema())


# -- templates -------------------------------------------------------------------
def _templates_module() -> Any:
    import templates

    return templates


@bp.get("/templates")
def list_templates() -> Response:
    try:
        items = _templates_module().list_templates()
    except (ImportError, AttributeError):
        return jresponse({"templates": [], "note": "templates are not installed"})
    return jresponse({"templates": [_template_dict(t) for t in items]})


def _template_dict(t: Any) -> dict[str, Any]:
    if isinstance(t, dict):
        return t
    if dataclasses.is_dataclass(t) and not isinstance(t, type):
        return dataclasses.asdict(t)
    return {
        k: getattr(t, k) for k in ("id", "name", "title", "description", "variant") if hasattr(t, k)
    }


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@bp.post("/templates/<template_id>/instantiate")
def instantiate_template(template_id: str) -> Response:
    # A form (the editor's own page posts `name`); anything else must be JSON: curl's
    # `-d '{bad'` is form-typed and parsed as a form field named "{bad", and a
    # malformed body was taken as none (the default name, or a false 409).
    body, _, refused = json_body()  # read first: parsing the form would consume the body
    if request.mimetype in _FORM_TYPES and all(map(_FIELD_NAME.match, request.form)):
        # A form of field names (not `{bad` parsed as one): its unknown keys are
        # named below, as a JSON body's are.
        # `csrf_token` is the session's (ui/auth.py), not a field of the body.
        body = {k: v for k, v in request.form.items() if k not in ("name", "csrf_token")}
        refused = None
    if refused is not None:
        return refused
    if not isinstance(body, dict):
        return error(400, 'the body must be a JSON object such as {"name": "orders"}')
    # A misspelled `{"nmae": …}` made the template's default copy, the name dropped
    # without a word: named, as the re-run and replay routes name theirs.
    if unknown := sorted(set(body) - {"name"}):
        return error(
            400,
            f"unknown keys {', '.join(map(repr, unknown))}: the body is"
            ' {"name": "<workflow name>"}, or {} for the template\'s id',
        )
    # A name given empty is refused (400), not taken as none: `or` made `""` the
    # template's default copy, or a false 409 when that copy was there.
    name = body["name"] if "name" in body else request.form.get("name")
    # A name is checked by templates.copy_stem, whose refusal (a 400) is the one
    # `flowyard new` prints: the rule, its 100-character limit included.
    made, err = copy_template(template_id, name)
    if err is not None or made is None:
        return err  # type: ignore[return-value]
    _apply_template_schemas()
    path = Path(made.path)
    return jresponse(
        {
            "name": path.stem,
            "file": path.name,
            "title": made.title,
            "editor_url": url_for("pages.editor", name=path.stem),
            # Where the copy answers, and what was changed so it clashes with no
            # other file (its path and name: otherwise the template's own).
            "webhooks": [
                {"block": block, "method": method, "path": hook, "url": f"/webhooks/{hook}"}
                for block, method, hook in made.webhooks
            ],
            "changes": [c.to_dict() for c in made.changes],
        },
        201,
    )


def copy_template(template_id: str, name: str | None) -> tuple[Any, Response | None]:
    """``templates.copy_template`` into the workflows folder, or the error response."""
    try:
        made = _templates_module().copy_template(
            template_id, settings().workflows_dir, name=name, store=runtime().workflows
        )
    except (KeyError, LookupError) as exc:
        return None, error(404, f"no template {template_id!r}", detail=str(exc))
    except FileExistsError:
        return None, error(409, f"a workflow named {name or template_id!r} already exists")
    except _templates_module().CopyNotWritten as exc:  # the folder read-only or full
        reason = f"{exc.reason} ({Path(exc.file).name})" if exc.file else exc.reason
        return None, error(500, "the workflows folder cannot be written", reason=reason)
    except ValueError as exc:
        return None, error(400, str(exc))
    except (ImportError, AttributeError):
        return None, error(503, "templates are not installed")
    return made, None


def _apply_template_schemas() -> None:
    """A template is ready to run once created: its tables exist (idempotent DDL)."""

    bridge().call(_templates_module().apply_schemas_in(runtime().db.pool), timeout=60)


@bp.get("/openapi.json")
def openapi() -> Response:
    from ui.openapi import document

    return jresponse(document())


from ui import api_events, api_run_operations, api_runs, api_workflows  # noqa: E402,F401  (they register their routes on ``bp``)
