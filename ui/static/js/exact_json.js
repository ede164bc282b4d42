// JSON read and shown without losing whole numbers past 2^53 (Number.MAX_SAFE_INTEGER).
// JSON.parse reads every number as a double: 9223372036854775807 (a BIGINT's maximum,
// exact in the API's answer) became 9223372036854775808 and was shown as
// 9223372036854776000. Here such a number, written as an integer (no fraction, no
// exponent), is read as a BigInt and shown with its digits; every other value is read
// and shown as JSON.parse and JSON.stringify(value, null, 2) do.

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INTEGER = /^-?(0|[1-9]\d*)$/;
// JSON's whitespace, and a number as JSON spells it (RFC 8259).
const SPACE = /[ \t\n\r]*/y;
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

// `text` as JSON.parse reads it, integers past 2^53 as BigInt. SyntaxError when it is
// not JSON.
export function parseExact(text) {
  let at = 0;
  const fail = () => { throw new SyntaxError(`not JSON at position ${at}`); };
  const skip = () => { SPACE.lastIndex = at; SPACE.exec(text); at = SPACE.lastIndex; };
  const literal = (word, value) => {
    if (!text.startsWith(word, at)) fail();
    at += word.length;
    return value;
  };
  const string = () => {
    // The string's own text, read by JSON.parse (escapes and all).
    let end = at + 1;
    while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
    if (end >= text.length) fail();
    const value = JSON.parse(text.slice(at, end + 1));
    at = end + 1;
    return value;
  };
  const number = () => {
    NUMBER.lastIndex = at;
    const m = NUMBER.exec(text);
    if (!m) fail();
    at = NUMBER.lastIndex;
    const token = m[0];
    if (INTEGER.test(token)) {
      const big = BigInt(token);
      if (big > SAFE || big < -SAFE) return big;
    }
    return Number(token);
  };
  const value = () => {
    skip();
    const c = text[at];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    return number();
  };
  const items = (close, read) => {
    at += 1;
    skip();
    if (text[at] === close) { at += 1; return; }
    for (;;) {
      read();
      skip();
      if (text[at] === close) { at += 1; return; }
      if (text[at] !== ',') fail();
      at += 1;
    }
  };
  const array = () => {
    const out = [];
    items(']', () => { out.push(value()); });
    return out;
  };
  const object = () => {
    // No prototype: a key "__proto__" is a key, as JSON.parse makes it.
    const out = {};
    items('}', () => {
      skip();
      if (text[at] !== '"') fail();
      const key = string();
      skip();
      if (text[at] !== ':') fail();
      at += 1;
      Object.defineProperty(out, key, { value: value(), enumerable: true, writable: true, configurable: true });
    });
    return out;
  };
  const result = value();
  skip();
  if (at !== text.length) fail();
  return result;
}

// `value` as JSON.stringify(value, null, 2) writes it, a BigInt as its digits.
export function prettyExact(value, indent = '') {
  return write(value, indent, '  ');
}

// `value` as JSON.stringify(value) writes it, a BigInt as its digits: a request body
// (the editor's save) that sends such a number back as it was read.
export function stringifyExact(value) {
  return write(value, '', '');
}

// A number typed as text (a field of the editor): an integer past 2^53 as a BigInt,
// any other number as Number() reads it.
export function numberExact(text) {
  const t = String(text).trim();
  if (INTEGER.test(t)) {
    const big = BigInt(t);
    if (big > SAFE || big < -SAFE) return big;
  }
  return Number(t);
}

// `step` '' writes JSON.stringify's compact form; '  ' its two-space indented one.
function write(value, indent, step) {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (typeof value.toJSON === 'function') return write(value.toJSON(), indent, step);
  const inner = `${indent}${step}`;
  const open = step ? '\n' : '';
  const close = step ? `\n${indent}` : '';
  const comma = step ? ',\n' : ',';
  const colon = step ? ': ' : ':';
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    const parts = value.map((v) => inner + (v === undefined || typeof v === 'function' ? 'null' : write(v, inner, step)));
    return `[${open}${parts.join(comma)}${close}]`;
  }
  const parts = Object.keys(value)
    .filter((k) => value[k] !== undefined && typeof value[k] !== 'function')
    .map((k) => `${inner}${JSON.stringify(k)}${colon}${write(value[k], inner, step)}`);
  return parts.length ? `{${open}${parts.join(comma)}${close}}` : '{}';
}
