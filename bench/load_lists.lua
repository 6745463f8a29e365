-- The list pages people and dashboards read, in turn: decisions, run events, findings, automations.
local paths = {
  "/api/v1/decisions/?page_size=50",
  "/api/v1/runs/?page_size=50",
  "/api/v1/findings/?page_size=50",
  "/api/v1/automations/?page_size=50",
}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
