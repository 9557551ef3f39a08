#include "providers/mock/ticket_provider.h"

#include <algorithm>
#include <mutex>

#include <opsorch/common/strings.h>

#include "providers/mock/util.h"

namespace opsorch::providers::mock {
namespace {
constexpr int kIdWidth = 3;

bool Matches(const s::Ticket& t, const s::TicketQuery& q, const ServiceDirectory& dir) {
  if (!q.query.empty() && !ContainsIgnoreCase(t.id, q.query) &&
      !ContainsIgnoreCase(t.title, q.query) && !ContainsIgnoreCase(t.description, q.query)) {
    return false;
  }
  if (!EmptyOrContainsIgnoreCase(q.statuses, t.status)) return false;
  if (!q.assignees.empty() &&
      std::none_of(t.assignees.begin(), t.assignees.end(), [&](const std::string& a) {
        return EmptyOrContainsIgnoreCase(q.assignees, a);
      })) {
    return false;
  }
  if (!q.reporter.empty() && !EqualsIgnoreCase(t.reporter, q.reporter)) return false;
  // Tickets name their service in fields.service; a ticket without one still has a team when
  // fields.team is set.
  return dir.ScopeMatches(q.scope, StringField(t.fields, "service"), {},
                          StringField(t.fields, "team"));
}
}  // namespace

Result<std::shared_ptr<MockTicketProvider>> MockTicketProvider::FromConfig(
    const JsonObject& config) {
  const ConfigReader reader(config, "mock ticket provider");
  auto now = ReadCommonConfig(reader, {kNowKey});
  if (!now) return Fail(std::move(now.error()));
  return std::make_shared<MockTicketProvider>(Options{*now});
}

MockTicketProvider::MockTicketProvider(const Options& options, const MockWorld& world)
    : clock_(options.now), directory_(world) {
  for (const auto& t : world.tickets) {
    tickets_.emplace(t.id, t);
    if (auto n = ParseIdNumber(t.id, "TCK-"); n && *n >= next_number_) next_number_ = *n + 1;
  }
}

Result<NullableList<s::Ticket>> MockTicketProvider::Query(const s::TicketQuery& q) {
  std::vector<s::Ticket> out;
  {
    std::shared_lock lock(mu_);
    for (const auto& [id, t] : tickets_) {
      if (Matches(t, q, directory_)) out.push_back(t);
    }
  }
  ApplyLimit(out, q.limit);
  return out;
}

Result<s::Ticket> MockTicketProvider::Get(const std::string& id) {
  std::shared_lock lock(mu_);
  auto it = tickets_.find(id);
  if (it == tickets_.end()) return Fail(NotFound("ticket", id));
  return it->second;
}

Result<s::Ticket> MockTicketProvider::Create(const s::CreateTicketInput& in) {
  const std::string title(TrimSpace(in.title));
  if (title.empty()) return Fail(BadRequest("title is required"));
  const Time now = clock_.Now();

  std::unique_lock lock(mu_);
  s::Ticket t;
  t.id = FormatId("TCK-", next_number_++, kIdWidth);
  t.key = t.id;
  t.title = title;
  t.description = in.description;
  t.status = "todo";
  t.url = "https://tickets." + std::string(kDemoDomain) + "/browse/" + t.id;
  t.created_at = now;
  t.updated_at = now;
  t.fields = in.fields;
  t.metadata = in.metadata;
  tickets_.emplace(t.id, t);
  return t;
}

Result<s::Ticket> MockTicketProvider::Update(const std::string& id,
                                             const s::UpdateTicketInput& in) {
  if (in.title && TrimSpace(*in.title).empty()) return Fail(BadRequest("title must not be empty"));
  if (in.status && TrimSpace(*in.status).empty()) {
    return Fail(BadRequest("status must not be empty"));
  }
  const Time now = clock_.Now();

  std::unique_lock lock(mu_);
  auto it = tickets_.find(id);
  if (it == tickets_.end()) return Fail(NotFound("ticket", id));
  s::Ticket& t = it->second;
  if (in.title) t.title = std::string(TrimSpace(*in.title));
  if (in.description) t.description = *in.description;
  if (in.status) t.status = *in.status;
  if (in.assignees) t.assignees = *in.assignees;
  MergeInto(t.fields, in.fields);
  MergeInto(t.metadata, in.metadata);
  t.updated_at = now;
  return t;
}

}  // namespace opsorch::providers::mock
