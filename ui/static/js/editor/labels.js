// A block's label clipped to the block's width: a long id (or name) ran over the
// blocks beside it. Each line is measured at the label's font and cut with "…"; the
// block's tooltip (an SVG <title>) keeps the whole label.

const FONT_PX = 12; // graph.js: the label's fontSize
const PADDING = 24; // both sides: clear of the ports' circles on the block's edges
let ctx = null;
let family = null;

function widthOf(text, weight) {
  ctx ??= document.createElement('canvas').getContext('2d');
  // The canvas's SVG text takes the page's font (app.css: body).
  family ??= getComputedStyle(document.body).fontFamily;
  ctx.font = `${weight} ${FONT_PX}px ${family}`;
  return ctx.measureText(text).width;
}

function fitLine(line, width, weight) {
  if (widthOf(line, weight) <= width) return line;
  const chars = Array.from(line); // never half of a surrogate pair
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) { // the most characters that fit with the "…"
    const mid = Math.ceil((lo + hi) / 2);
    if (widthOf(`${chars.slice(0, mid).join('')}…`, weight) <= width) lo = mid;
    else hi = mid - 1;
  }
  return `${chars.slice(0, lo).join('')}…`;
}

// `text` (lines split by \n) as it fits a block `blockWidth` px wide.
export function fitLabel(text, blockWidth, weight = 400) {
  const width = Math.max(FONT_PX, blockWidth - PADDING);
  return text.split('\n').map((line) => fitLine(line, width, weight)).join('\n');
}
