// A config value as the properties panel's text, and that text back as a value.
// The rule both keep: what a field shows for a stored value reads back as that
// same value, type included, so copying a field's text (or retyping it) never
// turns `json: true` into the string 'true' or `json: "true"` into true.
import { numberExact, parseExact, prettyExact, stringifyExact } from '../exact_json.js';

const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;
// Fields whose text is JSON when it reads as JSON (and text otherwise).
const STRUCTURED = new Set(['object', 'array', 'any']);

// A union with a structured type reads as that type (`to`: text or a list): its
// text is JSON only when it reads as JSON (fromText), and stays text otherwise.
export function schemaType(s) {
  if (!s) return 'any';
  if (s.enum) return 'enum';
  const types = (Array.isArray(s.type) ? s.type : [s.type]).filter((x) => x && x !== 'null');
  return types.find((x) => x === 'object' || x === 'array') ?? types[0] ?? 'any';
}

// The JSON value `t` spells, or `none` when it is not JSON (a number too large
// for a double, 1e400, is not: it would be saved as null).
function readJSON(t, none) {
  try {
    const value = parseExact(t);
    return typeof value === 'number' && !Number.isFinite(value) ? none : value;
  } catch {
    return none;
  }
}

// Text from a field back to a config value. References stay strings whatever the
// schema says (`count: <x.n>` is valid), so only plain literals are converted.
// A field of any JSON value (the HTTP block's `json`, a loop's `items`) takes any
// JSON text as that value (`true`, `null`, `"hello"`, `3.5e2`); a list or object
// field takes a JSON list, object or string. Anything else is text.
export function fromText(text, kind) {
  const t = text.trim();
  if (t === '') return undefined;
  if (kind === 'integer' || kind === 'number') return PLAIN_NUMBER.test(t) ? numberExact(t) : text;
  if (kind === 'boolean') return t === 'true' ? true : t === 'false' ? false : text;
  if (kind === 'any') return readJSON(t, text);
  if ((kind === 'object' || kind === 'array') && /^[[{"]/.test(t)) return readJSON(t, text);
  return text;
}

// Values hold integers past 2^53 as BigInt (main.js reads the file exactly): shown
// and read back with their digits (exact_json.js).
export function toText(value, kind, multiline = true) {
  if (value === undefined) return '';
  // An empty field removes the key; `json: null` is a value of its own.
  if (value === null) return kind === 'any' ? 'null' : '';
  if (typeof value === 'string') {
    // A string that reads back as something else is shown as JSON: `"true"`, `"42"`.
    // An empty one stays an empty field (a new block's required key to fill in).
    const readsBack = value === '' || !STRUCTURED.has(kind) || fromText(value, kind) === value;
    return readsBack ? value : JSON.stringify(value);
  }
  if (STRUCTURED.has(kind) || typeof value === 'object') {
    return multiline ? prettyExact(value) : stringifyExact(value);
  }
  return String(value);
}
