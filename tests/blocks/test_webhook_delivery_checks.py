"""What a webhook refuses before a run exists: values PostgreSQL cannot store (a NUL
character), numbers strict JSON does not have (NaN, Infinity, an overflow), and
block paths no request can reach. ``accept`` is called on a real runtime (real
PostgreSQL run store), as the Flask route calls it; HTTP-level checks are in
tests/ui/test_bad_requests.py."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from workflow_problems import problems

from blocks.webhook import accept
from engine.model import load_file

ROOT = Path(__file__).resolve().parents[2]

WORKFLOW = """
version: 1
name: NAME
blocks:
  hook: {type: webhook, path: test/NAME}
  echo:
    type: function
    code: |
      return {"body": input.hook.body}
edges: [hook -> echo]
"""

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def _runs_of(runtime: Any, workflow: str) -> int:
    sql = "SELECT count(*) FROM flowyard_runs WHERE workflow = $1"
    return int(await runtime.db.pool.fetchval(sql, workflow))


# -- NUL: PostgreSQL text and jsonb cannot hold U+0000 ------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "body", "where"),
    [
        (JSON, {}, rb'{"order_id": "o\u0000x"}', "the body"),
        (JSON, {}, rb'{"items": [{"sku": "a", "note": "\u0000"}]}', "the body"),
        (JSON, {}, rb'{"o\u0000x": 1}', "the body"),  # in a key
        (FORM, {}, b"a=1&b=%00", "the body"),
        (JSON, {"a": "\x00"}, b"{}", "the query"),
        (JSON, {"a": ["1", "x\x00"]}, b"{}", "the query"),
        ({**JSON, "X-Trace": "t\x00"}, {}, b"{}", "the headers"),
    ],
)
async def test_a_nul_anywhere_in_a_delivery_is_400_and_starts_nothing(
    blocks_runtime: Any,
    install_workflow: Any,
    headers: dict[str, str],
    query: dict[str, Any],
    body: bytes,
    where: str,
) -> None:
    # It was a 500 with asyncpg's UntranslatableCharacterError in the log.
    wf = install_workflow(WORKFLOW)
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, query, body)
    assert response.status == 400, response.body
    assert response.body["error"].startswith(f"{where} contains a NUL character (\\u0000)")
    assert "cannot be stored" in response.body["error"]
    assert await _runs_of(blocks_runtime, wf.name) == 0


@pytest.mark.parametrize("body", [rb'{"a": "\ud800"}', rb'{"a": ["x\uDC00y"]}', rb'{"\udfff": 1}'])
async def test_a_lone_surrogate_is_400_and_starts_nothing(
    blocks_runtime: Any, install_workflow: Any, body: bytes
) -> None:
    # Python's JSON reads `\ud800` alone as a str UTF-8 cannot encode: asyncpg refused
    # the run's INSERT, a 500. (A pair, an escaped emoji, is text and is accepted below.)
    wf = install_workflow(WORKFLOW)
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", JSON, {}, body)
    assert response.status == 400, response.body
    error = response.body["error"]
    assert error.startswith("the body contains a lone UTF-16 surrogate (\\ud"), error
    assert error.endswith("which cannot be stored"), error
    assert await _runs_of(blocks_runtime, wf.name) == 0


async def test_escapes_that_are_text_are_accepted(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    # `\\u0000` is the six characters \u0000, not a NUL, and a surrogate pair is an
    # emoji: the scan must not refuse them.
    wf = install_workflow(WORKFLOW)
    body = rb'{"note": "\\u0000 and 100%00", "smile": "\ud83d\ude00"}'
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", JSON, {}, body)
    assert response.status == 202, response.body
    result = await blocks_runtime.wait(response.body["execution_id"], timeout=30)
    assert result["output"] == {"body": {"note": "\\u0000 and 100%00", "smile": "\U0001f600"}}


# -- forms: nothing dropped, nothing replaced ----------------------------------------------


async def test_a_form_keeps_repeated_fields_as_a_list_as_the_query_does(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    # `a` was "2" (the first value dropped) and `%C3%A4` is ä, decoded.
    wf = install_workflow(WORKFLOW)
    body = b"a=1&a=2&c=%C3%A4&d=&e=x+y"
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", FORM, {}, body)
    assert response.status == 202, response.body
    result = await blocks_runtime.wait(response.body["execution_id"], timeout=30)
    assert result["output"] == {"body": {"a": ["1", "2"], "c": "ä", "d": "", "e": "x y"}}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"a=1&b=%E4", "has a percent-encoded value that is not UTF-8 (%E4)"),
        (b"b%FF=1", "has a percent-encoded value that is not UTF-8 (%FF)"),
        (b"a=\xe4", "is not UTF-8 text (byte 2)"),
    ],
)
async def test_a_form_that_is_not_utf8_is_400_named_as_a_form(
    blocks_runtime: Any, install_workflow: Any, body: bytes, reason: str
) -> None:
    # `%E4` became U+FFFD in the run; raw non-UTF-8 was "the body is not valid JSON".
    wf = install_workflow(WORKFLOW)
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", FORM, {}, body)
    assert response.status == 400, response.body
    form = "the body (a form, application/x-www-form-urlencoded)"
    assert response.body == {"error": f"{form} {reason}"}
    assert await _runs_of(blocks_runtime, wf.name) == 0


# -- numbers strict JSON does not have --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"amount": NaN}', "NaN"),
        (b'{"amount": Infinity}', "Infinity"),
        (b'{"amount": -Infinity}', "-Infinity"),
        (b'{"amount": 1e999999}', "1e999999"),
        (b'{"amounts": [1, -1e400]}', "-1e400"),
    ],
)
async def test_nan_infinity_and_overflowing_numbers_are_400_bad_json(
    blocks_runtime: Any, install_workflow: Any, body: bytes, named: str
) -> None:
    # They were accepted (202) and the run stored null in their place.
    wf = install_workflow(WORKFLOW)
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", JSON, {}, body)
    assert response.status == 400, response.body
    error = response.body["error"]
    assert error.startswith("the body is not valid JSON") and named in error, error
    assert await _runs_of(blocks_runtime, wf.name) == 0


@pytest.mark.parametrize("sign", ["", "-"])
async def test_an_integer_of_too_many_digits_is_400_saying_so(
    blocks_runtime: Any, install_workflow: Any, sign: str
) -> None:
    # A 400 already, but in Python's words, telling the sender to "use
    # sys.set_int_max_str_digits() to increase the limit".
    wf = install_workflow(WORKFLOW)
    body = b'{"amount": ' + sign.encode() + b"9" * 5000 + b"}"
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", JSON, {}, body)
    assert response.status == 400, response.body
    error = response.body["error"]
    assert error == "the body is not valid JSON: a number has 5000 digits (at most 4300)", error
    assert await _runs_of(blocks_runtime, wf.name) == 0
    # 4300 digits are read, exactly.
    body = b'{"amount": ' + sign.encode() + b"9" * 4300 + b"}"
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", JSON, {}, body)
    assert response.status == 202, response.body


@pytest.mark.parametrize("depth", [1000, 100_000])
async def test_json_nested_too_deeply_is_400_bad_json(
    blocks_runtime: Any, install_workflow: Any, depth: int
) -> None:
    # Python's parser raised RecursionError, which no handler expected: a 500; and a
    # depth orjson still parsed (~960-1,023) was accepted, then its INSERT failed.
    wf = install_workflow(WORKFLOW)
    body = b'{"a": ' + b"[" * depth + b"]" * depth + b"}"
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", JSON, {}, body)
    assert response.status == 400, response.body
    assert response.body["error"] == (
        "the body is not valid JSON: the JSON is nested too deeply (more than 200 levels)"
    )
    assert await _runs_of(blocks_runtime, wf.name) == 0


async def test_json_nested_as_deep_as_allowed_runs(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW)
    body = b'{"a": ' + b"[" * 199 + b"]" * 199 + b"}"  # 200 levels with the object
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", JSON, {}, body)
    assert response.status == 202, response.body
    assert (await blocks_runtime.wait(response.body["execution_id"], 30))["status"] == "succeeded"


async def test_large_and_exact_numbers_still_arrive_unchanged(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW)
    body = (
        b'{"big": 123456789012345678901234567890, "small": 1e-400, "max": 1.7976931348623157e308}'
    )
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", JSON, {}, body)
    assert response.status == 202, response.body
    result = await blocks_runtime.wait(response.body["execution_id"], timeout=30)
    assert result["output"]["body"] == {
        "big": 123456789012345678901234567890,
        "small": 0.0,
        "max": 1.7976931348623157e308,
    }


# -- webhook paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["a?b=1", "x/../y", "./x", "x/.", "sp ace", "#frag", "a//b", "a%20b", "ä/b", "a\\b"]
)
def test_a_path_no_request_can_reach_is_refused_naming_block_and_field(
    tmp_path: Path, path: str
) -> None:
    # Each passed validation; no ordinary request could ever start the workflow.
    text = f"name: t\nblocks:\n  hook: {{type: webhook, path: {json.dumps(path)}}}\n"
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    assert "block 'hook': field 'path'" in found[0] and "letters, digits" in found[0], found


@pytest.mark.parametrize("path", ["orders/events", "/v1/orders.created/", "a-b_c~d/e.f", "x..y"])
def test_a_reachable_path_is_accepted(tmp_path: Path, path: str) -> None:
    (tmp_path / "ok.yaml").write_text(
        f"name: t\nblocks:\n  hook: {{type: webhook, path: '{path}'}}\n"
    )
    assert load_file(tmp_path / "ok.yaml").blocks["hook"].config["path"] == path


def test_the_shipped_templates_still_validate() -> None:
    files = sorted((ROOT / "templates").glob("*/workflow.yaml"))
    assert len(files) >= 4
    for file in files:
        load_file(file)  # raises WorkflowError naming the problem


# -- Content-Encoding: the body is read as sent, never inflated --------------------------


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        pytest.param("gzip", gzip.compress(b'{"order_id": "o-1"}'), id="gzip"),
        pytest.param("deflate", zlib.compress(b'{"order_id": "o-1"}'), id="deflate"),
        # A body that parses as it is: it was taken as JSON though the sender said
        # it was compressed, so the run saw other bytes than the sender meant.
        pytest.param("br", b'{"order_id": "o-1"}', id="br"),
        pytest.param("gzip, identity", gzip.compress(b"{}"), id="gzip-identity"),
    ],
)
async def test_a_compressed_body_is_415_naming_the_encoding_and_starts_nothing(
    blocks_runtime: Any, install_workflow: Any, encoding: str, body: bytes
) -> None:
    # gzip was a 400 "the body is not valid JSON: 'utf-8' codec can't decode byte
    # 0x8b", which told the sender its JSON was wrong; `br` over plain JSON ran.
    wf = install_workflow(WORKFLOW)
    headers = {**JSON, "Content-Encoding": encoding}
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, body)
    assert response.status == 415, response.body
    assert f"Content-Encoding {encoding!r}" in response.body["error"], response.body
    assert await _runs_of(blocks_runtime, wf.name) == 0


@pytest.mark.parametrize("encoding", ["", "identity", "Identity"])
async def test_an_identity_encoding_is_read_as_it_is(
    blocks_runtime: Any, install_workflow: Any, encoding: str
) -> None:
    wf = install_workflow(WORKFLOW)
    headers = {**JSON, "Content-Encoding": encoding}
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, b"{}")
    assert response.status == 202, response.body
