// The webhook transport against a real loopback receiver that verifies the Standard Webhooks
// signature on its own (OpenSSL HMAC over the raw received body), and the outcome table.
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <opsorch/notify/transport.h>

#include "notify/receiver.h"

namespace opsorch::notify {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Receiver;

// 32 bytes "0123456789abcdef0123456789abcdef", base64.
constexpr std::string_view kSecret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kQuerySecret = "tok3n-in-the-query";

// The receiver's side of Standard Webhooks, written against OpenSSL directly.
std::string ExpectedSignature(const std::string& id, const std::string& ts,
                              const std::string& body) {
  const std::string content = id + "." + ts + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &len);
  unsigned char b64[128] = {};
  EVP_EncodeBlock(b64, mac, static_cast<int>(len));
  return "v1," + std::string(reinterpret_cast<char*>(b64));
}

std::unique_ptr<Transport> Webhook(std::shared_ptr<const net::NetList> nets,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  TransportOptions o;
  o.http = testing::Client();
  o.allow_nets = std::move(nets);
  o.timeout = timeout;
  auto t = MakeWebhookTransport(o);
  EXPECT_TRUE(t);
  return std::move(*t);
}

Delivery Event(const std::string& url) {
  Delivery d;
  d.id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
  d.address = url;
  d.secret = std::string(kSecret);
  // Bytes a re-serialising sender would change: spacing, key order, escapes.
  d.json_body = R"({"type":"incident.triggered",  "data":{"z":1,"a":"caf\u00e9 <b>"}})";
  return d;
}

void ExpectNoSecret(const DeliveryResult& r) {
  EXPECT_THAT(r.detail, Not(HasSubstr(std::string(kSecret.substr(6)))));
  EXPECT_THAT(r.detail, Not(HasSubstr(std::string(kQuerySecret))));
  EXPECT_THAT(r.detail, Not(HasSubstr("127.0.0.1")));
  EXPECT_THAT(r.detail, Not(HasSubstr("http")));
}

TEST(Webhook, SignsTheExactBytesSentAndTheReceiverVerifiesThem) {
  Receiver rx([](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  auto t = Webhook(testing::Loopback());
  EXPECT_EQ(t->type(), "webhook");
  EXPECT_TRUE(t->idempotent());
  const Delivery d = Event(rx.Url("/hook?token=" + std::string(kQuerySecret)));
  const DeliveryResult r = t->Deliver(d);
  EXPECT_EQ(r.state, DeliveryState::kSent) << r.detail;
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.provider_id, d.id);
  ExpectNoSecret(r);

  const auto seen = rx.seen();
  ASSERT_EQ(seen.size(), 1u);
  const auto& got = seen[0];
  EXPECT_EQ(got.body, d.json_body);  // byte for byte
  EXPECT_EQ(got.Header("Content-Type"), "application/json");
  EXPECT_EQ(got.Header("webhook-id"), d.id);
  const std::string ts = got.Header("webhook-timestamp");
  const long long when = std::atoll(ts.c_str());
  const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_LE(std::llabs(now - when), 300) << ts;
  EXPECT_EQ(got.Header("webhook-signature"), ExpectedSignature(d.id, ts, got.body));
  // The library's signer agrees with the receiver's.
  EXPECT_EQ(SignWebhook(kKey, d.id, when, got.body), got.Header("webhook-signature"));
}

TEST(Webhook, RetriesKeepTheIdAndSignAgainWithTheAttemptsTimestamp) {
  Receiver rx([](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  auto t = Webhook(testing::Loopback());
  const Delivery d = Event(rx.Url("/hook"));
  EXPECT_EQ(t->Deliver(d).state, DeliveryState::kRetry);
  EXPECT_EQ(t->Deliver(d).state, DeliveryState::kRetry);
  const auto seen = rx.seen();
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& got : seen) {
    EXPECT_EQ(got.Header("webhook-id"), d.id);
    EXPECT_EQ(got.Header("webhook-signature"),
              ExpectedSignature(d.id, got.Header("webhook-timestamp"), got.body));
  }
}

TEST(Webhook, UnsignedWithoutASecret) {
  Receiver rx([](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  auto t = Webhook(testing::Loopback());
  Delivery d = Event(rx.Url("/hook"));
  d.secret.clear();
  EXPECT_EQ(t->Deliver(d).state, DeliveryState::kSent);
  ASSERT_EQ(rx.seen().size(), 1u);
  EXPECT_FALSE(rx.seen()[0].headers.count("webhook-signature"));
  EXPECT_EQ(rx.seen()[0].Header("webhook-id"), d.id);
}

struct StatusCase {
  int status;
  DeliveryState state;
  std::string retry_after;  // sent by the receiver
  std::int64_t min_retry_after_s = 0;
  std::int64_t max_retry_after_s = 0;
  bool disable = false;
};

class WebhookStatusTable : public ::testing::TestWithParam<StatusCase> {};

TEST_P(WebhookStatusTable, Classifies) {
  const StatusCase c = GetParam();
  Receiver rx([&c](const httplib::Request&, httplib::Response& res) {
    res.status = c.status;
    if (c.status == 301) res.set_header("Location", "/elsewhere");
    if (!c.retry_after.empty()) res.set_header("Retry-After", c.retry_after);
    res.set_content("{}", "application/json");
  });
  auto t = Webhook(testing::Loopback());
  const DeliveryResult r = t->Deliver(Event(rx.Url("/hook?token=" + std::string(kQuerySecret))));
  EXPECT_EQ(r.state, c.state) << c.status << ": " << r.detail;
  EXPECT_EQ(r.status, c.status);
  EXPECT_GE(r.retry_after_s, c.min_retry_after_s);
  EXPECT_LE(r.retry_after_s, c.max_retry_after_s);
  EXPECT_EQ(r.disable_endpoint, c.disable);
  EXPECT_THAT(r.detail, HasSubstr(std::to_string(c.status)));
  ExpectNoSecret(r);
  EXPECT_EQ(rx.seen().size(), 1u);  // a redirect is not followed
}

// Evaluated when the test program starts, so the tolerance is wide.
std::string HttpDateIn(int seconds) {
  const std::time_t t = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

INSTANTIATE_TEST_SUITE_P(
    Table, WebhookStatusTable,
    ::testing::Values(
        StatusCase{200, DeliveryState::kSent, ""}, StatusCase{204, DeliveryState::kSent, ""},
        StatusCase{202, DeliveryState::kSent, ""}, StatusCase{301, DeliveryState::kFailed, ""},
        StatusCase{400, DeliveryState::kFailed, ""}, StatusCase{404, DeliveryState::kFailed, ""},
        StatusCase{410, DeliveryState::kFailed, "", 0, 0, true},
        StatusCase{408, DeliveryState::kRetry, ""},
        StatusCase{429, DeliveryState::kRetry, "120", 120, 120},
        StatusCase{500, DeliveryState::kRetry, ""}, StatusCase{502, DeliveryState::kRetry, ""},
        StatusCase{503, DeliveryState::kRetry, HttpDateIn(600), 500, 600},
        StatusCase{504, DeliveryState::kRetry, "nonsense"}));

TEST(Webhook, AHangingReceiverTimesOutAsRetry) {
  Receiver rx([](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    res.status = 200;
  });
  auto t = Webhook(testing::Loopback(), std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  const DeliveryResult r = t->Deliver(Event(rx.Url("/hook")));
  EXPECT_EQ(r.state, DeliveryState::kRetry) << r.detail;
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.detail, HasSubstr("timed out"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1400));
  ExpectNoSecret(r);
}

TEST(Webhook, ConnectionRefusedIsRetry) {
  auto t = Webhook(testing::Loopback());
  const DeliveryResult r =
      t->Deliver(Event("http://127.0.0.1:" + std::to_string(testing::FreePort()) + "/x"));
  EXPECT_EQ(r.state, DeliveryState::kRetry) << r.detail;
  ExpectNoSecret(r);
}

TEST(Webhook, LoopbackIsDeniedWithoutTheAllowList) {
  Receiver rx([](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  for (auto nets : {std::shared_ptr<const net::NetList>(),
                    std::make_shared<const net::NetList>(*net::ParseNetList("10.0.0.0/8")),
                    std::make_shared<const net::NetList>(*net::ParseNetList("::1/128"))}) {
    auto t = Webhook(nets);
    const DeliveryResult r = t->Deliver(Event(rx.Url("/hook?token=" + std::string(kQuerySecret))));
    EXPECT_EQ(r.state, DeliveryState::kFailed);
    EXPECT_EQ(r.detail, "address denied (loopback)");
    ExpectNoSecret(r);
  }
  EXPECT_TRUE(rx.seen().empty());
  auto allowed = Webhook(std::make_shared<const net::NetList>(*net::ParseNetList("127.0.0.0/8")));
  EXPECT_EQ(allowed->Deliver(Event(rx.Url("/hook"))).state, DeliveryState::kSent);
  EXPECT_EQ(rx.seen().size(), 1u);
}

TEST(Webhook, RefusesBadDeliveriesBeforeSending) {
  Receiver rx([](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  auto t = Webhook(testing::Loopback());
  struct Case {
    std::function<void(Delivery&)> change;
    std::string detail;
  } cases[] = {
      {[](Delivery& d) { d.id = "a.b"; }, "delivery id"},
      {[](Delivery& d) { d.id.clear(); }, "delivery id"},
      {[](Delivery& d) { d.address = "ftp://127.0.0.1/x"; }, "url: must be an http or https"},
      {[](Delivery& d) { d.address = "http://user:pw@127.0.0.1/x"; }, "url: must not carry"},
      {[](Delivery& d) { d.address = "not a url"; }, "url: must be an absolute"},
      {[](Delivery& d) { d.json_body.clear(); }, "json body"},
      {[](Delivery& d) { d.secret = "whsec_!!!!"; }, "secret: must be"},
      {[](Delivery& d) { d.secret = "whsec_c2hvcnQ="; }, "secret: key is too short"},
  };
  for (auto& c : cases) {
    Delivery d = Event(rx.Url("/hook"));
    c.change(d);
    const DeliveryResult r = t->Deliver(d);
    EXPECT_EQ(r.state, DeliveryState::kFailed) << c.detail;
    EXPECT_THAT(r.detail, HasSubstr(c.detail));
    EXPECT_THAT(r.detail, Not(HasSubstr("pw@")));
  }
  EXPECT_TRUE(rx.seen().empty());
}

TEST(WebhookSecret, Decodes) {
  auto key = DecodeWebhookSecret(kSecret);
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, kKey);
  // Padding may be left off (the reference libraries append "==" before decoding).
  auto unpadded = DecodeWebhookSecret("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY");
  ASSERT_TRUE(unpadded);
  EXPECT_EQ(*unpadded, kKey);
  for (std::string_view bad : {"", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "whsec_",
                               "whsec_MDEy MzQ1", "whsec_A", "whsec_c2hvcnQ="}) {
    auto r = DecodeWebhookSecret(bad);
    EXPECT_FALSE(r) << bad;
    if (!r && bad.size() > 8) {
      EXPECT_THAT(r.error().message, Not(HasSubstr(std::string(bad.substr(6)))));
    }
  }
  EXPECT_FALSE(DecodeWebhookSecret("whsec_" + std::string(88, 'A')));  // 66 bytes: too long
}

TEST(RetryAfter, SecondsAndHttpDates) {
  const std::int64_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), 120);
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), 0);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), 0);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:51:37 GMT", now), 120);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:48:37 GMT", now), 0);  // past: now
  EXPECT_EQ(ParseRetryAfter("99999999999999", now), 7 * 24 * 3600);     // capped
  EXPECT_FALSE(ParseRetryAfter("", now));
  EXPECT_FALSE(ParseRetryAfter("-5", now));
  EXPECT_FALSE(ParseRetryAfter("1.5", now));
  EXPECT_FALSE(ParseRetryAfter("Sun, 31 Feb 1994 08:49:37 GMT", now));
  EXPECT_FALSE(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now));
}

}  // namespace
}  // namespace opsorch::notify
