"""JavaScript for Function blocks (mini-racer): the seed's snippet runs unchanged."""

from __future__ import annotations

import asyncio
import json
import re
import time

import py_mini_racer  # noqa: F401 - a test extra: missing, these tests must fail, not skip
import pytest
from held_runs import until
from py_mini_racer._context import context_count

from blocks._javascript import JavaScriptError, run_js, run_js_async

# The seed's enrichment step, as written for Sim (JavaScript function block).
SEED_SNIPPET = """
const body = input.webhook.body;
const headers = input.webhook.headers;
return {
  event_id: crypto.randomUUID(),
  event_type: body.event_type,
  aggregate_id: body.order_id,
  aggregate_type: "order",
  data: body,
  metadata: {
    user_id: body.user_id,
    ip_address: headers.x_forwarded_for,
    user_agent: headers.user_agent,
    timestamp: new Date().toISOString(),
    workflow_execution_id: input.workflow.execution_id,
  },
  version: 1,
};
"""

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _input() -> dict:
    return {
        "webhook": {
            "body": {
                "event_type": "order_created",
                "order_id": "o-1",
                "user_id": "u-1",
                "total": 12.5,
            },
            "headers": {"x_forwarded_for": "203.0.113.9", "user_agent": "shop/1.0"},
        },
        "workflow": {"execution_id": "exec-1", "name": "orders"},
    }


def test_seed_snippet_runs_unchanged() -> None:
    out = run_js(SEED_SNIPPET, _input(), timeout=5)
    assert UUID4.match(out["event_id"])
    assert out["event_type"] == "order_created" and out["aggregate_id"] == "o-1"
    assert out["data"]["total"] == 12.5
    assert out["metadata"]["ip_address"] == "203.0.113.9"
    assert out["metadata"]["workflow_execution_id"] == "exec-1"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", out["metadata"]["timestamp"])
    assert "stdout" not in out  # nothing printed: no key, as for Python
    assert run_js(SEED_SNIPPET, _input(), timeout=5)["event_id"] != out["event_id"]


def test_console_output_non_object_results_and_variables() -> None:
    out = run_js("console.log('n =', input.n, {a: 1}); return input.n * 2", {"n": 21}, timeout=5)
    assert out == {"result": 42, "stdout": 'n = 21 {"a":1}'}
    assert run_js("return __ref_0 + 1", {}, timeout=5, variables={"__ref_0": 1})["result"] == 2
    assert run_js("await null; return [1, 'two']", {}, timeout=5)["result"] == [1, "two"]


def test_code_cannot_break_out_of_the_input_literal() -> None:
    tricky = {"s": '"); throw new Error("injected"); ("', "u": "\u2028"}
    assert (
        run_js("return input.s + input.u", tricky, timeout=5)["result"] == tricky["s"] + tricky["u"]
    )


def test_errors_and_timeouts() -> None:
    with pytest.raises(JavaScriptError, match="Error: out of stock"):
        run_js("throw new Error('out of stock')", {}, timeout=5)
    with pytest.raises(JavaScriptError, match="SyntaxError"):
        run_js("return (", {}, timeout=5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run_js("while (true) {}", {}, timeout=0.3)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ('throw {code: "card_declined", n: 1};', 'threw {"code":"card_declined","n":1}'),
        ("const a = {}; a.self = a; throw a;", "threw [object Object]"),
        ('throw "plain words";', "plain words"),
        ('throw new Error("an error");', "Error: an error (line 1)"),
    ],
)
def test_a_thrown_object_is_said_as_json(code: str, said: str) -> None:
    """`throw {…}` failed the block with `<py_mini_racer._objects.JSMappedObjectImpl
    object at 0x…>`: the host's repr, not what was thrown."""
    with pytest.raises(JavaScriptError) as info:
        run_js(code, {})
    assert str(info.value) == said


def test_runs_do_not_share_globals() -> None:
    run_js("globalThis.leak = 1; return 0", {}, timeout=5)
    assert run_js("return typeof leak", {}, timeout=5)["result"] == "undefined"


async def test_async_wrapper_does_not_block_the_loop() -> None:
    out = await run_js_async("return {ok: true}", {}, timeout=5)
    assert out["ok"] is True


@pytest.mark.parametrize("code", ["while (true) {}", "await null;\nwhile (true) {}"])
async def test_a_cancelled_call_ends_the_code_before_it_returns(code: str) -> None:
    """Cancelled, the call left V8 running the code on its thread until the timeout
    (tests/test_javascript_stops.py: the run's process could not exit); after an
    `await`, not even the timeout ended it. The next call gets a fresh context."""
    call = asyncio.ensure_future(run_js_async("globalThis.leak = 1;\n" + code, {}, timeout=600))
    assert await until(lambda: context_count() == 1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert context_count() == 0  # freed before the cancelled call returned
    assert (await run_js_async("return typeof leak", {}, timeout=5))["result"] == "undefined"


async def test_function_block_with_javascript_and_references(run_yaml) -> None:  # type: ignore[no-untyped-def]
    result = await run_yaml(
        """
        version: 1
        name: js_function
        blocks:
          enrich:
            type: function
            language: javascript
            code: |
              return {id: crypto.randomUUID(), order: <input.order_id>, again: input.order_id,
                      at: new Date().toISOString()};
        """,
        {"order_id": "o-7"},
    )
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["order"] == "o-7" and out["again"] == "o-7" and UUID4.match(out["id"])


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (
            "return {at: {toJSON() { throw new RangeError('no date') }}}",
            "TypeError: the returned value is not JSON: no date",
        ),
        (
            "const o = {}; o.self = o;\nreturn o;",
            "TypeError: the returned value is not JSON: Converting circular structure to JSON"
            " --> starting at object with constructor 'Object' --- property 'self' closes the"
            " circle",
        ),
    ],
)
async def test_a_returned_value_json_cannot_hold_is_said_without_a_line(  # type: ignore[no-untyped-def]
    run_yaml, code: str, said: str
) -> None:
    """Black-box report: `return o` of an object containing itself failed with
    `… (line 15)` for code of two lines: the wrapper's JSON.stringify, after the
    code, threw."""
    result = await run_yaml(
        f"""
        version: 1
        name: js_not_json
        blocks:
          start: {{type: manual}}
          f: {{type: function, language: javascript, code: {json.dumps(code)}}}
        edges: [start -> f]
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["message"] == said


def test_printing_what_json_cannot_hold_does_not_fail_the_code() -> None:
    """It failed at a line of the console's own code (`(line 19)` for three lines)."""
    code = "const o = {}; o.self = o;\nconsole.log('o', o, 5n, {n: 2n});\nreturn 1"
    assert run_js(code, {}, timeout=5) == {"result": 1, "stdout": 'o [object Object] 5n {"n":"2n"}'}


async def test_integers_beyond_2_to_the_53_stay_exact(run_yaml) -> None:  # type: ignore[no-untyped-def]
    """Black-box report: `{"big": 12345678901234567890123, "id": 9007199254740993}`
    came back as 1.2345678901234568e+22 and 9007199254740992, without a word. They
    reach the code as BigInts, and a BigInt returned is its exact integer."""
    result = await run_yaml(
        """
        version: 1
        name: js_big_integers
        blocks:
          start: {type: manual}
          f:
            type: function
            language: javascript
            code: |
              return {big: <start.big>, id: <start.id>, idx: input.start.id,
                      kind: typeof input.start.id, safe: typeof input.start.safe,
                      next: input.start.id + 1n, huge: 10n ** 30n, float: input.start.float}
        edges: [start -> f]
        """,
        {
            "big": 12345678901234567890123,
            "id": 9007199254740993,
            "safe": 9007199254740991,
            "float": 1.5e22,
        },
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {
        "big": 12345678901234567890123,
        "id": 9007199254740993,
        "idx": 9007199254740993,
        "kind": "bigint",
        "safe": "number",
        "next": 9007199254740994,
        "huge": 10**30,
        "float": 1.5e22,
    }


def test_mixing_a_big_integer_with_a_number_fails_at_its_line() -> None:
    with pytest.raises(JavaScriptError) as info:
        run_js("const n = 1;\nreturn input.id + n", {"id": 9007199254740993}, timeout=5)
    assert str(info.value) == (
        "TypeError: Cannot mix BigInt and other types, use explicit conversions (line 2)"
    )
