"""The cap on requests that hold a server thread for long: live run streams,
`?wait=1` runs and `respond: sync` webhook deliveries waiting for their run.

They share one cap, half the server's threads (FLOWYARD_THREADS), so the other half
always answers /api/health, async deliveries and the API: 16 open streams on 16
threads made deliveries time out, and 48 sync deliveries waiting for a slow run held
every thread, /api/health included (its "503 degraded at once" of a hung database
too). Past the cap a stream answers what there is, a `?wait=1` run answers 202, and
a sync delivery is refused 503 before anything is stored (ui/webhooks.py).
"""

from __future__ import annotations

import functools
import threading

from ui.config import server_threads


@functools.cache
def slots() -> threading.BoundedSemaphore:
    """One slot per request that may hold a thread for long; take it without blocking."""
    return threading.BoundedSemaphore(max(1, server_threads() // 2))
