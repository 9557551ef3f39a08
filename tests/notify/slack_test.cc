// The Slack transport against a Slack-shaped loopback receiver.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/notify/transport.h>

#include "notify/receiver.h"

namespace opsorch::notify {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Receiver;

// The hook's path is the credential: it must never show up in a detail.
constexpr std::string_view kHookPath = "/services/T0001/B0002/XXXXsecretXXXX";

std::unique_ptr<Transport> Slack() {
  TransportOptions o;
  o.http = testing::Client();
  o.allow_nets = testing::Loopback();
  o.timeout = std::chrono::seconds(5);
  auto t = MakeSlackTransport(o);
  EXPECT_TRUE(t);
  return std::move(*t);
}

// A receiver that answers like Slack: 200 "ok" for a valid payload, 400 "invalid_blocks" when a
// section's text is longer than 3,000 characters.
Receiver SlackLike(int status = 200, std::string retry_after = {}) {
  return Receiver([status, retry_after](const httplib::Request& req, httplib::Response& res) {
    auto v = ParseJson(req.body);
    if (!v || !v->is_object() || !v->get_object().contains("text")) {
      res.status = 400;
      res.set_content("invalid_payload", "text/plain");
      return;
    }
    if (const auto* blocks = v->get_object().if_contains("blocks"); blocks != nullptr) {
      for (const auto& b : blocks->get_array()) {
        const auto* text = b.get_object().if_contains("text");
        if (text == nullptr) continue;
        const auto& s = text->get_object().at("text").get_string();
        std::size_t chars = 0;
        for (char c : s) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        if (chars > 3000) {
          res.status = 400;
          res.set_content("invalid_blocks", "text/plain");
          return;
        }
      }
    }
    res.status = status;
    if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
    res.set_content(status == 200   ? "ok"
                    : status == 429 ? "rate_limited"
                                    : "no_service",
                    "text/plain");
  });
}

JsonObject Payload(Receiver& rx) {
  const auto seen = rx.seen();
  EXPECT_EQ(seen.size(), 1u);
  if (seen.empty()) return {};
  EXPECT_EQ(seen[0].Header("Content-Type"), "application/json");
  auto v = ParseJson(seen[0].body);
  EXPECT_TRUE(v && v->is_object());
  return v && v->is_object() ? v->get_object() : JsonObject{};
}

TEST(Slack, PostsTextAndOneMrkdwnSection) {
  auto rx = SlackLike();
  auto t = Slack();
  EXPECT_EQ(t->type(), "slack");
  EXPECT_FALSE(t->idempotent());
  Delivery d;
  d.id = "msg_1";
  d.address = rx.Url(std::string(kHookPath));
  d.text = "*Alert #42* checkout is down <https://x|link>";
  const DeliveryResult r = t->Deliver(d);
  EXPECT_EQ(r.state, DeliveryState::kSent) << r.detail;
  EXPECT_EQ(r.status, 200);
  const JsonObject p = Payload(rx);
  EXPECT_EQ(p.at("text").as_string(), d.text);
  const auto& blocks = p.at("blocks").as_array();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].at("type").as_string(), "section");
  EXPECT_EQ(blocks[0].at("text").at("type").as_string(), "mrkdwn");
  EXPECT_EQ(blocks[0].at("text").at("text").as_string(), d.text);
  EXPECT_EQ(rx.seen()[0].path, kHookPath);
}

TEST(Slack, SendsGivenBlocks) {
  auto rx = SlackLike();
  auto t = Slack();
  Delivery d;
  d.id = "msg_2";
  d.address = rx.Url(std::string(kHookPath));
  d.text = "fallback";
  d.slack_blocks = {
      JsonObject{{"type", "header"}, {"text", JsonObject{{"type", "plain_text"}, {"text", "Hi"}}}},
      JsonObject{{"type", "divider"}}};
  EXPECT_EQ(t->Deliver(d).state, DeliveryState::kSent);
  const JsonObject p = Payload(rx);
  EXPECT_EQ(p.at("text").as_string(), "fallback");
  EXPECT_EQ(p.at("blocks").as_array(), d.slack_blocks);
}

TEST(Slack, TruncatesSectionsToThreeThousandCharactersOnACharacterBoundary) {
  auto rx = SlackLike();
  auto t = Slack();
  Delivery d;
  d.id = "msg_3";
  d.address = rx.Url(std::string(kHookPath));
  std::string text;
  for (int i = 0; i < 3500; ++i) text += "\xC3\xA9";  // é, two bytes
  d.text = text;
  const DeliveryResult r = t->Deliver(d);
  EXPECT_EQ(r.state, DeliveryState::kSent) << r.detail;  // Slack-like refuses > 3,000
  const JsonObject p = Payload(rx);
  const std::string section(p.at("blocks").as_array()[0].at("text").at("text").as_string());
  std::string expected;
  for (int i = 0; i < 2999; ++i) expected += "\xC3\xA9";
  expected += "\xE2\x80\xA6";  // …: 3,000 characters in all
  EXPECT_EQ(section, expected);
  EXPECT_EQ(p.at("text").as_string(), text);  // the fallback text is not a section

  // Also inside blocks given by the caller; exactly 3,000 stays as is.
  auto rx2 = SlackLike();
  d.address = rx2.Url(std::string(kHookPath));
  d.slack_blocks = {
      JsonObject{{"type", "section"}, {"text", JsonObject{{"type", "mrkdwn"}, {"text", text}}}},
      JsonObject{{"type", "section"},
                 {"text", JsonObject{{"type", "mrkdwn"}, {"text", std::string(3000, 'x')}}}}};
  EXPECT_EQ(t->Deliver(d).state, DeliveryState::kSent);
  const JsonObject p2 = Payload(rx2);
  EXPECT_EQ(p2.at("blocks").as_array()[0].at("text").at("text").as_string(), expected);
  EXPECT_EQ(p2.at("blocks").as_array()[1].at("text").at("text").as_string(),
            std::string(3000, 'x'));
}

struct SlackCase {
  int status;
  std::string retry_after;
  DeliveryState state;
  std::int64_t retry_after_s;
  std::string detail;
};

class SlackStatusTable : public ::testing::TestWithParam<SlackCase> {};

TEST_P(SlackStatusTable, Classifies) {
  const auto& c = GetParam();
  auto rx = SlackLike(c.status, c.retry_after);
  auto t = Slack();
  Delivery d;
  d.id = "msg_4";
  d.address = rx.Url(std::string(kHookPath));
  d.text = "hello";
  const DeliveryResult r = t->Deliver(d);
  EXPECT_EQ(r.state, c.state) << r.detail;
  EXPECT_EQ(r.status, c.status);
  EXPECT_EQ(r.retry_after_s, c.retry_after_s);
  EXPECT_THAT(r.detail, HasSubstr(c.detail));
  EXPECT_THAT(r.detail, Not(HasSubstr("secret")));
  EXPECT_THAT(r.detail, Not(HasSubstr("services")));
}

INSTANTIATE_TEST_SUITE_P(
    Table, SlackStatusTable,
    ::testing::Values(SlackCase{200, "", DeliveryState::kSent, 0, "HTTP 200 (ok)"},
                      SlackCase{429, "30", DeliveryState::kRetry, 30, "HTTP 429 (rate_limited)"},
                      SlackCase{500, "", DeliveryState::kRetry, 0, "HTTP 500"},
                      SlackCase{503, "", DeliveryState::kRetry, 0, "HTTP 503"},
                      SlackCase{404, "", DeliveryState::kFailed, 0, "HTTP 404 (no_service)"},
                      SlackCase{403, "", DeliveryState::kFailed, 0, "HTTP 403"}));

TEST(Slack, DeniedAndRefusedDeliveriesNameNoUrl) {
  TransportOptions o;
  o.http = testing::Client();  // no allow-list: loopback refused
  auto t = MakeSlackTransport(o);
  ASSERT_TRUE(t);
  Delivery d;
  d.id = "msg_5";
  d.address = "http://127.0.0.1:9" + std::string(kHookPath);
  d.text = "x";
  DeliveryResult r = (*t)->Deliver(d);
  EXPECT_EQ(r.state, DeliveryState::kFailed);
  EXPECT_EQ(r.detail, "address denied (loopback)");
  d.address = "ftp://hooks.slack.com" + std::string(kHookPath);
  r = (*t)->Deliver(d);
  EXPECT_EQ(r.state, DeliveryState::kFailed);
  EXPECT_THAT(r.detail, Not(HasSubstr("secret")));
  d.address = "http://127.0.0.1:9" + std::string(kHookPath);
  d.text = "\xC3";  // cut UTF-8
  EXPECT_THAT((*t)->Deliver(d).detail, HasSubstr("UTF-8"));
}

}  // namespace
}  // namespace opsorch::notify
