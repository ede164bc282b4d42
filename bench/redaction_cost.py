"""Redaction's cost per run event: ``Redactor.fields`` on an HTTP block's event.

    python bench/redaction_cost.py [--against REV]

Every event of a run that read a secret is redacted, field by field
(engine/recorder.py). Measures the event an Order Processing capture records
(status, headers, a JSON body, resolved inputs), with no secret in it and with
three, for a run with plain-token secrets, one with punctuated secrets (the
kind that have many percent-encoded forms) and one with secrets JSON escapes (a
``"``, a backslash, a PEM key's newlines), echoed in a peer's error body as the
run log stores it: escaped three times. With ``--against``, engine/redaction.py
as of that git revision is measured alternately with the working tree's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import engine.redaction  # noqa: E402
from engine._json import dumps  # noqa: E402
from engine._recordable import storable  # noqa: E402

SECRETS = {
    "plain tokens": {
        "sk_test_51HqLyjWDarjtT1zdp7dcXsk",
        "whsec_9f8e7d6c5b4a",
        "https://api.example",
    },
    "punctuated": {"sk_test_51HqLyjWDarjtT1zdp7dcXsk", "AbC+dEf/GhIjK=", "p@ss:w0rd/x y"},
    "JSON-escaped": {
        "sk_test_51HqLyjWDarjtT1zdp7dcXsk",
        "he\"llo\\wor'ld{9}",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    },
}
PLAIN = {
    "output": {
        "status": 200,
        "ok": True,
        "headers": {"content-type": "application/json", "date": "Tue, 01 Dec 2026 10:00:00 GMT"},
        "body": {"id": "ch_3Nx1", "amount": 1999, "currency": "eur", "captured": True},
    },
    "inputs": {"url": "https://api.example/v1/charges/ch_3Nx1/capture", "method": "POST"},
    "attempt": 1,
    "duration_ms": 12.3,
}
#: The same event, a peer echoing three secrets in the forms they were sent in.
ECHOED = {
    **PLAIN,
    "output": {
        **PLAIN["output"],
        "body": {
            "path": "/p?x=AbC%2BdEf/GhIjK%3D&y=p@ss:w0rd/x+y&k=sk_test_51HqLyjWDarjtT1zdp7dcXsk"
        },
    },
}


#: The third set's secrets as a peer echoes the JSON request body it refused.
_SENT = json.dumps({"key": sorted(SECRETS["JSON-escaped"])}, separators=(",", ":"))
ESCAPED = {
    **PLAIN,
    "output": None,
    "error": {
        "type": "HttpError",
        "message": "POST … returned 422: "
        + json.dumps({"error": "invalid request", "received": _SENT}),
    },
}
ECHOES = {"plain tokens": ECHOED, "punctuated": ECHOED, "JSON-escaped": ESCAPED}


def redaction_at(rev: str) -> ModuleType:
    text = subprocess.run(
        ["git", "show", f"{rev}:engine/redaction.py"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "redaction_at_rev.py"
    path.write_bytes(text)
    spec = importlib.util.spec_from_file_location("redaction_at_rev", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _recorded_json(value: object) -> str:
    """As the run log encodes a value (engine.recorder)."""
    return storable(dumps(value))


def per_event_us(module: ModuleType, secrets: set[str], event: dict, number: int) -> float:
    redactor = module.Redactor(set(secrets))
    redactor.fields(event, _recorded_json)  # the secrets' forms, computed once
    runs = timeit.repeat(lambda: redactor.fields(event, _recorded_json), number=number, repeat=3)
    return min(runs) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", help="a git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    modules = {"this tree": engine.redaction}
    if args.against:
        modules = {args.against: redaction_at(args.against), **modules}
    for set_name, secrets in SECRETS.items():
        for event_name, event in (
            ("no secret in it", PLAIN),
            ("3 secrets in it", ECHOES[set_name]),
        ):
            best = {name: float("inf") for name in modules}
            for _ in range(args.rounds):  # alternating, so load changes hit both alike
                for name, module in modules.items():
                    cost = per_event_us(module, secrets, event, args.number)
                    best[name] = min(best[name], cost)
            figures = "   ".join(f"{name} {us:5.2f} µs" for name, us in best.items())
            print(f"{set_name:13} event with {event_name:16} {figures}")


if __name__ == "__main__":
    main()
