// A renamed block keeps its readers, as n8n and Sim rename references:
// `<old.field>`, `<old>` and `<old?>` in every block's config name the new id, and
// a parallel's branches list it by its new id. Renaming used to leave each of them
// "names unknown block 'old'" until fixed by hand. Function code's `input.old`
// follows too (input_reads.js).
import { stringifyExact } from '../exact_json.js';
import { renameInputReads } from './input_reads.js';

const swapper = (from, to) => {
  const ref = new RegExp(`<${from}(?=[.?>])`, 'g'); // ids are [a-z0-9_]: no escaping
  const swap = (v) => {
    if (typeof v === 'string') return v.replace(ref, `<${to}`);
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    return v;
  };
  return swap;
};

export function renameReferences(graph, from, to) {
  const swap = swapper(from, to);
  const member = (ids) => (Array.isArray(ids) ? ids.map((id) => (id === from ? to : id)) : ids);
  for (const node of graph.getNodes()) {
    const data = node.getData();
    if (!data?.config) continue;
    const config = swap(data.config);
    if (data.type === 'function' && typeof config.code === 'string') config.code = renameInputReads(config.code, config.language, from, to);
    if (config.branches && typeof config.branches === 'object' && !Array.isArray(config.branches)) {
      config.branches = Object.fromEntries(Object.entries(config.branches).map(([k, ids]) => [k, member(ids)]));
    }
    if (stringifyExact(config) !== stringifyExact(data.config)) node.setData({ ...data, config }, { overwrite: true });
  }
}

// The loaded document follows a block's id, whoever changes it (a rename, its Undo
// or Redo): the block, its layout entry and its edges keep their places in the file,
// and the workflow's `output` reads the block by its current id.
export function followRename(doc, from, to) {
  const renamedKey = (obj) => (obj && from in obj ? Object.fromEntries(Object.entries(obj).map(([k, v]) => [k === from ? to : k, v])) : obj);
  doc.blocks = renamedKey(doc.blocks);
  // In its container's body too: the body is saved in the loaded order, and the new
  // id, unknown to it, had gone last (`[step, step2]` saved as `[step2, adder]`).
  const member = (ids) => (Array.isArray(ids) && ids.includes(from) ? ids.map((id) => (id === from ? to : id)) : ids);
  for (const [bid, b] of Object.entries(doc.blocks ?? {})) {
    if (!b || typeof b !== 'object' || Array.isArray(b)) continue;
    const renamed = { ...b };
    if (Array.isArray(b.body)) renamed.body = member(b.body);
    if (b.branches && typeof b.branches === 'object' && !Array.isArray(b.branches)) {
      renamed.branches = Object.fromEntries(Object.entries(b.branches).map(([k, ids]) => [k, member(ids)]));
    }
    if (stringifyExact(renamed) !== stringifyExact(b)) doc.blocks[bid] = renamed;
  }
  doc.layout = renamedKey(doc.layout);
  if (Array.isArray(doc.edges)) {
    const end = new RegExp(`^(\\s*)${from}(?=[.\\s]|->)|(->\\s*)${from}(\\s*)$`, 'g');
    doc.edges = doc.edges.map((e) => (typeof e === 'string' ? e.replace(end, (m, a, b, c) => (a !== undefined ? `${a}${to}` : `${b}${to}${c}`)) : e));
  }
  if (doc.output !== undefined) doc.output = swapper(from, to)(doc.output);
}

// The loaded document follows an edge moved to another port of its block (a
// renamed case, its Undo or Redo), so the edge keeps its place in the file.
export function followPortRename(doc, bid, from, to) {
  if (!Array.isArray(doc.edges) || from === 'out' || to === 'out') return;
  const literal = from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); // a case may be named anything
  const start = new RegExp(`^(\\s*${bid})\\.${literal}(?=\\s*->)`);
  doc.edges = doc.edges.map((e) => (typeof e === 'string' ? e.replace(start, (_m, head) => `${head}.${to}`) : e));
}
