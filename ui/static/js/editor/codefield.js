// Code in a plain textarea (no editor library): monospace and unwrapped (app.css:
// textarea.code), Tab indents instead of leaving the field, Escape leaves it.

const INDENT = '    ';

export function makeCodeField(textarea) {
  textarea.classList.add('code');
  textarea.setAttribute('wrap', 'off'); // long lines scroll sideways: indentation stays readable
  textarea.addEventListener('keydown', (e) => {
    // The reference autocomplete takes Tab / Escape first while its list is open.
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === 'Tab' && !e.shiftKey) { // Shift+Tab still moves on: the way out by keyboard
      e.preventDefault();
      // insertText keeps the browser's own undo (Ctrl+Z) and fires `input` (unsaved).
      if (!document.execCommand('insertText', false, INDENT)) {
        textarea.setRangeText(INDENT, textarea.selectionStart, textarea.selectionEnd, 'end');
        textarea.dispatchEvent(new Event('input', { bubbles: true }));
      }
    } else if (e.key === 'Escape') {
      e.preventDefault();
      textarea.blur(); // commits, as any blur does
    }
  });
  return textarea;
}
