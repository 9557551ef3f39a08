#include <set>
#include <string_view>

#include <gtest/gtest.h>

#include <opsorch/common/error.h>
#include <opsorch/common/strings.h>

namespace opsorch {
namespace {

// The one table: every code has a distinct wire name (but the two that render as
// provider_error), a status, and parses back from its name.
TEST(Error, EveryCodeHasANameAndAStatusAndParsesBack) {
  std::set<std::string_view> names;
  std::size_t i = 0;
  for (const ErrorCodeInfo& info : ErrorCodes()) {
    EXPECT_EQ(static_cast<std::size_t>(info.code), i++) << info.name;
    EXPECT_FALSE(info.name.empty());
    EXPECT_GE(info.http_status, 400) << info.name;
    EXPECT_LE(info.http_status, 599) << info.name;
    EXPECT_EQ(HttpStatusFor(info.code), info.http_status);
    EXPECT_EQ(Name(info.code), info.name);
    if (info.code == ErrorCode::kProviderDefined || info.code == ErrorCode::kProviderMissing) {
      continue;  // their wire names come with each error
    }
    EXPECT_TRUE(names.insert(info.name).second) << info.name << " twice";
    const Error parsed(info.name, "m");
    EXPECT_EQ(parsed.code, info.code) << info.name;
    EXPECT_EQ(WireCode(parsed), info.name);
  }
  EXPECT_EQ(i, static_cast<std::size_t>(ErrorCode::kStorageError) + 1);
}

TEST(Error, StatusesOfTheContract) {
  struct Row {
    std::string_view wire;
    int status;
  } rows[] = {
      {"bad_request", 400},
      {"unauthorized", 401},
      {"not_found", 404},
      {"conflict", 409},  // the reference answers 502
      {"gone", 410},      // an expired action link
      {"payload_too_large", 413},
      {"headers_too_large", 431},
      {"internal", 500},
      {"incident_provider_missing", 501},
      {"secret_provider_missing", 501},
      {"provider_error", 502},
      {"plugin_crashed", 502},
      {"plugin_timeout", 504},
      {"made_up_by_a_plugin", 502},
      {"_provider_missing", 502},  // no capability: made up
  };
  for (const Row& r : rows) {
    const Error e(r.wire, "m");
    EXPECT_EQ(HttpStatusFor(e), r.status) << r.wire;
    EXPECT_EQ(WireCode(e), r.wire);
  }
}

TEST(Error, InternalFailuresAreAnsweredWithoutTheirDetail) {
  const Error sql(ErrorCode::kInternal, "sqlite: SELECT x FROM incidents: disk I/O error");
  EXPECT_EQ(ClientMessage(sql, "req-1"),
            "internal error; the server log has the details (request id req-1)");
  const Error secret(ErrorCode::kSecretStoreError, "cannot write /etc/opsorch/secrets.json");
  EXPECT_EQ(ClientMessage(secret).find("/etc"), std::string::npos);
  const Error client(ErrorCode::kBadRequest, "title is required");
  EXPECT_EQ(ClientMessage(client, "req-1"), "title is required");
}

TEST(Strings, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(Strings, Utf8PrefixNeverEndsInsideACharacter) {
  struct Case {
    std::string_view in;
    std::size_t max;
    std::string_view out;
  };
  for (const Case& c :
       {Case{"short", 10, "short"}, Case{"abcdef", 3, "abc"},
        Case{"a\xc3\xa9z", 2, "a"},  // é is 2 bytes: not split
        Case{"a\xc3\xa9z", 3, "a\xc3\xa9"}, Case{"\xe2\x80\xa6x", 2, ""},  // … is 3 bytes
        Case{"\xf0\x9f\x94\xa5!", 4, "\xf0\x9f\x94\xa5"}, Case{"", 0, ""}}) {
    EXPECT_EQ(Utf8Prefix(c.in, c.max), c.out) << c.in << " max " << c.max;
  }
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
