// The runs list: newest first, refreshed every few seconds while visible.
import { el, getJSON } from './api.js';
import { fmtBetween, timeEl } from './run/format.js';

const table = document.getElementById('runs');
const workflow = table.dataset.workflow;

function row(run) {
  const done = Boolean(run.finished_at);
  return el('tr', {},
    el('td', {}, el('a', { href: `/runs/${run.execution_id}`, text: run.execution_id.slice(0, 8) })),
    el('td', {}, run.file ? el('a', { href: `/editor/${run.file}`, text: run.workflow }) : run.workflow),
    el('td', {}, el('span', { class: `badge ${run.status}`, text: run.status })),
    el('td', { text: run.trigger ?? '' }),
    el('td', { class: 'when' }, timeEl(run.started_at ?? run.created_at)),
    el('td', { class: 'when' }, timeEl(run.finished_at)),
    // A run still going has no duration yet (the list refreshes; the run page counts).
    el('td', { class: 'when', text: done ? fmtBetween(run.started_at ?? run.created_at, run.finished_at) : '' }));
}

async function refresh() {
  const q = workflow ? `?workflow=${encodeURIComponent(workflow)}&limit=100` : '?limit=100';
  const r = await getJSON(`/api/runs${q}`);
  if (!r.ok) return;
  table.tBodies[0].replaceChildren(...r.data.runs.map(row));
}

refresh();
setInterval(() => { if (!document.hidden) refresh(); }, 3000);
