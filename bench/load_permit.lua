-- The permit check a CRM asks before each run, on a random one of the load automations.
math.randomseed(os.time())
local automations = tonumber(os.getenv("BENCH_LOAD_AUTOMATIONS"))
request = function()
  return wrk.format("GET", string.format("/api/v1/automations/bench-load-%03d/permit/", math.random(0, automations - 1)))
end
