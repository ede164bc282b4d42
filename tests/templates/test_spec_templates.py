"""SPEC "Templates": the files each template folder holds, the settings table as each
README documents it, and the settings' defaults ("unset: step skipped") seen through
`flowyard serve` in a new workspace with none of them set.

Elsewhere: the schema's properties (test_event_store_schema), every setting pointed at
stand-ins (test_order_processing_e2e), Replay Events' as_of/version/repair
(test_replay_events_e2e), the Agent variants (test_agent_variants_e2e).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from db_helpers import new_database
from es_support import new_event_store
from processes import free_port, start, stop

from templates import ROOT as TEMPLATES

REPO = TEMPLATES.parent
SETTINGS = (
    "STRIPE_API_BASE",
    "STRIPE_SECRET_KEY",
    "CUSTOMER_WEBHOOK_URL",
    "SLACK_WEBHOOK_URL",
    "ORDER_EMAIL_FROM",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SNAPSHOT_EVERY",
)


@pytest.mark.parametrize("template", ["order_processing", "replay_events"])
def test_each_template_folder_has_its_workflow_and_the_event_store_schema(template: str) -> None:
    folder = TEMPLATES / template
    assert (folder / "workflow.yaml").is_file()
    sql = (folder / "schema.sql").read_text()
    for table in ("events", "order_snapshots", "event_correlations"):
        assert f"CREATE TABLE IF NOT EXISTS {table} (" in sql
    assert "event_id          UUID NOT NULL UNIQUE" in sql


def _settings_rows(readme: Path) -> dict[str, str]:
    """The README's "Settings" table: first cell -> last cell."""
    text = readme.read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and not set(cells[0]) <= {"-", " "}:
            rows[cells[0]] = cells[-1]
    return rows


def test_order_processing_readme_documents_every_setting_with_its_default() -> None:
    rows = _settings_rows(TEMPLATES / "order_processing" / "README.md")
    by_name = {name: default for cell, default in rows.items() for name in re.findall(r"`([^`]+)`", cell)}  # fmt: skip
    assert "orders/events" in rows["webhook path"]
    assert "https://api.stripe.com" in by_name["STRIPE_API_BASE"]
    assert "STRIPE_SECRET_KEY" in by_name
    for name in ("CUSTOMER_WEBHOOK_URL", "SLACK_WEBHOOK_URL", "ORDER_EMAIL_FROM", "SMTP_HOST"):
        assert "unset: step skipped" in by_name[name], name
    assert "100" in by_name["SNAPSHOT_EVERY"]


def test_replay_events_readme_documents_its_settings_input_and_output() -> None:
    readme = TEMPLATES / "replay_events" / "README.md"
    rows = _settings_rows(readme)
    by_name = {name: default for cell, default in rows.items() for name in re.findall(r"`([^`]+)`", cell)}  # fmt: skip
    assert "unset: step skipped" in by_name["SLACK_WEBHOOK_URL"]
    assert "100" in by_name["SNAPSHOT_EVERY"]
    text = readme.read_text()
    for field in ("order_id", "as_of", "version", "repair", "state", "snapshot_state", "consistent", "events"):  # fmt: skip
        assert f"`{field}`" in text, field


async def test_unset_settings_skip_their_steps_and_defaults_apply(
    pg_uri: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": await new_database(pg_uri), "PYTHONPATH": str(REPO),
           "FLOWYARD_TOKEN": "spec-token"}  # fmt: skip
    for name in (*SETTINGS, "FLOWYARD_WORKFLOWS"):
        env.pop(name, None)
    port = free_port()
    server = start(["serve", "--port", str(port)], env, tmp_path, tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": "Bearer spec-token"}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(300):
                try:
                    if (await http.get("/api/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            order = f"spec-{uuid.uuid4().hex[:8]}"
            body = {"event_type": "order_created", "order_id": order, "user_id": "u1",
                    "email": "ada@example.com", "first_name": "Ada"}  # fmt: skip
            accepted = await http.post("/webhooks/orders/events", json=body)
            assert accepted.status_code == 202, accepted.text
            eid = accepted.json()["execution_id"]
            run = (await http.get(f"/api/runs/{eid}", headers=auth)).json()
            for _ in range(300):
                if run["status"] in ("succeeded", "failed"):
                    break
                time.sleep(0.1)
                run = (await http.get(f"/api/runs/{eid}", headers=auth)).json()
            assert run["status"] == "succeeded", run["error"]
            assert run["output"]["subscriber_errors"] in ([], {}, None)  # nothing was tried
            enrich = run["blocks"]["enrich"]["output"]
            assert enrich["snapshot_every"] == 100
            events = (await http.get(f"/api/runs/{eid}/events", headers=auth)).json()["events"]
            final = {e["block"]: e["type"] for e in events if e["block"]}
            # No subscriber is set up: nothing is kept for one, nothing sent.
            assert run["blocks"]["held"]["output"] == {"subscribers": []}
            for step in ("notify_customer", "notify_slack", "send_email"):
                assert not [p for p in final if p.endswith(f".{step}")], step
            assert any(p.endswith("index_search") and t == "block_succeeded" for p, t in final.items())  # fmt: skip

            # Replay Events by API: its input and output.
            replay = await http.post(
                "/api/workflows/replay_events/runs?wait=1",
                json={"order_id": order, "repair": False},
                headers=auth,
            )
            out = replay.json()["output"]
            assert replay.json()["status"] == "succeeded", replay.json()["error"]
            assert out["consistent"] is True and out["events"] == 1
            assert out["state"] == out["snapshot_state"] and out["state"]["status"] == "pending"
            past = await http.post(
                "/api/workflows/replay_events/runs?wait=1",
                json={"order_id": order, "as_of": "2000-01-01T00:00:00Z", "version": 1},
                headers=auth,
            )
            assert past.json()["output"]["state"] is None and past.json()["output"]["events"] == 0
    finally:
        stop([server])


async def test_email_without_an_smtp_server_is_skipped_not_failed(
    pg_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ORDER_EMAIL_FROM set but SMTP_HOST unset: the email step is skipped like any
    subscriber whose setting is unset, rather than tried and reported as an error."""
    import shutil
    import tempfile

    from es_support import deliver

    from engine.runtime import Runtime
    from templates import instantiate

    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORDER_EMAIL_FROM", "orders@shop.example")
    url = await new_event_store(pg_uri)
    workspace = Path(tempfile.mkdtemp(prefix="flowyard-spec-email-"))
    instantiate("order_processing", workspace / "workflows")
    rt = Runtime(workspace / "workflows", url, workspace, function_workers=1, resume=False)
    await rt.start()
    try:
        order = f"mail-{uuid.uuid4().hex[:8]}"
        body = {"event_type": "order_created", "order_id": order, "email": "ada@example.com"}
        result = await deliver(rt, body)
        events = await rt.run_events(result["execution_id"])
        assert not [e for e in events if (e["block"] or "").endswith(".send_email")]
        assert not result["output"]["subscriber_errors"]
        # Nothing is kept for it either: setting SMTP_HOST later sends nothing old.
        kept = "SELECT count(*) FROM subscriber_outbox WHERE order_id = $1"
        assert await rt.db.pool.fetchval(kept, order) == 0
    finally:
        await rt.close()
        shutil.rmtree(workspace, ignore_errors=True)


def test_the_agent_variant_notifies_its_subscribers_alike() -> None:
    """Step 10 (what is kept, what is sent, when a run fails for it) is the same
    in both variants, but for where Function blocks run."""
    import yaml

    steps = ("held", "publish", "send_held", "send_in_order", "which", "notify_customer",
             "payment_note", "notify_slack", "send_email", "took", "search_enabled",
             "index_search", "correlate", "save_snapshot", "duplicate", "result")  # fmt: skip

    def step_10(template: str) -> tuple[dict[str, Any], list[str]]:
        doc = yaml.safe_load((TEMPLATES / template / "workflow.yaml").read_text())
        blocks = {k: {f: v for f, v in doc["blocks"][k].items() if f != "isolation"} for k in steps}
        return blocks, sorted(e for e in doc["edges"] if e.split(" -> ")[1] in steps)

    assert step_10("order_processing_agent") == step_10("order_processing")
