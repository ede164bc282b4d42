"""JavaScript Functions run on threads of their own, not on the event loop's default
executor, which also sends email (the Email block's SMTP exchange runs on it). Busy
JavaScript (a loop until its timeout, a slow computation) took every thread of it,
and an Email block of any run waited for a JavaScript timeout before it could even
connect — failing on its own timeout when another workflow's Functions were busy.

Real V8 (mini-racer), a real SMTP server on 127.0.0.1, embedded PostgreSQL.
"""

from __future__ import annotations

import os
from typing import Any

from standins.smtp import Inbox

from engine.runtime import Runtime


async def test_busy_javascript_does_not_hold_up_an_email(
    runtime: Runtime, run_yaml: Any, smtp: Inbox
) -> None:
    # As many spinning Functions as the default executor has threads.
    spinning = min(32, (os.cpu_count() or 1) + 4)
    result = await run_yaml(
        f"""
        name: js_threads_apart
        blocks:
          start: {{type: manual}}
          many:
            type: parallel
            items: {list(range(spinning))}
            max_concurrency: {spinning}
            on_error: continue
            body: [spin]
          spin:
            type: function
            language: javascript
            timeout: 5
            code: |
              while (true) {{}}
          pause:
            type: function
            code: |
              import time
              time.sleep(0.5)
              return 1
          mail:
            type: email
            to: ann@shop.test
            subject: sent
            text: while JavaScript ran
        edges: [start -> many, start -> pause, pause -> mail]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert len(smtp.messages) == 1
    events = await runtime.run_events(result["execution_id"])
    order = [(e["type"], e["block"]) for e in events]
    sent = order.index(("block_succeeded", "mail"))
    first_spin_end = min(
        i for i, (kind, block) in enumerate(order) if kind == "block_failed" and "spin" in block
    )
    # The message went out while every JavaScript Function still ran.
    assert sent < first_spin_end, order
