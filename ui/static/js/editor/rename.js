// A renamed block keeps its readers, as n8n and Sim rename references:
// `<old.field>`, `<old>` and `<old?>` in every block's config and in the workflow's
// output name the new id, and a parallel's branches list it by its new id. Renaming
// used to leave each of them "names unknown block 'old'" until fixed by hand.
export function renameReferences(graph, from, to, doc) {
  const ref = new RegExp(`<${from}(?=[.?>])`, 'g'); // ids are [a-z0-9_]: no escaping
  const swap = (v) => {
    if (typeof v === 'string') return v.replace(ref, `<${to}`);
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    return v;
  };
  const member = (ids) => (Array.isArray(ids) ? ids.map((id) => (id === from ? to : id)) : ids);
  for (const node of graph.getNodes()) {
    const data = node.getData();
    if (!data?.config) continue;
    const config = swap(data.config);
    if (config.branches && typeof config.branches === 'object' && !Array.isArray(config.branches)) {
      config.branches = Object.fromEntries(Object.entries(config.branches).map(([k, ids]) => [k, member(ids)]));
    }
    if (JSON.stringify(config) !== JSON.stringify(data.config)) node.setData({ ...data, config }, { overwrite: true });
  }
  if (!doc) return;
  if (doc.output !== undefined) doc.output = swap(doc.output);
  // The loaded document orders the save (convert.js): the block keeps its place.
  const renamedKey = (obj) => (obj && from in obj ? Object.fromEntries(Object.entries(obj).map(([k, v]) => [k === from ? to : k, v])) : obj);
  doc.blocks = renamedKey(doc.blocks);
  doc.layout = renamedKey(doc.layout);
}
