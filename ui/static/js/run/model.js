// Folds a run's event stream into per-block records for the viewer. A block path
// like `fold[3].add` is the `add` block in iteration 3 of the `fold` container.

const ts = (at) => (at ? Date.parse(at) : null);

const FINAL = ['succeeded', 'failed', 'cancelled'];

export class RunModel {
  constructor() {
    this.blocks = new Map(); // path -> record: seeded in flow order, then in order of first event
    this.status = 'queued';
    this.startedAt = null; // ms, the Gantt's span (from the run's first event)
    this.finishedAt = null;
    this.runStartedAt = null; // ISO, the header's: the run's first start, its end
    this.runFinishedAt = null;
    this.trigger = null;
    this.input = undefined;
    this.output = undefined;
    this.error = null;
    this.lastSeq = 0;
  }

  get final() {
    return FINAL.includes(this.status);
  }

  record(path) {
    let rec = this.blocks.get(path);
    if (!rec) {
      rec = { path, status: 'pending', attempts: 0, segments: [], inputs: undefined, output: undefined, error: null, port: null, durationMs: null, reusedFrom: null, rolledBack: null };
      this.blocks.set(path, rec);
    }
    return rec;
  }

  // The run as GET /api/runs/<id> reports it. Its `blocks` lists every top-level
  // block in flow order, those not reached yet as `pending`: seeding them first
  // keeps that order and shows blocks the event log never mentions. The stream
  // then replays the log from the start (segments, attempts and iterations are
  // only there), so attempts start from 0 here.
  seed(run) {
    this.status = run.status ?? this.status;
    this.runStartedAt = run.started_at ?? null;
    this.runFinishedAt = run.finished_at ?? null;
    this.trigger = run.trigger ?? null;
    this.input = run.input;
    if (run.output !== undefined && run.output !== null) this.output = run.output;
    this.error = run.error ?? null;
    for (const [path, b] of Object.entries(run.blocks ?? {})) {
      const rec = this.record(path);
      rec.status = b.status ?? rec.status;
      rec.durationMs = b.duration_ms ?? null;
      for (const k of ['inputs', 'output', 'error', 'port']) if (b[k] !== undefined && b[k] !== null) rec[k] = b[k];
    }
  }

  apply(ev) {
    if (ev.seq <= this.lastSeq) return false; // a reconnect can replay; the log is ordered
    this.lastSeq = ev.seq;
    const at = ts(ev.at);
    const data = ev.data ?? {};
    if (ev.type === 'transaction_rolled_back') {
      // The group's writes were undone: its members' `succeeded` is not a kept effect.
      for (const path of data.blocks ?? []) this.record(path).rolledBack = data.group;
      return true;
    }
    if (!ev.block) {
      // Replaying the log of a run seeded as ended must not make it look live again.
      if (ev.type === 'run_started') { if (!this.final) this.status = 'running'; this.startedAt ??= at; this.runStartedAt ??= ev.at; }
      if (ev.type === 'run_queued') { if (!this.final) this.status = 'queued'; this.startedAt ??= at; }
      if (['run_succeeded', 'run_failed', 'run_cancelled'].includes(ev.type)) {
        this.status = ev.type.slice(4);
        this.finishedAt = at;
        this.runFinishedAt ??= ev.at;
        if ('output' in data) this.output = data.output;
        this.error = data.error ?? null;
      }
      return true;
    }
    const rec = this.record(ev.block);
    const open = rec.segments.at(-1);
    switch (ev.type) {
      case 'block_started':
        rec.status = 'running';
        rec.rolledBack = null; // started again after an interruption: that rollback is history
        rec.attempts = data.attempt ?? rec.attempts + 1;
        rec.segments.push({ start: at, end: null, kind: 'running' });
        break;
      case 'block_retrying':
        rec.status = 'retrying';
        if (open && open.end === null) { open.end = at; open.kind = 'retry'; }
        if (data.error) rec.error = data.error;
        break;
      case 'block_succeeded':
      case 'block_failed':
        rec.status = ev.type === 'block_succeeded' ? 'succeeded' : 'failed';
        if (open && open.end === null) { open.end = at; open.kind = rec.status; }
        for (const k of ['inputs', 'output', 'error', 'port']) if (k in data) rec[k] = data[k];
        if (data.attempts) rec.attempts = data.attempts;
        if (data.duration_ms !== undefined) rec.durationMs = data.duration_ms;
        if (rec.status === 'succeeded') rec.error = data.error ?? null;
        // Carried over by a re-run from the failed block: it did not run in this run.
        if (data.reused_from) rec.reusedFrom = data.reused_from;
        break;
      case 'block_skipped':
        rec.status = 'skipped';
        rec.segments.push({ start: at, end: at, kind: 'skipped' });
        break;
      default:
        break;
    }
    return true;
  }

  // Top-level blocks, each with its iterations: [{rec, iterations: [{key, label, blocks: [rec]}]}]
  tree() {
    const top = [];
    const byContainer = new Map();
    for (const rec of this.blocks.values()) {
      // `fold[3].add`: iteration 3 of a loop (or an item of a parallel);
      // `publish[slack].notify`: the `slack` branch of a parallel.
      const m = /^(.*)\[([^\]]+)\]\.([^.[\]]+)$/.exec(rec.path);
      if (!m) {
        top.push({ rec, iterations: [] });
        continue;
      }
      const [, container, index] = m;
      const key = `${container}[${index}]`;
      let iters = byContainer.get(container);
      if (!iters) { iters = new Map(); byContainer.set(container, iters); }
      if (!iters.has(key)) {
        const numbered = /^\d+$/.test(index);
        const label = `${container.split('.').pop()} · ${numbered ? `iteration ${index}` : index}`;
        iters.set(key, { key, label, index: numbered ? Number(index) : iters.size, blocks: [] });
      }
      iters.get(key).blocks.push(rec);
    }
    const attach = (entry) => {
      const iters = byContainer.get(entry.rec.path);
      if (iters) entry.iterations = [...iters.values()].sort((a, b) => a.index - b.index);
      for (const it of entry.iterations) it.children = it.blocks.map((rec) => { const e = { rec, iterations: [] }; attach(e); return e; });
    };
    top.forEach(attach);
    // Containers whose own record we have not seen yet still show their iterations.
    for (const [container, iters] of byContainer) {
      if (!this.blocks.has(container) && !container.includes('[')) {
        const entry = { rec: this.record(container), iterations: [...iters.values()] };
        attach(entry);
        top.push(entry);
      }
    }
    return top;
  }

  span() {
    let start = this.startedAt;
    let end = this.finishedAt;
    for (const rec of this.blocks.values()) {
      for (const s of rec.segments) {
        if (s.start !== null) start = start === null ? s.start : Math.min(start, s.start);
        if (s.end !== null) end = end === null ? s.end : Math.max(end, s.end);
      }
    }
    const now = Date.now();
    if (end === null || (this.finishedAt === null && this.status === 'running')) end = Math.max(end ?? 0, now);
    return { start: start ?? now, end: Math.max(end, (start ?? now) + 1) };
  }
}
