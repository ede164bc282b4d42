"""The derived `Idempotency-Key` is header text, whatever the block's path holds.

A parallel branch may be named in any script or with a line break (`paiement reçu`,
`Zahlung für`): the key, `<execution_id>:<block path>`, then held text outside ASCII,
and every POST of that branch failed before it was sent, with an error about a header
the workflow never set. The path's characters outside printable ASCII (and `%`) are
now percent-encoded, so two branches never share a key; any other path's key is as
before."""

from __future__ import annotations

from typing import Any

from standins.recording import RecordingServer


async def test_a_branch_named_outside_ascii_sends_its_post_with_a_key_of_its_own(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    result = await run_yaml(
        f"""
        name: branch_names_keys
        blocks:
          start: {{type: manual}}
          pay:
            type: parallel
            branches: {{"paiement reçu": [a], "%C3%A7": [b], "two\\nlines": [c], "plain one": [d]}}
          a: {{type: http, method: POST, url: "{recorder.url}/pay"}}
          b: {{type: http, method: POST, url: "{recorder.url}/pay"}}
          c: {{type: http, method: POST, url: "{recorder.url}/pay"}}
          d: {{type: http, method: POST, url: "{recorder.url}/pay"}}
        edges: [start -> pay]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    eid = result["execution_id"]
    keys = sorted(r.headers["idempotency-key"] for r in recorder.requests_to("/pay"))
    assert keys == sorted(
        [
            f"{eid}:pay[paiement re%C3%A7u].a",
            f"{eid}:pay[%25C3%25A7].b",  # not the key of the branch named "ç"
            f"{eid}:pay[two%0Alines].c",
            f"{eid}:pay[plain one].d",  # printable ASCII: as before
        ]
    )
