// The SMTP transport against a real SMTP server (aiosmtpd, tests/notify/smtp_sink.py) in a
// child process; what arrived is read back from its Maildir by Python's email package.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/notify/transport.h>

#include "notify/mime.h"
#include "notify/receiver.h"

namespace opsorch::notify {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::SmtpSink;
using testing::Str;

constexpr std::string_view kPassword = "pa55-w0rd-never-shown";

TransportOptions Options(const SmtpSink& sink) {
  TransportOptions o;
  o.allow_nets = testing::Loopback();
  o.timeout = std::chrono::seconds(10);
  o.smtp_url = sink.Url();
  o.smtp_from = "pager@opsorch.test";
  return o;
}

std::unique_ptr<Transport> Smtp(const TransportOptions& o) {
  auto t = MakeSmtpTransport(o);
  EXPECT_TRUE(t) << t.error().message;
  return t ? std::move(*t) : nullptr;
}

Delivery Mail(std::string to) {
  Delivery d;
  d.id = "msg_0123abcd";
  d.address = std::move(to);
  d.subject = "Incident #42 triggered";
  d.text = "checkout is down";
  return d;
}

TEST(Smtp, DeliversAMultipartMessage) {
  SmtpSink sink;
  auto t = Smtp(Options(sink));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->type(), "smtp");
  EXPECT_FALSE(t->idempotent());
  Delivery d = Mail("oncall@example.com");
  d.subject = "Störung ⚠ checkout — Zahlungen schlagen fehl, bitte sofort prüfen (Vorfall 42)";
  const std::string long_line(200, 'w');
  d.text = "Line one\n.\n..\nnaïve = café\n" + long_line + "\nend with space \nlast";
  d.html = "<p>Störung <b>42</b></p>\n.\n<p>end</p>";
  const DeliveryResult r = t->Deliver(d);
  ASSERT_EQ(r.state, DeliveryState::kSent) << r.detail;
  EXPECT_EQ(r.status, 250);
  EXPECT_EQ(r.provider_id, "<msg_0123abcd@opsorch>");

  const JsonArray mails = sink.Messages();
  ASSERT_EQ(mails.size(), 1u);
  const JsonValue& m = mails[0];
  EXPECT_EQ(Str(m, "rcpt"), "oncall@example.com");
  EXPECT_EQ(Str(m, "mailfrom"), "pager@opsorch.test");
  EXPECT_EQ(Str(m, "from"), "pager@opsorch.test");
  EXPECT_EQ(Str(m, "to"), "oncall@example.com");
  EXPECT_EQ(Str(m, "subject"), d.subject);
  EXPECT_EQ(Str(m, "message_id"), "<msg_0123abcd@opsorch>");
  EXPECT_FALSE(Str(m, "date").empty());
  EXPECT_EQ(Str(m, "content_type"), "multipart/alternative");
  const auto& parts = m.at("parts").as_object();
  // Python gives the parts with \n line ends (the CRLF before a boundary belongs to the
  // boundary); the lone "." and ".." lines survived the SMTP dot-stuffing.
  EXPECT_EQ(std::string(parts.at("text/plain").as_string()),
            "Line one\n.\n..\nnaïve = café\n" + long_line + "\nend with space \nlast");
  EXPECT_EQ(std::string(parts.at("text/html").as_string()),
            "<p>Störung <b>42</b></p>\n.\n<p>end</p>");
}

TEST(Smtp, TextOnlyIsOnePart) {
  SmtpSink sink;
  auto t = Smtp(Options(sink));
  ASSERT_TRUE(t);
  const DeliveryResult r = t->Deliver(Mail("a.b+tag@example.com"));
  ASSERT_EQ(r.state, DeliveryState::kSent) << r.detail;
  const JsonArray mails = sink.Messages();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(Str(mails[0], "content_type"), "text/plain");
  EXPECT_EQ(Str(mails[0], "subject"), "Incident #42 triggered");
  EXPECT_EQ(std::string(mails[0].at("parts").at("text/plain").as_string()), "checkout is down\n");
}

TEST(Smtp, RefusesHeaderInjectionBeforeSending) {
  SmtpSink sink;
  auto t = Smtp(Options(sink));
  ASSERT_TRUE(t);
  struct Case {
    std::string to;
    std::string subject;
    std::string detail;
  } cases[] = {
      {"oncall@example.com", "hi\r\nBcc: evil@example.com", "subject: must not contain CR"},
      {"oncall@example.com", "hi\nBcc: evil@example.com", "subject: must not contain CR"},
      {"oncall@example.com>\r\nRCPT TO:<evil@example.com", "hi", "recipient: must be a plain"},
      {"Eve <evil@example.com>", "hi", "recipient: must be a plain"},
      {"\"quoted\"@example.com", "hi", "recipient: must be a plain"},
      {"no-at-sign", "hi", "recipient: must be a plain"},
      {"a@-bad-.com", "hi", "recipient: must be a plain"},
      {"oncall@example.com", "bad \xC3 utf8", "subject: must be valid UTF-8"},
  };
  for (const auto& c : cases) {
    Delivery d = Mail(c.to);
    d.subject = c.subject;
    const DeliveryResult r = t->Deliver(d);
    EXPECT_EQ(r.state, DeliveryState::kFailed) << c.detail;
    EXPECT_THAT(r.detail, HasSubstr(c.detail));
  }
  EXPECT_TRUE(sink.Messages().empty());
}

TEST(Smtp, TemporaryRefusalIsRetryPermanentIsFailed) {
  SmtpSink sink;
  auto t = Smtp(Options(sink));
  ASSERT_TRUE(t);
  DeliveryResult r = t->Deliver(Mail("tempfail@example.com"));
  EXPECT_EQ(r.state, DeliveryState::kRetry) << r.detail;
  EXPECT_EQ(r.status, 451);
  EXPECT_THAT(r.detail, HasSubstr("SMTP 451"));
  r = t->Deliver(Mail("reject@example.com"));
  EXPECT_EQ(r.state, DeliveryState::kFailed) << r.detail;
  EXPECT_EQ(r.status, 550);
  EXPECT_TRUE(sink.Messages().empty());
}

TEST(Smtp, ConnectionRefusedIsRetry) {
  TransportOptions o;
  o.allow_nets = testing::Loopback();
  o.smtp_url = "smtp://127.0.0.1:" + std::to_string(testing::FreePort());
  o.smtp_from = "pager@opsorch.test";
  auto t = Smtp(o);
  ASSERT_TRUE(t);
  const DeliveryResult r = t->Deliver(Mail("oncall@example.com"));
  EXPECT_EQ(r.state, DeliveryState::kRetry) << r.detail;
}

TEST(Smtp, LoopbackServerIsDeniedWithoutTheAllowList) {
  SmtpSink sink;
  TransportOptions o = Options(sink);
  o.allow_nets = nullptr;
  auto t = Smtp(o);
  ASSERT_TRUE(t);
  const DeliveryResult r = t->Deliver(Mail("oncall@example.com"));
  EXPECT_EQ(r.state, DeliveryState::kFailed);
  EXPECT_EQ(r.detail, "address denied (loopback)");
  EXPECT_TRUE(sink.Messages().empty());
}

TEST(Smtp, RequiredTlsThatTheServerLacksIsRetryAndNeverShowsThePassword) {
  SmtpSink sink;  // offers no STARTTLS
  TransportOptions o = Options(sink);
  o.smtp_username = "pager";
  o.smtp_password = std::string(kPassword);
  o.smtp_require_tls = true;
  auto t = Smtp(o);
  ASSERT_TRUE(t);
  const DeliveryResult r = t->Deliver(Mail("oncall@example.com"));
  EXPECT_EQ(r.state, DeliveryState::kRetry) << r.detail;
  EXPECT_THAT(r.detail, HasSubstr("TLS"));
  EXPECT_THAT(r.detail, Not(HasSubstr(std::string(kPassword))));
  EXPECT_TRUE(sink.Messages().empty());
}

TEST(Smtp, OptionsAreValidatedWithoutEchoingSecrets) {
  struct Case {
    std::function<void(TransportOptions&)> change;
    std::string error;
  } cases[] = {
      {[](TransportOptions& o) { o.smtp_url = "http://mail.example.com"; }, "url: must be smtp://"},
      {[](TransportOptions& o) { o.smtp_url = "smtp://u:pw@mail.example.com"; }, "user:password"},
      {[](TransportOptions& o) { o.smtp_url = "smtp://mail.example.com?x"; }, "query"},
      {[](TransportOptions& o) { o.smtp_url = "smtp://"; }, "must name a host"},
      {[](TransportOptions& o) { o.smtp_from = "Pager <p@x.com>"; }, "from: must be a plain"},
      {[](TransportOptions& o) { o.smtp_password = std::string(kPassword); },
       "give both or neither"},
      {[](TransportOptions& o) {
         o.smtp_username = "u";
         o.smtp_password = std::string(kPassword);
       },
       "password: needs requireTls"},
  };
  for (const auto& c : cases) {
    TransportOptions o;
    o.smtp_url = "smtp://mail.example.com:587";
    o.smtp_from = "pager@example.com";
    c.change(o);
    auto t = MakeSmtpTransport(o);
    ASSERT_FALSE(t) << c.error;
    EXPECT_THAT(t.error().message, HasSubstr(c.error));
    EXPECT_THAT(t.error().message, Not(HasSubstr(std::string(kPassword))));
    EXPECT_THAT(t.error().message, Not(HasSubstr("pw@")));
  }
  TransportOptions smtps;
  smtps.smtp_url = "smtps://mail.example.com";
  smtps.smtp_from = "pager@example.com";
  smtps.smtp_username = "u";
  smtps.smtp_password = std::string(kPassword);
  EXPECT_TRUE(MakeSmtpTransport(smtps));
}

TEST(Mime, QuotedPrintableKeepsLinesShortAndSevenBit) {
  const std::string qp = internal::QuotedPrintable(std::string(300, 'a') + " = é\t\nx ");
  std::size_t start = 0;
  while (start < qp.size()) {
    std::size_t end = qp.find("\r\n", start);
    if (end == std::string::npos) end = qp.size();
    EXPECT_LE(end - start, 76u);
    start = end + 2;
  }
  for (char c : qp) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
  EXPECT_THAT(qp, HasSubstr("=3D =C3=A9=09\r\nx=20"));
}

TEST(Mime, SubjectsAndIds) {
  EXPECT_EQ(internal::EncodeSubject("plain"), "plain");
  EXPECT_EQ(internal::EncodeSubject("é"), "=?UTF-8?B?w6k=?=");
  const std::string encoded = internal::EncodeSubject(std::string(40, 'x') + "€€€€");
  EXPECT_THAT(encoded, HasSubstr("?=\r\n =?UTF-8?B?"));  // folded, split between characters
  EXPECT_EQ(internal::MessageIdFor("msg_1"), "<msg_1@opsorch>");
  const std::string hashed = internal::MessageIdFor("a<b>@c");
  EXPECT_THAT(hashed, Not(HasSubstr("<b>")));
  EXPECT_EQ(hashed, internal::MessageIdFor("a<b>@c"));  // stable across retries
  EXPECT_EQ(internal::RfcDate(784111777), "Sun, 06 Nov 1994 08:49:37 +0000");
  EXPECT_TRUE(internal::ValidAddrSpec("first.last+tag@sub.example.co"));
  EXPECT_FALSE(internal::ValidAddrSpec("first..last@example.com"));
  EXPECT_FALSE(internal::ValidAddrSpec("a@b@example.com"));
  EXPECT_FALSE(internal::ValidAddrSpec("a @example.com"));
}

}  // namespace
}  // namespace opsorch::notify
