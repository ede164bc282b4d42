// Renaming a block renames how Function code reads its output: `input.old`,
// `input["old"]` and `input['old']` (and JavaScript's `input?.old`) name the new id.
// They had kept the old id: the save passed, and the run failed with
// "AttributeError: no field 'old'".
//
// Conservative on purpose, and not a parser:
// - only a whole name right after the variable `input`: not `input.old_x`, not
//   `self.input.old`; `input[name]` with a variable, `input.get("old")` or
//   `getattr(input, "old")` stay as written;
// - only in code: text in strings and comments stays as written (a message may say
//   "input.manual" on purpose). A small scanner per language finds them:
//   Python '…', "…", '''…''', """…""" (r/b/u/f prefixes; an f-string's {…} is code,
//   rewritten; its text is not) and # comments; JavaScript '…', "…", template literals
//   (their ${…} is code), // and /* */ comments and regex literals (a `/` where an
//   expression may start, as engine/javascript_refs.py decides).

const NAME_CHAR = /[\p{ID_Continue}$]/u;
const HIDDEN = '\0'; // what a string's or comment's text is masked with: never part of a read
const JS_KEYWORDS = new Set('return typeof instanceof in of new delete void throw case do else yield await'.split(' '));
const WORD = /[\p{ID_Continue}$]+/uy;

// `code` with `from` read from `input` renamed to `to` (see above).
export function renameInputReads(code, language, from, to) {
  if (typeof code !== 'string' || !code.includes(from)) return code;
  const masked = (language === 'javascript' ? maskJavaScript : maskPython)(code, from);
  // Block ids are [a-z0-9_]: no escaping.
  const dot = new RegExp(`(?<![\\p{ID_Continue}$.])input(\\s*\\??\\.\\s*)${from}(?![\\p{ID_Continue}$])`, 'gu');
  const bracket = new RegExp(`(?<![\\p{ID_Continue}$.])input(\\s*(?:\\?\\.)?\\[\\s*)(['"])${from}\\2(?=\\s*\\])`, 'gu');
  const at = [];
  for (const m of masked.matchAll(dot)) at.push(m.index + 'input'.length + m[1].length);
  for (const m of masked.matchAll(bracket)) at.push(m.index + 'input'.length + m[1].length + 1);
  let out = code;
  for (const i of at.sort((a, b) => b - a)) out = out.slice(0, i) + to + out.slice(i + from.length);
  return out;
}

// A string literal that is exactly the old name ("old" or 'old') stays visible: it
// is how `input["old"]` names the block.
function masker(code, from) {
  const chars = code.split('');
  const hide = (start, end) => { for (let i = start; i < end; i += 1) if (chars[i] !== '\n') chars[i] = HIDDEN; };
  const isName = (text) => text.slice(1, -1) === from && text[0] === text[text.length - 1];
  return { chars, hide, isName };
}

// Where a quoted string starting at `i` (its quote `q`, `len` 1 or 3) ends: after its
// closing quote, or at the end of its line (unclosed, single quotes) or of the code.
function quotedEnd(code, i, q, len) {
  const close = q.repeat(len);
  let j = i + len;
  while (j < code.length) {
    if (code[j] === '\\') { j += 2; continue; }
    if (len === 1 && code[j] === '\n') return j;
    if (code.startsWith(close, j)) return j + len;
    j += 1;
  }
  return code.length;
}

function maskPython(code, from) {
  const { chars, hide, isName } = masker(code, from);
  let i = 0;
  while (i < code.length) {
    const c = code[i];
    if (c === '#') {
      const end = code.indexOf('\n', i) === -1 ? code.length : code.indexOf('\n', i);
      hide(i, end);
      i = end;
    } else if (c === '"' || c === "'") {
      let p = i;
      while (p > 0 && i - p < 2 && /[rRbBuUfF]/.test(code[p - 1])) p -= 1;
      const prefix = p > 0 && NAME_CHAR.test(code[p - 1]) ? '' : code.slice(p, i);
      const len = code.startsWith(c.repeat(3), i) ? 3 : 1;
      const end = quotedEnd(code, i, c, len);
      const inner = [i + len, Math.max(i + len, end - len)];
      if (/f/i.test(prefix)) hideFStringText(code, inner, hide);
      else if (!(prefix === '' && isName(code.slice(i, end)))) hide(...inner);
      i = end;
    } else {
      i += 1;
    }
  }
  return chars.join('');
}

// An f-string's text is hidden, its {…} replacement fields (code) are not; `{{` is text.
function hideFStringText(code, [start, end], hide) {
  let i = start;
  let text = start;
  while (i < end) {
    if (code.startsWith('{{', i) || code.startsWith('}}', i)) { i += 2; continue; }
    if (code[i] !== '{') { i += 1; continue; }
    hide(text, i);
    let depth = 0;
    for (; i < end; i += 1) {
      if (code[i] === '{') depth += 1;
      else if (code[i] === '}' && --depth === 0) break;
    }
    text = i;
    i += 1;
  }
  hide(text, end);
}

function maskJavaScript(code, from) {
  const { chars, hide, isName } = masker(code, from);
  const templates = []; // the brace depth at each open `${`
  let depth = 0;
  let exprMayStart = true; // a `/` here opens a regex literal, else it divides
  // Template text from `i`: hidden up to the closing backtick (returns after it) or
  // to a `${` (returns after it, with the depth to come back at).
  const templateText = (start) => {
    let j = start;
    while (j < code.length) {
      if (code[j] === '\\') { j += 2; continue; }
      if (code[j] === '`') { hide(start, j); exprMayStart = false; return j + 1; }
      if (code.startsWith('${', j)) {
        hide(start, j);
        templates.push(depth);
        depth += 1;
        exprMayStart = true;
        return j + 2;
      }
      j += 1;
    }
    hide(start, code.length);
    return code.length;
  };
  let i = 0;
  while (i < code.length) {
    const c = code[i];
    if (code.startsWith('//', i)) {
      const end = code.indexOf('\n', i) === -1 ? code.length : code.indexOf('\n', i);
      hide(i, end);
      i = end;
    } else if (code.startsWith('/*', i)) {
      const end = code.indexOf('*/', i + 2) === -1 ? code.length : code.indexOf('*/', i + 2) + 2;
      hide(i, end);
      i = end;
    } else if (c === '"' || c === "'") {
      const end = quotedEnd(code, i, c, 1);
      if (!isName(code.slice(i, end))) hide(i + 1, Math.max(i + 1, end - 1));
      i = end;
      exprMayStart = false;
    } else if (c === '`') {
      i = templateText(i + 1);
    } else if (c === '/' && exprMayStart) {
      i = regexEnd(code, i, hide);
      exprMayStart = false;
    } else if (c === '}' && templates.length && templates[templates.length - 1] === depth - 1) {
      templates.pop();
      depth -= 1;
      i = templateText(i + 1);
    } else if (NAME_CHAR.test(c)) {
      WORD.lastIndex = i;
      const word = WORD.exec(code)[0];
      exprMayStart = JS_KEYWORDS.has(word);
      i += word.length;
    } else {
      if (c === '{') depth += 1;
      else if (c === '}') depth -= 1;
      if (!/\s/.test(c)) exprMayStart = c !== ')' && c !== ']';
      i += 1;
    }
  }
  return chars.join('');
}

// After a regex literal starting at `i` (its text hidden): `[...]` classes may hold
// a `/`; an unclosed one ends at its line's end.
function regexEnd(code, i, hide) {
  let j = i + 1;
  let inClass = false;
  while (j < code.length && code[j] !== '\n') {
    if (code[j] === '\\') { j += 2; continue; }
    if (code[j] === '[') inClass = true;
    else if (code[j] === ']') inClass = false;
    else if (code[j] === '/' && !inClass) break;
    j += 1;
  }
  hide(i + 1, Math.min(j, code.length));
  j += 1;
  while (j < code.length && /[a-z]/i.test(code[j])) j += 1;
  return Math.min(j, code.length);
}
