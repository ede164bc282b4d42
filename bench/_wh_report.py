"""CPU accounting, the markdown table and the chart of bench/webhook_throughput.py."""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

import psutil


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants, reaped ones included."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _own_cpu(pid: int) -> float:
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return t.user + t.system


def waited_children_cpu() -> float:
    """CPU seconds of this process's finished (waited-for) children: wrk."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class CpuMeter:
    """CPU of the server tree, PostgreSQL's tree and the load generator over a window."""

    def __init__(self, server_pid: int, pg_pid: int) -> None:
        self.pids = {"server": server_pid, "pg": pg_pid}
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        snap = {name: tree_cpu(pid) for name, pid in self.pids.items()}
        snap["wrk"] = waited_children_cpu()
        snap["bench"] = sum(os.times()[:2])
        snap["server_main"] = _own_cpu(self.pids["server"])
        t = psutil.cpu_times()
        snap["machine"] = sum(t) - t.idle - getattr(t, "iowait", 0.0)
        return snap

    def start(self) -> None:
        self._start = self._now()

    def stop(self, seconds: float) -> dict[str, float]:
        """Cores used by each (CPU seconds / wall seconds) since :meth:`start`."""
        end = self._now()
        return {k: (end[k] - self._start[k]) / max(seconds, 1e-9) for k in end}


def fmt_ms(us: float | None) -> str:
    return "-" if us is None else f"{us / 1000:.1f}"


def markdown_table(rows: list[dict[str, Any]], ceilings: dict[int, dict[str, float]]) -> str:
    """The table for docs/performance.md (one row per mode and concurrency)."""
    ncpu = os.cpu_count() or 1
    head = (
        "| mode | conns | accepted/s | completed exec/s | webhook p50/p95/p99 ms "
        "| committed p50/p95/p99 ms | server CPU (main process) | PG CPU | wrk CPU | machine busy "
        "| ceiling (a) tx/s | ÷ (a) | ceiling (b) req/s | ÷ (b) |\n"
        "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        c = ceilings.get(r["connections"], {})
        sql, flask = c.get("sql"), c.get("flask")
        cpu = r["cpu"]
        committed = r["committed_ms"]
        lines.append(
            f"| {r['mode']} | {r['connections']} | {r['accepted_per_s']:,.0f} "
            f"| {r['completed_per_s']:,.0f} "
            f"| {fmt_ms(r['p50'])} / {fmt_ms(r['p95'])} / {fmt_ms(r['p99'])} "
            f"| {' / '.join('-' if v is None else f'{v:.1f}' for v in committed)} "
            f"| {cpu['server'] / ncpu:.0%} ({cpu['server_main'] / ncpu:.0%}) | {cpu['pg'] / ncpu:.0%} "
            f"| {cpu['wrk'] / ncpu:.0%} | {cpu['machine'] / ncpu:.0%} "
            f"| {sql:,.0f} | {r['completed_per_s'] / sql:.2f}× "
            f"| {flask:,.0f} | {r['completed_per_s'] / flask:.2f}× |"
            if sql and flask
            else f"| {r['mode']} | {r['connections']} | {r['accepted_per_s']:,.0f} | {r['completed_per_s']:,.0f} | … |"
        )
    return head + "\n".join(lines) + "\n"


def chart(
    rows: list[dict[str, Any]], ceilings: dict[int, dict[str, float]], paths: list[Path]
) -> None:
    """Throughput vs connections, flowyard (both modes) against both ceilings; log y."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conns = sorted(ceilings)
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=90)
    for mode, style in (("async", "o-"), ("sync", "s-")):
        pts = sorted((r["connections"], r["completed_per_s"]) for r in rows if r["mode"] == mode)
        if pts:
            ax.plot(*zip(*pts, strict=True), style, label=f"flowyard {mode} (completed exec/s)")
    ax.plot(
        conns, [ceilings[c]["sql"] for c in conns], "^--", label="(a) same SQL, bare asyncpg (tx/s)"
    )
    ax.plot(
        conns,
        [ceilings[c]["flask"] for c in conns],
        "v--",
        label="(b) bare Flask + waitress (req/s)",
    )
    ax.axhline(1000, color="grey", lw=0.8, ls=":", label="goal: 1000 exec/s")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(conns, [str(c) for c in conns])
    ax.set_xlabel("concurrent connections (wrk)")
    ax.set_ylabel("per second")
    ax.set_title("Order Processing webhook on 2 shared cores", fontsize=10)
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    plt.close(fig)


def _frame(frame: str) -> str:
    """``fn (path/to/file.py:123)`` → ``fn (file.py)``, so lines of one function add up."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rsplit(':', 1)[0]).name})" if where else name


def profile_summary(raw: Path, top: int = 15) -> str:
    """The busiest functions of a py-spy ``--format raw`` file: self and inclusive share."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return "  (no samples)"
    out = [f"  {total:,} samples (non-idle threads and subprocesses)", "  self:"]
    out += [f"    {n / total:6.1%}  {f}" for f, n in sorted(own.items(), key=lambda x: -x[1])[:top]]
    out.append("  inclusive:")
    out += [
        f"    {n / total:6.1%}  {f}" for f, n in sorted(incl.items(), key=lambda x: -x[1])[:top]
    ]
    return "\n".join(out)
