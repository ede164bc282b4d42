// Run from the editor and watch blocks light up: an EventSource on the run's
// event stream colours each block as its events arrive.
import { blockIdOf } from '../api.js';
import { findByBid, setStatus } from './graph.js';

const BLOCK_STATUS = {
  block_started: 'running', block_retrying: 'retrying', block_succeeded: 'succeeded',
  block_failed: 'failed', block_skipped: 'skipped',
};
// The run's status as the run viewer and the API say it: `run_started` is `running`.
const RUN_STATUS = {
  run_queued: 'queued', run_started: 'running', run_succeeded: 'succeeded',
  run_failed: 'failed', run_cancelled: 'cancelled',
};
const FINAL = new Set(['run_succeeded', 'run_failed', 'run_cancelled']);

export function clearStatus(graph) {
  for (const n of graph.getNodes()) setStatus(n, null);
}

export function watchRun(graph, streamUrl, { onRunStatus, onDone } = {}) {
  clearStatus(graph);
  const source = new EventSource(streamUrl, { withCredentials: true });
  source.addEventListener('run_event', (msg) => {
    const ev = JSON.parse(msg.data);
    const status = BLOCK_STATUS[ev.type];
    if (status && ev.block) {
      const node = findByBid(graph, blockIdOf(ev.block));
      // Iterations of a loop body re-run the same block: keep the latest state.
      setStatus(node, status);
      // A skipped container's events stop at the container: nothing in its body ran,
      // and the body's blocks get no event of their own.
      if (status === 'skipped' && node) for (const inner of node.getDescendants()) if (inner.isNode()) setStatus(inner, 'skipped');
    } else if (RUN_STATUS[ev.type]) {
      onRunStatus?.(RUN_STATUS[ev.type], ev);
      if (FINAL.has(ev.type)) {
        source.close();
        onDone?.(RUN_STATUS[ev.type]);
      }
    }
  });
  source.addEventListener('end', () => source.close());
  return source;
}
