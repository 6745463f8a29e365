-- A person decides a different seeded open request each time (row lock, decision, history, the
-- webhook outbox row the Celery worker then delivers).
local first = tonumber(os.getenv("BENCH_LOAD_FIRST_ID"))
local nthreads = tonumber(os.getenv("BENCH_LOAD_THREADS"))
local counter = 0
request = function()
  local id = first + tid + counter * nthreads
  counter = counter + 1
  wrk.headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/api/v1/decisions/" .. id .. "/decide/", nil, '{"option": "accept_owner"}')
end
