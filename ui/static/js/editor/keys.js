// The editor's keys, for keyboard-only use as much as for the mouse:
// - every block is a Tab stop (graph.js gives its body tabindex 0); Enter or Space
//   on a focused block selects it (the properties panel opens), Delete or
//   Backspace deletes it (one undo step, its edges and contents included);
// - Delete with the canvas itself focused (after a click) deletes the selection;
// - Ctrl+Z undoes and Ctrl+Shift+Z / Ctrl+Y redo wherever the focus is, but in a
//   text field (where they undo the typing) or a dialog: X6's own bindings worked
//   only while the canvas had the focus, though the Undo button says "Ctrl+Z".
import { removeAsOneStep } from './graph.js';

// Keys typed here edit text, and Ctrl+Z there undoes that text.
const NOT_TEXT = new Set(['button', 'checkbox', 'radio', 'submit', 'reset', 'range', 'color', 'file', 'image']);
function isTextField(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable || target.tagName === 'TEXTAREA') return true;
  return target.tagName === 'INPUT' && !NOT_TEXT.has(target.type);
}

// The block whose element has the focus (or holds the event's target).
function blockOf(graph, target) {
  const cell = target instanceof Element ? target.closest('g.x6-node[data-cell-id]') : null;
  const node = cell ? graph.getCellById(cell.getAttribute('data-cell-id')) : null;
  return node?.isNode() ? node : null;
}

function undoKey(e) {
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return null;
  const key = e.key.toLowerCase();
  if (key === 'z') return e.shiftKey ? 'redo' : 'undo';
  if (key === 'y' && !e.shiftKey) return 'redo';
  return null;
}

// A block focused by Tab outside the part of the canvas in view is brought into
// it. Focus scrolls the canvas element itself (overflow: hidden), which would
// shift everything under X6's coordinates: that is undone first.
function keepInView(graph, canvasEl, node) {
  canvasEl.scrollTop = 0;
  canvasEl.scrollLeft = 0;
  const shown = graph.getGraphArea();
  if (!shown.containsRect(node.getBBox())) graph.centerCell(node);
}

// select(node): what a click on the block does. locked(): nothing may change.
export function wireKeys(graph, canvasEl, { select, locked }) {
  const { history, selection } = graph.fy;
  document.addEventListener('keydown', (e) => {
    const action = undoKey(e);
    if (!action || isTextField(e.target) || document.querySelector('dialog[open]')) return;
    e.preventDefault();
    if (locked()) return;
    if (action === 'undo') history.undo();
    else history.redo();
  });
  canvasEl.addEventListener('keydown', (e) => {
    if (locked() || e.ctrlKey || e.metaKey || e.altKey) return;
    const node = blockOf(graph, e.target);
    if (node && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      select(node);
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault();
      // The focused block, with the rest of the selection when it is part of it.
      const selected = selection.getSelectedCells();
      removeAsOneStep(graph, node && !selected.includes(node) ? [node] : selected);
    }
  });
  canvasEl.addEventListener('focusin', (e) => {
    const node = blockOf(graph, e.target);
    if (node) keepInView(graph, canvasEl, node);
  });
}
