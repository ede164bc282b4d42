-- Analytics over the event store, for dashboards and the UI's charts.
-- Read-only, each query independent, no parameters (edit the time windows).

-- name: most_common_event_types
-- The event types seen in the last 7 days, most frequent first.
SELECT event_type, count(*) AS events
  FROM events
 WHERE created_at >= now() - interval '7 days'
 GROUP BY event_type
 ORDER BY events DESC, event_type;

-- name: events_per_hour
-- Appends per hour over the last 48 hours (hours without events are shown as 0).
SELECT h.hour, count(e.sequence_number) AS events
  FROM generate_series(date_trunc('hour', now()) - interval '47 hours', date_trunc('hour', now()), interval '1 hour') AS h(hour)
  LEFT JOIN events e ON e.created_at >= h.hour AND e.created_at < h.hour + interval '1 hour'
 GROUP BY h.hour
 ORDER BY h.hour;

-- name: processing_latency
-- From webhook receipt (metadata.timestamp, the trigger's received_at) to the
-- event's created_at, per event type over the last 24 hours. created_at is
-- taken at INSERT (clock_timestamp(), under the order's lock), not at COMMIT:
-- the Agent variant commits after its model call, seconds later.
SELECT event_type,
       count(*) AS events,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms))::numeric, 1) AS p50_ms,
       round((percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::numeric, 1) AS p95_ms,
       round(max(latency_ms)::numeric, 1) AS max_ms
  FROM (SELECT event_type,
               extract(epoch FROM created_at - (metadata->>'timestamp')::timestamptz) * 1000 AS latency_ms
          FROM events
         WHERE created_at >= now() - interval '24 hours'
           AND metadata ? 'timestamp') AS t
 GROUP BY event_type
 ORDER BY event_type;

-- name: failed_correlations
-- External effects (payment captures ...) that failed, newest first, with the
-- order they belong to. To retry a capture, fix the cause and resend the
-- event's delivery (or POST the event again with its event_id in the body):
-- the repeat captures it, with the same Idempotency-Key capture-<event_id>, and
-- this row becomes its new outcome. 'unconfirmed' rows (a 2xx whose answer did
-- not say this charge was captured for the payment's amount: see response->>'error')
-- are listed too: check those charges with the processor first, money may have been
-- taken. A 'failed' row is a refusal by the processor (no money taken) only with
-- http_status 400/401/402/403/404 and no "already captured" in response->>'error'
-- (lib/order_capture.py, capture_declined); any other (no http_status, a 5xx, 408,
-- 409, 429) has no known outcome: the charge may be captured, check it too.
-- 'refused' rows (a payment for a cancelled order, never captured) are not
-- listed: release or refund those charges.
SELECT c.created_at, e.aggregate_id AS order_id, c.correlation_type, c.external_id,
       c.http_status, c.response, c.event_id
  FROM event_correlations c
  JOIN events e ON e.event_id = c.event_id
 WHERE c.status NOT IN ('succeeded', 'refused')
 ORDER BY c.created_at DESC
 LIMIT 100;

-- name: consistency_failures
-- Replay checks that found a snapshot disagreeing with its events, and why
-- (reasons: null for a check recorded by a workflow copy of an earlier release).
SELECT checked_at, order_id, replayed_version, snapshot_version, repaired, execution_id, reasons
  FROM consistency_checks
 WHERE NOT consistent
 ORDER BY checked_at DESC
 LIMIT 100;

-- name: payments_without_capture
-- payment_received events older than 5 minutes with no capture (or refusal)
-- recorded at all. Normally empty. A row means the run that stored the event
-- stopped before recording its capture (it failed, or crashed; see
-- docs/event-sourcing.md, "Crash windows"): resend the event's delivery (or the
-- event with its event_id) and the repeat captures it, once. A payment refused
-- by a release that recorded no row for refusals is listed too; a repeat of it
-- records the refusal and captures nothing.
SELECT e.created_at, e.aggregate_id AS order_id, e.event_id, e.data->>'charge_id' AS charge_id
  FROM events e
 WHERE e.event_type = 'payment_received'
   AND e.created_at < now() - interval '5 minutes'
   AND NOT EXISTS (SELECT 1 FROM event_correlations c
                    WHERE c.event_id = e.event_id AND c.correlation_type = 'payment_capture')
 ORDER BY e.created_at DESC
 LIMIT 100;
