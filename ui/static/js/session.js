// A page outlives its session: logging in again in another tab renews it (a new
// CSRF token, so this page's copy in <meta> is stale: 403), and logging out ends it
// (401). A state-changing request refused so was never looked at: api.js sends it
// once more with the current token — logging in again in place first if the
// session ended — so an unsaved edit or a Stop is not lost to a reload.
// docs/ui-security.md, "Sessions".

const meta = () => document.querySelector('meta[name="csrf-token"]');

export const csrf = () => meta()?.content ?? '';

function setCsrf(token) {
  meta()?.setAttribute('content', token);
  // The page's forms (Log out) carry it too.
  for (const input of document.querySelectorAll('input[name="csrf_token"]')) input.value = token;
}

const asJSON = { Accept: 'application/json' };

// The session's current CSRF token (kept for the next requests); null: no session.
export async function freshCsrf() {
  const resp = await fetch('/api/session', { headers: asJSON, credentials: 'same-origin' });
  const token = resp.ok ? (await resp.json().catch(() => null))?.csrf_token : null;
  if (token) setCsrf(token);
  return token || null;
}

// Logs in with `token` as the login page does; true, or why not.
async function logIn(token) {
  const form = await fetch('/login', { headers: asJSON, credentials: 'same-origin' });
  const formToken = (await form.json().catch(() => null))?.csrf_token ?? '';
  // Logged in, the server sends the browser on to `next`: /api/session answers with
  // the new session's CSRF token.
  const body = new URLSearchParams({ token, csrf_token: formToken, next: '/api/session' });
  const resp = await fetch('/login', { method: 'POST', body, headers: asJSON, credentials: 'same-origin' });
  if (resp.status === 401) return 'That token is not valid.';
  const fresh = resp.ok ? (await resp.json().catch(() => null))?.csrf_token : null;
  if (!fresh) return `Not logged in (HTTP ${resp.status}): try again.`;
  setCsrf(fresh);
  return true;
}

let asking = null; // one dialog, whichever requests wait on it

// The session ended: ask for the token in place (base.html's #relogin dialog) and
// log in. True once logged in; false when the user cancels.
export function logInAgain() {
  asking ??= askToLogIn().finally(() => { asking = null; });
  return asking;
}

function askToLogIn() {
  const dialog = document.getElementById('relogin');
  if (!dialog) return Promise.resolve(false);
  const form = dialog.querySelector('form');
  const input = dialog.querySelector('#relogin-token');
  const error = dialog.querySelector('#relogin-error');
  const cancel = dialog.querySelector('#relogin-cancel');
  return new Promise((resolve) => {
    const done = (ok) => {
      form.removeEventListener('submit', submit);
      cancel.removeEventListener('click', quit);
      dialog.removeEventListener('cancel', quit);
      input.value = '';
      error.hidden = true;
      dialog.close();
      resolve(ok);
    };
    const submit = async (e) => {
      e.preventDefault();
      error.hidden = true;
      const result = await logIn(input.value).catch((err) => `Not logged in: ${err.message ?? err}`);
      if (result === true) { done(true); return; }
      error.textContent = result;
      error.hidden = false;
      input.select();
    };
    const quit = (e) => { e.preventDefault(); done(false); };
    form.addEventListener('submit', submit);
    cancel.addEventListener('click', quit);
    dialog.addEventListener('cancel', quit); // Escape
    dialog.showModal();
    input.focus();
  });
}
