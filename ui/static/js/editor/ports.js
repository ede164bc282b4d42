// A block's out ports following its config (condition cases and else, on_error),
// with the edges that hang off them. A renamed case is the same port under a new
// name: its edges follow it, as a renamed block keeps its edges. Renaming used to
// drop them, so the target became an entry block run on every run.
import { outPorts, portItem } from './graph.js';

// The ports' names case by case: a case without a name has no port.
function caseNames(config) {
  return Array.isArray(config?.cases) ? config.cases.map((c) => String(c?.name ?? '')) : null;
}

// old port -> new port for a condition whose cases (or else) were renamed: the
// case at the same position in `cases`, when its old name is gone and its new one
// is new (a case moved elsewhere in the list keeps its name, hence its edges).
export function portRenames(type, before, after) {
  const renames = new Map();
  if (type !== 'condition') return renames;
  const was = caseNames(before);
  const now = caseNames(after);
  if (!was || !now) return renames; // `if:` <-> `cases:`: no port is the same case
  const wasSet = new Set(was);
  const nowSet = new Set(now);
  for (let i = 0; i < Math.min(was.length, now.length); i += 1) {
    if (was[i] && now[i] && !nowSet.has(was[i]) && !wasSet.has(now[i])) renames.set(was[i], now[i]);
  }
  const oldElse = String(before.else ?? 'else');
  const newElse = String(after.else ?? 'else');
  if (oldElse !== newElse && !wasSet.has(newElse) && !nowSet.has(oldElse)) renames.set(oldElse, newElse);
  return renames;
}

// Re-sync a node's ports with its config, in the config's order (cases, then else,
// then error). Edges of a renamed port move to its new name; those of a port that
// is gone are removed, and returned as edge texts so the user is told.
// In three steps, each one History command, so Undo and Redo (which replay them
// in reverse and in order) never meet an edge on a port its block lacks: X6
// removes such edges for good. The edges leave, the ports change (once: a second
// change would be merged into the first and moved after the edges), the moved
// edges come back on their new ports.
export function syncPorts(graph, node, typeInfo, renames = new Map()) {
  const { bid, type, config } = node.getData();
  const wanted = outPorts(type, config, typeInfo);
  const items = node.getPorts();
  const have = items.filter((p) => p.group === 'out').map((p) => p.id);
  const moved = [];
  const removed = [];
  for (const edge of graph.getConnectedEdges(node, { outgoing: true })) {
    const port = edge.getSourcePortId();
    if (wanted.includes(port)) continue;
    const to = renames.get(port);
    if (to && wanted.includes(to)) moved.push(edge.clone().setSource({ cell: node.id, port: to }));
    else removed.push(`${bid}.${port} -> ${graph.getCellById(edge.getTargetCellId())?.getData()?.bid}`);
    edge.remove();
  }
  const kept = new Map(items.map((p) => [p.id, p]));
  const next = [...items.filter((p) => p.group !== 'out'), ...wanted.map((id) => kept.get(id) ?? portItem(id))];
  if (next.length !== items.length || next.some((p, i) => p !== items[i])) {
    node.prop('ports/items', next, { rewrite: true });
  }
  for (const edge of moved) graph.addEdge(edge);
  return removed;
}
