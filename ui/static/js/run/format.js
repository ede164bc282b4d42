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

// An ISO time in ms, keeping the microseconds Date.parse drops: a run of 0.74 ms
// read as 0.00 or 1.00 ms, shown with two decimals it did not have.
function preciseMs(iso) {
  const t = Date.parse(iso);
  const frac = /\.(\d{4,})/.exec(iso);
  return frac ? t + Number(`0.${frac[1].slice(3)}`) : t;
}

// From one ISO time to another (or to now: a run still going), '' without a start.
export function fmtBetween(startIso, endIso) {
  const start = startIso ? preciseMs(startIso) : NaN;
  if (Number.isNaN(start)) return '';
  const end = endIso ? preciseMs(endIso) : Date.now();
  return fmtMs(Math.max(0, end - start));
}
