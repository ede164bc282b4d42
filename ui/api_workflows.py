"""The workflow files over HTTP: list, read (YAML or JSON, with the file's version as
an ETag), save (validated; If-Match guarded; YAML kept as sent), validate, delete."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, NamedTuple

from flask import Response, request, url_for
from werkzeug.datastructures import MIMEAccept

from engine.folder_lock import workflows_folder_locked
from engine.model import Problem, not_utf8
from ui import workflow_files as wf
from ui.api import bp, error, jresponse, request_text, runtime
from ui.app import settings


@bp.get("/workflows")
def list_workflows() -> Response:
    items = wf.summaries(settings().workflows_dir, runtime().workflows)
    for item in items:
        item["url"] = url_for("api.get_workflow", name=item["name"])
        item["editor_url"] = url_for("pages.editor", name=item["name"])
    ignored = wf.ignored_files(settings().workflows_dir)
    return jresponse(
        {
            "workflows": items,
            "ignored": [item.file for item in ignored],
            "ignored_why": {item.file: item.why for item in ignored},
            "name_rule": wf.NAME_RULE,
        }
    )


def _accepted() -> MIMEAccept:
    """The request's ``Accept``, each media type without its parameters. A type's
    parameters (RFC 9110: ``application/yaml; charset=utf-8``) do not change what it
    names, but werkzeug matches an offer only with the same parameters: such a
    client got JSON, though a PUT with that ``Content-Type`` is taken as YAML."""
    return MIMEAccept(
        [(value.split(";", 1)[0].strip(), quality) for value, quality in request.accept_mimetypes]
    )


def _wants_yaml() -> bool:
    best = _accepted().best_match(
        ["application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/plain"]
    )
    return (
        best is not None
        and best != "application/json"
        and "json" not in request.args.get("format", "")
    )


@bp.get("/workflows/<name>")
def get_workflow(name: str) -> Response:
    read = _read_workflow(name)
    # Conditions apply to a read that succeeds (RFC 9110, 13.2.1): not to a 404 or 422.
    unchanged = _read_condition(read.headers["ETag"]) if read.status_code == 200 else None
    return read if unchanged is None else unchanged


def _read_workflow(name: str) -> Response:
    if request.args.get("format", "json") not in ("json", "yaml"):
        return error(400, "format is json or yaml")
    path = wf.find(settings().workflows_dir, name)
    if path is None:
        return error(404, f"no workflow named {name!r}")
    text = _file_text(path)
    tag = {"ETag": _etag(text)}
    as_yaml = request.args.get("format") == "yaml" or (
        _wants_yaml() and "format" not in request.args
    )
    try:
        if why := _unreadable(text):
            raise ValueError(why)
        if as_yaml and path.suffix != ".json":
            return _yaml_response(text, path, tag)
        doc = wf.parse(text, path.name)
    except ValueError as exc:
        refused = error(
            422,
            "the file cannot be parsed",
            problems=[{"file": path.name, "block": None, "field": None, "message": str(exc)}],
        )
        refused.headers.update(tag)  # a save over it may still name the version it read
        return refused
    if as_yaml:
        return _yaml_response(wf.render(doc, ".yaml"), path, tag)
    # The workflow itself, as the YAML answer holds it: saved as a .json file it
    # is a workflow file again (`flowyard validate`, PUT) — no envelope around it.
    response = jresponse(doc)
    response.headers.update(tag)
    return response


def _read_condition(etag: str) -> Response | None:
    """The answer to a read whose precondition fails (RFC 9110, 13.2.2: If-Match
    first, then If-None-Match), else None: ``If-Match`` naming another version is a
    412 as a save's is; ``If-None-Match`` naming this one (weak comparison: a proxy
    may have made it ``W/"…"``) a 304, so a client that has the file need not read it
    again. Only for a read that would succeed: a 404 or 400 stays one."""
    wanted = request.headers.get("If-Match")
    if wanted is not None and not ({t.strip() for t in wanted.split(",")} & {etag, "*"}):
        return error(412, "the workflow file is not at the version If-Match names", etag=etag)
    unwanted = request.headers.get("If-None-Match")
    if unwanted is None:
        return None
    tags = {t.strip().removeprefix("W/") for t in unwanted.split(",")}
    if etag in tags or "*" in tags:
        return Response(status=304, headers={"ETag": etag})
    return None


_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def _yaml_response(text: str, path: Path, headers: dict[str, str]) -> Response:
    """``application/yaml`` for a client that asks for YAML by ``Accept``; for
    ``?format=yaml`` alone (the editor's YAML link) the same text as
    ``text/plain``, inline: a browser shows that, where it saved an
    ``application/yaml`` answer as a file named after the workflow, without a suffix."""
    # Media types are case-insensitive (RFC 9110): `APPLICATION/YAML` chose YAML in
    # _wants_yaml (werkzeug ignores case there) and must be answered as such here.
    if any(value.lower() in _YAML_TYPES for value, _quality in _accepted()):
        return Response(text, mimetype="application/yaml", headers=headers)
    shown = path.name if path.suffix in (".yaml", ".yml") else f"{path.stem}.yaml"
    return Response(
        text,
        content_type="text/plain; charset=utf-8",
        headers={**headers, "Content-Disposition": f'inline; filename="{shown}"'},
    )


def _file_text(path: Path) -> str:
    """The file as it is, line endings included (read_text would turn CRLF into LF,
    and the version a client read would never match the file). Bytes that are not
    UTF-8 (a Latin-1 file from another editor) are kept as surrogate escapes: the
    file still has a version, and a save may replace it."""
    return path.read_bytes().decode("utf-8", errors="surrogateescape")


def _unreadable(text: str) -> str | None:
    """Why ``text`` (as _file_text reads it) is not a workflow file's text, if it is not."""
    try:
        text.encode("utf-8", errors="surrogateescape").decode("utf-8")
    except UnicodeDecodeError as exc:
        return not_utf8(exc)
    return None


def _etag(text: str) -> str:
    """The file's version as read: a PUT with ``If-Match`` saves only over it."""
    digest = hashlib.sha256(text.encode("utf-8", errors="surrogateescape")).hexdigest()
    return '"' + digest[:20] + '"'


def _stale(existing: Path | None, old_text: str | None) -> Response | None:
    """412 when ``If-Match`` names another version than the file's text on disk
    (``old_text``: a `git pull` or another tab saved since the client
    read it), or ``If-None-Match`` one it has (``*``: any): last write wins would
    undo that change without a word. Neither header: saved as before."""
    if (exists := _exists(existing, old_text)) is not None:
        return exists
    wanted = request.headers.get("If-Match")
    if wanted is None:
        return None
    tags = _tags(wanted)
    if existing is None:
        if "*" not in tags:
            return error(412, "the workflow file was deleted since it was read")
        return error(412, "no workflow file to save over (If-Match: *)")
    current = _etag(old_text or "")
    if "*" in tags or current in tags:
        return None
    return error(
        412,
        "the workflow file changed since it was read (saved elsewhere, or edited on disk): "
        "reload it, then apply your change again",
        etag=current,
    )


def _tags(header: str) -> set[str]:
    """The entity tags of an ``If-Match`` / ``If-None-Match`` header, each as this
    server wrote it: a reverse proxy that compresses the answer (nginx's gzip) turns
    the strong ETag weak (``W/"…"``), and the editor sends that back. The tag is the
    file's text hash, which compression does not change: compared without ``W/``,
    saving behind such a proxy is not a 412 every time."""
    return {t.strip().removeprefix("W/") for t in header.split(",")}


def stale_version(path: Path) -> Response | None:
    """``_stale`` for the file at ``path`` (a run asked with ``If-Match``)."""
    try:
        text = _file_text(path)
    except OSError:
        return _stale(None, None)
    return _stale(path, text)


def _exists(existing: Path | None, old_text: str | None) -> Response | None:
    """412 for ``If-None-Match: *`` (the editor's first save of a page opened on no
    file) when the file exists: another tab, a template copy or a `git pull` created
    it since, and this save would replace it unseen. With ETags: 412 when the file
    is at one of those versions (RFC 9110)."""
    unwanted = request.headers.get("If-None-Match")
    if unwanted is None or existing is None:
        return None
    tags = _tags(unwanted)
    current = _etag(old_text or "")
    if "*" not in tags and current not in tags:
        return None
    return error(
        412,
        "a workflow file with this name exists (created since it was opened as new, or "
        "saved elsewhere): reload it, then apply your change again",
        etag=current,
    )


class _Sent(NamedTuple):
    doc: dict[str, Any] | None
    error: Response | None
    yaml: str | None  # the text as sent, when it was YAML (a save keeps it as written)
    #: why the body is no workflow at all (then ``error`` is the 422 saying so)
    problems: list[dict[str, Any]] | None = None


def _not_a_workflow(problems: list[dict[str, Any]]) -> _Sent:
    return _Sent(None, error(422, "invalid workflow", problems=problems), None, problems)


def _document_from_request(name: str) -> _Sent:
    from engine.model import WorkflowError, read_document

    ctype = (request.mimetype or "").lower()
    raw = request_text()
    if raw is None:
        return _Sent(None, error(400, "the body is not UTF-8 text"), None)
    try:
        if "json" in ctype:
            # The engine's JSON loader, as `flowyard validate` reads a .json file: NaN,
            # Infinity and 1e999 refused, a duplicate block id named, a value nested
            # too deeply named (json.loads read 900 levels and compiling them was a
            # RecursionError, a 500). Problems name the file a save writes.
            try:
                doc = read_document(raw or "null", f"{name}.json")
            except WorkflowError as exc:
                written = f"{name}.yaml"
                return _not_a_workflow([{**p.to_dict(), "file": written} for p in exc.problems])
            if "document" in doc and isinstance(doc["document"], dict):
                doc = doc["document"]  # the envelope GET once returned: still accepted
        else:
            # The engine's strict loader: a duplicate block id or key is an error
            # naming the block, not the last copy silently replacing the first.
            doc = read_document(raw, f"{name}.yaml")
    except WorkflowError as exc:
        return _not_a_workflow([p.to_dict() for p in exc.problems])
    except Exception as exc:  # ValueError, TypeError, yaml.YAMLError and friends
        # A Problem: its message is cut as every problem's is (a key may be huge).
        return _not_a_workflow([Problem(f"cannot parse: {exc}", f"{name}.yaml").to_dict()])
    if not isinstance(doc, dict):
        problem = {
            "file": f"{name}.yaml",
            "block": None,
            "field": None,
            "message": "a workflow must be a mapping",
        }
        return _not_a_workflow([problem])
    return _Sent(doc, None, None if "json" in ctype else raw)


def _name_refused(name: str) -> Response | None:
    """The 400 for a name no file can have (save and validate say it alike)."""
    if wf.valid_name(name):
        return None
    return error(400, f"invalid workflow name {name!r}: {wf.NAME_RULE}")


@bp.put("/workflows/<name>")
def save_workflow(name: str) -> Response:
    if (refused := _name_refused(name)) is not None:
        return refused
    sent = _document_from_request(name)
    if sent.error is not None or sent.doc is None:
        return sent.error  # type: ignore[return-value]
    # One write of the folder at a time (a save, a delete, a template copy, here or in
    # `flowyard new`: engine/folder_lock.py), from the If-Match check to the write: two
    # saves over the same version must not both pass the check (the second would undo
    # the first unseen), nor a save pass it beside a delete or a copy of its name.
    with workflows_folder_locked(settings().workflows_dir):
        return _save(name, sent)


def _save(name: str, sent: _Sent) -> Response:
    doc = sent.doc or {}
    existing = wf.find(settings().workflows_dir, name)
    path = existing or settings().workflows_dir / f"{name}.yaml"
    old_text = _file_text(existing) if existing else None
    stale = _stale(existing, old_text)
    if stale is not None:
        return stale
    if sent.yaml is None and old_text is not None and (lost := wf.unshown(old_text, path.name)):
        # The document was read from a file it could not hold whole (a key that is not
        # text, a merge key…): saved, that part of the file went silently.
        return error(422, "invalid workflow", problems=lost)
    was_named = _name_on_disk(existing)
    problems, warnings = wf.check(doc, path.name, runtime().workflows, was_named=was_named)
    if problems:
        return error(422, "invalid workflow", problems=problems)
    if sent.yaml is not None and path.suffix != ".json":
        # YAML sent is the file (a script syncing files from git): kept as written,
        # comments and all, once it validates.
        text = sent.yaml
    elif old_text is None:
        text = wf.render(doc, path.suffix)
    else:
        # Only what changed is rewritten: an unchanged save leaves the file
        # (comments and all) byte-identical, and is not written at all.
        update = wf.update_text(old_text, doc, path.suffix)
        text = update.text
        if update.rewritten:  # the file's comments and formatting are gone: said
            warnings.append(Problem(update.rewritten, file=path.name).to_dict())
    if text != old_text:
        wf.write_atomic(path, text)
    body: dict[str, Any] = {"name": name, "file": path.name, "saved": True}
    if warnings:  # a name clash the file already had, a whole rewrite: saved, and said
        body["warnings"] = warnings
    response = jresponse(body, 200 if existing else 201)
    response.headers["ETag"] = _etag(text)
    return response


def _name_on_disk(path: Path | None) -> str | None:
    """The ``name:`` the file has now (None: no file, or one that does not parse)."""
    if path is None:
        return None
    info = wf.summary(path)
    return None if info.get("broken") else info["title"]


@bp.post("/workflows/<name>/validate")
def validate_workflow(name: str) -> Response:
    """``{"valid", "problems"}``; an invalid workflow is a 422 in one shape, whether the
    body parsed or not (a client reads ``valid`` and ``problems`` either way). A name
    no file can have is the 400 a save gets: "valid" said otherwise."""
    if (refused := _name_refused(name)) is not None:
        return refused
    doc, err, _, problems = _document_from_request(name)
    if problems:
        return _validated(problems)
    if err is not None or doc is None:
        return err  # type: ignore[return-value]
    existing = wf.find(settings().workflows_dir, name)
    path = existing or settings().workflows_dir / f"{name}.yaml"
    return _validated(
        wf.validate(doc, path.name, runtime().workflows, was_named=_name_on_disk(existing))
    )


def _validated(problems: list[dict[str, Any]]) -> Response:
    if not problems:
        return jresponse({"valid": True, "problems": []})
    return error(422, "invalid workflow", valid=False, problems=problems)


@bp.delete("/workflows/<name>")
def delete_workflow(name: str) -> Response:
    # Under the lock saves hold: a save over the version it read, let through beside
    # the delete, wrote the file again after this answered 204 (the workflow and its
    # webhook live on); serialized, the save that comes second is a 412.
    with workflows_folder_locked(settings().workflows_dir):
        path = wf.find(settings().workflows_dir, name)
        if path is None:
            return error(404, f"no workflow named {name!r}")
        # With If-Match, only the version the client read: a teammate's change saved
        # since (another tab, a `git pull`) is a 412 as it is for a save, not deleted unseen.
        stale = _stale(path, _file_text(path))
        if stale is not None:
            return stale
        path.unlink()
    return Response(status=204)
