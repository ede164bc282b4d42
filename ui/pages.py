"""HTML pages: workflow list + templates gallery, editor, run viewer, events page.

Pages render a shell only; their data comes from the JSON API (same session),
so nothing secret is ever rendered into HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from ui import workflow_files as wf
from ui.api import _template_dict, _templates_module
from ui.app import settings

bp = Blueprint("pages", __name__)


def _templates() -> list[dict[str, Any]]:
    try:
        return [_template_dict(t) for t in _templates_module().list_templates()]
    except (ImportError, AttributeError):
        return []


@bp.get("/")
def index() -> str:
    workflows = [wf.summary(p) for p in wf.list_files(settings().workflows_dir)]
    return render_template("index.html", workflows=workflows, templates=_templates())


@bp.get("/new")
def new_workflow() -> Any:
    name = (request.args.get("name") or "").strip()
    if not wf.valid_name(name):
        return render_template(
            "error.html", status=400, message="A workflow name is letters, digits, '_' and '-'."
        ), 400
    return redirect(url_for("pages.editor", name=name))


@bp.post("/templates/<template_id>/use")
def use_template(template_id: str) -> Any:
    name = (request.form.get("name") or "").strip() or None
    if name is not None and not wf.valid_name(name):
        return render_template(
            "error.html", status=400, message="A workflow name is letters, digits, '_' and '-'."
        ), 400
    try:
        path = Path(
            _templates_module().instantiate(template_id, settings().workflows_dir, name=name)
        )
    except FileExistsError:
        return render_template(
            "error.html", status=409, message="A workflow with that name already exists."
        ), 409
    except (KeyError, LookupError):
        abort(404)
    return redirect(url_for("pages.editor", name=path.stem))


@bp.get("/editor/<name>")
def editor(name: str) -> str:
    if not wf.valid_name(name):
        abort(404)
    exists = wf.find(settings().workflows_dir, name) is not None
    return render_template("editor.html", name=name, exists=exists)


@bp.get("/runs")
def runs_page() -> str:
    return render_template("runs.html", workflow=request.args.get("workflow", ""))


@bp.get("/runs/<execution_id>")
def run_page(execution_id: str) -> str:
    return render_template("run.html", execution_id=execution_id)


@bp.get("/events")
def events_page() -> str:
    return render_template("events.html")
