#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <opsorch/log/log.h>

namespace opsorch::log {
namespace {

class CapturedLines {
 public:
  CapturedLines() {
    SetSinkForTest([this](std::string_view line) { lines.emplace_back(line); });
  }
  ~CapturedLines() { SetSinkForTest(nullptr); }
  std::vector<std::string> lines;
};

// What follows the "2026/01/07 10:00:00 " prefix of a text line.
std::string Body(const std::string& line) { return line.substr(20); }

TEST(LogText, UserControlledValuesCannotForgeFieldsOrLines) {
  Init(Options{});
  CapturedLines captured;
  struct Row {
    std::string value;
    std::string rendered;
  } rows[] = {
      {"plain-id", "k=plain-id"},
      {"x status=500 remote=10.6.6.6", R"(k="x status=500 remote=10.6.6.6")"},
      {"a\nfake line", R"(k="a\nfake line")"},
      {"cr\rreturn", R"(k="cr\rreturn")"},
      {"q\"uote", R"(k="q\"uote")"},
      {"back\\slash", R"(k="back\\slash")"},
      {"", R"(k="")"},
      {std::string("nul\0x", 5), R"(k="nul\x00x")"},
      {"bell\a", R"(k="bell\x07")"},
      {"caf\xc3\xa9", "k=caf\xc3\xa9"},
  };
  for (const Row& r : rows) {
    Write(Level::kInfo, "m", {{"k", r.value}});
    ASSERT_FALSE(captured.lines.empty());
    EXPECT_EQ(Body(captured.lines.back()), "m " + r.rendered) << r.value;
  }
  // The message itself cannot end the line either.
  Write(Level::kInfo, "first\nsecond\r\x1b[31m");
  EXPECT_EQ(Body(captured.lines.back()), "first\\nsecond\\r\\x1b[31m");
}

TEST(LogJson, ValuesAreJsonStrings) {
  Options o;
  o.format = Format::kJson;
  Init(o);
  {
    CapturedLines captured;
    Write(Level::kWarn, "m\n", {{"k", "a\"b\nc"}});
    ASSERT_EQ(captured.lines.size(), 1u);
    EXPECT_NE(captured.lines[0].find(R"("msg":"m\n","k":"a\"b\nc")"), std::string::npos)
        << captured.lines[0];
  }
  Init(Options{});
}

}  // namespace
}  // namespace opsorch::log
