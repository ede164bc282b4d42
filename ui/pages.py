"""HTML pages: workflow list + templates gallery, editor, run viewer, events page.

Pages render a shell only; their data comes from the JSON API (same session),
so nothing secret is ever rendered into HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from engine import runstore
from ui import workflow_files as wf
from ui.api import _apply_template_schemas, _template_dict, _templates_module, runtime
from ui.app import bridge, settings

bp = Blueprint("pages", __name__)

#: The rule of a workflow name, as the pages say it.
NAME_RULE = f"{wf.NAME_RULE[0].upper()}{wf.NAME_RULE[1:]} (e.g. my_first_flow)."
#: Flashed messages: ``notice`` is shown by base.html on the next page (the editor,
#: after a template copy); ``new`` and ``template:<id>`` next to that form on `/`.
NOTICE = "notice"


def _free_name(stem: str) -> str:
    """``stem``, or ``stem_2``, ``stem_3``… : the first no workflow file has, so the
    gallery's suggestion can be used as it is (the template id is usually taken by
    the copy `serve` installs)."""
    folder = settings().workflows_dir
    for n in range(1, 1000):
        name = stem if n == 1 else f"{stem}_{n}"
        if wf.find(folder, name) is None and not (folder / f"{name}.yaml").exists():
            return name
    return stem  # the copy then answers "already exists", on the page


def _templates() -> list[dict[str, Any]]:
    try:
        items = [_template_dict(t) for t in _templates_module().list_templates()]
    except (ImportError, AttributeError):
        return []
    return [{**t, "suggested": _free_name(str(t.get("id")))} for t in items]


@bp.get("/")
def index() -> str:
    folder = settings().workflows_dir
    return render_template(
        "index.html",
        workflows=wf.summaries(folder, runtime().workflows),
        ignored=wf.ignored_files(folder),
        templates=_templates(),
        name_rule=NAME_RULE,
    )


def _back_to_index(category: str, message: str, anchor: str) -> Any:
    """A form's problem, said next to that form on `/` (not a bare error page)."""
    flash(message, category)
    return redirect(url_for("pages.index", _anchor=anchor))


@bp.get("/new")
def new_workflow() -> Any:
    name = (request.args.get("name") or "").strip()
    if not wf.valid_name(name):
        return _back_to_index(
            "new", f"{name!r} is not a workflow name: {NAME_RULE}", "new-workflow"
        )
    # Not the existing file opened as if it were new (the template form refuses a
    # taken name alike): it is one click away in the list.
    if wf.find(settings().workflows_dir, name) is not None:
        message = (
            f"A workflow named {name!r} already exists (open it from the list): "
            "choose another name."
        )
        return _back_to_index("new", message, "new-workflow")
    return redirect(url_for("pages.editor", name=name))


@bp.post("/templates/<template_id>/use")
def use_template(template_id: str) -> Any:
    templates = _templates_module()
    try:
        templates.template_dir(template_id)
    except (KeyError, LookupError):
        abort(404)
    here = ("template:" + template_id, f"template-{template_id}")
    # An empty field takes the name the field suggests (free when the page was shown).
    name = (request.form.get("name") or "").strip() or _free_name(template_id)
    if not wf.valid_name(name):
        return _back_to_index(here[0], f"{name!r} is not a workflow name: {NAME_RULE}", here[1])
    try:
        made = templates.copy_template(
            template_id, settings().workflows_dir, name=name, store=bridge().runtime.workflows
        )
    except FileExistsError:
        # The field comes back with a free name filled in (see _templates).
        message = f"A workflow named {name!r} already exists: choose another name."
        return _back_to_index(here[0], message, here[1])
    except (ValueError, templates.CopyNotWritten) as exc:  # no free name; the folder unwritable
        return _back_to_index(here[0], str(exc), here[1])
    # Ready to run, as after the API and `flowyard new`: its tables exist.
    _apply_template_schemas()
    _say_what_changed(made)
    return redirect(url_for("pages.editor", name=Path(made.path).stem))


def _say_what_changed(made: Any) -> None:
    """A copy beside a workflow with the template's webhook path or name gets its
    own, and a lib/ file the user edited (or the copy's SQL or README a deleted copy
    left) is kept (docs/templates.md): the editor page says so, as `flowyard new`
    prints it."""
    for c in made.changes:
        if c.kept_file:
            flash(f"{c.said()}.", NOTICE)
    clashes = [c for c in made.changes if not c.kept_file]
    if not clashes:
        return
    flash(
        f"{Path(made.path).name} differs from the template, so it clashes with no other workflow:",
        NOTICE,
    )
    for c in clashes:
        flash(f"{c.said()}.", NOTICE)
    for _block, method, hook in made.webhooks:
        flash(f"Its webhook: {method} /webhooks/{hook}", NOTICE)


@bp.get("/editor/<name>")
def editor(name: str) -> str:
    if not wf.valid_name(name):
        abort(404)
    exists = wf.find(settings().workflows_dir, name) is not None
    return render_template("editor.html", name=name, exists=exists)


@bp.get("/runs")
def runs_page() -> str:
    status = request.args.get("status", "")
    before = request.args.get("before", "")
    before = before if runstore.is_run_id(before) else ""
    # The page after a run deleted since (retention): the API refuses that cursor, so
    # say so and show the newest runs, as an unknown status shows all of them.
    pool = runtime().db.log_pool
    gone_before = (
        before if before and bridge().call(runstore.run_status(pool, before)) is None else ""
    )
    return render_template(
        "runs.html",
        workflow=request.args.get("workflow", ""),
        status=status if status in runstore.RUN_STATUSES else "",
        unknown_status=status if status and status not in runstore.RUN_STATUSES else "",
        statuses=runstore.RUN_STATUSES,
        before="" if gone_before else before,
        gone_before=gone_before,
    )


@bp.get("/runs/<execution_id>")
def run_page(execution_id: str) -> str:
    if not runstore.is_run_id(execution_id):
        abort(404)
    pool = runtime().db.log_pool
    if bridge().call(runstore.run_status(pool, execution_id)) is None:
        abort(404)  # the shell would poll a run that is not there
    return render_template("run.html", execution_id=execution_id)


@bp.get("/events")
def events_page() -> str:
    return render_template("events.html")
