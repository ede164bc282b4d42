// The palette: every registered block type, dragged onto the canvas with native
// HTML5 drag-and-drop. Dropping inside a Loop/Parallel embeds the block there.
import { el } from '../api.js';
import { addBlock, fitParent, uniqueBid } from './graph.js';

const MIME = 'application/x-flowyard-block';
const CATEGORY_ORDER = ['trigger', 'action', 'logic', 'container'];

function defaultConfig(type, info) {
  // Required keys start empty so the properties panel shows what to fill in.
  const config = {};
  for (const key of info.required ?? []) {
    const schema = info.config_schema?.[key] ?? {};
    if (key === 'body') continue;
    config[key] = schema.default ?? '';
  }
  if (type === 'loop' && !('items' in config)) config.items = '';
  return config;
}

export function renderPalette(root, types) {
  root.replaceChildren(el('h2', { text: 'Blocks' }));
  const groups = {};
  for (const [type, info] of Object.entries(types)) (groups[info.category] ??= []).push([type, info]);
  const cats = Object.keys(groups).sort((a, b) => CATEGORY_ORDER.indexOf(a) - CATEGORY_ORDER.indexOf(b));
  for (const cat of cats) {
    root.append(el('h3', { text: cat }));
    for (const [type, info] of groups[cat]) {
      root.append(el('div', {
        class: `palette-item cat-${cat}`,
        draggable: 'true',
        title: info.description || type,
        dataset: { type },
        ondragstart: (e) => {
          e.dataTransfer.setData(MIME, type);
          e.dataTransfer.setData('text/plain', type);
          e.dataTransfer.effectAllowed = 'copy';
        },
      }, el('strong', { text: type }), el('small', { text: (info.description || '').split('.')[0] })));
    }
  }
}

// The innermost container under a canvas point, if any.
function containerAt(graph, point, ignore) {
  const hits = graph.getNodesFromPoint(point.x, point.y).filter((n) => n !== ignore && n.getData()?.container);
  hits.sort((a, b) => a.getBBox().width * a.getBBox().height - b.getBBox().width * b.getBBox().height);
  return hits[0] ?? null;
}

export function enableDrop(graph, canvasEl, types, onAdded) {
  canvasEl.addEventListener('dragover', (e) => {
    if ([...e.dataTransfer.types].includes(MIME) || [...e.dataTransfer.types].includes('text/plain')) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    }
  });
  canvasEl.addEventListener('drop', (e) => {
    const type = e.dataTransfer.getData(MIME) || e.dataTransfer.getData('text/plain');
    if (!types[type]) return;
    e.preventDefault();
    const p = graph.clientToLocal(e.clientX, e.clientY);
    const info = types[type];
    const bid = uniqueBid(graph, type);
    const parent = containerAt(graph, p);
    graph.startBatch('drop');
    const node = addBlock(graph, { bid, type, config: defaultConfig(type, info), x: p.x - 40, y: p.y - 20 }, info);
    if (parent) {
      parent.addChild(node);
      fitParent(parent, node);
    }
    graph.stopBatch('drop');
    onAdded?.(node);
  });
}
