"""The load of bench/webhook_throughput.py: the wrk script, and the same event mix in Python.

Order lifecycles (by order number mod 10): 7 of 10 go created → paid → shipped →
delivered, 2 are cancelled after creation, 1 is cancelled after payment. wrk runs one
thread per connection, so each connection has its own Lua state and its own orders;
a connection sends its next request only after the previous response, so every
order's events reach the server one after the other, in lifecycle order, like a shop
that sends an order's next event once the previous one was acknowledged. Each
connection interleaves ``SLOTS`` orders round-robin (an order's events are spread out).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

FLOWS = (
    ("order_created", "payment_received", "order_shipped", "order_delivered"),
    ("order_created", "order_cancelled"),
    ("order_created", "payment_received", "order_cancelled"),
)


def flow_of(n: int) -> tuple[str, ...]:
    k = n % 10
    return FLOWS[0] if k < 7 else FLOWS[1] if k < 9 else FLOWS[2]


def event_body(event_type: str, order_id: str, n: int) -> dict[str, Any]:
    """The same bodies the Lua script sends (used by the asyncpg ceiling)."""
    body: dict[str, Any] = {
        "event_type": event_type,
        "order_id": order_id,
        "user_id": f"u{n % 997}",
    }
    if event_type == "order_created":
        body |= {
            "email": f"buyer{n}@example.test",
            "first_name": "Ada",
            "last_name": f"Buyer{n % 100}",
            "currency": "EUR",
            "total_cents": 4200,  # what its payment captures (bench/_wh_servers.py)
            "items": [{"sku": f"SKU-{n % 50}", "qty": 1 + n % 3, "price_cents": 1400}],
        }
    elif event_type == "payment_received":
        charge = "ch_" + order_id.replace("-", "_")  # a processor id: letters, digits, _
        body |= {"charge_id": charge, "amount_cents": 4200, "payment_method": "card"}
    elif event_type == "order_shipped":
        body |= {"carrier": "DHL", "tracking_number": f"TRK{n}"}
    elif event_type == "order_cancelled":
        body |= {"reason": "customer request"}
    return body


SLOTS = 8

LUA = r"""
local prefix, path, nslots = "run", "/webhooks/orders/events", 8
local slots, cursor, orders, sent = {}, 0, 0, 0
local flows = {
  {"order_created", "payment_received", "order_shipped", "order_delivered"},
  {"order_created", "order_cancelled"},
  {"order_created", "payment_received", "order_cancelled"},
}
function setup(thread)
  nthreads = (nthreads or 0) + 1
  thread:set("tid", nthreads)
end

function init(args)
  tid = tid or 1
  prefix, path, nslots = args[1], args[2], tonumber(args[3])
  for i = 1, nslots do slots[i] = {order = nil, n = 0, flow = 1, stage = 99} end
end

local function body_for(etype, order, n)
  local head = string.format('{"event_type":"%s","order_id":"%s","user_id":"u%d"', etype, order, n % 997)
  if etype == "order_created" then
    return head .. string.format(',"email":"buyer%d@example.test","first_name":"Ada","last_name":"Buyer%d",'
      .. '"currency":"EUR","total_cents":4200,"items":[{"sku":"SKU-%d","qty":%d,"price_cents":1400}]}',
      n, n % 100, n % 50, 1 + n % 3)
  elseif etype == "payment_received" then
    return head .. string.format(',"charge_id":"ch_%s","amount_cents":4200,"payment_method":"card"}',
      (string.gsub(order, "-", "_")))
  elseif etype == "order_shipped" then
    return head .. string.format(',"carrier":"DHL","tracking_number":"TRK%d"}', n)
  elseif etype == "order_cancelled" then
    return head .. ',"reason":"customer request"}'
  end
  return head .. "}"
end

request = function()
  if tid == 1 and not verified then
    -- wrk calls request() once in thread 1 to inspect it and never sends that one.
    verified = true
    return wrk.format("GET", "/")
  end
  if resend then
    -- The server refused the last one 503 before storing it (a sync delivery with no
    -- thread free to wait in): send it again, as a sender does after Retry-After.
    resend = false
    return last
  end
  cursor = cursor % nslots + 1
  local s = slots[cursor]
  if s.order == nil or s.stage > #flows[s.flow] then
    orders = orders + 1
    local k = orders % 10
    s.n, s.stage = orders, 1
    s.flow = (k < 7) and 1 or ((k < 9) and 2 or 3)
    s.order = string.format("%s-%d-%d", prefix, tid, orders)
  end
  local etype = flows[s.flow][s.stage]
  s.stage = s.stage + 1
  sent = sent + 1
  last = wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("%s-%d-%d", prefix, tid, sent),
  }, body_for(etype, s.order, s.n))
  return last
end

response = function(status, headers, body)
  if status == 503 then resend = true end
end

delay = function()
  if resend then return 1000 end  -- the server's Retry-After
  return 0
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,'
    .. '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def write_script(folder: Path) -> Path:
    path = folder / "orders.lua"
    path.write_text(LUA, encoding="utf-8")
    return path


def run_wrk(
    script: Path, url: str, path: str, prefix: str, connections: int, duration: float
) -> dict[str, Any]:
    """One wrk run, one thread per connection (see above); bounded in time."""
    cmd = [
        "wrk",
        f"-t{connections}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
    ]
    cmd += ["-s", str(script), url, "--", prefix, path, str(SLOTS)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    match = re.search(r"^WRKJSON (\{.*\})$", out.stdout, re.M)
    if match is None:
        raise RuntimeError(
            f"wrk failed ({out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}"
        )
    res: dict[str, Any] = json.loads(match.group(1))
    # wrk counts non-2xx/3xx answers as status errors; everything else answered 2xx.
    res["accepted"] = res["requests"] - res["status"]
    res["seconds"] = res["duration_us"] / 1e6
    return res
