-- Decide a different seeded open request on every call: thread i takes ids first + i, + n, + 2n...
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  -- wrk runs twice (a warm-up, then the measure): each run starts 5,000 ids further per second
  -- elapsed, so the measured run never meets a request the warm-up already decided.
  first = tonumber(os.getenv("BENCH_FIRST_ID")) + (os.time() - tonumber(os.getenv("BENCH_T0"))) * 5000
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  counter = 0
end
request = function()
  local id = first + tid + counter * nthreads
  counter = counter + 1
  wrk.headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/api/v1/decisions/" .. id .. "/decide/", nil, '{"option": "accept_owner"}')
end
