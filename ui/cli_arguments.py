"""The checks of ``serve``'s and ``worker``'s arguments that argparse cannot make:
each returns the usage line to print (exit 2), or None."""

from __future__ import annotations


def bad_address(host: str, port: str | int) -> str | None:
    """What is wrong with ``--host``/``--port`` (None: nothing). Checked here, not by
    the server: waitress took 99999 modulo 65536 (and said it served on 99999), and a
    negative port or a host no resolver knows was a traceback."""
    import socket

    port = str(port)
    if not (port.strip().isascii() and port.strip().isdigit() and 1 <= int(port) <= 65535):
        return f"bad --port {port!r}: give a number from 1 to 65535"
    try:
        socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: a label over 63 characters
        return f"bad --host {host!r}: not an address or a known host name ({exc})"
    return None


def bad_concurrency(value: str | int) -> str | None:
    """What is wrong with ``--concurrency`` (None: nothing): 0 or less started a worker
    that never ran a run, and said nothing."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        return f"bad --concurrency {str(value)!r}: give a number of runs of at least 1"
    return None


def bad_serve_modes(no_worker: bool, engine_process: bool) -> str | None:
    """``--no-worker`` with ``--engine-process`` (None: not both). Each asks for the
    opposite: the engine process executes every run the server accepts, --no-worker
    leaves them all to `flowyard worker`s. --no-worker was dropped without a word, and
    runs executed in a process where none were meant to."""
    if not (no_worker and engine_process):
        return None
    return (
        "--no-worker and --engine-process cannot be used together: --no-worker"
        " leaves runs to `flowyard worker`s, --engine-process executes them in a"
        " second process of this serve; give one of them"
    )
