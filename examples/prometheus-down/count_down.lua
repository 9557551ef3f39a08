-- /api/v1/targets → one metric for the targets that are down, one per job for the detail.
if ctx.status() ~= 200 then error('targets API: HTTP ' .. ctx.status(), 0) end
local answer = ctx.json.decode(ctx.body())
if answer.status ~= 'success' then error('targets API: ' .. tostring(answer.error), 0) end
local down, total, per_job = 0, 0, {}
for _, t in ipairs(answer.data.activeTargets) do
  total = total + 1
  local job = t.labels.job or t.scrapePool
  per_job[job] = per_job[job] or 0
  -- "unknown" (not scraped yet) is not counted as down.
  if t.health == 'down' then
    down = down + 1
    per_job[job] = per_job[job] + 1
  end
end
ctx.metric('prometheus.reachable', 1)
ctx.metric('prometheus.targets.total', total)
ctx.metric('prometheus.targets.down', down)
local jobs = {}
for job in pairs(per_job) do jobs[#jobs + 1] = job end
table.sort(jobs)
for _, job in ipairs(jobs) do
  ctx.metric('prometheus.targets.down_by_job', per_job[job], { job = job })
end
