// The runs list: newest first, refreshed every few seconds while visible.
import { el, failure, getJSON } from './api.js';
import { fmtBetween, timeEl } from './run/format.js';

const table = document.getElementById('runs');
const { workflow, status, before } = table.dataset;
const PAGE = 100;

function row(run) {
  const done = Boolean(run.finished_at);
  return el('tr', {},
    el('td', {}, el('a', { href: `/runs/${run.execution_id}`, text: run.execution_id.slice(0, 8) })),
    el('td', {}, run.file ? el('a', { href: `/editor/${run.file}`, text: run.workflow }) : run.workflow),
    el('td', {}, el('span', { class: `badge ${run.status}`, text: run.status })),
    el('td', { text: run.trigger ?? '' }),
    startedCell(run),
    el('td', { class: 'when' }, timeEl(run.finished_at)),
    // A run still going has no duration yet (the list refreshes; the run page counts),
    // nor has one that never started (cancelled while it waited).
    el('td', { class: 'when', text: done && run.started_at ? fmtBetween(run.started_at, run.finished_at) : '' }));
}

// A run that has not started (queued behind its concurrency key, or cancelled while
// it waited) shows when it was accepted, said as such: its accepted time read as a
// start, and its wait in the queue as a duration.
function startedCell(run) {
  if (run.started_at) return el('td', { class: 'when' }, timeEl(run.started_at));
  return el('td', { class: 'when muted' }, 'not started · accepted ', timeEl(run.created_at));
}

// The filter as the page got it: the API's query, and the next page's link.
function query(extra) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (workflow) q.set('workflow', workflow);
  if (status) q.set('status', status);
  for (const [k, v] of Object.entries(extra)) if (v) q.set(k, v);
  return q;
}

let shownAt = null; // when the rows on screen were read

async function refresh() {
  const r = await getJSON(`/api/runs?${query({ before })}`);
  const refused = document.getElementById('runs-error');
  // Every refusal is said: a page after a run since deleted (400), the database away
  // (503), a session ended (401). Only a 400 was, and a 503 left a blank table, or
  // the last rows shown as if current (a `running` run long ended).
  refused.hidden = r.ok;
  if (!r.ok) {
    const stale = shownAt ? ` — the runs below were read at ${shownAt.toLocaleTimeString()}, not refreshed since` : '';
    refused.textContent = `Could not read the runs: ${failure(r)}${stale}`;
    return;
  }
  shownAt = new Date();
  table.tBodies[0].replaceChildren(...r.data.runs.map(row));
  document.getElementById('runs-empty').hidden = r.data.runs.length > 0;
  const older = document.getElementById('runs-older');
  older.hidden = !r.data.next_before;
  if (r.data.next_before) {
    const q = query({ before: r.data.next_before });
    q.delete('limit');
    older.href = `/runs?${q}`;
  }
}

refresh();
// The newest page follows new runs; an older page stays as it is.
if (!before) setInterval(() => { if (!document.hidden) refresh(); }, 3000);
