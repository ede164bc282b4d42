"""Operations on a run that exists: cancel it, run it again (``/api/runs/<id>/…``)."""

from __future__ import annotations

import json

from flask import Response

from engine import runstore
from engine.rerun_guard import RerunUnderWay
from engine.rerun_names import RerunNamesItself, StoredVersionRefused
from engine.runtime import InputNotKept
from ui import api_runs, run_keys  # read when called: api_runs imports ui.api, which imports this
from ui.api import bp, error, jresponse, json_body, runtime
from ui.app import bridge


@bp.post("/runs/<execution_id>/cancel")
def cancel(execution_id: str) -> Response:
    """Stop a run wherever it executes: 202 while its process stops it, 200 once it
    is cancelled (asking again is fine), 409 when it had already ended otherwise."""
    if not runstore.is_run_id(execution_id):
        return error(404, f"no run {execution_id!r}")
    status = bridge().call(runtime().request_cancel(execution_id))
    if status is None:
        return error(404, f"no run {execution_id!r}")
    if status in ("succeeded", "failed"):
        return jresponse({"error": f"the run already {status}", "status": status}, 409)
    # As every answer spells a run's id (lower case): `ABC…` in the path was echoed.
    execution_id = execution_id.lower()
    body = {"execution_id": execution_id, "status": status, **api_runs.run_links(execution_id)}
    return jresponse(body, 202 if status == "cancelling" else 200)


#: A re-run's body: each key true or false, and its default (``from_failed``'s for a
#: run that failed or was cancelled: false for one that succeeded).
_RERUN_KEYS = {"from_failed": True, "current_version": False}


@bp.post("/runs/<execution_id>/rerun")
def rerun(execution_id: str) -> Response:
    """Run a finished run again with the same input; from the failed block when it
    failed or was cancelled (``{"from_failed": false}``, and the default for a run that
    succeeded: every block again); with the workflow
    version it ran, or ``{"current_version": true}`` the workflow as it is now."""
    # Read as every JSON body is: `request.get_json(silent=True)` took a body sent
    # without `Content-Type: application/json` (curl -d) or not JSON at all for none,
    # so `{"from_failed": false}` re-ran from the failed block all the same.
    body, _, refused = json_body()
    if refused is not None:
        return refused
    if not isinstance(body, dict):
        return error(400, 'the body is a JSON object such as {"from_failed": false}')
    for key, default in _RERUN_KEYS.items():
        if not isinstance(body.get(key, default), bool):
            return error(400, f"{key} is true or false, not {json.dumps(body[key])}")
    # A misspelled `from_faild: false` was ignored: a re-run from the failed block
    # nobody asked for, its succeeded blocks' outputs carried over.
    unknown = sorted(set(body) - set(_RERUN_KEYS))
    if unknown:
        keys = ", ".join(map(repr, unknown))
        return error(
            400,
            f"unknown keys {keys}: the body is"
            ' {"from_failed": true|false, "current_version": true|false}',
        )
    if not runstore.is_run_id(execution_id):
        return error(404, f"no run {execution_id!r}")
    # As a manual run's (ui/run_keys.py): a re-run resent after a timeout is the first one.
    try:
        key = run_keys.run_key()
    except run_keys.UnstorableKey as exc:
        return error(400, str(exc))
    result = bridge().call(runtime().run_result(execution_id))
    if result is None:
        return error(404, f"no run {execution_id!r}")
    if result["status"] not in runstore.FINAL_STATUSES:
        # Its blocks may still act: a second run beside it would repeat their effects.
        status = result["status"]
        body = {"error": f"the run is {status}: re-run it once it has ended", "status": status}
        return jresponse(body, 409)
    # A run that succeeded has no failed block to start from: from there, every block
    # was carried over and nothing ran again, so by default it runs every block.
    from_failed = body.get("from_failed", result["status"] != "succeeded")
    workflow = None
    if body.get("current_version", False):
        # The workflow as it is now, by the name the run was stored under.
        workflow, err = api_runs.load_by_name(result["workflow"])
        if err is not None:
            return err
    try:
        # The options are part of what the key names: the same key asking for another
        # kind of re-run is another request, not a repeat answered as if it were one.
        if key is not None:
            key = f"{int(from_failed)}{int(workflow is not None)}:{key}"
        sub = bridge().call(runtime().rerun(execution_id, from_failed, workflow, key))
    except InputNotKept as exc:
        return jresponse({"error": str(exc), "status": result["status"]}, 409)
    except RerunUnderWay as exc:  # a re-run of the same work is unfinished: the one to follow
        body = {"error": str(exc), "status": result["status"], "execution_id": exc.running}
        return jresponse(body, 409)
    except (RerunNamesItself, StoredVersionRefused) as exc:
        # The body a caller (the run page) sends to take the way out the message
        # names, so it need not read the words.
        retry = {"from_failed": from_failed, "current_version": True}
        return jresponse({"error": str(exc), "status": result["status"], "retry": retry}, 409)
    eid, said = str(sub.execution_id), run_keys.repeat_of(sub)
    body = {"execution_id": eid, "from_failed": from_failed, **api_runs.run_links(eid), **said}
    return jresponse(body, 202)
