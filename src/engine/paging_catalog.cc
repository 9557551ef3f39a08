#include <algorithm>
#include <set>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/paging_catalog.h>
#include <opsorch/log/log.h>
#include <opsorch/notify/transport.h>

namespace opsorch::engine {
namespace {

// What GET shows instead of a Slack URL; a PUT that sends it back keeps the stored URL.
constexpr std::string_view kRedacted = "(redacted)";

bool ValidDocId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
  });
}

bool PlainAddrSpec(std::string_view a) {
  const auto at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= a.size() || a.size() > 254) {
    return false;
  }
  if (a.find('@', at + 1) != std::string_view::npos) return false;
  return std::none_of(a.begin(), a.end(), [](char c) {
    return static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' ||
           c == '"' || c == '(' || c == ')' || c == '\\' || c == 0x7f;
  });
}

bool HttpUrl(std::string_view u) {
  return (u.starts_with("https://") || u.starts_with("http://")) && u.size() <= 2048 &&
         std::none_of(u.begin(), u.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
}

bool E164(std::string_view p) {
  if (p.size() < 3 || p.size() > 16 || p[0] != '+') return false;
  return std::all_of(p.begin() + 1, p.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "whsec_" + base64 of a key the webhook transport accepts.
bool WebhookSecret(std::string_view s) { return notify::DecodeWebhookSecret(s).has_value(); }

std::int64_t IntIn(const FieldReader& r, std::string_view key, std::int64_t fallback,
                   std::int64_t lo, std::int64_t hi) {
  const JsonValue* v = r.obj.if_contains(key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_int64() || v->get_int64() < lo || v->get_int64() > hi) {
    r.Error(key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    return fallback;
  }
  return v->get_int64();
}

}  // namespace

const ContactMethod* Person::Method(std::string_view id) const {
  for (const auto& m : contact_methods) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

const Person* PagingCatalog::FindPerson(std::string_view id) const {
  auto it = people.find(id);
  return it == people.end() ? nullptr : &it->second;
}
const Policy* PagingCatalog::FindPolicy(std::string_view id) const {
  auto it = policies.find(id);
  return it == policies.end() ? nullptr : &it->second;
}
const ScheduleEntry* PagingCatalog::FindSchedule(std::string_view id) const {
  auto it = schedules.find(id);
  return it == schedules.end() ? nullptr : &it->second;
}

std::vector<std::string> PagingCatalog::Resolve(const PolicyTarget& target,
                                                std::int64_t now_s) const {
  if (target.type == "user") {
    if (FindPerson(target.id) == nullptr) return {};
    return {target.id};
  }
  const ScheduleEntry* s = FindSchedule(target.id);
  if (s == nullptr) return {};
  auto who = paging::OnCallAt(s->schedule, s->zone, s->overrides, now_s);
  if (!who || FindPerson(*who) == nullptr) return {};
  return {*who};
}

Result<Person> DecodePerson(std::string id, const JsonObject& body, const Person* previous) {
  Status st = Ok();
  const FieldReader r{body, "", &st};
  // "id" (and a contact method's "hasSecret") are what GET shows: a GET-edit-PUT round trip
  // sends them back, so they are accepted (an id must be the path's).
  r.OnlyKnown({"id", "name", "email", "timeZone", "contactMethods", "notificationRules"});
  Person p;
  p.id = std::move(id);
  if (const std::string given = r.Str("id"); st && !given.empty() && given != p.id) {
    r.Error("id", "must be the id in the path (\"" + p.id + "\")");
  }
  p.name = r.Str("name", true);
  p.email = r.Str("email");
  p.time_zone = r.Str("timeZone");
  if (st && p.name.size() > 200) r.Error("name", "must be at most 200 characters");
  if (st && !p.email.empty() && !PlainAddrSpec(p.email)) {
    r.Error("email", "must be a plain e-mail address (name@domain)");
  }
  if (st && !p.time_zone.empty()) {
    if (auto z = tz::Zone::Locate(p.time_zone); !z) r.Error("timeZone", z.error().message);
  }
  if (const JsonArray* cms = r.Array("contactMethods"); st && cms != nullptr) {
    if (cms->size() > kMaxContactMethods) {
      r.Error("contactMethods", "at most " + std::to_string(kMaxContactMethods) + " entries");
    }
    std::set<std::string, std::less<>> seen;
    for (std::size_t i = 0; st && i < cms->size(); ++i) {
      const std::string where = r.Path("contactMethods", i);
      if (!(*cms)[i].is_object()) {
        st = Fail(errc::kBadRequest, where + ": must be an object");
        break;
      }
      const FieldReader c{(*cms)[i].get_object(), where, &st};
      c.OnlyKnown({"id", "type", "address", "secret", "label", "hasSecret"});
      ContactMethod m;
      m.id = c.Str("id", true);
      m.type = c.Str("type", true);
      m.address = c.Str("address");
      m.secret = c.Str("secret");
      m.label = c.Str("label");
      if (!st) break;
      if (!ValidDocId(m.id)) {
        c.Error("id", "must be 1-64 letters, digits, '.', '_', '-' or '@'");
      } else if (!seen.insert(m.id).second) {
        c.Error("id", "duplicate contact method id \"" + m.id + "\"");
      }
      const ContactMethod* before = previous != nullptr ? previous->Method(m.id) : nullptr;
      if (before != nullptr && before->type == m.type) {
        // Write-only parts the API never shows: an omitted one keeps its stored value.
        if (m.type == "webhook" && !(*cms)[i].get_object().contains("secret")) {
          m.secret = before->secret;
        }
        if ((m.address.empty() || m.address == kRedacted) && m.type == "slack") {
          m.address = before->address;
        }
      }
      if (!st) break;
      if (m.type == "email") {
        if (!PlainAddrSpec(m.address)) c.Error("address", "must be a plain e-mail address");
      } else if (m.type == "webhook" || m.type == "slack") {
        if (!HttpUrl(m.address)) c.Error("address", "must be an http or https URL");
        if (m.type == "webhook" && !m.secret.empty() && !WebhookSecret(m.secret)) {
          c.Error("secret", "must be \"whsec_\" followed by the base64 of a 24- to 64-byte key");
        }
      } else if (m.type == "sms" || m.type == "voice") {
        if (!E164(m.address)) c.Error("address", "must be an E.164 phone number (+4915…)");
      } else {
        c.Error("type", "must be email, webhook, slack, sms or voice");
      }
      if (!m.secret.empty() && m.type != "webhook") c.Error("secret", "only a webhook takes one");
      if (m.label.size() > 200) c.Error("label", "must be at most 200 characters");
      p.contact_methods.push_back(std::move(m));
    }
  }
  if (const JsonArray* rules = r.Array("notificationRules"); st && rules != nullptr) {
    if (rules->size() > kMaxNotificationRules) {
      r.Error("notificationRules", "at most " + std::to_string(kMaxNotificationRules) + " entries");
    }
    for (std::size_t i = 0; st && i < rules->size(); ++i) {
      const std::string where = r.Path("notificationRules", i);
      if (!(*rules)[i].is_object()) {
        st = Fail(errc::kBadRequest, where + ": must be an object");
        break;
      }
      const FieldReader c{(*rules)[i].get_object(), where, &st};
      c.OnlyKnown({"contactMethod", "startDelayMinutes", "urgency"});
      NotificationRule rule;
      rule.contact_method = c.Str("contactMethod", true);
      rule.start_delay_minutes = IntIn(c, "startDelayMinutes", 0, 0, kMaxDelayMinutes);
      rule.urgency = c.Str("urgency");
      if (rule.urgency.empty()) rule.urgency = "high";
      if (!st) break;
      if (p.Method(rule.contact_method) == nullptr) {
        c.Error("contactMethod", "unknown contact method \"" + rule.contact_method + "\"");
      } else if (rule.urgency != "high" && rule.urgency != "low") {
        c.Error("urgency", "must be high or low");
      }
      p.notification_rules.push_back(std::move(rule));
    }
  }
  if (!st) return Fail(std::move(st.error()));
  return p;
}

Result<Policy> DecodePolicy(std::string id, const JsonObject& body, const PagingCatalog& catalog,
                            bool check_targets) {
  Status st = Ok();
  const FieldReader r{body, "", &st};
  r.OnlyKnown({"id", "name", "description", "numLoops", "rules"});  // "id": as GET shows it
  Policy p;
  p.id = std::move(id);
  if (const std::string given = r.Str("id"); st && !given.empty() && given != p.id) {
    r.Error("id", "must be the id in the path (\"" + p.id + "\")");
  }
  p.name = r.Str("name", true);
  p.description = r.Str("description");
  p.num_loops = IntIn(r, "numLoops", 0, 0, kMaxNumLoops);
  if (st && p.name.size() > 200) r.Error("name", "must be at most 200 characters");
  const JsonArray* rules = st ? r.Array("rules") : nullptr;
  if (st && (rules == nullptr || rules->empty())) r.Error("rules", "at least one rule is required");
  if (st && rules->size() > kMaxPolicyRules) {
    r.Error("rules", "at most " + std::to_string(kMaxPolicyRules) + " rules");
  }
  for (std::size_t i = 0; st && i < rules->size(); ++i) {
    const std::string where = r.Path("rules", i);
    if (!(*rules)[i].is_object()) {
      st = Fail(errc::kBadRequest, where + ": must be an object");
      break;
    }
    const FieldReader c{(*rules)[i].get_object(), where, &st};
    c.OnlyKnown({"delayMinutes", "targets"});
    PolicyRule rule;
    // PagerDuty: "the number of minutes before an unacknowledged incident escalates away from
    // this rule", at least 1.
    rule.delay_minutes = IntIn(c, "delayMinutes", 30, 1, kMaxDelayMinutes);
    const JsonArray* targets = st ? c.Array("targets") : nullptr;
    if (st && (targets == nullptr || targets->empty())) c.Error("targets", "at least one target");
    if (st && targets->size() > kMaxRuleTargets) {
      c.Error("targets", "at most " + std::to_string(kMaxRuleTargets) + " targets");
    }
    for (std::size_t k = 0; st && k < targets->size(); ++k) {
      const std::string twhere = c.Path("targets", k);
      if (!(*targets)[k].is_object()) {
        st = Fail(errc::kBadRequest, twhere + ": must be an object");
        break;
      }
      const FieldReader t{(*targets)[k].get_object(), twhere, &st};
      t.OnlyKnown({"type", "id"});
      PolicyTarget target{t.Str("type", true), t.Str("id", true)};
      if (!st) break;
      if (target.type == "user") {
        if (check_targets && catalog.FindPerson(target.id) == nullptr) {
          t.Error("id", "unknown user \"" + target.id + "\"");
        }
      } else if (target.type == "schedule") {
        if (check_targets && catalog.FindSchedule(target.id) == nullptr) {
          t.Error("id", "unknown schedule \"" + target.id + "\"");
        }
      } else {
        t.Error("type", "must be user or schedule");
      }
      rule.targets.push_back(std::move(target));
    }
    p.rules.push_back(std::move(rule));
  }
  if (!st) return Fail(std::move(st.error()));
  return p;
}

JsonObject PersonDocument(const Person& p) {
  JsonArray cms;
  for (const auto& m : p.contact_methods) {
    cms.push_back(JsonObject{{"id", m.id},
                             {"type", m.type},
                             {"address", m.address},
                             {"secret", m.secret},
                             {"label", m.label}});
  }
  JsonArray rules;
  for (const auto& r : p.notification_rules) {
    rules.push_back(JsonObject{{"contactMethod", r.contact_method},
                               {"startDelayMinutes", r.start_delay_minutes},
                               {"urgency", r.urgency}});
  }
  return JsonObject{{"name", p.name},
                    {"email", p.email},
                    {"timeZone", p.time_zone},
                    {"contactMethods", std::move(cms)},
                    {"notificationRules", std::move(rules)}};
}

std::string PersonJson(const Person& p) {
  JsonObject doc = PersonDocument(p);
  for (auto& v : doc["contactMethods"].get_array()) {
    JsonObject& m = v.get_object();
    // Write-only: a webhook's signing secret, and a Slack webhook URL (the URL is the credential).
    const bool had_secret = !m["secret"].get_string().empty();
    m.erase("secret");
    if (had_secret) m["hasSecret"] = true;
    if (m["type"].get_string() == "slack") m["address"] = kRedacted;
  }
  doc["id"] = p.id;
  std::string out;
  AppendJsonObject(out, doc);
  return out;
}

JsonObject PolicyDocument(const Policy& p) {
  JsonArray rules;
  for (const auto& r : p.rules) {
    JsonArray targets;
    for (const auto& t : r.targets) targets.push_back(JsonObject{{"type", t.type}, {"id", t.id}});
    rules.push_back(JsonObject{{"delayMinutes", r.delay_minutes}, {"targets", std::move(targets)}});
  }
  return JsonObject{{"name", p.name},
                    {"description", p.description},
                    {"numLoops", p.num_loops},
                    {"rules", std::move(rules)}};
}

std::string PolicyJson(const Policy& p) {
  JsonObject doc = PolicyDocument(p);
  doc["id"] = p.id;
  std::string out;
  AppendJsonObject(out, doc);
  return out;
}

Result<std::shared_ptr<const PagingCatalog>> LoadCatalog(Store& store) {
  auto catalog = std::make_shared<PagingCatalog>();
  auto version = store.CatalogVersion();
  if (!version) return Fail(std::move(version.error()));
  catalog->version = *version;
  auto users = store.Docs("user");
  if (!users) return Fail(std::move(users.error()));
  for (const auto& d : *users) {
    auto p = DecodePerson(d.id, d.body, nullptr);
    if (!p) {
      log::Warn("paging: skipping user " + d.id + ": " + p.error().message);
      continue;
    }
    catalog->people.emplace(d.id, std::move(*p));
  }
  const auto exists = [&](std::string_view id) { return catalog->FindPerson(id) != nullptr; };
  auto schedules = store.Docs("schedule");
  if (!schedules) return Fail(std::move(schedules.error()));
  for (const auto& d : *schedules) {
    // Users deleted since are not fatal here: the API refuses such deletions, and a schedule
    // naming a missing person simply has nobody on call in that person's turns.
    auto s = paging::DecodeSchedule(JsonValue(d.body), [](std::string_view) { return true; });
    if (!s) {
      log::Warn("paging: skipping schedule " + d.id + ": " + s.error().message);
      continue;
    }
    auto zone = tz::Zone::Locate(s->time_zone);
    if (!zone) {
      log::Warn("paging: skipping schedule " + d.id + ": " + zone.error().message);
      continue;
    }
    s->id = d.id;
    catalog->schedules.emplace(d.id, ScheduleEntry{std::move(*s), *zone, {}});
  }
  auto overrides = store.Docs("override");
  if (!overrides) return Fail(std::move(overrides.error()));
  std::vector<std::pair<std::int64_t, const CatalogDoc*>> ordered;
  for (const auto& d : *overrides) ordered.emplace_back(d.updated_at, &d);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [at, d] : ordered) {
    auto it = catalog->schedules.find(d->parent);
    if (it == catalog->schedules.end()) continue;
    auto o = paging::DecodeOverride(JsonValue(d->body), exists, d->id);
    if (!o) {
      log::Warn("paging: skipping override " + d->id + ": " + o.error().message);
      continue;
    }
    it->second.overrides.push_back(std::move(*o));
  }
  auto policies = store.Docs("policy");
  if (!policies) return Fail(std::move(policies.error()));
  for (const auto& d : *policies) {
    auto p = DecodePolicy(d.id, d.body, *catalog, /*check_targets=*/false);
    if (!p) {
      log::Warn("paging: skipping policy " + d.id + ": " + p.error().message);
      continue;
    }
    catalog->policies.emplace(d.id, std::move(*p));
  }
  return std::shared_ptr<const PagingCatalog>(std::move(catalog));
}

}  // namespace opsorch::engine
