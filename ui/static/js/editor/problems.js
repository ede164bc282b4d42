// Inline validation errors from the server (422): a list under the properties
// panel, a red outline on each block named, and field errors in the panel.
import { el } from '../api.js';
import { findByBid } from './graph.js';

// A problem as the list shows it. The API answers a workflow's problems as
// {block, field, message} and an input its input_schema refuses as plain strings
// ("n: 'seven' is not of type 'integer'", as `flowyard run` prints them).
export function asProblem(p) {
  return typeof p === 'string' ? { block: null, field: null, message: p } : p;
}

export function showProblems(root, graph, problems, onSelect) {
  for (const n of graph.getNodes()) {
    if (n.getData()?.invalid) {
      n.setData({ invalid: false }, { ignoreHistory: true });
      n.attr('body/stroke', '#5f6b7a', { ignoreHistory: true });
      n.attr('body/strokeWidth', 1.2, { ignoreHistory: true });
    }
  }
  if (!problems.length) {
    root.hidden = true;
    root.replaceChildren();
    return;
  }
  root.hidden = false;
  const list = el('ul', { id: 'problem-list' });
  for (const p of problems.map(asProblem)) {
    const node = p.block ? findByBid(graph, p.block) : null;
    if (node) {
      node.setData({ invalid: true }, { ignoreHistory: true });
      node.attr('body/stroke', '#e03131', { ignoreHistory: true });
      node.attr('body/strokeWidth', 2.5, { ignoreHistory: true });
    }
    const where = [p.block, p.field].filter(Boolean).join(' · ');
    list.append(el('li', {
      class: p.dropped ? 'problem dropped' : 'problem',
      dataset: { block: p.block ?? '', field: p.field ?? '' },
      onclick: () => node && onSelect?.(node),
    }, where ? el('strong', { text: `${where}: ` }) : null, p.message));
  }
  root.replaceChildren(el('h3', { text: `${problems.length} problem${problems.length > 1 ? 's' : ''}` }), list);
}
