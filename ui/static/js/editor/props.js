// The properties panel: one form per selected block, built from its type's
// config schema, with reference autocomplete and the server's inline errors.
import { el } from '../api.js';
import { parseExact, stringifyExact } from '../exact_json.js';
import { attachAutocomplete, suggestions } from './autocomplete.js';
import { makeCodeField } from './codefield.js';
import { connectionsField } from './connect.js';
import { embedListed } from './containers.js';
import { fromText, schemaType, toText } from './field_text.js';
import { removeAsOneStep } from './graph.js';
import { portRenames, syncPorts } from './ports.js';
import { renameReferences } from './rename.js';

const MULTILINE = new Set(['code', 'query', 'prompt', 'system', 'text', 'html', 'if', 'while', 'body', 'description']);
// Multi-line fields holding code (the JSON of object/array fields too); the rest is prose.
const CODE = new Set(['code', 'query', 'if', 'while', 'html']);
const HIDDEN = new Set(['type']);
const DESCRIBING = ['name', 'description']; // a block's own, shown below its id
// Free text: no reference suggestions (nothing resolves a reference in them).
const PLAIN = new Set(DESCRIBING);
const ID_RE = /^[a-z][a-z0-9_]*$/;

// A field commits on `change` (blur), so what is being typed lives only in the
// field: `commits` lets Save commit it first (PropsPanel.flush).
const commits = new WeakMap();

export class PropsPanel {
  // onChange: a committed edit; onInput: a keystroke not yet committed (the
  // workflow is unsaved from the first one, so leaving the page warns).
  constructor(root, graph, types, common, onChange, onInput) {
    Object.assign(this, { root, graph, types, common, onChange, onInput });
    this.node = null;
    this.problems = [];
  }

  setProblems(problems) {
    this.problems = problems;
    this.render(this.node);
  }

  // Commit the field being edited. False when its text cannot be committed (an
  // invalid block id): saving then would not save what is on screen.
  // A refused field stops the save even once it lost the focus: clicking Save
  // blurs it, and Tab or a click moves on to another field; the focused field's
  // commit had hidden it, and the save wrote the old id as "Saved".
  flush() {
    const active = document.activeElement;
    const fields = new Set([active && this.root.contains(active) ? active : null, this.refused]);
    let ok = true;
    for (const field of fields) {
      if (field?.isConnected && commits.get(field)?.() === false) ok = false;
    }
    return ok;
  }

  // Tie a field to its commit: on change, on leaving it, on Save (flush), and typing
  // marks unsaved. Leaving commits too because `change` misses an edit: a reference
  // picked from the list is set (and committed) from script, and deleted again by
  // hand the text is back to what it was when the field got the focus, so no
  // `change` fires and the picked reference stayed in the block. A commit of what is
  // already committed is no edit (update, and the id and workflow fields, check).
  bind(input, commit) {
    const owner = this.node;
    const tracked = () => {
      const ok = commit() !== false;
      // Only its own commit clears a refusal: another field's does not fix it.
      if (!ok) this.refused = input;
      else if (this.refused === input) this.refused = null;
      return ok;
    };
    commits.set(input, tracked);
    input.addEventListener('change', tracked);
    // Only into the block the field was drawn for (a field taken away by a redraw
    // for another block is not that block's).
    input.addEventListener('blur', () => { if (this.node === owner && input.isConnected) tracked(); });
    input.addEventListener('input', () => this.onInput?.());
  }

  render(node) {
    // A re-render (after a save, say) must not take the field away from the typist.
    const active = document.activeElement;
    const was = this.node;
    const keep = active && this.root.contains(active) && active.dataset.field
      ? { field: active.dataset.field, value: active.value, start: active.selectionStart, end: active.selectionEnd, top: active.scrollTop, left: active.scrollLeft }
      : null;
    this.renderForm(node);
    if (!keep || this.node !== was) return;
    const again = [...this.root.querySelectorAll('[data-field]')].find((f) => f.dataset.field === keep.field);
    if (!again) return;
    // Nor the text typed and not yet committed: the problems of the check on load
    // arriving while the user typed redrew the field with the committed value.
    if (again.tagName !== 'SELECT' && keep.value !== undefined) again.value = keep.value;
    again.focus();
    if (keep.start !== null && keep.start !== undefined && again.setSelectionRange) {
      try { again.setSelectionRange(keep.start, keep.end); } catch { /* not a text field */ }
    }
    Object.assign(again, { scrollTop: keep.top, scrollLeft: keep.left });
  }

  renderForm(node) {
    this.node = node && this.graph.hasCell(node.id) ? node : null;
    if (!this.node) {
      this.renderWorkflow();
      return;
    }
    const { bid, type, config } = this.node.getData();
    const info = this.types[type] ?? { config_schema: {}, required: [] };
    const mine = this.problems.filter((p) => p.block === bid);
    const form = el('form', { class: 'props-form', id: 'props-form', dataset: { bid }, onsubmit: (e) => e.preventDefault() });
    form.append(el('h2', {}, el('span', { text: bid }), ' ', el('small', { class: 'muted', text: type })));
    if (info.description) form.append(el('p', { class: 'muted', text: info.description }));
    form.append(this.idField(bid));
    // The block's display name (shown on the canvas) and notes: common keys, but
    // about the block itself, so beside its id rather than with retries and timeouts.
    for (const key of DESCRIBING) form.append(this.field(key, this.common[key], config?.[key], false, mine));
    const general = mine.filter((p) => !p.field || !(p.field.split('.')[0] in { ...info.config_schema, ...this.common }));
    for (const p of general) form.append(el('p', { class: 'field-error', role: 'alert', text: p.message }));
    for (const [key, schema] of Object.entries(info.config_schema ?? {})) {
      if (HIDDEN.has(key) || (info.container && key === 'body')) continue;
      form.append(this.field(key, schema, config?.[key], (info.required ?? []).includes(key), mine));
    }
    const adv = el('details', { class: 'advanced', open: Object.keys(this.common).some((k) => !DESCRIBING.includes(k) && config?.[k] !== undefined) || undefined });
    adv.append(el('summary', { text: 'Retries, timeout, errors' }));
    for (const [key, schema] of Object.entries(this.common)) {
      if (DESCRIBING.includes(key)) continue;
      adv.append(this.field(key, schema, config?.[key], false, mine));
    }
    form.append(adv);
    // After a connection is made or removed, the keyboard stays where it was.
    form.append(connectionsField(this.graph, this.node, () => {
      this.render(this.node);
      (this.root.querySelector('#connect-to') ?? this.root.querySelector('#connections button'))?.focus();
    }));
    form.append(el('button', { type: 'button', class: 'danger', id: 'delete-block', text: 'Delete block', onclick: () => removeAsOneStep(this.graph, [this.node]) }));
    this.root.replaceChildren(form);
  }

  // Nothing selected: the workflow's own fields (name, description, output).
  renderWorkflow() {
    const doc = this.getDoc?.();
    const form = el('form', { class: 'props-form', id: 'workflow-form', onsubmit: (e) => e.preventDefault() });
    form.append(el('h2', { text: 'Workflow' }), el('p', { class: 'muted', text: 'Select a block to edit it, or drag one from the palette.' }));
    if (!doc) { this.root.replaceChildren(form); return; }
    const top = this.problems.filter((p) => !p.block);
    for (const [key, multiline, help] of [['name', false, 'Display name'], ['description', true, 'Free text'], ['output', false, "The run's result: a reference, e.g. <last_block.field>"]]) {
      const wasValue = doc[key];
      const value = doc[key] === undefined || doc[key] === null ? '' : typeof doc[key] === 'string' ? doc[key] : stringifyExact(doc[key]);
      const input = multiline ? el('textarea', { id: `wf-${key}`, rows: 3 }) : el('input', { id: `wf-${key}`, spellcheck: 'false', autocomplete: 'off' });
      input.value = value;
      input.dataset.field = key;
      const commit = () => {
        const v = input.value.trim();
        const before = stringifyExact(doc[key]);
        // Left as shown: the value as it was (see field()), e.g. a `|` description's last newline.
        if (input.value === value) {
          if (wasValue === undefined) delete doc[key];
          else doc[key] = wasValue;
        } else if (v === '' && key !== 'name') delete doc[key];
        else doc[key] = key === 'output' && /^[[{]/.test(v) ? (() => { try { return parseExact(v); } catch { return v; } })() : v;
        // Committed twice (Save, then blur) is one edit: the second is no change.
        if (stringifyExact(doc[key]) !== before) this.onChange?.();
      };
      this.bind(input, commit);
      if (key === 'output') attachAutocomplete(input, () => this.allRefs(), commit);
      const label = el('label', { class: 'field' }, el('span', { text: key }), input, el('small', { class: 'muted', text: help }));
      for (const p of top.filter((q) => q.field && q.field.split('.')[0] === key)) label.append(el('span', { class: 'field-error', role: 'alert', text: p.message }));
      form.append(label);
    }
    this.root.replaceChildren(form);
  }

  allRefs() {
    const refs = [];
    for (const n of this.graph.getNodes()) {
      if (n.getParent()) continue; // only top-level blocks are visible to `output`
      const { bid, type } = n.getData();
      refs.push({ ref: `<${bid}>`, hint: type });
      for (const f of this.types[type]?.outputs ?? []) refs.push({ ref: `<${bid}.${f}>`, hint: type });
    }
    return refs;
  }

  idField(bid) {
    const input = el('input', { id: 'prop-id', value: bid, spellcheck: 'false', 'data-field': '__id' });
    const err = el('span', { class: 'field-error', hidden: true });
    this.bind(input, () => {
      const v = input.value.trim();
      const taken = this.graph.getNodes().some((n) => n !== this.node && n.getData().bid === v);
      if (!ID_RE.test(v) || taken) {
        err.hidden = false;
        err.textContent = taken ? 'another block has this id' : 'ids are lower-case letters, digits and _';
        return false;
      }
      err.hidden = true;
      const was = this.node.getData().bid;
      if (v === was) return true;
      this.graph.startBatch('rename'); // one undo step, references included
      this.node.setData({ bid: v }); // the label follows (graph.js: relabel)
      renameReferences(this.graph, was, v);
      this.graph.stopBatch('rename');
      this.onChange?.();
      return true;
    });
    return el('label', { class: 'field' }, el('span', { text: 'id' }), input, err);
  }

  field(key, schema, value, required, problems) {
    const kind = schemaType(schema);
    const id = `prop-${key}`;
    let input;
    if (kind === 'enum') {
      input = el('select', { id }, el('option', { value: '', text: '—' }),
        schema.enum.map((v) => el('option', { value: String(v), text: String(v), selected: String(value) === String(v) || undefined })));
    } else if (kind === 'boolean') {
      input = el('select', { id }, ['', 'true', 'false'].map((v) => el('option', { value: v, text: v || '—', selected: String(value ?? '') === v || undefined })));
    } else if (MULTILINE.has(key) || kind === 'object' || kind === 'array' || (typeof value === 'string' && value.includes('\n'))) {
      input = el('textarea', { id, rows: key === 'code' || key === 'query' ? 8 : 3, spellcheck: 'false' });
      input.value = toText(value, kind);
    } else {
      input = el('input', { id, value: toText(value, kind, false), spellcheck: 'false', autocomplete: 'off' });
    }
    input.dataset.field = key;
    // Text as the value was shown is the value itself, not that text converted back:
    // a field entered and left without an edit had turned `to: [a, b]` into the
    // string '["a","b"]', `if: true` into 'true' and `json: "42"` into 42.
    const shownAs = input.value;
    const commit = () => this.update(key, input.value === shownAs ? value : fromText(input.value, kind));
    this.bind(input, commit);
    if (input.tagName !== 'SELECT' && !PLAIN.has(key)) {
      attachAutocomplete(input, () => suggestions(this.graph, this.node, this.types), commit);
    }
    // After the autocomplete: its open list keeps Tab / Escape (codefield.js).
    if (input.tagName === 'TEXTAREA' && (CODE.has(key) || ['object', 'array', 'any'].includes(kind))) makeCodeField(input);
    const errs = problems.filter((p) => p.field && (p.field === key || p.field.startsWith(`${key}.`)));
    const label = el('label', { class: `field${errs.length ? ' has-error' : ''}`, title: schema?.description ?? '' },
      el('span', {}, key, required ? el('b', { class: 'req', text: ' *' }) : null), input);
    if (schema?.description) label.append(el('small', { class: 'muted', text: schema.description }));
    for (const p of errs) label.append(el('span', { class: 'field-error', role: 'alert', dataset: { field: key }, text: p.message }));
    return label;
  }

  update(key, value) {
    const data = this.node.getData();
    // Committed twice (Save, then blur) is one edit: the second is no change. A key
    // left out is not `null` (which stringifies alike): `json: null` is a value.
    const was = data.config?.[key];
    if ((was === undefined) === (value === undefined) && stringifyExact(was) === stringifyExact(value)) return;
    const config = { ...(data.config ?? {}) };
    if (value === undefined) delete config[key];
    else config[key] = value;
    // One undo step for the edit and what follows from it: the ports it adds or
    // removes and their edges (one Undo had brought back the port alone, unwired,
    // with on_error still at fail; a save between the steps lost the edges).
    this.graph.startBatch('update');
    // overwrite: a removed key must disappear, not be deep-merged back.
    this.node.setData({ ...data, config }, { overwrite: true });
    let removed = [];
    if (key === 'cases' || key === 'else' || key === 'on_error') {
      const renames = portRenames(data.type, data.config ?? {}, config);
      removed = syncPorts(this.graph, this.node, this.types[data.type], renames);
    }
    if (key === 'branches' && this.types[data.type]?.container) embedListed(this.graph, this.node, value);
    this.graph.stopBatch('update');
    this.onChange?.();
    // An edge goes only with its port, and never unseen (a deleted case's wire).
    if (removed.length) this.onNotice?.(`Removed ${removed.join(', ')}: ${removed.length > 1 ? 'their ports are' : 'its port is'} gone (Undo brings ${removed.length > 1 ? 'them' : 'it'} back)`);
  }
}
