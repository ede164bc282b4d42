"""A re-run from the failed block sends the earlier run's idempotency keys.

A black-box round found a timed-out payment POST sent again by a re-run with a new
`Idempotency-Key`: the first request may have reached the peer (a timeout says
nothing about that), and the new key made the peer perform it twice."""

from __future__ import annotations

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engine.runtime import Runtime


async def test_a_rerun_of_a_failed_post_sends_the_first_runs_key(
    run_yaml, runtime: Runtime, httpserver: HTTPServer
) -> None:
    answers = [500, 500, 200]
    keys: list[str] = []

    def peer(request: Request) -> Response:
        keys.append(request.headers["Idempotency-Key"])
        return Response("{}", status=answers[len(keys) - 1], content_type="application/json")

    httpserver.expect_request("/capture", method="POST").respond_with_handler(peer)
    wf = f"""
    name: capture_once
    blocks:
      start: {{type: manual}}
      capture: {{type: http, method: POST, url: "{httpserver.url_for("/capture")}", json: {{n: 1}}}}
    edges: [start -> capture]
    """
    first = await run_yaml(wf, {})
    assert first["status"] == "failed" and first["error"]["block"] == "capture"
    second = await runtime.wait((await runtime.rerun(first["execution_id"])).execution_id)
    assert second["status"] == "failed"
    # A re-run of the re-run: still the first run's key.
    third = await runtime.wait((await runtime.rerun(second["execution_id"])).execution_id)
    assert third["status"] == "succeeded", third["error"]
    assert keys == [f"{first['execution_id']}:capture"] * 3
