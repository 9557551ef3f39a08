// The small rules many decoders share (opsorch/common/text_rules.h), as tables.
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/text_rules.h>

namespace opsorch {
namespace {

TEST(TextRules, PlainNames) {
  const std::string long65(65, 'a');
  const std::pair<std::string, bool> cases[] = {
      {"disk-full", true}, {"a.b_c-9", true},  {std::string(64, 'z'), true},
      {"", false},         {long65, false},    {"a b", false},
      {"a/b", false},      {"é", false},       {"run:1", false}};
  for (const auto& [name, ok] : cases) EXPECT_EQ(IsPlainName(name), ok) << name;
  EXPECT_TRUE(IsPlainName(long65, 128));
}

TEST(TextRules, PlaceholdersAreFilledUnknownOnesKeptAndTheResultBounded) {
  const auto lookup = [](std::string_view name) -> std::optional<std::string> {
    if (name == "runId") return "run-1";
    if (name == "empty") return "";
    if (name == "big") return std::string(10, 'x');
    return std::nullopt;
  };
  const std::pair<std::string, std::string> cases[] = {
      {"done by {runId}", "done by run-1"},
      {"{runId}{runId}", "run-1run-1"},
      {"{unknown} stays", "{unknown} stays"},
      {"[{empty}]", "[]"},
      {"no closing {runId", "no closing {runId"},
      {"{}", "{}"},
      {"plain", "plain"}};
  for (const auto& [tmpl, want] : cases) EXPECT_EQ(FillPlaceholders(tmpl, lookup, 100), want);
  EXPECT_EQ(FillPlaceholders("{big}{big}", lookup, 15), std::string(15, 'x'));
  // Cut on a character, not inside one: "é" is two bytes.
  EXPECT_EQ(FillPlaceholders("ééé", lookup, 5), "éé");
}

TEST(TextRules, FieldsOfStoredBodiesReadTheirZeroValueWhenMissingOrOfAnotherType) {
  const JsonObject o =
      ParseJson(R"({"n": 7, "s": "x", "b": true, "o": {"k": 1}, "wrong": "7"})")->as_object();
  EXPECT_EQ(IntField(o, "n"), 7);
  EXPECT_EQ(IntField(o, "wrong"), 0);
  EXPECT_EQ(IntField(o, "missing"), 0);
  EXPECT_EQ(StringField(o, "s"), "x");
  EXPECT_EQ(StringField(o, "n"), "");
  EXPECT_TRUE(BoolField(o, "b"));
  EXPECT_FALSE(BoolField(o, "s"));
  EXPECT_EQ(ObjectField(o, "o").size(), 1u);
  EXPECT_TRUE(ObjectField(o, "n").empty());
}

}  // namespace
}  // namespace opsorch
