// `<block.field>` reference autocomplete for the properties panel: upstream
// blocks' outputs, the loop variables of enclosing containers, and special roots.
import { el } from '../api.js';

// Every block the given node may reference: its predecessors, and (for a block in
// a loop/parallel body) the predecessors of each enclosing container.
export function upstreamNodes(graph, node) {
  const seen = new Set();
  const out = [];
  const walk = (n) => {
    for (const p of graph.getPredecessors(n) ?? []) {
      if (!p.isNode() || seen.has(p.id)) continue;
      seen.add(p.id);
      out.push(p);
    }
  };
  walk(node);
  for (let parent = node.getParent(); parent; parent = parent.getParent()) walk(parent);
  return out;
}

export function suggestions(graph, node, types) {
  const refs = [];
  for (const up of upstreamNodes(graph, node)) {
    const { bid, type } = up.getData();
    const outputs = types[type]?.outputs ?? [];
    refs.push({ ref: `<${bid}>`, hint: type });
    for (const f of outputs) refs.push({ ref: `<${bid}.${f}>`, hint: type });
  }
  for (let parent = node.getParent(); parent; parent = parent.getParent()) {
    const { type, config } = parent.getData();
    const as = config?.as || 'item';
    if (type === 'loop' || (type === 'parallel' && config?.items !== undefined)) {
      refs.push({ ref: `<${as}>`, hint: `${type} item` });
      refs.push({ ref: '<loop.index>', hint: `${type}, from 0` });
      refs.push({ ref: '<loop.iteration>', hint: `${type}, from 1` });
    }
    if (type === 'loop' && config?.accumulate) refs.push({ ref: '<state>', hint: 'fold state' });
  }
  refs.push({ ref: '<input>', hint: 'run input' }, { ref: '<workflow.execution_id>', hint: 'run' },
    { ref: '<workflow.name>', hint: 'run' }, { ref: '<workflow.rerun_of>', hint: 'run re-run' },
    { ref: '<env.NAME>', hint: 'secret' });
  const unique = new Map();
  for (const r of refs) if (!unique.has(r.ref)) unique.set(r.ref, r);
  return [...unique.values()];
}

let box = null;
let boxOwner = null;

function close() {
  box?.remove();
  box = null;
  boxOwner = null;
}

// Show suggestions while the text before the caret ends in an open `<…`.
export function attachAutocomplete(field, getSuggestions, onPick) {
  let items = [];
  let active = 0;
  const openPrefix = () => {
    const upto = field.value.slice(0, field.selectionStart ?? field.value.length);
    const m = /<([A-Za-z0-9_.?[\]]*)$/.exec(upto);
    return m ? { start: upto.length - m[0].length, text: m[0] } : null;
  };
  const pick = (ref) => {
    const pre = openPrefix();
    const caret = field.selectionStart ?? field.value.length;
    const start = pre ? pre.start : caret;
    // Replace a closing '>' right after the caret too, so picking never doubles it.
    const after = field.value.slice(caret).replace(/^[A-Za-z0-9_.?]*>/, '');
    field.value = field.value.slice(0, start) + ref + after;
    const pos = start + ref.length;
    field.setSelectionRange(pos, pos);
    close();
    onPick?.();
    field.focus();
  };
  const render = () => {
    close();
    const pre = openPrefix();
    if (!pre) return;
    const q = pre.text.toLowerCase();
    items = getSuggestions().filter((s) => s.ref.toLowerCase().startsWith(q)).slice(0, 40);
    if (!items.length) return;
    active = Math.min(active, items.length - 1);
    box = el('ul', { class: 'suggest', role: 'listbox', id: 'ref-suggest' },
      items.map((s, i) => el('li', {
        role: 'option',
        class: i === active ? 'active' : '',
        dataset: { ref: s.ref },
        onmousedown: (e) => { e.preventDefault(); pick(s.ref); },
      }, el('code', { text: s.ref }), el('small', { text: s.hint }))));
    const r = field.getBoundingClientRect();
    box.style.left = `${r.left + window.scrollX}px`;
    box.style.top = `${r.bottom + window.scrollY + 2}px`;
    box.style.minWidth = `${Math.max(r.width, 220)}px`;
    document.body.append(box);
    boxOwner = field;
  };
  field.addEventListener('input', () => { active = 0; render(); });
  field.addEventListener('click', render);
  // Close late (a click on an option lands first), and only this field's box: a
  // stale timer from the previous field must not close the next field's list.
  field.addEventListener('blur', () => setTimeout(() => {
    if (boxOwner === field && document.activeElement !== field) close();
  }, 120));
  field.addEventListener('keydown', (e) => {
    if (!box) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      active = (active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      e.preventDefault();
      render();
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      e.preventDefault();
      pick(items[active].ref);
    } else if (e.key === 'Escape') {
      e.preventDefault(); // closes the list only: a code field would leave on Escape
      close();
    }
  });
}
