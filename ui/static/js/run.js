// The run viewer: every top-level block from GET /api/runs/<id>, then live over SSE;
// a header (start, duration, trigger, input), a Gantt timeline, per-block
// input/output/error, skipped / not run / reused blocks said as such, loop/parallel
// iterations grouped, re-run.
import { api, el, failure, getJSON } from './api.js';
import { parseExact } from './exact_json.js';
import { fmtMs } from './run/format.js';
import { EXACT, pretty, visible } from './run/exact.js';
import { renderHeader } from './run/header.js';
import { RunModel } from './run/model.js';
import { wireRerun } from './run/rerun.js';

const root = document.getElementById('run-viewer');
const eid = root.dataset.executionId;
const $ = (id) => document.getElementById(id);
const model = new RunModel();
let scheduled = false;
let ticking = null;

// Stopped mid-attempt by a cancel or a sibling's failure: its record says failed
// (the SPEC's final block statuses), but nothing went wrong in it.
const interrupted = (rec) => rec.status === 'failed' && rec.error?.type === 'Cancelled';

function ganttRow(rec, label, span, cls = '') {
  const width = span.end - span.start;
  const track = el('div', { class: 'gantt-track' });
  for (const s of rec.segments) {
    const end = s.end ?? span.end;
    const kind = s.kind === 'failed' && interrupted(rec) ? 'cancelled' : s.kind;
    const bar = el('div', { class: `gantt-bar ${kind}`, title: `${kind} ${fmtMs(end - s.start)}` });
    bar.style.left = `${(100 * (s.start - span.start)) / width}%`;
    bar.style.width = `${Math.max(0.3, (100 * (end - s.start)) / width)}%`;
    track.append(bar);
  }
  const attempts = rec.attempts > 1 ? ` ×${rec.attempts}` : '';
  // A reused block's duration is the earlier run's: this run did not spend it.
  const took = rec.reusedFrom ? 'reused' : `${fmtMs(rec.durationMs)}${attempts}`;
  return el('div', { class: `gantt-row ${cls}`, dataset: { block: rec.path, status: rec.status } },
    el('span', { text: label }), track, el('span', { class: 'muted', text: took }));
}

// A loop of 100,000 iterations would be a million page elements: the page shows the
// first SHOWN_ITERATIONS of a container (and any that failed) and says how many more
// there are; `flowyard runs show` and /api/runs/<id>/events have every one. The stream
// sends no more than that either (`?iterations=`): 100,000 iterations were 200,000
// events, 40 s and 150 MB of the page's memory before it had drawn the run.
const SHOWN_ITERATIONS = 100;

// How many iterations a container ran, as its output says once it has ended (a loop's
// `iterations`, a parallel's `results` per item); null while it does not say.
function iterationCount(rec) {
  const out = rec.output;
  if (out && typeof out === 'object') {
    if (Number.isInteger(out.iterations)) return out.iterations;
    if (Array.isArray(out.results)) return out.results.length;
  }
  return null;
}

// How many iterations of the container at `path` are shown: SHOWN_ITERATIONS shared
// by the iterations it sits in, divided by (index + 1) of each (`outer[3].inner`:
// 100 / 4 = 25). A limit per container multiplied with nesting: a loop of 200 in a loop
// of 200 drew 100 × 100 iterations, 240,000 page elements and ~25 s; now ~500.
function iterationCap(path) {
  let share = 1;
  for (const m of path.matchAll(/\[(\d+)\]/g)) share *= Number(m[1]) + 1;
  return Math.max(1, Math.floor(SHOWN_ITERATIONS / share));
}

// [the iterations to show, how many more there are: null when not known (a container
// still running, or one that ended without saying, past the iterations sent)]
function shownIterations(rec, iterations) {
  const failed = (it) => it.blocks.some((b) => b.status === 'failed');
  const cap = iterationCap(rec.path);
  const list = iterations.filter((it, i) => i < cap || failed(it));
  const count = iterationCount(rec);
  if (count !== null) return [list, Math.max(count, iterations.length) - list.length];
  const sent = iterations.length - iterations.filter(failed).length;
  return [list, sent >= SHOWN_ITERATIONS ? null : iterations.length - list.length];
}

function moreIterations(hidden) {
  const where = `(flowyard runs show ${eid} lists every one)`;
  if (hidden === null) return `… later iterations are not shown ${where}`;
  return `… ${hidden} more iteration${hidden === 1 ? '' : 's'} not shown ${where}`;
}

function renderGantt(tree, span) {
  const rows = [];
  const walk = (entries, depth) => {
    for (const { rec, iterations } of entries) {
      rows.push(ganttRow(rec, `${'  '.repeat(depth)}${rec.path.split('.').pop()}`, span, iterations.length ? 'group' : ''));
      const [shown, hidden] = shownIterations(rec, iterations);
      for (const it of shown) {
        const fake = { path: it.key, status: '', attempts: 0, durationMs: null, segments: it.blocks.flatMap((b) => b.segments) };
        rows.push(ganttRow(fake, `${'  '.repeat(depth + 1)}${it.label}`, span, 'iteration'));
        walk(it.children ?? [], depth + 2);
      }
      if (hidden !== 0) rows.push(el('div', { class: 'gantt-row more-iterations muted', text: `${'  '.repeat(depth + 1)}${moreIterations(hidden)}` }));
    }
  };
  walk(tree, 0);
  $('gantt').replaceChildren(...rows);
}

function section(title, value) {
  if (value === undefined || value === null) return null;
  return [el('h4', { text: title }), el('pre', { class: 'json', text: pretty(value) })];
}

// What a block's badge says: `pending` blocks of a run that ended were never run
// (not `skipped`, which is a routing decision); reused ones were not run this time.
function badge(rec) {
  if (rec.rolledBack) return { cls: 'rolled-back', text: `${rec.status} · rolled back` };
  if (rec.reusedFrom && rec.status === 'succeeded') return { cls: 'reused', text: 'reused' };
  if (rec.status === 'pending' && model.final) return { cls: 'pending not-run', text: 'not run' };
  if (interrupted(rec)) return { cls: 'cancelled', text: 'failed · interrupted' };
  return { cls: rec.status, text: rec.status };
}

function note(rec) {
  if (rec.status === 'skipped') return el('p', { class: 'muted', text: 'Skipped: no active incoming edge (an untaken branch).' });
  if (rec.status === 'pending' && model.final) return el('p', { class: 'muted', text: 'Not run: the run ended before reaching it.' });
  if (rec.rolledBack) {
    return el('p', { class: 'muted', text: `Rolled back: its writes were undone with transaction group '${rec.rolledBack}' when the run ended ${model.status}.` });
  }
  if (rec.reusedFrom) {
    return el('p', { class: 'muted' }, 'Reused from run ',
      el('a', { class: 'reused-from', href: `/runs/${encodeURIComponent(rec.reusedFrom)}`, text: rec.reusedFrom.slice(0, 8) }),
      ': not run again, its output carried over.');
  }
  return null;
}

function blockDetails(entry, openPaths) {
  const { rec, iterations } = entry;
  const d = el('details', { class: 'block', dataset: { block: rec.path, status: rec.status }, open: openPaths.has(rec.path) || undefined });
  const b = badge(rec);
  const took = rec.reusedFrom ? '' : `${fmtMs(rec.durationMs)}${rec.attempts > 1 ? ` · ${rec.attempts} attempts` : ''}`;
  d.append(el('summary', {},
    el('strong', { text: rec.path.split('.').pop() }),
    el('span', { class: `badge ${b.cls}`, text: b.text }),
    rec.port && rec.port !== 'default' ? el('span', { class: 'muted', text: `→ ${rec.port}` }) : null,
    el('span', { class: 'muted', text: took })));
  const said = note(rec);
  if (said) d.append(said);
  d.append(...(section('Input', rec.inputs) ?? []), ...(section('Output', rec.output) ?? []), ...(section('Error', rec.error) ?? []));
  const [shown, hidden] = shownIterations(rec, iterations);
  for (const it of shown) {
    const idet = el('details', { class: 'iteration', dataset: { block: it.key }, open: openPaths.has(it.key) || undefined });
    const failed = it.blocks.some((b) => b.status === 'failed' && !interrupted(b));
    idet.append(el('summary', {}, el('span', { text: it.label }), el('span', { class: `badge ${failed ? 'failed' : 'succeeded'}`, text: `${it.blocks.length} block(s)` })));
    for (const child of it.children ?? []) idet.append(blockDetails(child, openPaths));
    d.append(idet);
  }
  if (hidden !== 0) d.append(el('p', { class: 'muted more-iterations', text: moreIterations(hidden) }));
  return d;
}

function render() {
  scheduled = false;
  const status = $('run-status');
  status.textContent = model.status;
  status.className = `badge ${model.status}`;
  root.dataset.status = model.status;
  renderHeader(model);
  const tree = model.tree();
  renderGantt(tree, model.span());
  const openPaths = new Set([...document.querySelectorAll('#blocks details[open]')].map((d) => d.dataset.block));
  $('blocks').replaceChildren(...tree.map((e) => blockDetails(e, openPaths)));
  if (model.output !== undefined) $('run-output').textContent = pretty(model.output);
  if (model.error) {
    $('run-error').hidden = false;
    $('run-error').textContent = visible(`${model.error.block ? `${model.error.block}: ` : ''}${model.error.message ?? pretty(model.error)}`);
  }
  $('rerun').disabled = !['succeeded', 'failed', 'cancelled'].includes(model.status);
  $('rerun').textContent = model.status === 'failed' ? 'Re-run from failed block' : 'Re-run';
  $('cancel').hidden = model.final; // only a run still going can be stopped
}

function schedule() {
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(render);
  }
}

// The live view reopens its stream itself after any error, from its last event. A
// browser's EventSource retries a cut stream by itself, but never after an error
// status: a 503 while the database is away (or a proxy's 502 while the server restarts)
// ended the live view for good, the page "reconnecting…" over a run long finished.
// Backoff so an outage of minutes is not a request a second from every open page.
const RECONNECT_FIRST_MS = 1000;
const RECONNECT_MAX_MS = 15000;
let reconnectMs = RECONNECT_FIRST_MS;

function stream() {
  const url = `/api/runs/${encodeURIComponent(eid)}/stream?after=${model.lastSeq}&iterations=${SHOWN_ITERATIONS}`;
  const source = new EventSource(url);
  source.onopen = () => {
    reconnectMs = RECONNECT_FIRST_MS;
    $('run-live').textContent = 'live';
  };
  source.addEventListener('run_event', (msg) => {
    if (model.apply(parseExact(msg.data))) schedule();
  });
  // Past events not sent (iterations past the first): a reconnect starts after them.
  source.addEventListener('read_to', (msg) => { model.lastSeq = Math.max(model.lastSeq, JSON.parse(msg.data).seq); });
  source.addEventListener('end', () => {
    source.close();
    clearInterval(ticking);
    render(); // the final state is on the page before the page says it is done
    $('run-live').textContent = '';
    root.dataset.done = 'true';
  });
  source.onerror = () => {
    // Closed here and reopened below with ?after=: the events seen are not asked again.
    source.close();
    $('run-live').textContent = 'reconnecting…';
    setTimeout(stream, reconnectMs);
    reconnectMs = Math.min(2 * reconnectMs, RECONNECT_MAX_MS);
  };
}

async function main() {
  const r = await getJSON(`/api/runs/${encodeURIComponent(eid)}`, EXACT);
  if (!r.ok) {
    $('run-status').textContent = r.status === 404 ? 'not found' : 'error';
    return;
  }
  model.seed(r.data);
  const wf = r.data.workflow;
  $('run-workflow').textContent = wf;
  // `file`: the workflow's name in the editor now (null: no file has it any more).
  if (r.data.file) $('run-workflow').href = `/editor/${encodeURIComponent(r.data.file)}`;
  // "Re-run from failed block" on a failed run; "Re-run" (a run that succeeded or was
  // cancelled) runs every block again, as it says (docs/pages.md).
  wireRerun(eid, () => ({ from_failed: model.status === 'failed' }));
  $('cancel').addEventListener('click', async () => {
    $('cancel').disabled = true;
    const resp = await api('POST', `/api/runs/${encodeURIComponent(eid)}/cancel`);
    // The stream shows the end; until then say that it was asked.
    $('run-live').textContent = resp.ok ? 'stopping…' : `stop failed: ${failure(resp)}`;
    if (!resp.ok) $('cancel').disabled = false;
  });
  stream();
  schedule();
  // The duration counts while the run goes on; events alone may be far apart.
  ticking = setInterval(() => { if (!model.final) renderHeader(model); }, 1000);
}

main();
