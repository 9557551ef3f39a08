-- One project: {"id", "name", "budget", "spent"} -> project.within_budget 1 or 0.
local p = ctx.json.decode(ctx.body())
local within = p.spent <= p.budget
ctx.metric('project.within_budget', within and 1 or 0,
           { project = p.name, currency = ctx.data('currency') })
if not within then
  ctx.warn(string.format('%s is over budget: %.2f of %.2f', p.name, p.spent, p.budget))
end
