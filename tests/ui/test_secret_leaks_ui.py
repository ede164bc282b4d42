"""What the server answers about a run never carries its secrets: the sync webhook's
body, the run API, its events and live stream, the run list, the pages, the metrics."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

SECRET = "pässwort-ui-leak-31f7"
FORMS = {SECRET, json.dumps(SECRET)[1:-1]}

LEAKY = """\
version: 1
name: leaky_sync
blocks:
  hook:
    type: webhook
    path: test/leaky
    respond: sync
  sign:
    type: function
    code: |
      print("signing with", <env.FLOWYARD_UI_LEAK>)
      return {"sig": "k=" + <env.FLOWYARD_UI_LEAK>, "fail": input.hook.body.get("fail", False)}
  check:
    type: function
    code: |
      if input.sign.fail:
          raise ValueError("refused key " + <env.FLOWYARD_UI_LEAK>)
      return {"sig": input.sign.sig}
edges:
  - hook -> sign
  - sign -> check
"""


@pytest.fixture
def leaky(workflows_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FLOWYARD_UI_LEAK", SECRET)
    path = workflows_dir / "leaky_sync.yaml"
    path.write_text(textwrap.dedent(LEAKY))
    yield
    path.unlink(missing_ok=True)


def assert_absent(text: str) -> None:
    for form in FORMS:
        assert form not in text, f"{form!r} leaked"


@pytest.mark.parametrize("fail", [False, True], ids=["succeeded", "failed"])
def test_nothing_the_server_says_about_a_run_carries_its_secret(
    client: FlaskClient, auth: dict[str, str], leaky: None, fail: bool
) -> None:
    resp = client.post("/webhooks/test/leaky", json={"fail": fail})
    body = resp.get_data(as_text=True)
    assert_absent(body)
    if fail:
        assert resp.status_code == 500 and "refused key ***" in body
        eid = resp.get_json()["execution_id"]
    else:
        assert resp.status_code == 200 and resp.get_json() == {"sig": "k=***"}
        [run] = client.get("/api/runs?workflow=leaky_sync&limit=1", headers=auth).get_json()["runs"]
        eid = run["execution_id"]
    for url in (
        f"/api/runs/{eid}",
        f"/api/runs/{eid}/events",
        f"/api/runs/{eid}/stream",
        "/api/runs?workflow=leaky_sync",
        f"/runs/{eid}",
        "/metrics",
    ):
        page = client.get(url, headers=auth)
        assert page.status_code == 200, url
        assert_absent(page.get_data(as_text=True))
    events = client.get(f"/api/runs/{eid}/events", headers=auth).get_json()["events"]
    [sign] = [e for e in events if e["block"] == "sign" and e["type"] == "block_succeeded"]
    assert sign["data"]["output"]["stdout"] == "signing with ***\n"


def test_a_webhook_token_header_is_not_recorded(
    client: FlaskClient, auth: dict[str, str], leaky: None
) -> None:
    """GitLab sends its webhook secret in clear as X-Gitlab-Token, Telegram as
    X-Telegram-Bot-Api-Secret-Token: credentials, like Authorization."""
    headers = {
        "X-Gitlab-Token": "gitlab-hook-secret-6d1a",
        "X-Telegram-Bot-Api-Secret-Token": "telegram-hook-secret-0b7c",
    }
    resp = client.post("/webhooks/test/leaky", json={}, headers=headers)
    assert resp.status_code == 200
    [run] = client.get("/api/runs?workflow=leaky_sync&limit=1", headers=auth).get_json()["runs"]
    eid = run["execution_id"]
    for url in (f"/api/runs/{eid}", f"/api/runs/{eid}/events"):
        text = client.get(url, headers=auth).get_data(as_text=True)
        assert "gitlab-hook-secret-6d1a" not in text and "telegram-hook-secret-0b7c" not in text
    recorded = client.get(f"/api/runs/{eid}", headers=auth).get_json()["input"]["webhook"]
    assert recorded["headers"]["x_gitlab_token"] == "[redacted]"
