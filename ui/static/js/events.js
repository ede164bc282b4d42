// Events page: an order's event stream, its state at any point (time travel via
// the Replay Events workflow) on a slider, and charts from the analytics queries.
/* global Chart */
import { api, el, getJSON } from './api.js';
import { prettyExact } from './exact_json.js';
import { visible } from './run/exact.js';

// An order's events and states are read and shown with their integers exact: a
// BIGINT's 9223372036854775807 is not a double's 9223372036854776000.
const EXACT = { exact: true };
// Bidirectional controls (U+202E…) written as their escapes, as on the run page: shown
// as such they reorder the text after them ("\u202e0001" read 1000).
const pretty = (value) => (value === undefined ? '' : visible(prettyExact(value)));

const $ = (id) => document.getElementById(id);
let events = [];
// The order whose events are listed: the slider replays it, never the box's text,
// which may have been edited since (Load not pressed) and named another order.
let shown = null;
let timer = null;
let latest = 0; // replays can finish out of order: only the newest request may paint

// Counts: from zero, whole numbers (no 0.4 events, no -1 axis when empty).
const COUNTS = { y: { beginAtZero: true, suggestedMax: 1, ticks: { precision: 0 } } };

function say(text) { $('events-status').textContent = text; }

async function charts() {
  const r = await getJSON('/api/events/analytics');
  if (!r.ok) { say(r.data?.error ?? 'no analytics'); return; }
  const types = r.data.most_common_event_types ?? [];
  new Chart($('chart-types'), {
    type: 'bar',
    data: { labels: types.map((t) => t.event_type), datasets: [{ label: 'events (7 days)', data: types.map((t) => t.events) }] },
    options: { animation: false, maintainAspectRatio: false, scales: COUNTS, plugins: { legend: { display: false }, title: { display: true, text: 'Most common event types' } } },
  });
  const hours = r.data.events_per_hour ?? [];
  new Chart($('chart-timeline'), {
    type: 'line',
    data: { labels: hours.map((h) => String(h.hour).slice(11, 16)), datasets: [{ label: 'events per hour', data: hours.map((h) => h.events), tension: 0.2 }] },
    options: { animation: false, maintainAspectRatio: false, scales: COUNTS, plugins: { legend: { display: false }, title: { display: true, text: 'Events per hour (48 h)' } } },
  });
}

async function orders() {
  const r = await getJSON('/api/events/orders?limit=100');
  if (!r.ok) return;
  const list = el('datalist', { id: 'order-ids' }, r.data.orders.map((o) => el('option', { value: o.order_id })));
  document.body.append(list);
  $('order-id').setAttribute('list', 'order-ids');
  if (!$('order-id').value && r.data.orders[0]) $('order-id').value = r.data.orders[0].order_id;
}

function showUpTo(version) {
  for (const li of $('event-list').children) li.classList.toggle('current', Number(li.dataset.version) <= version);
  const ev = events.find((e) => e.aggregate_version === version);
  $('as-of').textContent = ev ? `v${version} · ${ev.created_at}` : '—';
}

const FINAL = ['succeeded', 'failed', 'cancelled'];
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// What Replay found wrong with the order's stream or snapshot (`reasons`, with
// `consistent: false`): a state folded over a missing or doubled event looks like
// the order's, so it is never shown without them (docs/event-sourcing.md).
function verdict(output) {
  const reasons = output && output.consistent === false && Array.isArray(output.reasons) ? output.reasons : [];
  const box = $('replay-problems');
  box.hidden = reasons.length === 0;
  box.replaceChildren(...(reasons.length ? [el('strong', { text: 'Replay found problems: this state is not to be trusted' }),
    el('ul', {}, reasons.map((r) => el('li', { text: visible(r) })))] : []));
}

// A message in the state panel, with a link to the replay's run when there is one.
function note(text, runUrl) {
  verdict(null);
  $('state').replaceChildren(text, ...(runUrl ? [' ', el('a', { href: runUrl, class: 'replay-run', text: 'see the run' })] : []));
}

function paint(version, result) {
  $('state').dataset.version = String(version);
  $('state').dataset.order = shown;
  verdict(result.output);
  $('state').textContent = pretty(result.output?.state ?? result.output ?? result.error);
}

// The replay's run, polled at its status_url until it ends (or another replay or
// order supersedes it): the server answers 202 without waiting when its waiting
// requests are at their cap. Until then the panel says the run is still going.
async function follow(version, accepted, mine) {
  note('the replay is still running…', accepted.run_url);
  for (let delay = 250; ; delay = Math.min(delay * 2, 3000)) {
    await sleep(delay);
    if (mine !== latest) return;
    const r = await getJSON(accepted.status_url, EXACT);
    if (mine !== latest) return;
    if (!r.ok) { note(r.data?.error ?? `error ${r.status}`, accepted.run_url); return; }
    if (FINAL.includes(r.data.status)) { paint(version, r.data); return; }
  }
}

async function replay(version) {
  const ev = events.find((e) => e.aggregate_version === version);
  if (!ev || shown === null) return;
  $('state').textContent = 'replaying…';
  verdict(null);
  delete $('state').dataset.version;
  const mine = ++latest;
  const r = await api('POST', `/api/events/orders/${encodeURIComponent(shown)}/replay`, { as_of: ev.created_at }, EXACT);
  if (mine !== latest) return;
  // 202: accepted but not waited for (every waiting request of the server taken).
  if (r.status === 202 && r.data?.status_url) { await follow(version, r.data, mine); return; }
  // 504 and every other error: its message; past the wait, the run goes on.
  if (!r.ok) { note(r.data?.error ?? `error ${r.status}`, r.data?.run_url); return; }
  paint(version, r.data);
}

// The previous order's stream and state go before the next one loads: a lookup
// that found nothing had left them on screen under "no events for order …".
function clear() {
  latest += 1; // a replay or lookup still running for the previous order paints nothing
  clearTimeout(timer); // nor does a slider move waiting for its pause
  events = [];
  shown = null;
  $('shown-order').textContent = '';
  delete $('state').dataset.order;
  $('event-list').replaceChildren();
  $('state').textContent = '';
  verdict(null);
  $('as-of').textContent = '—';
  $('time-slider').disabled = true;
}

// Who and what an event came from, for audits: its id (what the state's anomalies,
// event_correlations, Slack and the runs' errors name it by) and the run that stored it
// (Order Processing writes metadata.workflow_execution_id; an import may not).
function provenance(ev) {
  const sent = ev.metadata?.sender_event_id; // the shop's own id for it (the stored one is its hash)
  const said = typeof sent === 'string' ? ` · sent as ${visible(sent)}` : '';
  const parts = [el('div', { class: 'muted event-id', text: `event ${visible(String(ev.event_id))}${said}` })];
  const run = ev.metadata?.workflow_execution_id;
  if (typeof run === 'string' && run) {
    parts.push(el('div', { class: 'muted' }, 'stored by run ',
      el('a', { class: 'event-run', href: `/runs/${encodeURIComponent(run)}`, text: visible(run) })));
  }
  return parts;
}

async function load(e) {
  e?.preventDefault();
  const id = $('order-id').value.trim();
  if (!id) return;
  say('loading…');
  clear();
  const mine = latest;
  const r = await getJSON(`/api/events/orders/${encodeURIComponent(id)}`, EXACT);
  if (mine !== latest) return; // another Load since: its order is the one to show
  if (!r.ok) { say(r.data?.error ?? `error ${r.status}`); return; }
  events = r.data.events;
  shown = id;
  $('shown-order').textContent = visible(id);
  say(`${events.length} events`);
  if (!events.length) return;
  $('event-list').replaceChildren(...events.map((ev) => el('li', { dataset: { version: ev.aggregate_version } },
    el('strong', { text: visible(`v${ev.aggregate_version} ${ev.event_type}`) }), ' ', el('small', { class: 'muted', text: ev.created_at }),
    ...provenance(ev),
    el('pre', { class: 'json', text: pretty(ev.data) }))));
  const slider = $('time-slider');
  slider.min = String(events[0].aggregate_version);
  slider.max = String(events.at(-1).aggregate_version);
  slider.value = slider.max;
  slider.disabled = false;
  showUpTo(Number(slider.value));
  replay(Number(slider.value));
}

$('order-form').addEventListener('submit', load);
$('time-slider').addEventListener('input', (e) => {
  const v = Number(e.target.value);
  showUpTo(v);
  clearTimeout(timer);
  // A stream with a hole (docs/event-sourcing.md) has versions the slider passes over:
  // no state there, rather than the last one shown left under "as of —".
  if (!events.some((ev) => ev.aggregate_version === v)) {
    latest += 1; // nor may a replay still running paint over it
    note(`no event of this order has version ${v}`);
    delete $('state').dataset.version;
    return;
  }
  timer = setTimeout(() => replay(v), 250); // one replay per pause, not per pixel
});
orders();
charts();
