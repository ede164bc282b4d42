// The run viewer's header facts: when the run started, how long it took (counting
// while it runs), what triggered it and its input. Only what GET /api/runs/<id>
// and the run's events say: the engine redacted the input before storing it.
import { pretty } from './exact.js';
import { fmtBetween, timeEl } from './format.js';

const $ = (id) => document.getElementById(id);

export function renderHeader(model) {
  $('run-started').replaceChildren(timeEl(model.runStartedAt) ?? '—');
  // A run not finished yet counts up to now (the caller re-renders every second).
  const took = fmtBetween(model.runStartedAt, model.final ? model.runFinishedAt : null);
  $('run-duration').textContent = took || '—';
  $('run-duration').title = model.final ? '' : 'so far';
  $('run-trigger').textContent = model.trigger ?? '—';
  const input = $('run-input');
  input.hidden = model.input === undefined;
  const text = pretty(model.input);
  if ($('run-input-json').textContent !== text) $('run-input-json').textContent = text;
}
