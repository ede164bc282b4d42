"""A workflow whose YAML aliases multiply it, sent to the API or dropped in the folder.

A 434-byte file held 4.8 million values: 15 s of server CPU per request, 422 bodies
quoting the whole expansion (7.7 MB from 392 bytes), a valid variant saved and then
answered 39 MB to a GET, and in the folder two 34 MB log lines from the schedule
loader while a sync webhook of another workflow timed out."""

from __future__ import annotations

import asyncio
import os
import textwrap
import uuid
from pathlib import Path

import httpx
from processes import free_port, start, stop, until_healthy
from yaml_bombs import BOMB_IN_DEFS, BOMB_IN_SCHEMA, UNDER_THE_BOUND

ROOT = Path(__file__).resolve().parents[2]
AS_YAML = {"Content-Type": "application/yaml"}


def test_a_save_of_a_file_aliases_multiply_is_a_short_422(
    live_server: str, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = f"bomb_{uuid.uuid4().hex[:8]}"
    url = f"{live_server}/api/workflows/{name}"
    saved = httpx.put(url, content=BOMB_IN_SCHEMA, headers={**auth, **AS_YAML})
    assert saved.status_code == 422, saved.text[:2000]  # was 201, after 10 s
    assert len(saved.content) < 2000, len(saved.content)
    [problem] = saved.json()["problems"]
    assert (problem["block"], problem["field"]) == ("s", "input_schema.x-a5.2"), problem
    assert problem["message"].startswith("aliases repeat too much: "), problem
    assert not (workflows_dir / f"{name}.yaml").exists()


def test_validating_one_is_a_short_422(live_server: str, auth: dict[str, str]) -> None:
    url = f"{live_server}/api/workflows/bomb_{uuid.uuid4().hex[:8]}/validate"
    checked = httpx.post(url, content=BOMB_IN_DEFS, headers={**auth, **AS_YAML})
    assert checked.status_code == 422, checked.text[:2000]
    assert len(checked.content) < 2000, len(checked.content)  # was 7.7 MB
    [problem] = checked.json()["problems"]
    assert (problem["block"], problem["field"]) == (None, "defs.a5.2"), problem


def test_problems_quoting_a_large_value_are_cut_in_a_422(
    live_server: str, auth: dict[str, str]
) -> None:
    """Under the bound, or sent as JSON (which has no aliases): each message quoted
    the whole value."""
    name = f"large_{uuid.uuid4().hex[:8]}"
    url = f"{live_server}/api/workflows/{name}"
    as_yaml = httpx.put(url, content=UNDER_THE_BOUND, headers={**auth, **AS_YAML})
    big_list = {"name": name, "blocks": {"s": {"type": "manual", "input_schema": ["x"] * 100_000}}}
    as_json = httpx.put(url, json=big_list, headers=auth)
    for answer in (as_yaml, as_json):
        assert answer.status_code == 422, answer.text[:2000]
        assert len(answer.content) < 5000, len(answer.content)  # was 856 kB and 1.1 MB
        messages = [p["message"] for p in answer.json()["problems"]]
        assert any(m.endswith("] is not of type 'object'") for m in messages), messages


SYNC_HOOK = """\
name: NAME
blocks:
  hook: {type: webhook, path: alias-bombs/NAME, respond: sync}
  say: {type: function, code: 'return {"ok": True}'}
edges: [hook -> say]
"""


async def test_a_file_dropped_in_the_folder_writes_short_log_lines(
    database_url: str, tmp_path: Path
) -> None:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    tag = uuid.uuid4().hex[:8]
    (workflows / f"hook_{tag}.yaml").write_text(SYNC_HOOK.replace("NAME", f"hook_{tag}"))
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "t", "FLOWYARD_QUEUE": f"bombs-{tag}", "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    log = tmp_path / "serve.log"
    server = start(["serve", "--port", str(port)], env, tmp_path, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await until_healthy(client)
            # Each with a webhook too, so that the route table says why it is down.
            hook = "  hook: {type: webhook, path: alias-bombs/dropped}\n"
            (workflows / "bomb.yaml").write_text(
                BOMB_IN_DEFS.replace("blocks:\n", f"blocks:\n{hook}")
            )
            (workflows / "large.yaml").write_text(
                UNDER_THE_BOUND.replace("blocks:\n", f"blocks:\n{hook}")
            )
            answer = await client.post(f"/webhooks/alias-bombs/hook_{tag}", json={})
            assert answer.status_code == 200, answer.text[:2000]
            assert answer.json() == {"ok": True}
            # The scheduler rescans the folder every 10 s: until it has said both.
            for _ in range(600):
                said = log.read_text()
                if "schedules of bomb do not run" in said and "schedules of large" in said:
                    break
                await asyncio.sleep(0.1)
    finally:
        stop([server])
    text = log.read_text()
    assert "schedules of bomb do not run: " in text and "aliases repeat too much" in text, text[
        -3000:
    ]
    assert "schedules of large do not run: " in text, text[-3000:]
    assert "does not load, so its webhooks (POST /webhooks/alias-bombs/dropped)" in text
    assert max(len(line) for line in text.splitlines()) < 5000, textwrap.shorten(text, 3000)
    assert len(text) < 100_000, len(text)  # was 69 MB
