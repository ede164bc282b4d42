// Editor bootstrap: load block types and the workflow, wire the canvas, palette,
// properties panel, toolbar (save, undo/redo, run) and keyboard shortcuts.
import { api, el, failure, getJSON } from '../api.js';
import { parseExact } from '../exact_json.js';
import { docToGraph, graphToDoc } from './convert.js';
import { embedCovered, fitParent } from './containers.js';
import { createGraph, markSelected, relabel } from './graph.js';
import { watchRun } from './live.js';
import { enableDrop, lockPalette, renderPalette } from './palette.js';
import { asProblem, showProblems } from './problems.js';
import { portRenames } from './ports.js';
import { PropsPanel } from './props.js';
import { followPortRename, followRename } from './rename.js';
import { initialView, wireZoom } from './view.js';
import { wireKeys } from './keys.js';

const root = document.getElementById('editor');
const name = root.dataset.name;
const $ = (id) => document.getElementById(id);
const status = (text, cls = '') => { $('status').textContent = text; $('status').className = cls || 'muted'; };

// The workflow is read and written with its integers exact (exact_json.js): JSON.parse
// read a schema's `maximum: 9223372036854775807` as 9223372036854775808, and a save
// with no edit rewrote the file with 9223372036854776000 (and lost the comments of
// the section it thereby changed).
const EXACT = { exact: true };

const state = { base: null, etag: null, types: {}, dirty: false, edits: 0, saves: 0, graph: null, props: null, problems: [], dropped: [] };
window.flowyardEditor = state; // handy for the benchmark and for debugging in devtools

function setDirty(dirty) {
  if (dirty) state.edits += 1; // a save only clears the edits it sent
  state.dirty = dirty;
  $('dirty').hidden = !dirty;
}

// The server's problems, and until a save what the canvas could not draw.
function setProblems(problems) {
  state.problems = problems;
  showProblems($('problems'), state.graph, [...problems, ...state.dropped], (node) => select(node));
  state.props.setProblems(problems);
}

function select(node) {
  if (state.locked) return; // the panel keeps saying why nothing can be edited
  const prev = state.props.node;
  if (prev && state.graph.hasCell(prev.id)) markSelected(prev, false);
  state.graph.fy.selection.clean();
  if (node) {
    state.graph.fy.selection.select(node);
    markSelected(node, true);
  }
  state.props.render(node);
}

function currentDoc() {
  return graphToDoc(state.graph, state.base, state.types);
}

// What a save came to: run() says why a run did not start.
const SAVED = 'saved';
const INVALID = 'invalid'; // the server listed the workflow's problems
const NOT_SAVED = 'not saved'; // the status line says why

async function save() {
  if (state.locked) {
    status('Not saved: the file did not load, and saving would replace it', 'error');
    return NOT_SAVED;
  }
  // What is on screen, including the field still being typed in (it commits on blur).
  if (!state.props.flush()) {
    status('Not saved: fix the field being edited first', 'error');
    return NOT_SAVED;
  }
  status('Saving…');
  const edits = state.edits;
  state.saves += 1;
  const doc = currentDoc();
  // Saved only over the version this page read: a `git pull` or another tab since
  // then is not undone silently (412). A page opened on no file saves only while
  // there is none: another tab that created it first is not overwritten unseen.
  const guard = state.etag ? { ifMatch: state.etag } : { ifNoneMatch: '*' };
  const r = await api('PUT', `/api/workflows/${encodeURIComponent(name)}`, doc, { ...guard, exact: true });
  if (r.status === 412) {
    status('Not saved: the file changed since this page loaded it (created, edited on disk or saved elsewhere). Copy your change, reload, and apply it again', 'error');
    return NOT_SAVED;
  }
  if (r.status === 422) {
    setProblems(r.data?.problems ?? []);
    status(`Not saved: ${state.problems.length} problem(s)`, 'error');
    return INVALID;
  }
  if (!r.ok) {
    status(`Not saved: ${failure(r)}`, 'error');
    return NOT_SAVED;
  }
  state.base = doc;
  state.etag = r.etag ?? state.etag;
  root.dataset.exists = 'true';
  const removed = state.dropped.map((p) => p.what);
  state.dropped = []; // gone from the file now, as the list said it would be
  setProblems([]);
  if (state.edits === edits) setDirty(false); // typed on while it saved: still unsaved
  // Saved, and said: a name clash the file already had, or a file whose layout
  // could not be followed, so the whole of it was rewritten (its comments gone).
  const said = (r.data?.warnings ?? []).map((w) => w.message);
  const notes = [...(removed.length ? [`removed ${removed.join(', ')}`] : []), ...said];
  status(['Saved', ...notes].join(' · '), said.length ? 'warn' : 'ok');
  return SAVED;
}

async function run(input) {
  if (state.dirty || root.dataset.exists !== 'true') {
    // A refused save must not read as the run's answer: the run did not start.
    const saved = await save();
    if (saved === INVALID) status('Cannot run: fix the problems first', 'error');
    else if (saved !== SAVED) status(`Not run: ${$('status').textContent}`, 'error');
    if (saved !== SAVED) return;
  }
  root.dataset.exists = 'true';
  // The version on screen, or no run: with nothing unsaved, a file changed on disk
  // since (a `git pull`, another tab) ran what this page does not show.
  const r = await api('POST', `/api/workflows/${encodeURIComponent(name)}/runs`, input, { ...EXACT, ifMatch: state.etag ?? undefined });
  if (r.status === 412) {
    status('Not run: the file changed since this page loaded it (edited on disk or saved elsewhere). Reload to run what it holds now', 'error');
    return;
  }
  if (r.status === 422) {
    // The workflow's problems, or the input's against the trigger's input_schema.
    setProblems((r.data?.problems ?? []).map(asProblem));
    const inputRefused = /input_schema/.test(r.data?.error ?? '');
    status(inputRefused ? `Input refused: ${r.data.error}` : 'Cannot run: fix the problems first', 'error');
    return;
  }
  if (!r.ok) {
    status(`Run failed to start: ${failure(r)}`, 'error');
    return;
  }
  setProblems([]); // a refused input's problems are history once a run starts
  const link = el('a', { id: 'run-link', href: r.data.run_url, text: 'open run viewer' });
  $('status').replaceChildren(`Run ${r.data.execution_id.slice(0, 8)}: queued · `, link);
  watchRun(state.graph, r.data.stream_url, {
    onRunStatus: (s) => {
      $('status').replaceChildren(el('span', { id: 'run-state', class: `badge ${s}`, text: s }), ' · ', link);
    },
  });
}

function wireToolbar() {
  const g = state.graph;
  const { history } = g.fy;
  const refreshHistory = () => {
    $('btn-undo').disabled = !history.canUndo();
    $('btn-redo').disabled = !history.canRedo();
  };
  g.on('history:change', () => { refreshHistory(); setDirty(true); });
  g.on('history:undo', () => state.props.render(state.props.node));
  g.on('history:redo', () => state.props.render(state.props.node));
  $('btn-undo').addEventListener('click', () => history.undo());
  $('btn-redo').addEventListener('click', () => history.redo());
  $('btn-save').addEventListener('click', save);
  wireKeys(g, $('canvas'), { select, locked: () => !!state.locked });
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); save(); }
  });
  const dialog = $('run-dialog');
  $('btn-run').addEventListener('click', () => dialog.showModal());
  $('run-cancel').addEventListener('click', () => dialog.close());
  $('run-form').addEventListener('submit', (e) => {
    e.preventDefault();
    let input;
    try {
      input = parseExact($('run-input').value || '{}');
      if (typeof input !== 'object' || Array.isArray(input) || input === null) throw new Error('the input must be a JSON object');
    } catch (err) {
      $('run-input-error').hidden = false;
      $('run-input-error').textContent = String(err.message ?? err);
      return;
    }
    $('run-input-error').hidden = true;
    dialog.close();
    run(input);
  });
  window.addEventListener('beforeunload', (e) => { if (state.dirty) e.preventDefault(); });
  refreshHistory();
}

// Nothing (or not all) loaded: no Save, Run, undo or palette.
function noEditing() {
  state.locked = true;
  for (const id of ['btn-save', 'btn-run', 'btn-undo', 'btn-redo']) $(id).disabled = true;
  lockPalette($('palette'));
}

// The file did not load (a YAML syntax error, say): the canvas is empty, not the
// file, so nothing may save over it. The parser's message says what to fix.
function lock(resp) {
  noEditing();
  const problems = [...(resp.data?.problems ?? [])];
  if (!problems.length) problems.push({ block: null, field: null, message: String(resp.data?.error ?? `HTTP ${resp.status}`) });
  setProblems(problems);
  $('props').replaceChildren(el('p', { class: 'error', id: 'load-error', text: 'This file cannot be edited here until it loads: fix it in a text editor (the YAML link shows it), then reload.' }));
  status(`Cannot load: ${resp.data?.error ?? resp.status}`, 'error');
}

// An invalid file shows its problems when it opens, not at the first save. Runs
// after "ready": the canvas does not wait for it.
async function validateOnLoad() {
  const saves = state.saves;
  const r = await api('POST', `/api/workflows/${encodeURIComponent(name)}/validate`, state.base, EXACT);
  if (state.saves === saves) { // a save since has newer problems
    const problems = r.status === 422 ? (r.data?.problems ?? []) : [];
    setProblems(problems);
    const n = problems.length + state.dropped.length;
    if (n) status(`This file has ${n} problem${n > 1 ? 's' : ''}`, 'error');
  }
  root.dataset.validated = 'true';
}

async function main() {
  const t0 = performance.now();
  const [typesResp, wfResp] = await Promise.all([
    getJSON('/api/block-types'),
    root.dataset.exists === 'true' ? getJSON(`/api/workflows/${encodeURIComponent(name)}?format=json`, EXACT) : Promise.resolve(null),
  ]);
  if (!typesResp.ok) {
    noEditing();
    status('Cannot load block types', 'error');
    return;
  }
  state.types = typesResp.data.block_types;
  state.base = wfResp?.ok ? wfResp.data : { version: 1, name, blocks: {}, edges: [] };
  state.etag = wfResp?.ok ? wfResp.etag : null;
  const graph = createGraph($('canvas'));
  state.graph = graph;
  state.props = new PropsPanel($('props'), graph, state.types, typesResp.data.common ?? {}, () => setDirty(true), () => setDirty(true));
  state.props.getDoc = () => state.base;
  state.props.onNotice = (text) => status(text, 'error');
  renderPalette($('palette'), state.types, (type) => state.addBlock?.(type));
  state.props.render(null);
  graph.fy.history.disable();
  const t1 = performance.now();
  state.dropped = docToGraph(graph, state.base, state.types);
  const t2 = performance.now();
  // X6 draws asynchronously in batches: "ready" means every block is on screen.
  const total = graph.getNodes().length;
  const canvas = $('canvas');
  await new Promise((resolve) => {
    const check = () => (canvas.querySelectorAll('g.x6-node').length >= total ? resolve() : requestAnimationFrame(check));
    check();
  });
  graph.fy.history.enable();
  graph.fy.history.clean();
  initialView(graph);
  wireZoom(graph, { zoomIn: $('btn-zoom-in'), zoomOut: $('btn-zoom-out'), fit: $('btn-fit') });
  if (wfResp?.ok !== false) state.addBlock = enableDrop(graph, $('canvas'), state.types, (node) => select(node));
  graph.on('node:change:data', ({ node, current, previous }) => {
    if (previous?.bid && current?.bid && previous.bid !== current.bid) followRename(state.base, previous.bid, current.bid);
    // Likewise a renamed case: its edges keep their places in the file.
    for (const [from, to] of portRenames(current?.type, previous?.config, current?.config)) followPortRename(state.base, current.bid, from, to);
    relabel(node);
  });
  graph.on('node:click', ({ node }) => select(node));
  // The panel lists the selected block's edges: a drawn or deleted one shows there.
  const edgesChanged = ({ edge, cell }) => {
    const source = (edge ?? cell)?.isEdge?.() ? (edge ?? cell).getSourceCellId() : null;
    if (source && source === state.props.node?.id) state.props.render(state.props.node);
  };
  graph.on('edge:connected', edgesChanged);
  graph.on('edge:removed', edgesChanged);
  graph.on('blank:click', () => select(null));
  graph.on('cell:removed', ({ cell }) => { if (state.props.node === cell) select(null); });
  graph.on('node:embedded', ({ node, currentParent }) => { if (currentParent) fitParent(currentParent, node); });
  // A container moved (or grown) over blocks takes them, as one dropped there does.
  const takeCovered = ({ node }) => {
    if (!node.getData()?.container) return;
    graph.startBatch('embed');
    embedCovered(graph, node);
    graph.stopBatch('embed');
  };
  graph.on('node:moved', takeCovered);
  graph.on('node:resized', takeCovered);
  wireToolbar();
  if (wfResp && !wfResp.ok) lock(wfResp);
  else if (wfResp) validateOnLoad().catch(() => { root.dataset.validated = 'true'; }); // offline: the save will tell
  else root.dataset.validated = 'true';
  state.loadMs = performance.now() - t0;
  root.dataset.ready = 'true';
  root.dataset.loadMs = String(Math.round(state.loadMs));
  root.dataset.timings = JSON.stringify({ fetch: Math.round(t1 - t0), build: Math.round(t2 - t1), draw: Math.round(performance.now() - t2), sinceNavigation: Math.round(performance.now()) });
}

main().catch((err) => {
  noEditing(); // half set up: a save could write a half-loaded workflow
  status(`Editor error: ${err.message ?? err}`, 'error');
});
