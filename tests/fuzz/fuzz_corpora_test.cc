// Replays the seed corpora of fuzz_http, fuzz_pagerduty, fuzz_alertmanager,
// fuzz_alertmanager_push, fuzz_plugin_reply, fuzz_time and fuzz_paging_config
// (tests/fuzz/corpus_<name>/) through the fuzzers' own bodies in every build, so that inputs that
// once crashed or broke an invariant stay fixed without a clang build, and pins what a few of the
// seeds must give. (The workflow targets replay in workflow_corpora_test.cc.)
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/engine/decode.h>
#include <opsorch/http/server.h>

#include "fuzz/alertmanager_check.h"
#include "fuzz/alertmanager_push_check.h"
#include "fuzz/corpus_files.h"
#include "fuzz/http_check.h"
#include "fuzz/pagerduty_check.h"
#include "fuzz/paging_config_check.h"
#include "fuzz/plugin_reply_check.h"
#include "fuzz/time_check.h"
#include "http/request_parser.h"
#include "support/http_client.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kFuzzDir = fs::path(OPSORCH_TEST_DATA_DIR) / "fuzz";

struct Target {
  const char* name;  // fuzz_<name>, corpus_<name>/
  std::vector<std::string> (*check)(std::string_view);
};

class FuzzCorpus : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzCorpus, EveryFileKeepsTheInvariants) {
  const fs::path dir = kFuzzDir / (std::string("corpus_") + GetParam().name);
  const std::vector<CorpusFile> files = ReadCorpusDir(dir);
  // Guards against a wrong path silently testing nothing.
  ASSERT_GE(files.size(), 10u) << dir;
  for (const CorpusFile& file : files) {
    for (const std::string& violation : GetParam().check(file.bytes)) {
      ADD_FAILURE() << GetParam().name << "/" << file.name << ": " << violation;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Targets, FuzzCorpus,
    ::testing::Values(Target{"http", &CheckHttpRequests}, Target{"pagerduty", &CheckPagerDuty},
                      Target{"alertmanager", &CheckAlertmanager},
                      Target{"alertmanager_push", &CheckAlertmanagerPush},
                      Target{"plugin_reply", &CheckPluginReply}, Target{"time", &CheckTimes},
                      Target{"paging_config", &CheckPagingConfig}),
    [](const ::testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

std::string Seed(const char* target, const char* file) {
  const fs::path path = kFuzzDir / (std::string("corpus_") + target) / file;
  EXPECT_TRUE(fs::exists(path)) << path;
  return ReadFileBytes(path);
}

// ---- fuzz_http ----------------------------------------------------------------------------

constexpr std::size_t kHeaderLimit = 16 << 10;
constexpr std::size_t kBodyLimit = 1 << 20;

// Each way to make two parsers disagree on where a request ends is refused before its body.
TEST(FuzzCorpusHttp, SmugglingSeedsAreRefused) {
  for (const char* file : {"smuggle_cl_te.http",
                           "smuggle_te_cl.http",
                           "smuggle_te_gzip.http",
                           "smuggle_te_xchunked.http",
                           "smuggle_te_chunked_gzip.http",
                           "smuggle_te_gzip_chunked.http",
                           "smuggle_te_two_lines.http",
                           "smuggle_te_trailing_comma.http",
                           "smuggle_te_http10.http",
                           "smuggle_te_space_before_colon.http",
                           "smuggle_cl_duplicate_same.http",
                           "smuggle_cl_duplicate_differ.http",
                           "smuggle_cl_list.http",
                           "smuggle_cl_plus.http",
                           "smuggle_cl_negative.http",
                           "smuggle_obs_fold.http",
                           "smuggle_obs_fold_te.http",
                           "smuggle_obs_fold_tab_host.http",
                           "smuggle_bare_lf.http",
                           "smuggle_bare_lf_in_header.http",
                           "smuggle_bare_cr.http",
                           "smuggle_bare_lf_chunk_line.http",
                           "smuggle_bare_lf_after_chunk_data.http",
                           "smuggle_chunk_size_0x.http",
                           "smuggle_chunk_size_space.http",
                           "smuggle_chunk_size_overflow.http",
                           "smuggle_chunk_data_too_long.http",
                           "missing_host.http",
                           "two_hosts.http",
                           "two_hosts_http10.http",
                           "regress_chunk_ext_bare_lf.http",
                           "regress_obs_fold_in_first_read.http"}) {
    const auto r = http::ParseRequest(Seed("http", file), kHeaderLimit, kBodyLimit);
    EXPECT_FALSE(r.complete) << file;
    EXPECT_NE(r.error, "") << file;
  }
}

TEST(FuzzCorpusHttp, FramingRefusalsSayWhy) {
  const auto reason = [](const char* file) {
    return http::ParseRequest(Seed("http", file), kHeaderLimit, kBodyLimit).error;
  };
  EXPECT_EQ(reason("smuggle_te_gzip.http"),
            "unsupported Transfer-Encoding (only \"chunked\" is accepted)");
  EXPECT_EQ(reason("smuggle_cl_list.http"), "more than one Content-Length");
  EXPECT_EQ(reason("smuggle_obs_fold.http"), "obsolete line folding in a header");
  EXPECT_EQ(reason("missing_host.http"), "missing Host header");
  EXPECT_EQ(reason("two_hosts_http10.http"), "more than one Host header");
}

TEST(FuzzCorpusHttp, ChunkedAndPipelinedSeedsParse) {
  const std::string chunked = Seed("http", "chunked_extensions.http");
  auto r = http::ParseRequest(chunked, kHeaderLimit, kBodyLimit);
  ASSERT_TRUE(r.complete) << r.error;
  EXPECT_EQ(r.scratch.body, "Wikipedia");
  EXPECT_EQ(r.consumed, chunked.size());

  const std::string pipelined = Seed("http", "pipelined_three.http");
  std::string_view rest = pipelined;
  std::vector<std::string> bodies;
  while (!rest.empty()) {
    auto p = http::ParseRequest(rest, kHeaderLimit, kBodyLimit);
    ASSERT_TRUE(p.complete) << p.error;
    bodies.push_back(p.scratch.body);
    rest.remove_prefix(p.consumed);
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"", "abc", "hi"}));
}

// The server itself, for the two fuzz_http findings that only its read loop shows.
class EchoHandler final : public http::Handler {
 public:
  void Handle(const http::Request& r, http::ResponseCallback done) override {
    http::Response response;
    response.body = std::string(r.method_text) + " " + std::string(r.target) + "\n";
    for (const http::HeaderField& h : r.headers) {
      response.body += std::string(h.name) + ": " + std::string(h.value) + "\n";
    }
    done(std::move(response));
  }
};

class EchoServer {
 public:
  EchoServer() {
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    auto created = http::Server::Create(options, handler_);
    EXPECT_TRUE(created) << created.error().message;
    if (created) server_ = std::move(*created);
    if (server_) thread_ = std::thread([this] { server_->Run(); });
  }
  ~EchoServer() {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t Port() const { return server_ ? server_->Port() : 0; }

 private:
  EchoHandler handler_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

// Beast consumes the request line and whole field lines before it has the end of the header;
// the obs-fold check once looked only at the bytes of the last read, so a fold in the first
// read of a header that took two reached the handler unfolded ("X-A: a b").
TEST(FuzzFindingsHttp, ObsFoldInAnEarlierReadIsRefused) {
  EchoServer server;
  HttpClient client(server.Port());
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nX"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(client.Send("-B: c\r\n\r\n"));
  const HttpResponse r = client.ReadResponse();
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("obsolete line folding"));
}

// Trailer fields of a chunked body were appended to the scratch store after the header had been
// handed to the handler as views into it: a large trailer moved the store and the handler read
// freed memory (ASan: heap-use-after-free). Trailer fields are now dropped.
TEST(FuzzFindingsHttp, TrailerFieldsNeitherMoveTheHeaderNorReachTheHandler) {
  EchoServer server;
  HttpClient client(server.Port());
  const HttpResponse r = client.Raw(
      "POST /v2/enqueue HTTP/1.1\r\nHost: x\r\nX-Before: kept\r\n"
      "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: " +
      std::string(4000, 't') + "\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("POST /v2/enqueue\n"));
  EXPECT_THAT(r.body, HasSubstr("X-Before: kept\n"));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("X-Trailer")));

  const auto parsed =
      http::ParseRequest(Seed("http", "regress_chunked_trailer.http"), kHeaderLimit, kBodyLimit);
  ASSERT_TRUE(parsed.complete) << parsed.error;
  EXPECT_EQ(parsed.scratch.fields.size(), 2u);  // Host and Transfer-Encoding; no trailer
}

// ---- fuzz_pagerduty / fuzz_alertmanager --------------------------------------------------------

TEST(FuzzCorpusPagerDuty, LimitsAreInCharactersAndNamed) {
  auto ok = engine::DecodePagerDutyEvent(Seed("pagerduty", "dedup_key_255_multibyte.json"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(CountCodePoints(ok->dedup_key), 255u);
  auto too_long = engine::DecodePagerDutyEvent(Seed("pagerduty", "summary_1025.json"));
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().at(0).field, "payload.summary");
  auto nul = engine::DecodePagerDutyEvent(Seed("pagerduty", "nul_in_summary.json"));
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().at(0).field, "payload.summary");
  EXPECT_THAT(nul.error().at(0).message, HasSubstr("NUL"));
}

TEST(FuzzCorpusPagerDuty, TimestampsOutsideInt64NanosecondsAreRefused) {
  for (const char* file : {"trigger_timestamp_year_one.json", "trigger_timestamp_after_2262.json",
                           "trigger_timestamp_before_1678.json"}) {
    auto d = engine::DecodePagerDutyEvent(Seed("pagerduty", file));
    ASSERT_FALSE(d) << file;
    EXPECT_EQ(d.error().at(0).field, "payload.timestamp") << file;
    EXPECT_EQ(d.error().at(0).message, Time::kNanosRange) << file;
  }
}

TEST(FuzzCorpusAlertmanager, SummaryIsTruncatedAndAlwaysSaysSomething) {
  auto d =
      engine::DecodeAlertmanager(Seed("alertmanager", "summary_2000_chars.json"), kAlertmanagerKey);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ(CountCodePoints(d->front().summary), 1024u);
  EXPECT_THAT(d->front().summary, ::testing::EndsWith("\u2026"));

  auto bare = engine::DecodeAlertmanager(Seed("alertmanager", "no_alertname_no_instance.json"),
                                         kAlertmanagerKey);
  ASSERT_TRUE(bare);
  EXPECT_THAT(bare->front().summary, ::testing::StartsWith("Alertmanager alert "));
  EXPECT_EQ(bare->front().source, "node");
  EXPECT_EQ(bare->front().dedup_key.size(), 16u);
}

// The Prometheus seeds reach the mapping (else the fuzzer starts from inputs that never get past
// validation), and a mixed push keeps its valid alerts.
TEST(FuzzCorpusAlertmanagerPush, SeedsReachTheMapping) {
  const auto push = [](const char* file) {
    return engine::DecodeAlertmanagerPush(Seed("alertmanager_push", file), kAlertmanagerPushKey,
                                          kPushNow, kPushResolveTimeout);
  };
  auto batch = push("prometheus_batch_firing_and_resolved.json");
  ASSERT_TRUE(batch);
  EXPECT_THAT(batch->errors, ::testing::IsEmpty());
  ASSERT_EQ(batch->events.size(), 3u);
  EXPECT_EQ(batch->events[0].action, engine::EventAction::kTrigger);
  EXPECT_EQ(batch->events[1].action, engine::EventAction::kResolve);
  EXPECT_EQ(batch->events[2].action, engine::EventAction::kTrigger);

  auto mixed = push("mixed_valid_invalid.json");
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->events.size(), 2u);
  EXPECT_EQ(mixed->errors.size(), 5u);

  auto object = push("not_array_object.json");
  ASSERT_FALSE(object);
  EXPECT_EQ(object.error().at(0).message, "must be a JSON array of alerts");
}

// ---- fuzz_plugin_reply ------------------------------------------------------------------------

TEST(FuzzCorpusPluginReply, StreamsAreReadValueByValue) {
  const auto at_once = [](std::size_t left) { return left; };
  EXPECT_EQ(ReadReplies(Seed("plugin_reply", "two_answers_one_stream.json"), at_once).values.size(),
            2u);
  const ReplyStream torn = ReadReplies(Seed("plugin_reply", "torn_answer.json"), at_once);
  EXPECT_TRUE(torn.torn);
  EXPECT_TRUE(ReadReplies(Seed("plugin_reply", "answer_then_garbage.json"), at_once).error);
}

TEST(FuzzCorpusPluginReply, ErrorMessagesAreMasked) {
  for (const char* file : {"error_string_with_secret.json", "error_object_secret_go_escaped.json",
                           "error_object_secret_raw.json", "error_array.json"}) {
    const auto values =
        ReadReplies(Seed("plugin_reply", file), [](std::size_t left) { return left; }).values;
    ASSERT_EQ(values.size(), 1u) << file;
    const PluginAnswer a = InterpretAnswer(values[0], PluginRedactor());
    ASSERT_FALSE(a.ok) << file;
    EXPECT_THAT(a.error_message, HasSubstr("[redacted]")) << file;
  }
}

}  // namespace
}  // namespace opsorch::testing
