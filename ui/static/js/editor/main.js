// Editor bootstrap: load block types and the workflow, wire the canvas, palette,
// properties panel, toolbar (save, undo/redo, run) and keyboard shortcuts.
import { api, el, getJSON } from '../api.js';
import { docToGraph, graphToDoc } from './convert.js';
import { createGraph, fitParent, markSelected } from './graph.js';
import { watchRun } from './live.js';
import { enableDrop, renderPalette } from './palette.js';
import { showProblems } from './problems.js';
import { PropsPanel } from './props.js';

const root = document.getElementById('editor');
const name = root.dataset.name;
const $ = (id) => document.getElementById(id);
const status = (text, cls = '') => { $('status').textContent = text; $('status').className = cls || 'muted'; };

const state = { base: null, types: {}, dirty: false, graph: null, props: null, problems: [] };
window.flowyardEditor = state; // handy for the benchmark and for debugging in devtools

function setDirty(dirty) {
  state.dirty = dirty;
  $('dirty').hidden = !dirty;
}

function setProblems(problems) {
  state.problems = problems;
  showProblems($('problems'), state.graph, problems, (node) => select(node));
  state.props.setProblems(problems);
}

function select(node) {
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

async function save() {
  status('Saving…');
  const doc = currentDoc();
  const r = await api('PUT', `/api/workflows/${encodeURIComponent(name)}`, doc);
  if (r.status === 422) {
    setProblems(r.data?.problems ?? []);
    status(`Not saved: ${state.problems.length} problem(s)`, 'error');
    return false;
  }
  if (!r.ok) {
    status(`Not saved: ${r.data?.error ?? r.status}`, 'error');
    return false;
  }
  state.base = doc;
  root.dataset.exists = 'true';
  setProblems([]);
  setDirty(false);
  status('Saved', 'ok');
  return true;
}

async function run(input) {
  if ((state.dirty || root.dataset.exists !== 'true') && !(await save())) return;
  root.dataset.exists = 'true';
  const r = await api('POST', `/api/workflows/${encodeURIComponent(name)}/runs`, input);
  if (r.status === 422) {
    setProblems(r.data?.problems ?? []);
    status('Cannot run: fix the problems first', 'error');
    return;
  }
  if (!r.ok) {
    status(`Run failed to start: ${r.data?.error ?? r.status}`, 'error');
    return;
  }
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
  const { history, keyboard } = g.fy;
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
  keyboard.bindKey(['meta+z', 'ctrl+z'], () => { history.undo(); return false; });
  keyboard.bindKey(['meta+shift+z', 'ctrl+shift+z', 'ctrl+y'], () => { history.redo(); return false; });
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
      input = JSON.parse($('run-input').value || '{}');
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

async function main() {
  const t0 = performance.now();
  const [typesResp, wfResp] = await Promise.all([
    getJSON('/api/block-types'),
    root.dataset.exists === 'true' ? getJSON(`/api/workflows/${encodeURIComponent(name)}?format=json`) : Promise.resolve(null),
  ]);
  if (!typesResp.ok) {
    status('Cannot load block types', 'error');
    return;
  }
  state.types = typesResp.data.block_types;
  state.base = wfResp?.ok ? wfResp.data : { version: 1, name, blocks: {}, edges: [] };
  const graph = createGraph($('canvas'));
  state.graph = graph;
  state.props = new PropsPanel($('props'), graph, state.types, typesResp.data.common ?? {}, () => setDirty(true));
  state.props.getDoc = () => state.base;
  renderPalette($('palette'), state.types);
  state.props.render(null);
  graph.fy.history.disable();
  const t1 = performance.now();
  docToGraph(graph, state.base, state.types);
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
  if (graph.getNodes().length) {
    graph.zoomToFit({ padding: 40, maxScale: 1 });
    // A long workflow would shrink to unreadable: keep it legible, start at its left end.
    if (graph.zoom() < 0.6) {
      graph.zoomTo(0.7);
      graph.positionContent('left', { padding: 40 });
    }
  }
  enableDrop(graph, $('canvas'), state.types, (node) => select(node));
  graph.on('node:click', ({ node }) => select(node));
  graph.on('blank:click', () => select(null));
  graph.on('cell:removed', ({ cell }) => { if (state.props.node === cell) select(null); });
  graph.on('node:embedded', ({ node, currentParent }) => { if (currentParent) fitParent(currentParent, node); });
  wireToolbar();
  if (wfResp && !wfResp.ok) status(`Cannot load: ${wfResp.data?.error ?? wfResp.status}`, 'error');
  state.loadMs = performance.now() - t0;
  root.dataset.ready = 'true';
  root.dataset.loadMs = String(Math.round(state.loadMs));
  root.dataset.timings = JSON.stringify({ fetch: Math.round(t1 - t0), build: Math.round(t2 - t1), draw: Math.round(performance.now() - t2), sinceNavigation: Math.round(performance.now()) });
}

main().catch((err) => status(`Editor error: ${err.message ?? err}`, 'error'));
