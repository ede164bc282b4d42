// What part of the graph is in view: the zoom buttons on the canvas, and the
// first view of a workflow.

// The mouse wheel's range (graph.js) is the buttons' range too.
export const MIN_SCALE = 0.2;
export const MAX_SCALE = 2;
const STEP = 1.25;
const PADDING = 40;

// Whether the whole workflow fits at a zoom the editor offers. One too large even
// at the least zoom is shown at that zoom, centred: Fit had zoomed below 20%, after
// which "−" zoomed in.
export function fitToView(graph) {
  if (!graph.getNodes().length) return true; // nothing to fit: keep the view as it is
  // Never enlarge a small workflow past 100%: blocks would look oversized.
  graph.zoomToFit({ padding: PADDING, maxScale: 1 });
  if (graph.zoom() >= MIN_SCALE) return true;
  graph.zoomTo(MIN_SCALE);
  graph.centerContent();
  return false;
}

// The whole graph when it fits at a zoom the editor offers at all; a workflow too
// long even for that starts readable at its left end (the Fit button shows as much
// of it as 20% does).
export function initialView(graph) {
  if (fitToView(graph)) return;
  graph.zoomTo(0.7);
  graph.positionContent('left', { padding: PADDING });
}

export function wireZoom(graph, { zoomIn, zoomOut, fit }) {
  // zoomTo scales about the centre of the canvas: what is in the middle stays there.
  const by = (f) => graph.zoomTo(graph.zoom() * f, { minScale: MIN_SCALE, maxScale: MAX_SCALE });
  zoomIn.addEventListener('click', () => by(STEP));
  zoomOut.addEventListener('click', () => by(1 / STEP));
  fit.addEventListener('click', () => fitToView(graph));
}
