// Times and durations as the runs pages show them: readable, in the browser's own
// time zone and locale, the exact ISO value kept in `datetime` and `title` (the API
// gives UTC with microseconds, which nobody reads and which wraps in a table).
import { el } from '../api.js';

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function fmtTime(iso) {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? '' : DATE_TIME.format(t);
}

// <time datetime="…" title="…">26 Nov 2026, 23:18:18</time>, or null without a time.
export function timeEl(iso) {
  const text = fmtTime(iso);
  return text ? el('time', { datetime: iso, title: iso, text }) : null;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// From one ISO time to another (or to now: a run still going), '' without a start.
export function fmtBetween(startIso, endIso) {
  const start = startIso ? Date.parse(startIso) : NaN;
  if (Number.isNaN(start)) return '';
  const end = endIso ? Date.parse(endIso) : Date.now();
  return fmtMs(Math.max(0, end - start));
}
