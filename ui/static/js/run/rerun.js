// The run page's re-run: POST /api/runs/<id>/rerun, then the new run's page.
// A delivery whose stored workflow version would name the re-run is refused (409)
// with `retry`, the body that re-runs it with the workflow as it is now
// (docs/api.md). That way runs whatever the file reads now, so the page does not
// take it by itself: it shows the refusal's reason, which is the warning, beside a
// button of its own.
import { api, failure } from '../api.js';

const $ = (id) => document.getElementById(id);

const post = (eid, body) => api('POST', `/api/runs/${encodeURIComponent(eid)}/rerun`, body);

// `bodyFor()`: the re-run button's body for the run as the page shows it now.
export function wireRerun(eid, bodyFor) {
  const refused = $('rerun-refused');
  const current = $('rerun-current');
  let retry = null;
  $('rerun').addEventListener('click', async () => {
    $('rerun').disabled = true;
    refused.hidden = true;
    const resp = await post(eid, bodyFor());
    if (resp.ok) {
      window.location.assign(resp.data.run_url);
    } else if (resp.status === 409 && resp.data?.retry) {
      retry = resp.data.retry;
      $('run-live').textContent = '';
      $('rerun-refused-reason').textContent = `Not re-run: ${failure(resp)}`;
      current.disabled = false;
      refused.hidden = false;
    } else {
      // Not started (a session ended, the database away…): it can be asked again, as
      // the message says; only a delivery's 409 has a button of its own instead.
      $('run-live').textContent = `re-run failed: ${failure(resp)}`;
      $('rerun').disabled = false;
    }
  });
  current.addEventListener('click', async () => {
    current.disabled = true;
    const resp = await post(eid, retry);
    if (resp.ok) {
      window.location.assign(resp.data.run_url);
      return;
    }
    // 404: no workflow has the run's name now; 422: it is invalid. Fixed, try again.
    $('rerun-refused-reason').textContent = `Not re-run with the workflow as it is now: ${failure(resp)}`;
    current.disabled = false;
  });
}
