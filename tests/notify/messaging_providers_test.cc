// webhook, slack and smtp as OpsOrch messaging providers: config validation through the
// registry, and one Send each against the real receivers.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/notify/providers.h>
#include <opsorch/notify/transport.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/registry.h>

#include "notify/receiver.h"

namespace opsorch::notify {
namespace {

using providers::Capability;
using providers::MessagingProvider;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Receiver;
using testing::Str;

constexpr std::string_view kSecret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kPassword = "sm7p-pa55word";

providers::ProviderRegistry Registry(bool allow_loopback = true) {
  providers::ProviderRegistry registry;
  NotifyEnvironment env;  // no client: the registration makes one
  if (allow_loopback) env.allow_nets = testing::Loopback();
  EXPECT_TRUE(RegisterNotifyProviders(registry, env));
  return registry;
}

JsonObject Config(std::string_view json) {
  auto v = ParseJson(json);
  EXPECT_TRUE(v && v->is_object()) << json;
  return v->get_object();
}

std::shared_ptr<MessagingProvider> Build(const providers::ProviderRegistry& registry,
                                         std::string_view name, const JsonObject& config) {
  providers::ProviderSpec spec;
  spec.name = std::string(name);
  spec.config = config;
  auto built = registry.Build(Capability::kMessaging, spec);
  EXPECT_TRUE(built) << built.error().message;
  if (!built) return nullptr;
  EXPECT_EQ(built->model, providers::CallModel::kPool);
  return std::dynamic_pointer_cast<MessagingProvider>(built->provider);
}

TEST(NotifyProviders, Registered) {
  auto registry = Registry();
  EXPECT_THAT(registry.Names(Capability::kMessaging),
              ::testing::IsSupersetOf({"webhook", "slack", "smtp"}));
}

struct ConfigCase {
  std::string provider;
  std::string config;
  std::string error;
};

class ConfigTable : public ::testing::TestWithParam<ConfigCase> {};

TEST_P(ConfigTable, RefusesNamingTheKeyAndRule) {
  const auto& c = GetParam();
  auto registry = Registry();
  providers::ProviderSpec spec;
  spec.name = c.provider;
  spec.config = Config(c.config);
  auto built = registry.Build(Capability::kMessaging, spec);
  ASSERT_FALSE(built) << c.config;
  EXPECT_EQ(built.error().code, ErrorCode::kBadRequest);
  EXPECT_THAT(built.error().message, HasSubstr(c.error));
  for (std::string_view secret : {kSecret.substr(6), kPassword, std::string_view("T000/B000")}) {
    EXPECT_THAT(built.error().message, Not(HasSubstr(std::string(secret))));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigTable,
    ::testing::Values(
        ConfigCase{"webhook", "{}", "url: is required"},
        ConfigCase{"webhook", R"({"url":"ftp://x.example/T000/B000"})",
                   "url: must be an http or https URL"},
        ConfigCase{"webhook", R"({"url":"https://x.example","secret":"MDEyMzQ1"})",
                   "secret: must be \"whsec_\""},
        ConfigCase{"webhook", R"({"url":"https://x.example","secret":"whsec_c2hvcnQ="})",
                   "secret: key is too short"},
        ConfigCase{"webhook", R"({"url":"https://x.example","secret":7})",
                   "secret: must be a string"},
        ConfigCase{"webhook", R"({"url":"https://x.example","headers":{}})",
                   "headers: unknown field"},
        ConfigCase{"slack", R"({"url":"https://hooks.slack.com/services/T000/B000/x","x":1})",
                   "x: unknown field"},
        ConfigCase{"slack", R"({"url":5})", "url: must be a string"},
        ConfigCase{"slack", R"({"url":"https://hooks.slack.com:T000/B000/x"})", "url: must "},
        ConfigCase{"slack", R"({"url":"https://u:T000@hooks.slack.com/services/T000/B000/x"})",
                   "url: must not carry user:password@"},
        ConfigCase{"smtp", R"({"url":"smtp://mail.example","from":"p@example.com","tls":1})",
                   "tls: unknown field"},
        ConfigCase{"smtp", R"({"url":"https://mail.example","from":"p@example.com"})",
                   "url: must be smtp://"},
        ConfigCase{"smtp", R"({"url":"smtp://mail.example"})", "from: is required"},
        ConfigCase{"smtp", R"({"url":"smtp://mail.example","from":"Pager <p@example.com>"})",
                   "from: must be a plain e-mail address"},
        ConfigCase{"smtp",
                   R"({"url":"smtp://mail.example","from":"p@example.com","username":"u",
                       "password":"sm7p-pa55word"})",
                   "password: needs requireTls"},
        ConfigCase{"smtp",
                   R"({"url":"smtp://mail.example","from":"p@example.com","requireTls":"yes"})",
                   "requireTls: must be true or false"}));

TEST(NotifyProviders, ValidConfigsBuild) {
  auto registry = Registry();
  EXPECT_TRUE(Build(registry, "webhook", Config(R"({"url":"https://x.example/hook"})")));
  EXPECT_TRUE(Build(registry, "slack",
                    Config(R"({"url":"https://hooks.slack.com/services/T000/B000/x"})")));
  EXPECT_TRUE(
      Build(registry, "smtp", Config(R"({"url":"smtp://mail.example:587","from":"p@example.com",
                               "username":"u","password":"sm7p-pa55word","requireTls":true})")));
}

TEST(NotifyProviders, WebhookSendsASignedMessageEvent) {
  Receiver rx([](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  auto registry = Registry();
  JsonObject config;
  config["url"] = rx.Url("/hook");
  config["secret"] = kSecret;
  auto p = Build(registry, "webhook", config);
  ASSERT_TRUE(p);
  schema::Message m;
  m.channel = "ops";
  m.body = "checkout is down";
  m.metadata["idempotencyKey"] = "inc-42-step-1";
  m.metadata["incident"] = "42";
  auto r = p->Send(m);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, "inc-42-step-1");
  EXPECT_EQ(r->channel, "ops");
  EXPECT_FALSE(r->sent_at.IsZero());
  const auto seen = rx.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].Header("webhook-id"), "inc-42-step-1");
  const std::string ts = seen[0].Header("webhook-timestamp");
  EXPECT_EQ(seen[0].Header("webhook-signature"),
            SignWebhook(kKey, "inc-42-step-1", std::atoll(ts.c_str()), seen[0].body));
  auto body = ParseJson(seen[0].body);
  ASSERT_TRUE(body && body->is_object());
  EXPECT_EQ(Str(*body, "event"), "message");
  EXPECT_EQ(Str(*body, "channel"), "ops");
  EXPECT_EQ(Str(*body, "body"), "checkout is down");
  EXPECT_EQ(body->at("metadata").at("incident").as_string(), "42");

  // Without a key a random id is generated, a new one per send.
  m.metadata.erase("idempotencyKey");
  auto r1 = p->Send(m);
  auto r2 = p->Send(m);
  ASSERT_TRUE(r1 && r2);
  EXPECT_THAT(r1->id, ::testing::StartsWith("msg_"));
  EXPECT_NE(r1->id, r2->id);
  // A key that cannot be a webhook-id is refused.
  m.metadata["idempotencyKey"] = "a.b";
  auto bad = p->Send(m);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("metadata.idempotencyKey"));
}

TEST(NotifyProviders, FailedDeliveriesAreErrorsWithoutSecrets) {
  Receiver rx([](const httplib::Request& req, httplib::Response& res) {
    res.status = req.path == "/gone" ? 410 : 503;
  });
  auto registry = Registry();
  JsonObject config;
  config["url"] = rx.Url("/retry?token=query-secret");
  config["secret"] = kSecret;
  auto p = Build(registry, "webhook", config);
  ASSERT_TRUE(p);
  schema::Message m;
  m.channel = "ops";
  m.body = "x";
  auto r = p->Send(m);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message, HasSubstr("HTTP 503"));
  config["url"] = rx.Url("/gone");
  auto gone = Build(registry, "webhook", config)->Send(m);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kProviderError);
  EXPECT_THAT(gone.error().message, HasSubstr("410"));
  for (const auto& e : {r.error(), gone.error()}) {
    EXPECT_THAT(e.message, Not(HasSubstr("query-secret")));
    EXPECT_THAT(e.message, Not(HasSubstr(std::string(kSecret.substr(6)))));
    EXPECT_THAT(e.message, Not(HasSubstr("127.0.0.1")));
  }
  // Without the allow-list the loopback receiver is refused.
  auto denied = Build(Registry(false), "webhook", config)->Send(m);
  ASSERT_FALSE(denied);
  EXPECT_THAT(denied.error().message, HasSubstr("address denied (loopback)"));
}

TEST(NotifyProviders, SlackMapsBlocks) {
  Receiver rx([](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content("ok", "text/plain");
  });
  auto registry = Registry();
  JsonObject config;
  config["url"] = rx.Url("/services/T000/B000/secret");
  auto p = Build(registry, "slack", config);
  ASSERT_TRUE(p);
  schema::Message m;
  m.channel = "#ops";
  m.body = "Incident 42 triggered";
  m.blocks = {{"header", "Incident 42", {}},
              {"section", "*checkout* is down", {{"Service", "checkout"}, {"Urgency", "high"}}},
              {"divider", "", {}}};
  auto r = p->Send(m);
  ASSERT_TRUE(r) << r.error().message;
  const auto seen = rx.seen();
  ASSERT_EQ(seen.size(), 1u);
  auto v = ParseJson(seen[0].body);
  ASSERT_TRUE(v && v->is_object());
  EXPECT_EQ(Str(*v, "text"), "Incident 42 triggered");
  const auto& blocks = v->at("blocks").as_array();
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].at("type").as_string(), "header");
  EXPECT_EQ(blocks[0].at("text").at("type").as_string(), "plain_text");
  EXPECT_EQ(blocks[0].at("text").at("text").as_string(), "Incident 42");
  EXPECT_EQ(blocks[1].at("type").as_string(), "section");
  EXPECT_EQ(blocks[1].at("text").at("text").as_string(), "*checkout* is down");
  EXPECT_EQ(blocks[1].at("fields").as_array()[0].at("text").as_string(), "*Service*\ncheckout");
  EXPECT_EQ(blocks[2].at("type").as_string(), "divider");

  m.blocks = {{"table", "", {}}};
  auto bad = p->Send(m);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("blocks[0].type"));
}

TEST(NotifyProviders, SmtpSendsToTheChannel) {
  testing::SmtpSink sink;
  auto registry = Registry();
  JsonObject config;
  config["url"] = sink.Url();
  config["from"] = "pager@opsorch.test";
  auto p = Build(registry, "smtp", config);
  ASSERT_TRUE(p);
  schema::Message m;
  m.channel = "oncall@example.com";
  m.body = "checkout is down\nsecond line";
  m.metadata["subject"] = "[opsorch] Incident 42";
  m.metadata["idempotencyKey"] = "inc-42";
  auto r = p->Send(m);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, "inc-42");
  EXPECT_EQ(r->metadata.at("providerId").as_string(), "<inc-42@opsorch>");
  const JsonArray mails = sink.Messages();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(Str(mails[0], "rcpt"), "oncall@example.com");
  EXPECT_EQ(Str(mails[0], "subject"), "[opsorch] Incident 42");
  EXPECT_EQ(Str(mails[0], "message_id"), "<inc-42@opsorch>");
  EXPECT_EQ(std::string(mails[0].at("parts").at("text/plain").as_string()),
            "checkout is down\nsecond line\n");

  m.channel = "reject@example.com";
  auto refused = p->Send(m);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kProviderError);
  m.channel = "not an address";
  auto bad = p->Send(m);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("channel: must be the recipient"));
}

}  // namespace
}  // namespace opsorch::notify
