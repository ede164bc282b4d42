// The run viewer reads and shows a run's values with their integers exact: an amount
// of 9223372036854775807 cents (a BIGINT's maximum) is not a double's
// 9223372036854776000, and an input's 9007199254740993 is not 9007199254740992.
// The run (GET /api/runs/<id>) and its events (the SSE stream) are both read this way.
import { prettyExact } from '../exact_json.js';

// The option api.js takes to read an answer's integers past 2^53 as BigInt.
export const EXACT = { exact: true };

// A value as JSON with two spaces, BigInts as their digits; '' for no value.
export function pretty(value) {
  if (value === undefined) return '';
  try { return prettyExact(value); } catch { return String(value); }
}
