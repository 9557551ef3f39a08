// The paging catalog: people (contact methods, notification rules), on-call schedules with their
// overrides, and escalation policies, decoded from the store's documents into one immutable
// snapshot that escalation reads without touching the store. Decoding validates everything the
// admin API accepts (errors name the field and the rule); the snapshot is rebuilt after every
// change and whenever another node's change is seen (Store::CatalogVersion).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/engine/store.h>
#include <opsorch/paging/schedule.h>
#include <opsorch/tz/zone.h>

namespace opsorch::engine {

inline constexpr std::size_t kMaxContactMethods = 20;
inline constexpr std::size_t kMaxNotificationRules = 20;
inline constexpr std::size_t kMaxPolicyRules = 20;
inline constexpr std::size_t kMaxRuleTargets = 50;
inline constexpr std::int64_t kMaxNumLoops = 9;
inline constexpr std::int64_t kMaxDelayMinutes = 7 * 24 * 60;

struct ContactMethod {
  std::string id;
  std::string type;     // email | webhook | slack | sms | voice
  std::string address;  // e-mail address, URL, or phone number (E.164)
  std::string secret;   // webhook: "whsec_<base64>"; never returned by the API
  std::string label;
};

struct NotificationRule {
  std::string contact_method;
  std::int64_t start_delay_minutes = 0;
  std::string urgency = "high";  // high | low
};

struct Person {
  std::string id;
  std::string name;
  std::string email;
  std::string time_zone;
  std::vector<ContactMethod> contact_methods;
  std::vector<NotificationRule> notification_rules;

  const ContactMethod* Method(std::string_view id) const;
};

struct PolicyTarget {
  std::string type;  // user | schedule
  std::string id;
};

struct PolicyRule {
  std::int64_t delay_minutes = 0;
  std::vector<PolicyTarget> targets;
};

struct Policy {
  std::string id;
  std::string name;
  std::string description;
  std::int64_t num_loops = 0;
  std::vector<PolicyRule> rules;
};

struct ScheduleEntry {
  paging::Schedule schedule;
  tz::Zone zone;
  std::vector<paging::Override> overrides;  // in creation order (later wins)
};

struct PagingCatalog {
  std::map<std::string, Person, std::less<>> people;
  std::map<std::string, ScheduleEntry, std::less<>> schedules;
  std::map<std::string, Policy, std::less<>> policies;
  std::int64_t version = 0;

  const Person* FindPerson(std::string_view id) const;
  const Policy* FindPolicy(std::string_view id) const;
  const ScheduleEntry* FindSchedule(std::string_view id) const;
  // Who a target means at `now_s`: the person, or whoever the schedule has on call (nobody is
  // possible).
  std::vector<std::string> Resolve(const PolicyTarget& target, std::int64_t now_s) const;
};

// Decoders of the admin API's bodies. `previous` (the stored person, if any) lends a contact
// method whose body leaves out its write-only parts (`secret`; a Slack URL's `address`) what it
// had, so that a GET-edit-PUT round trip keeps them.
Result<Person> DecodePerson(std::string id, const JsonObject& body, const Person* previous);
// `check_targets`: every target must exist in `catalog` (the admin API). Loading stored
// policies does not check them: a target deleted since is an empty level when it fires (and
// says so), not a policy that silently stops paging.
Result<Policy> DecodePolicy(std::string id, const JsonObject& body, const PagingCatalog& catalog,
                            bool check_targets = true);

// What the store keeps (secrets included) and what the API shows (write-only parts left out).
JsonObject PersonDocument(const Person& p);
std::string PersonJson(const Person& p);
JsonObject PolicyDocument(const Policy& p);
std::string PolicyJson(const Policy& p);

// The catalog from the store's documents. A document that no longer decodes (a zone removed from
// tzdata) is skipped and logged, never fatal.
Result<std::shared_ptr<const PagingCatalog>> LoadCatalog(Store& store);

}  // namespace opsorch::engine
