-- A batch of run events (BENCH_LOAD_BATCH per request), every event id new, spread over the load
-- automations.
local automations = tonumber(os.getenv("BENCH_LOAD_AUTOMATIONS"))
local size = tonumber(os.getenv("BENCH_LOAD_BATCH"))
local run = os.getenv("BENCH_LOAD_RUN")
local counter = 0
request = function()
  counter = counter + 1
  local items = {}
  for i = 1, size do
    items[i] = string.format(
      '{"automation": "bench-load-%03d", "event_id": "load-%s-%d-%d-%d", "started_at": "2026-11-25T09:00:00Z", ' ..
      '"finished_at": "2026-11-25T09:00:02Z", "outcome": "success", "records_affected": 1}',
      (counter + i) % automations, run, tid, counter, i)
  end
  wrk.headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/api/v1/runs/", nil, "[" .. table.concat(items, ",") .. "]")
end
