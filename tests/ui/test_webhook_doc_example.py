"""docs/blocks/webhook.md's signing one-liner and its Example's curl, run as written
(the waitress server on 127.0.0.1, real curl, real PostgreSQL).

The one-liner printed ``sha256=<hex>`` and the curl sent ``sha256=$SIG``: a reader
pasting both sent ``sha256=sha256=…`` and got ``401 invalid signature``. Here the
Example's shell block must sign with the Signatures section's one-liner, and the
delivery it sends must start a run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ui.bridge import EngineBridge

DOC = Path(__file__).resolve().parents[2] / "docs" / "blocks" / "webhook.md"

#: The Example's address and webhook path, moved to the test server and to a path no
#: other workflow of the test workspace serves.
DOC_ADDRESS = "localhost:8080"
DOC_PATH = "shop/events"
TEST_PATH = "docs-example/orders/events"


def section(doc: str, title: str) -> str:
    return doc.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def fenced(text: str, lang: str) -> str:
    [block] = re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)
    return block


def test_the_example_delivery_signed_as_documented_is_accepted(
    live_server: str,
    workflows_dir: Path,
    engine_bridge: EngineBridge,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One secret for the server (it reads it when the delivery comes) and the shell.
    monkeypatch.setenv("ORDER_WEBHOOK_SECRET", "doc-example-secret")
    doc = DOC.read_text(encoding="utf-8")
    [one_liner] = re.findall(r"`(SIG=\$\(.*\))`", section(doc, "Signatures"))
    example = section(doc, "Example")
    shell = fenced(example, "sh")
    assert one_liner in shell.splitlines(), "the Example signs otherwise than Signatures says"

    workflow = workflows_dir / "docs_webhook_example.yaml"
    workflow.write_text(
        fenced(example, "yaml").replace(f"path: {DOC_PATH}\n", f"path: {TEST_PATH}\n", 1),
        encoding="utf-8",
    )
    address = live_server.removeprefix("http://")
    script = shell.replace(f"{DOC_ADDRESS}/webhooks/{DOC_PATH}", f"{address}/webhooks/{TEST_PATH}")
    env = {
        **os.environ,
        # The `python3` of the one-liner: this interpreter.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        workflow.unlink()
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert "execution_id" in answer, answer  # 401 {"error": "invalid signature"} before

    run = engine_bridge.call(engine_bridge.runtime.wait(answer["execution_id"], timeout=30))
    assert run["status"] == "succeeded", run["error"]
    assert run["blocks"]["enrich"]["output"]["order_id"] == "o-1"
