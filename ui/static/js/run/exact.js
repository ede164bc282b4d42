// The run viewer reads and shows a run's values with their integers exact: an amount
// of 9223372036854775807 cents (a BIGINT's maximum) is not a double's
// 9223372036854776000, and an input's 9007199254740993 is not 9007199254740992.
// The run (GET /api/runs/<id>) and its events (the SSE stream) are both read this way.
import { prettyExact } from '../exact_json.js';

// The option api.js takes to read an answer's integers past 2^53 as BigInt.
export const EXACT = { exact: true };

// Bidirectional controls (LRE…RLO, LRI…PDI, LRM/RLM/ALM): shown, they reorder the text
// after them, so "\u202e0001" read 1000 on the page while the API said otherwise.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

// ``text`` with each bidirectional control written as its JSON escape (`\u202e`).
export function visible(text) {
  return String(text).replace(BIDI, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// A value as JSON with two spaces, BigInts as their digits; '' for no value.
export function pretty(value) {
  if (value === undefined) return '';
  try { return visible(prettyExact(value)); } catch { return visible(String(value)); }
}
