#include "providers/mock/messaging_provider.h"

#include <gtest/gtest.h>

#include "providers/mock/test_support.h"

namespace opsorch::providers::mock {
namespace {

using testing::Make;
using testing::TestNow;

TEST(MockMessagingProviderTest, SendReturnsDeliveredResultAndRecordsIt) {
  auto p = Make<MockMessagingProvider>();
  s::Message m;
  m.channel = "#incidents";
  m.body = "inc-011: rolled back payments";
  m.thread_ref = "1700000000.000100";
  m.blocks = {{.type = "header", .text = "Update"}, {.type = "divider"}};
  auto r = p->Send(m);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, "msg-0001");
  EXPECT_EQ(r->channel, "#incidents");
  EXPECT_EQ(r->sent_at, TestNow());
  EXPECT_EQ(r->url, "https://chat.demo.opsorch.dev/%23incidents/msg-0001");
  EXPECT_EQ(r->metadata.at("provider"), "mock");
  EXPECT_EQ(r->metadata.at("status"), "delivered");
  EXPECT_EQ(r->metadata.at("blocks"), 2);
  EXPECT_EQ(r->metadata.at("threadRef"), "1700000000.000100");

  EXPECT_EQ(p->Send({.channel = "@alice", .body = "hi"})->id, "msg-0002");
  const auto sent = p->SentForTest();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].message.body, "inc-011: rolled back payments");
  EXPECT_EQ(sent[0].result.id, "msg-0001");
  EXPECT_EQ(sent[1].result.metadata.at("channelType"), "direct");
}

TEST(MockMessagingProviderTest, ChannelAndBodyAreRequired) {
  auto p = Make<MockMessagingProvider>();
  auto r = p->Send({.channel = " ", .body = "x"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), (Error{"bad_request", "channel is required"}));
  r = p->Send({.channel = "#ops", .body = ""});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), (Error{"bad_request", "body is required"}));
  EXPECT_TRUE(p->SentForTest().empty());
}

TEST(MockMessagingProviderTest, HistoryIsBounded) {
  auto p = Make<MockMessagingProvider>();
  const std::size_t total = MockMessagingProvider::kHistoryLimit + 5;
  for (std::size_t i = 0; i < total; ++i) ASSERT_TRUE(p->Send({.channel = "#c", .body = "b"}));
  const auto sent = p->SentForTest();
  ASSERT_EQ(sent.size(), MockMessagingProvider::kHistoryLimit);
  EXPECT_EQ(sent.front().result.id, "msg-0006");
  EXPECT_EQ(sent.back().result.id, "msg-1005");
}

TEST(MockMessagingProviderTest, LongBodiesArePreviewedOnACharacterBoundary) {
  auto p = Make<MockMessagingProvider>();
  std::string body(79, 'a');
  body += "\xC3\xA9\xC3\xA9 and more text";  // "éé": byte 80 falls inside the first é
  auto r = p->Send({.channel = "#c", .body = body});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->metadata.at("preview").as_string(), std::string(79, 'a') + "…");
}

}  // namespace
}  // namespace opsorch::providers::mock
