"""What the HTTP block sends for values that are not text: headers, form fields and a
raw body as a reference renders inside text (docs/engine.md), a null left out."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from standins.recording import RecordingServer, Scripted

VALUES = {"flag": True, "obj": {"a": 1, "b": "x"}, "num": 1.5, "list": [1, None, "a b"]}


async def test_headers_are_sent_as_text_and_a_null_one_is_left_out(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """Python's text of them was sent: `None` as every run's one Idempotency-Key (a
    peer honouring keys answered each later capture with the first one's response),
    `True`, `False`, `{'a': 1, 'b': 'x'}`."""
    recorder.respond("/h", Scripted(200, {}))
    workflow = f"""
        version: 1
        name: http_header_values
        blocks:
          call:
            type: http
            method: POST
            url: {recorder.url}/h
            headers:
              Idempotency-Key: <input.key?>
              X-Null: <input.key?>
              X-Flag: <input.flag>
              X-Lit: false
              X-Obj: <input.obj>
              X-Num: <input.num>
        """
    runs = [await run_yaml(workflow, VALUES) for _ in range(2)]
    for result, request in zip(runs, recorder.requests, strict=True):
        assert result["status"] == "succeeded", result["error"]
        headers = request.headers
        assert headers["idempotency-key"] == f"{result['execution_id']}:call"
        assert "x-null" not in headers
        assert (headers["x-flag"], headers["x-lit"]) == ("true", "false")
        assert headers["x-obj"] == '{"a":1,"b":"x"}'
        assert headers["x-num"] == "1.5"
    assert runs[0]["execution_id"] != runs[1]["execution_id"]


async def test_an_idempotency_key_that_comes_out_empty_is_the_derived_one(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    recorder.respond("/k", Scripted(200, {}))
    result = await run_yaml(
        f"""
        name: http_empty_key
        blocks:
          call:
            type: http
            method: POST
            url: {recorder.url}/k
            headers: {{idempotency-key: "<input.key?><input.suffix?>"}}
        """
    )
    assert result["status"] == "succeeded", result["error"]
    [request] = recorder.requests
    assert request.headers["idempotency-key"] == f"{result['execution_id']}:call"


async def test_form_fields_are_sent_as_text_and_a_null_one_is_left_out(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """`t=True&n=&o=%7B%27a%27…` was sent."""
    recorder.respond("/f", Scripted(200, {}))
    result = await run_yaml(
        f"""
        name: http_form_values
        blocks:
          call:
            type: http
            method: POST
            url: {recorder.url}/f
            form:
              t: <input.flag>
              n: <input.missing?>
              o: <input.obj>
              num: <input.num>
              l: <input.list>
        """,
        VALUES,
    )
    assert result["status"] == "succeeded", result["error"]
    [request] = recorder.requests
    assert parse_qsl(request.text, keep_blank_values=True) == [
        ("t", "true"),
        ("o", '{"a":1,"b":"x"}'),
        ("num", "1.5"),
        ("l", "1"),
        ("l", "a b"),
    ]


async def test_a_raw_body_from_a_reference_is_its_text_and_a_null_one_is_no_body(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    recorder.respond("/b", Scripted(200, {}))
    workflow = f"""
        name: http_body_values
        blocks:
          call:
            type: http
            method: PUT
            url: {recorder.url}/b
            body: <input.value?>
        """
    for value in ({"a": 1, "b": "x"}, True, None):
        result = await run_yaml(workflow, {"value": value})
        assert result["status"] == "succeeded", result["error"]
    assert [r.body for r in recorder.requests] == [b'{"a":1,"b":"x"}', b"true", b""]


async def test_a_text_body_says_it_is_text_and_no_body_has_no_content_type(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """aiohttp added `Content-Type: application/octet-stream` to a text body and to a
    POST, PUT or PATCH without one."""
    recorder.respond("/t", Scripted(200, {}))
    calls = {
        "text": "method: POST\n    body: raw <input.x> text",
        "own_type": "method: POST\n    body: <input.x>\n    headers: {content-type: application/xml}",
        "json": "method: POST\n    json: {x: <input.x>}",
        "form": "method: POST\n    form: {x: <input.x>}",
        "put": "method: PUT",
        "patch": "method: PATCH",
        "post": "method: POST",
    }
    blocks = "".join(
        f"\n  {name}:\n    type: http\n    url: {recorder.url}/t?c={name}\n    {spec}"
        for name, spec in calls.items()
    )
    result = await run_yaml(f"name: http_content_types\nblocks:{blocks}", {"x": 1})
    assert result["status"] == "succeeded", result["error"]
    sent = {r.query["c"]: r.headers.get("content-type") for r in recorder.requests}
    assert sent == {
        "text": "text/plain; charset=utf-8",
        "own_type": "application/xml",
        "json": "application/json",
        "form": "application/x-www-form-urlencoded",
        "put": None,
        "patch": None,
        "post": None,
    }
    text = next(r for r in recorder.requests if r.query["c"] == "text")
    assert text.body == b"raw 1 text"
