// Decoding and encoding rules of contract §6–§7.
#include <gtest/gtest.h>

#include <opsorch/schema/catalog.h>
#include <opsorch/schema/codec.h>
#include <opsorch/schema/incident.h>
#include <opsorch/schema/observability.h>
#include <opsorch/schema/orchestration.h>
#include <opsorch/schema/ticket.h>

namespace opsorch::schema {
namespace {

TEST(Decode, EmptyBodyIsEof) {
  auto r = Decode<IncidentQuery>("  \n");
  ASSERT_FALSE(r);
  EXPECT_EQ(WireCode(r.error()), "bad_request");
  EXPECT_EQ(r.error().message, "EOF");
}

TEST(Decode, NullIsAnEmptyQuery) {
  auto r = Decode<IncidentQuery>("null");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->query.empty());
  EXPECT_EQ(r->limit, 0);
}

TEST(Decode, UnknownFieldIsRejectedAndNamed) {
  auto r = Decode<IncidentQuery>(R"({"query":"x","foo":1})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "json: unknown field \"foo\"");
}

TEST(Decode, LenientModeDropsUnknownFields) {
  DecodeOptions lenient;
  lenient.strict = false;
  auto r = Decode<Incident>(R"({"id":"i1","extra":{"a":1}})", lenient);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "i1");
}

TEST(Decode, FieldNamesMatchCaseInsensitively) {
  auto r = Decode<IncidentQuery>(R"({"QUERY":"db","Limit":3,"scope":{"SERVICE":"api"}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->query, "db");
  EXPECT_EQ(r->limit, 3);
  EXPECT_EQ(r->scope.service, "api");
}

TEST(Decode, LastDuplicateWins) {
  auto r = Decode<IncidentQuery>(R"({"query":"a","query":"b"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->query, "b");
}

TEST(Decode, TrailingDataAfterTheFirstValueIsIgnored) {
  auto r = Decode<IncidentQuery>(R"({"query":"a"} {"garbage")");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->query, "a");
}

TEST(Decode, WrongTypesNameTheField) {
  auto r = Decode<IncidentQuery>(R"({"limit":"5"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "json: cannot unmarshal string into Go struct field IncidentQuery.limit of type int");
  r = Decode<IncidentQuery>(R"({"scope":{"service":3}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "json: cannot unmarshal number 3 into Go struct field IncidentQuery.scope.service of "
            "type string");
  r = Decode<IncidentQuery>(R"({"limit":1.5})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("IncidentQuery.limit of type int"), std::string::npos);
}

TEST(Decode, TopLevelTypeMismatch) {
  auto r = Decode<IncidentQuery>("[1,2]");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "json: cannot unmarshal array into Go value of type schema.IncidentQuery");
}

TEST(Decode, TimesMustBeRfc3339) {
  auto r = Decode<LogQuery>(R"({"start":"2024-01-01"})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("LogQuery.start"), std::string::npos) << r.error().message;
  auto ok = Decode<LogQuery>(R"({"start":"2024-01-01T00:00:00Z","end":null})");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->end.IsZero());
  EXPECT_FALSE(ok->start.IsZero());
}

TEST(Decode, KnownClientExtrasAreTolerated) {
  EXPECT_TRUE(Decode<LogQuery>(R"({"providers":["a"],"scope":{}})"));
  EXPECT_TRUE(Decode<TeamQuery>(R"({"limit":10})"));
  // …but only those: MetricQuery with a string expression stays strict.
  EXPECT_FALSE(Decode<MetricQuery>(R"({"expression":"up"})"));
  EXPECT_FALSE(Decode<TeamQuery>(R"({"providers":1})"));
}

TEST(Decode, NestingLimit) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  const std::string body = R"({"metadata":{"x":)" + deep + "}}";
  DecodeOptions opt;
  opt.max_depth = 64;
  auto r = Decode<IncidentQuery>(body, opt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("nesting exceeds the limit of 64"), std::string::npos);
}

TEST(Decode, InvalidUtf8IsRejected) {
  auto r = Decode<IncidentQuery>("{\"query\":\"\xff\"}");
  ASSERT_FALSE(r);
  EXPECT_EQ(WireCode(r.error()), "bad_request");
}

TEST(Decode, NullableStringsDistinguishAbsentFromEmpty) {
  auto r = Decode<UpdateIncidentInput>(R"({"title":"","status":null})");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->title.has_value());
  EXPECT_EQ(*r->title, "");
  EXPECT_FALSE(r->status.has_value());
  EXPECT_FALSE(r->severity.has_value());
}

TEST(Encode, IncidentFieldOrderAndOmitRules) {
  Incident inc;
  inc.id = "i1";
  inc.title = "t";
  inc.status = "open";
  inc.severity = "sev1";
  inc.created_at = Time::FromUnixSeconds(1'704'067'200);
  inc.updated_at = inc.created_at;
  inc.metadata["z"] = 1;
  inc.metadata["a"] = "<b>";
  EXPECT_EQ(EncodeToString(inc),
            R"({"id":"i1","title":"t","status":"open","severity":"sev1",)"
            R"("createdAt":"2024-01-01T00:00:00Z","updatedAt":"2024-01-01T00:00:00Z",)"
            R"("metadata":{"a":"\u003cb\u003e","z":1}})");
}

TEST(Encode, ZeroValueIncident) {
  EXPECT_EQ(EncodeToString(Incident{}),
            R"({"id":"","title":"","status":"","severity":"",)"
            R"("createdAt":"0001-01-01T00:00:00Z","updatedAt":"0001-01-01T00:00:00Z"})");
}

TEST(Encode, ScopeIsAlwaysEmitted) {
  EXPECT_EQ(EncodeToString(IncidentQuery{}), R"({"scope":{}})");
  LogQuery q;
  EXPECT_EQ(EncodeToString(q),
            R"({"start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z","scope":{}})");
  MetricQuery m;
  EXPECT_EQ(EncodeToString(m), R"({"start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z",)"
                               R"("step":0,"scope":{}})");
}

TEST(Encode, NilListsAreNullEmptyListsAreArrays) {
  EXPECT_EQ(EncodeToString(NullableList<Incident>{}), "null");
  EXPECT_EQ(EncodeToString(NullableList<Incident>{std::vector<Incident>{}}), "[]");
  EXPECT_EQ(EncodeToString(LogEntries{}), R"({"entries":null})");
  OrchestrationPlan plan;
  plan.id = "p";
  EXPECT_EQ(EncodeToString(plan), R"({"id":"p","title":"","steps":null})");
}

TEST(Encode, OptionalTimesAreOmittedWhenUnset) {
  OrchestrationStepState st;
  st.step_id = "s1";
  st.status = "ready";
  EXPECT_EQ(EncodeToString(st), R"({"stepId":"s1","status":"ready"})");
  st.started_at = Time::FromUnixSeconds(0);
  EXPECT_EQ(EncodeToString(st),
            R"({"stepId":"s1","status":"ready","startedAt":"1970-01-01T00:00:00Z"})");
}

TEST(Encode, MissingOrchestrationObjectIsNull) {
  EXPECT_EQ(EncodeToString(std::optional<OrchestrationRun>{}), "null");
}

TEST(RoundTrip, TicketUpdateWithNullableAssignees) {
  auto r = Decode<UpdateTicketInput>(R"({"assignees":[]})");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->assignees.has_value());
  EXPECT_TRUE(r->assignees->empty());
  EXPECT_EQ(EncodeToString(*r), R"({"assignees":[]})");
  auto r2 = Decode<UpdateTicketInput>(R"({"assignees":null})");
  ASSERT_TRUE(r2);
  EXPECT_FALSE(r2->assignees.has_value());
  EXPECT_EQ(EncodeToString(*r2), "{}");
}

TEST(RoundTrip, MetadataNumbersAndNesting) {
  auto r = Decode<CreateIncidentInput>(
      R"({"title":"x","status":"","severity":"","metadata":{"n":1.0,"big":1e21,"l":[1,"a",{"k":false}]}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(EncodeToString(*r), R"({"title":"x","status":"","severity":"",)"
                                R"("metadata":{"big":1e+21,"l":[1,"a",{"k":false}],"n":1}})");
}

}  // namespace
}  // namespace opsorch::schema
