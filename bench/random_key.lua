-- Each request reads a random one of the 10,000 seeded automations: mostly cache misses.
math.randomseed(os.time())
request = function()
  local path = string.format("/api/v1/automations/bench-%05d/", math.random(0, 9999))
  return wrk.format("GET", path)
end
