"""How long a Function worker process may live: no longer than the engine process
that started it, and no longer than a little past its call's timeout.

The engine kills a worker on timeout and at a clean stop; these are the backstops
for when it cannot: it was killed itself (``kill -9``, the out-of-memory killer) or
is stalled. A worker left running would finish its block while a restarted server
resumes the run and runs the block again: two copies at once (docs/engine.md counts
Function blocks as safe to run again only because the first copy is dead).

Imported by the worker at spawn, so kept to the standard library's small modules.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

#: How often a worker looks whether its engine process is still its parent, where
#: the kernel cannot tell it (not Linux), or in case it did not.
PARENT_LOOK_S = 0.25
#: How long past its timeout a call may run before its worker ends itself: the
#: engine kills it at the timeout; this only acts when the engine did not.
BACKSTOP_GRACE_S = 2.0
#: setitimer's limit is far above any sensible timeout; a larger one is not armed.
_LONGEST_S = 10_000_000.0

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """End this process as soon as ``parent_pid`` (the engine process) dies.

    On Linux the kernel sends SIGKILL when the parent dies, whatever the code is
    doing (sleeping, looping, inside C code that holds the GIL). It does so when the
    *thread* that forked this process exits, so engine/functions.py starts workers
    from a thread that lives as long as its process. Everywhere, a daemon thread
    also looks at the parent pid (it needs the GIL, so C code can delay it)."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # Checked after the prctl: a parent that died before it left us orphaned already.
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="flowyard-parent-watch", daemon=True
    ).start()


def _watch_parent(parent_pid: int) -> None:
    # Compared with the pid it started with, not 1: an orphan is adopted by the
    # nearest subreaper (systemd --user, a container's init), not always by init.
    while os.getppid() == parent_pid:
        time.sleep(PARENT_LOOK_S)
    os._exit(1)


def arm_backstop(timeout: float | None) -> None:
    """End this process if the call now starting runs ``BACKSTOP_GRACE_S`` past its
    ``timeout``: a kernel timer whose SIGALRM, left at its default action, ends the
    process without needing the GIL. Code that installs its own SIGALRM handler or
    calls ``signal.alarm`` replaces it for that call; the engine's own kill at the
    timeout still applies."""
    if signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL:  # a previous call's handler
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    if timeout is None or not 0 < timeout + BACKSTOP_GRACE_S < _LONGEST_S:
        return
    signal.setitimer(signal.ITIMER_REAL, timeout + BACKSTOP_GRACE_S)


def disarm_backstop() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)
