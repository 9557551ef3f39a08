#include <gtest/gtest.h>

#include <opsorch/common/error.h>
#include <opsorch/common/strings.h>

namespace opsorch {
namespace {

TEST(Error, CentralStatusMapping) {
  EXPECT_EQ(HttpStatusFor("bad_request"), 400);
  EXPECT_EQ(HttpStatusFor("not_found"), 404);
  EXPECT_EQ(HttpStatusFor("conflict"), 409);  // the reference answers 502
  EXPECT_EQ(HttpStatusFor("payload_too_large"), 413);
  EXPECT_EQ(HttpStatusFor("incident_provider_missing"), 501);
  EXPECT_EQ(HttpStatusFor("secret_provider_missing"), 501);
  EXPECT_EQ(HttpStatusFor("plugin_timeout"), 504);
  EXPECT_EQ(HttpStatusFor("rate_limited"), 502);
  EXPECT_EQ(HttpStatusFor("provider_error"), 502);
  EXPECT_EQ(HttpStatusFor("_provider_missing"), 502);  // no capability name: provider-defined
}

TEST(Strings, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(Strings, PercentDecode) {
  std::string out;
  EXPECT_TRUE(PercentDecode("/incidents/inc%2F001", out));
  EXPECT_EQ(out, "/incidents/inc/001");
  EXPECT_FALSE(PercentDecode("/a%2", out));
  EXPECT_FALSE(PercentDecode("/a%zz", out));
}

}  // namespace
}  // namespace opsorch
