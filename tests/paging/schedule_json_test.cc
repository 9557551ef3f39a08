// Schedule and override JSON: each invalid input → the exact field path and rule.
#include <map>

#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/time.h>
#include <opsorch/paging/schedule.h>

namespace opsorch::paging {
namespace {

std::int64_t T(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? t->seconds : 0;
}

bool Known(std::string_view user) { return user == "alice" || user == "bob" || user == "carol"; }

JsonValue J(const std::string& text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v) << text;
  return v ? *v : JsonValue();
}

// A layer object from the valid base with some raw JSON values replaced, added or (value "")
// removed.
std::string LayerJson(const std::map<std::string, std::string>& changes = {}) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", R"("l1")"},
      {"name", R"("Weekdays")"},
      {"start", R"("2026-01-05T09:00:00+01:00")"},
      {"end", "null"},
      {"rotationVirtualStart", R"("2026-01-05T09:00:00+01:00")"},
      {"rotationTurnLengthSeconds", "604800"},
      {"users", R"(["alice","bob"])"},
      {"restrictions", R"([{"type":"daily","startTimeOfDay":"09:00:00","durationSeconds":32400}])"},
  };
  for (const auto& [k, v] : changes) {
    bool found = false;
    for (auto& f : fields) {
      if (f.first == k) {
        f.second = v;
        found = true;
      }
    }
    if (!found) fields.emplace_back(k, v);
  }
  std::string out = "{";
  for (const auto& [k, v] : fields) {
    if (v.empty()) continue;
    if (out.size() > 1) out += ",";
    out += "\"" + k + "\":" + v;
  }
  return out + "}";
}

std::string Doc(const std::string& layers,
                const std::string& head = R"("name":"Primary","timeZone":"Europe/Berlin")") {
  return "{" + head + ",\"layers\":[" + layers + "]}";
}

std::string Restr(const std::string& items) { return "[" + items + "]"; }

TEST(ScheduleJson, DecodesTheDocumentedShape) {
  const std::string body = R"({"name":"Primary","timeZone":"Europe/Berlin","description":"Core",
    "layers":[{"id":"l1","name":"Weekdays","start":"2026-01-05T09:00:00+01:00","end":null,
      "rotationVirtualStart":"2026-01-05T09:00:00+01:00","rotationTurnLengthSeconds":604800,
      "users":["alice","bob"],
      "restrictions":[{"type":"daily","startTimeOfDay":"09:00:00","durationSeconds":32400},
        {"type":"weekly","startDayOfWeek":6,"startTimeOfDay":"20:00:00","durationSeconds":7200}]},
      {"start":"2026-01-01T00:00:00Z","end":"2026-12-31T00:00:00Z",
       "rotationVirtualStart":"2026-01-01T00:00:00Z","rotationTurnLengthSeconds":86400,
       "users":["carol"]}]})";
  auto s = DecodeSchedule(J(body), Known);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->name, "Primary");
  EXPECT_EQ(s->description, "Core");
  EXPECT_EQ(s->time_zone, "Europe/Berlin");
  ASSERT_EQ(s->layers.size(), 2u);
  const Layer& l = s->layers[0];
  EXPECT_EQ(l.id, "l1");
  EXPECT_EQ(l.name, "Weekdays");
  EXPECT_EQ(l.start_s, T("2026-01-05T08:00:00Z"));
  EXPECT_EQ(l.end_s, 0);
  EXPECT_EQ(l.rotation_virtual_start_s, T("2026-01-05T08:00:00Z"));
  EXPECT_EQ(l.turn_length_s, 604800);
  EXPECT_EQ(l.users, (std::vector<std::string>{"alice", "bob"}));
  ASSERT_EQ(l.restrictions.size(), 2u);
  EXPECT_EQ(l.restrictions[0], (Restriction{Restriction::Type::kDaily, 32400, 32400, 1}));
  EXPECT_EQ(l.restrictions[1], (Restriction{Restriction::Type::kWeekly, 72000, 7200, 6}));
  EXPECT_EQ(s->layers[1].id, "L1");  // assigned from the index
  EXPECT_EQ(s->layers[1].end_s, T("2026-12-31T00:00:00Z"));
}

struct BadCase {
  std::string body;
  std::string message;
};

TEST(ScheduleJson, ValidationTable) {
  const std::string ok_layer = LayerJson();
  std::string many_layers;
  for (int i = 0; i < 33; ++i) {
    many_layers += (i ? "," : "") + LayerJson({{"id", "\"l" + std::to_string(i) + "\""}});
  }
  std::string many_users = "[";
  for (int i = 0; i < 101; ++i) many_users += (i ? ",\"alice\"" : "\"alice\"");
  many_users += "]";
  const BadCase cases[] = {
      {"[]", "request body must be a JSON object"},
      {Doc(ok_layer, R"("timeZone":"Europe/Berlin")"), "name: is required"},
      {Doc(ok_layer, R"("name":"","timeZone":"Europe/Berlin")"), "name: must not be empty"},
      {Doc(ok_layer, "\"name\":\"" + std::string(201, 'n') + "\",\"timeZone\":\"UTC\""),
       "name: must be at most 200 characters"},
      {Doc(ok_layer, R"("name":"P")"), "timeZone: is required"},
      {Doc(ok_layer, R"("name":"P","timeZone":"Mars/Olympus_Mons")"),
       "timeZone: unknown time zone \"Mars/Olympus_Mons\""},
      {Doc(ok_layer, R"("name":"P","timeZone":"UTC","owner":"x")"), "owner: unknown field"},
      {Doc(ok_layer, R"("name":"P","timeZone":"UTC","id":"a b")"),
       "id: must be 1-64 letters, digits, '.', '_' or '-'"},
      {R"({"name":"P","timeZone":"UTC"})", "layers: is required"},
      {Doc(""), "layers: must have at least one layer"},
      {R"({"name":"P","timeZone":"UTC","layers":{}})", "layers: must be an array"},
      {Doc(many_layers), "layers: must have at most 32 layers"},
      {Doc("1"), "layers[0]: must be an object"},
      {Doc(LayerJson({{"color", "\"red\""}})), "layers[0].color: unknown field"},
      {Doc(LayerJson({{"id", "\"bad id!\""}})),
       "layers[0].id: must be 1-64 letters, digits, '.', '_' or '-'"},
      {Doc(ok_layer + "," + ok_layer), "layers[1].id: duplicate of another layer's id \"l1\""},
      {Doc(LayerJson({{"start", ""}})), "layers[0].start: is required"},
      {Doc(LayerJson({{"start", "\"2026-01-05 09:00\""}})),
       "layers[0].start: must be an RFC 3339 time (parsing time \"2026-01-05 09:00\" as RFC 3339: "
       "expected 'T' between date and time)"},
      {Doc(LayerJson({{"start", "12"}})), "layers[0].start: must be an RFC 3339 time string"},
      {Doc(LayerJson({{"end", "\"2026-01-05T08:00:00Z\""}})), "layers[0].end: must be after start"},
      {Doc(LayerJson({{"end", "\"2026-01-05T09:00:00+01:00\""}})),
       "layers[0].end: must be after start"},
      {Doc(LayerJson({{"rotationVirtualStart", ""}})),
       "layers[0].rotationVirtualStart: is required"},
      {Doc(LayerJson({{"rotationTurnLengthSeconds", "0"}})),
       "layers[0].rotationTurnLengthSeconds: must be at least 3600 (one hour)"},
      {Doc(LayerJson({{"rotationTurnLengthSeconds", "3599"}})),
       "layers[0].rotationTurnLengthSeconds: must be at least 3600 (one hour)"},
      {Doc(LayerJson({{"rotationTurnLengthSeconds", "-86400"}})),
       "layers[0].rotationTurnLengthSeconds: must be at least 3600 (one hour)"},
      {Doc(LayerJson({{"rotationTurnLengthSeconds", "31622401"}})),
       "layers[0].rotationTurnLengthSeconds: must be <= 31622400 (366 days)"},
      {Doc(LayerJson({{"rotationTurnLengthSeconds", "\"7d\""}})),
       "layers[0].rotationTurnLengthSeconds: must be an integer"},
      {Doc(LayerJson({{"rotationTurnLengthSeconds", "1.5"}})),
       "layers[0].rotationTurnLengthSeconds: must be an integer"},
      {Doc(LayerJson({{"users", "[]"}})), "layers[0].users: must not be empty"},
      {Doc(LayerJson({{"users", ""}})), "layers[0].users: is required"},
      {Doc(LayerJson({{"users", many_users}})), "layers[0].users: must have at most 100 entries"},
      {Doc(LayerJson({{"users", R"(["alice","mallory"])"}})),
       "layers[0].users[1]: unknown user \"mallory\""},
      {Doc(LayerJson({{"users", R"(["alice",7])"}})),
       "layers[0].users[1]: must be a non-empty user id string"},
      {Doc(LayerJson(
           {{"restrictions",
             Restr(R"({"type":"hourly","startTimeOfDay":"09:00:00","durationSeconds":60})")}})),
       "layers[0].restrictions[0].type: must be \"daily\" or \"weekly\""},
      {Doc(LayerJson(
           {{"restrictions", Restr(R"({"startTimeOfDay":"09:00:00","durationSeconds":60})")}})),
       "layers[0].restrictions[0].type: is required"},
      {Doc(LayerJson(
           {{"restrictions",
             Restr(R"({"type":"daily","startTimeOfDay":"9:00","durationSeconds":60})")}})),
       "layers[0].restrictions[0].startTimeOfDay: must be a time of day \"HH:MM:SS\" (00:00:00 to "
       "23:59:59)"},
      {Doc(LayerJson(
           {{"restrictions",
             Restr(R"({"type":"daily","startTimeOfDay":"24:00:00","durationSeconds":60})")}})),
       "layers[0].restrictions[0].startTimeOfDay: must be a time of day \"HH:MM:SS\" (00:00:00 to "
       "23:59:59)"},
      {Doc(LayerJson(
           {{"restrictions",
             Restr(R"({"type":"daily","startTimeOfDay":"09:00:00","durationSeconds":86401})")}})),
       "layers[0].restrictions[0].durationSeconds: must be between 1 and 86400 for a daily "
       "restriction"},
      {Doc(LayerJson(
           {{"restrictions",
             Restr(R"({"type":"daily","startTimeOfDay":"09:00:00","durationSeconds":0})")}})),
       "layers[0].restrictions[0].durationSeconds: must be between 1 and 86400 for a daily "
       "restriction"},
      {Doc(LayerJson(
           {{"restrictions", Restr(R"({"type":"weekly","startDayOfWeek":1,)"
                                   R"("startTimeOfDay":"09:00:00","durationSeconds":604801})")}})),
       "layers[0].restrictions[0].durationSeconds: must be between 1 and 604800 for a weekly "
       "restriction"},
      {Doc(LayerJson(
           {{"restrictions",
             Restr(R"({"type":"weekly","startTimeOfDay":"09:00:00","durationSeconds":60})")}})),
       "layers[0].restrictions[0].startDayOfWeek: is required for a weekly restriction"},
      {Doc(LayerJson(
           {{"restrictions", Restr(R"({"type":"weekly","startDayOfWeek":8,)"
                                   R"("startTimeOfDay":"09:00:00","durationSeconds":60})")}})),
       "layers[0].restrictions[0].startDayOfWeek: must be between 1 (Monday) and 7 (Sunday)"},
      {Doc(LayerJson(
           {{"restrictions", Restr(R"({"type":"weekly","startDayOfWeek":0,)"
                                   R"("startTimeOfDay":"09:00:00","durationSeconds":60})")}})),
       "layers[0].restrictions[0].startDayOfWeek: must be between 1 (Monday) and 7 (Sunday)"},
      {Doc(LayerJson(
           {{"restrictions", Restr(R"({"type":"daily","startDayOfWeek":1,)"
                                   R"("startTimeOfDay":"09:00:00","durationSeconds":60})")}})),
       "layers[0].restrictions[0].startDayOfWeek: is only allowed for a weekly restriction"},
      {Doc(LayerJson(
           {{"restrictions", Restr(R"({"type":"daily","days":[1],)"
                                   R"("startTimeOfDay":"09:00:00","durationSeconds":60})")}})),
       "layers[0].restrictions[0].days: unknown field"},
      {Doc(LayerJson(
           {{"restrictions",
             Restr(R"({"type":"daily","startTimeOfDay":"09:00:00","durationSeconds":28800},)"
                   R"({"type":"weekly","startDayOfWeek":1,"startTimeOfDay":"16:00:00",)"
                   R"("durationSeconds":7200})")}})),
       "layers[0].restrictions[1]: overlaps restrictions[0]"},
      // Sunday 23:00 for 2 h wraps into Monday 01:00, over a daily 00:30 window.
      {Doc(LayerJson(
           {{"restrictions",
             Restr(R"({"type":"daily","startTimeOfDay":"00:30:00","durationSeconds":600},)"
                   R"({"type":"weekly","startDayOfWeek":7,"startTimeOfDay":"23:00:00",)"
                   R"("durationSeconds":7200})")}})),
       "layers[0].restrictions[1]: overlaps restrictions[0]"},
      {Doc(LayerJson({{"restrictions", "{}"}})), "layers[0].restrictions: must be an array"},
      // The second layer's errors carry its index.
      {Doc(ok_layer + "," + LayerJson({{"id", "\"l2\""}, {"rotationTurnLengthSeconds", "0"}})),
       "layers[1].rotationTurnLengthSeconds: must be at least 3600 (one hour)"},
  };
  for (const BadCase& c : cases) {
    auto v = ParseJson(c.body);
    ASSERT_TRUE(v) << c.body;
    auto s = DecodeSchedule(*v, Known);
    ASSERT_FALSE(s) << c.body;
    EXPECT_EQ(s.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(s.error().message, c.message) << c.body;
  }
}

TEST(ScheduleJson, TouchingRestrictionsAreNotOverlapping) {
  const std::string body = Doc(LayerJson(
      {{"restrictions",
        Restr(
            R"({"type":"daily","startTimeOfDay":"09:00:00","durationSeconds":28800},)"
            R"({"type":"daily","startTimeOfDay":"17:00:00","durationSeconds":3600},)"
            R"({"type":"weekly","startDayOfWeek":6,"startTimeOfDay":"18:00:00","durationSeconds":50400})")}}));
  auto s = DecodeSchedule(J(body), Known);
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
}

TEST(ScheduleJson, AllProblemsAreListedAndNothingIsDecoded) {
  const std::string body =
      Doc(LayerJson({{"rotationTurnLengthSeconds", "0"}, {"users", R"(["mallory"])"}}),
          R"("name":"P","timeZone":"Nowhere/City")");
  auto s = DecodeSchedule(J(body), Known);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "timeZone: unknown time zone \"Nowhere/City\"");
  EXPECT_EQ(s.error().details,
            (std::vector<std::string>{"timeZone: unknown time zone \"Nowhere/City\"",
                                      "layers[0].rotationTurnLengthSeconds: must be at least 3600 (one hour)",
                                      "layers[0].users[0]: unknown user \"mallory\""}));
}

TEST(ScheduleJson, EncodesInUtcAndRoundTrips) {
  Schedule s;
  s.id = "s1";
  s.name = "Primary";
  s.description = "Core \"team\"";
  s.time_zone = "Europe/Berlin";
  Layer l;
  l.id = "l1";
  l.name = "Weekdays";
  l.start_s = T("2026-01-05T09:00:00+01:00");
  l.rotation_virtual_start_s = T("2026-01-05T09:00:00+01:00");
  l.turn_length_s = 604800;
  l.users = {"alice", "bob"};
  l.restrictions = {Restriction{Restriction::Type::kDaily, 32400, 32400, 1},
                    Restriction{Restriction::Type::kWeekly, 72000, 7200, 6}};
  s.layers.push_back(l);
  l.id = "l2";
  l.name = "";
  l.end_s = T("2026-02-01T00:00:00+01:00");
  l.restrictions.clear();
  l.users = {"carol"};
  s.layers.push_back(l);
  const std::string text = EncodeSchedule(s);
  EXPECT_EQ(
      text,
      R"({"id":"s1","name":"Primary","timeZone":"Europe/Berlin","description":"Core \"team\"",)"
      R"("layers":[{"id":"l1","name":"Weekdays","start":"2026-01-05T08:00:00Z","end":null,)"
      R"("rotationVirtualStart":"2026-01-05T08:00:00Z","rotationTurnLengthSeconds":604800,)"
      R"("users":["alice","bob"],"restrictions":[{"type":"daily","startTimeOfDay":"09:00:00",)"
      R"("durationSeconds":32400},{"type":"weekly","startDayOfWeek":6,"startTimeOfDay":"20:00:00",)"
      R"("durationSeconds":7200}]},{"id":"l2","name":"","start":"2026-01-05T08:00:00Z",)"
      R"("end":"2026-01-31T23:00:00Z","rotationVirtualStart":"2026-01-05T08:00:00Z",)"
      R"("rotationTurnLengthSeconds":604800,"users":["carol"],"restrictions":[]}]})");
  auto back = DecodeSchedule(J(text), Known);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, s);
}

TEST(ScheduleJson, Overrides) {
  auto o = DecodeOverride(
      J(R"({"start":"2026-01-05T10:00:00+01:00","end":"2026-01-05T12:00:00+01:00","user":"bob"})"),
      Known, "o1");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(*o, (Override{"o1", T("2026-01-05T09:00:00Z"), T("2026-01-05T11:00:00Z"), "bob"}));
  EXPECT_EQ(
      EncodeOverride(*o),
      R"({"id":"o1","start":"2026-01-05T09:00:00Z","end":"2026-01-05T11:00:00Z","user":"bob"})");

  const BadCase cases[] = {
      {R"({"start":"2026-01-05T10:00:00Z","end":"2026-01-05T10:00:00Z","user":"bob"})",
       "end: must be after start"},
      {R"({"start":"2026-01-05T10:00:00Z","end":"2027-01-06T10:00:01Z","user":"bob"})",
       "end: must be at most 366 days after start"},
      {R"({"start":"2026-01-05T10:00:00Z","end":"2026-01-05T11:00:00Z","user":"eve"})",
       "user: unknown user \"eve\""},
      {R"({"start":"2026-01-05T10:00:00Z","end":"2026-01-05T11:00:00Z"})", "user: is required"},
      {R"({"end":"2026-01-05T11:00:00Z","user":"bob"})", "start: is required"},
      {R"({"id":"x","start":"2026-01-05T10:00:00Z","end":"2026-01-05T11:00:00Z","user":"bob"})",
       "id: unknown field"},
      {"\"override\"", "request body must be a JSON object"},
  };
  for (const BadCase& c : cases) {
    auto r = DecodeOverride(J(c.body), Known, "o1");
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().message, c.message) << c.body;
  }
}

TEST(ScheduleJson, Entries) {
  EXPECT_EQ(EncodeEntries(
                {Entry{"alice", T("2026-01-05T09:00:00+01:00"), T("2026-01-05T17:00:00+01:00")}}),
            R"([{"user":"alice","start":"2026-01-05T08:00:00Z","end":"2026-01-05T16:00:00Z"}])");
  EXPECT_EQ(EncodeEntries({}), "[]");
}

}  // namespace
}  // namespace opsorch::paging
