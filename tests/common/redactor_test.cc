#include <gtest/gtest.h>

#include <opsorch/common/redactor.h>

namespace opsorch {
namespace {

TEST(Redactor, MasksConfigValuesRawAndJsonEscaped) {
  const Redactor r(JsonObject{{"token", "tok-1234567"},
                              {"nested", JsonObject{{"password", R"(p"w&x<\>)"}}},
                              {"list", JsonArray{"secret-in-array"}},
                              {"short", "prod"}});
  EXPECT_EQ(r.Apply("token=tok-1234567 env=prod"), "token=[redacted] env=prod");
  EXPECT_EQ(r.Apply(R"(raw p"w&x<\> end)"), "raw [redacted] end");
  // Go's encoding/json form and the quote/backslash-only form.
  EXPECT_EQ(r.Apply(R"({"password":"p\"w\u0026x\u003c\\\u003e"})"), R"({"password":"[redacted]"})");
  EXPECT_EQ(r.Apply(R"({"password":"p\"w&x<\\>"})"), R"({"password":"[redacted]"})");
  EXPECT_EQ(r.Apply("a secret-in-array b"), "a [redacted] b");
  EXPECT_EQ(r.Apply("tok-1234567tok-1234567"), "[redacted][redacted]");
}

TEST(Redactor, NothingToMaskLeavesTextAlone) {
  const Redactor r(JsonObject{{"n", 123456789}, {"b", true}, {"s", "short"}});
  EXPECT_EQ(r.Apply("123456789 true short"), "123456789 true short");
}

}  // namespace
}  // namespace opsorch
