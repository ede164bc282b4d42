// The selected block's connections in the properties panel: its outgoing edges,
// each with a Remove button, and "Connect to…" (a block, the port when it has
// several, a button), so an edge is made and taken away without dragging from a
// port: keyboard-only use. Each is one undo step, as a dragged edge is.
import { el } from '../api.js';
import { EDGE_ATTRS, EDGE_Z } from './graph.js';

// The block's outgoing edges as "port → target" rows.
function edgeRows(graph, node, onChanged) {
  const rows = [];
  for (const edge of graph.getOutgoingEdges(node) ?? []) {
    const target = graph.getCellById(edge.getTargetCellId());
    if (!target?.isNode()) continue;
    const text = `${edge.getSourcePortId()} → ${target.getData().bid}`;
    const remove = () => { graph.removeCells([edge]); onChanged(); };
    rows.push(el('li', { class: 'connection' }, el('span', { text }), ' ',
      el('button', { type: 'button', 'aria-label': `Remove ${text}`, text: 'Remove', onclick: remove })));
  }
  return rows;
}

const connected = (graph, node, port, target) => (graph.getOutgoingEdges(node) ?? [])
  .some((e) => e.getSourcePortId() === port && e.getTargetCellId() === target.id);

// onChanged(): the panel draws itself again (the list shows the new edge).
export function connectionsField(graph, node, onChanged) {
  const box = el('fieldset', { class: 'connections', id: 'connections' }, el('legend', { text: 'Connections' }));
  const rows = edgeRows(graph, node, onChanged);
  box.append(rows.length ? el('ul', { id: 'connection-list' }, rows) : el('p', { class: 'muted', text: 'No outgoing edges.' }));
  const ports = node.getPorts().filter((p) => p.group === 'out').map((p) => p.id);
  const targets = graph.getNodes().filter((n) => n !== node && n.hasPort('in')).map((n) => n.getData().bid).sort();
  if (!ports.length || !targets.length) return box;
  const toSelect = el('select', { id: 'connect-to', 'aria-label': 'Connect to block' },
    el('option', { value: '', text: 'Connect to…' }), targets.map((bid) => el('option', { value: bid, text: bid })));
  // One out port: nothing to choose, so no select to tab through.
  const portSelect = ports.length > 1
    ? el('select', { id: 'connect-port', 'aria-label': 'From port' }, ports.map((p) => el('option', { value: p, text: p })))
    : null;
  const note = el('span', { class: 'field-error', role: 'alert', hidden: true });
  const add = () => {
    const target = graph.getNodes().find((n) => n.getData().bid === toSelect.value);
    const port = portSelect?.value ?? ports[0];
    if (!target) return;
    if (connected(graph, node, port, target)) {
      Object.assign(note, { hidden: false, textContent: `${port} → ${toSelect.value} is already connected` });
      return;
    }
    graph.addEdge({ shape: 'edge', source: { cell: node.id, port }, target: { cell: target.id, port: 'in' }, attrs: EDGE_ATTRS, zIndex: EDGE_Z });
    onChanged();
  };
  // Only the button connects: a closed select changes its value on each arrow key.
  const button = el('button', { type: 'button', id: 'connect-add', text: 'Connect', onclick: add });
  box.append(el('div', { class: 'connect-row' }, portSelect, toSelect, button), note);
  return box;
}
