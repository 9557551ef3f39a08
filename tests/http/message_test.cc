#include <gtest/gtest.h>

#include <opsorch/http/message.h>

namespace opsorch::http {
namespace {

TEST(HttpRequest, HeaderLookupIgnoresCaseAndReturnsTheFirstMatch) {
  Request request;
  request.headers = {{"Content-Type", "application/json"},
                     {"X-User-ID", "alice"},
                     {"x-user-id", "bob"},
                     {"Empty", ""}};
  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_EQ(request.Header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(request.Header("X-User-Id"), "alice");
  EXPECT_EQ(request.Header("Empty"), "");
  EXPECT_EQ(request.Header("Missing"), "");
  EXPECT_EQ(request.Header("Content-Typ"), "");
  EXPECT_EQ(request.Header(""), "");
}

TEST(HttpRequest, NoHeaders) {
  Request request;
  EXPECT_TRUE(request.Header("Host").empty());
}

}  // namespace
}  // namespace opsorch::http
