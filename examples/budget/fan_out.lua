-- Calls data.target once per project of the listing, synchronously, and counts failures.
local projects = ctx.json.decode(ctx.body())
local failed = 0
for _, p in ipairs(projects) do
  local r = ctx.send_to_step(ctx.data('target'), tostring(p.id), { project = tostring(p.id) })
  if r.error then
    failed = failed + 1
    ctx.error('project ' .. p.id .. ': ' .. r.error)
  end
end
ctx.metric('budget.projects_checked', #projects - failed)
ctx.info('checked ' .. #projects .. ' projects')
