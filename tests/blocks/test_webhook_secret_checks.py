"""A webhook secret that cannot be what it says: a ``whsec_`` secret whose rest is not
base64, a blank one, one with a reference other than ``<env.NAME>``. Written in the
file, validation refuses it (file, block, field); read from the environment, every
delivery is refused as unconfigured (500, the reason in the log) — never a 401 that
tells the public about the server's configuration and makes senders stop retrying.

``accept`` is called on a real runtime (real PostgreSQL run store), as the route does.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from workflow_problems import problems

from blocks.webhook import accept, flowyard_signature, standard_webhooks_signature

MALFORMED = "whsec_not base64!!"
BODY = b'{"order_id": "o-1"}'
VARIABLE = "FLOWYARD_TEST_MALFORMED_HOOK_SECRET"


def _file(secret: str, extra: str = "") -> str:
    return f"name: t\nblocks:\n  hook: {{type: webhook, path: a, secret: {secret!r}{extra}}}\n"


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (MALFORMED, "the secret starts with whsec_ but the rest is not base64"),
        ("whsec_QUJ", "the secret starts with whsec_ but the rest is not base64"),  # padding
        ("whsec_", "the secret is empty"),
        ("", "the secret is empty"),
        ("   ", "the secret is empty"),
        ("<nosuch.x>", "may only use <env.NAME> references"),
        ("pre-<hook.body.x>", "may only use <env.NAME> references"),
        ("<env.A.B>", "may only use <env.NAME> references"),
    ],
)
def test_a_secret_written_in_the_file_that_cannot_work_is_a_problem(
    tmp_path: Path, secret: str, message: str
) -> None:
    found = problems(tmp_path, _file(secret))
    assert len(found) == 1, found
    assert "block 'hook': field 'secret'" in found[0] and message in found[0], found
    if secret.strip():
        assert secret not in found[0]  # the message names the problem, not the secret


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_" + "QUJD" * 8,
        "plain-hmac-secret",
        "<env.ORDER_WEBHOOK_SECRET>",
        "whsec_<env.ORDER_WEBHOOK_SECRET_BASE64>",
    ],
)
def test_a_secret_that_may_work_is_accepted(tmp_path: Path, secret: str) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(_file(secret))
    from engine.model import load_file

    load_file(path)


def test_a_shared_token_may_start_with_whsec(tmp_path: Path) -> None:
    """With `secret_header` the secret is compared as text: `whsec_` means nothing."""
    from engine.model import load_file

    path = tmp_path / "ok.yaml"
    path.write_text(_file("whsec_not-base64!", ", secret_header: X-Gitlab-Token"))
    load_file(path)


async def test_a_malformed_whsec_secret_from_the_environment_refuses_every_delivery(
    blocks_runtime: Any,
    install_workflow: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(VARIABLE, MALFORMED)
    wf = install_workflow(
        f"name: NAME\nblocks:\n  hook: {{type: webhook, path: test/NAME, secret: <env.{VARIABLE}>}}\n"
        "  f: {type: function, code: 'return 1'}\nedges: [hook -> f]\n"
    )
    sent = str(int(time.time()))
    deliveries = {
        # Its answer was 401 "the webhook secret is not valid whsec_<base64>".
        "standard webhooks": {
            "webhook-id": "msg_1",
            "webhook-timestamp": sent,
            "webhook-signature": "v1,AAAA",
        },
        # Accepted with the malformed text as the HMAC key: the same secret working
        # for one scheme and not the other. A whsec_ secret is a Standard Webhooks key.
        "flowyard": {"X-Flowyard-Signature": flowyard_signature(MALFORMED, BODY)},
    }
    with caplog.at_level(logging.ERROR, logger="flowyard.webhook"):
        for scheme, headers in deliveries.items():
            answer = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, BODY)
            assert answer.status == 500, (scheme, answer.body)
            assert answer.body == {"error": "the webhook secret is not configured"}
    count = await blocks_runtime.db.pool.fetchval(
        "SELECT count(*) FROM flowyard_runs WHERE workflow = $1", wf.name
    )
    assert count == 0
    logged = [r.getMessage() for r in caplog.records]
    assert any(VARIABLE in m and "is not base64" in m for m in logged), logged
    assert not any(MALFORMED in m for m in logged), logged

    # Fixed in the environment, the same deliveries are judged by their signature.
    good = "whsec_" + "QUJD" * 8
    monkeypatch.setenv(VARIABLE, good)
    signed = {
        "webhook-id": "msg_2",
        "webhook-timestamp": sent,
        "webhook-signature": standard_webhooks_signature(good, "msg_2", sent, BODY),
    }
    answer = await accept(blocks_runtime, f"test/{wf.name}", "POST", signed, {}, BODY)
    assert answer.status == 202, answer.body
    await blocks_runtime.wait(answer.body["execution_id"], timeout=30)


@pytest.mark.parametrize("value", [" whsec_" + "QUJD" * 8, "whsec_" + "QUJD" * 8 + "\n"])
def test_a_whsec_secret_with_blanks_around_it_fails_closed(value: str) -> None:
    """A leading blank (an env file's quoting slip) made the secret a plain HMAC key:
    every Standard Webhooks delivery got a 401 and nothing was logged, while a
    trailing one failed closed. Both fail closed now, saying why."""
    from blocks._signatures import resolve_secret

    with pytest.raises(LookupError, match="has blanks or a line break around it"):
        resolve_secret(f"<env.{VARIABLE}>", {VARIABLE: value})
