-- Shared by the load scripts (bench/load.py puts it in front of each): every thread knows its
-- number (tid) and counts the answers outside 2xx, which wrk itself would not (it counts >= 400).
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end
function done(summary, latency, requests)
  local n = 0
  for _, thread in ipairs(threads) do
    n = n + thread:get("non2xx")
  end
  io.write(string.format("Answers outside 2xx: %d\n", n))
end
