// Alertmanager API v2 push benchmark (bench/alertmanager.sh; method: docs/BENCHMARKS.md). A
// closed-loop load generator over --connections keep-alive connections (cpp-httplib, TCP_NODELAY),
// each sending its next request as soon as the previous one is answered.
//
//   opsorch-alert-push-bench --base URL [--connections 4] [--seconds 10] [--warmup 2]
//       [--batch 64] [--distinct 10000]
//     POST <base>/api/v2/alerts with JSON arrays of --batch postableAlerts shaped byte for byte
//     as Prometheus 2.42 sends them (notifier.alertsToOpenAPIAlerts, marshalled by go-openapi:
//     annotations, endsAt, startsAt, generatorURL, labels; maps with sorted keys; "&" as
//     \u0026; times RFC 3339 with milliseconds; endsAt = now + 4 min, 4 × the 1 min resend
//     delay, as rules.AlertingRule.sendAlerts sets ValidUntil). The alerts cycle over --distinct
//     label sets (alertname × instance), so after the first pass every push refreshes firing
//     alerts, as a Prometheus resending its firing alerts does. --base is Alertmanager's root
//     (http://127.0.0.1:9093) or opsorch's http://127.0.0.1:P/integrations/alertmanager/KEY.
//
//   opsorch-alert-push-bench --base URL --events-v2 ROUTING_KEY [--batch 500] …
//     POST <base>/v2/enqueue/batch with --batch PagerDuty Events v2 triggers, dedup keys cycling
//     over --distinct (most events are repeats of open incidents); custom_details carry
//     alertname/instance/job labels, which silences are matched against. Entries of a 202 answer
//     that were not stored are counted as item_errors (and such a batch is not a success).
//
//   opsorch-alert-push-bench --base URL --create-silences N
//     Creates N silences (alertname="X-<i>", 24 h) with POST <base>/api/v2/silences and exits.
//
// Prints one "alert-push-bench …" line of key=value figures (and the first failed answer, if
// any). Exit status: 0, or 3 when no request succeeded (or a silence could not be created).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <httplib.h>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "opsorch-alert-push-bench: %s\n", why.c_str());
  std::exit(2);
}

struct Args {
  std::string base;
  int connections = 4;
  double seconds = 10;
  double warmup = 2;
  int batch = 0;  // 0: not given (64 alerts, or 500 events with --events-v2)
  long distinct = 10000;
  std::string events_v2;  // routing key: PagerDuty batches instead of alerts
  long create_silences = 0;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::puts(
          "usage: opsorch-alert-push-bench --base URL [--connections 4] [--seconds 10] "
          "[--warmup 2] [--batch 64] [--distinct 10000] [--events-v2 KEY] "
          "[--create-silences N]");
      std::exit(0);
    }
    if (i + 1 >= argc) Die(k + ": needs a value");
    const std::string v = argv[++i];
    try {
      // clang-format off
      if (k == "--base") a.base = v;
      else if (k == "--connections") a.connections = std::stoi(v);
      else if (k == "--seconds") a.seconds = std::stod(v);
      else if (k == "--warmup") a.warmup = std::stod(v);
      else if (k == "--batch") a.batch = std::stoi(v);
      else if (k == "--distinct") a.distinct = std::stol(v);
      else if (k == "--events-v2") a.events_v2 = v;
      else if (k == "--create-silences") a.create_silences = std::stol(v);
      else Die("unknown option " + k);
      // clang-format on
    } catch (const std::logic_error&) {
      Die(k + ": not a number: " + v);
    }
  }
  if (a.base.empty()) Die("--base URL is required");
  if (a.batch == 0) a.batch = a.events_v2.empty() ? 64 : 500;
  if (a.connections < 1 || a.batch < 1 || a.distinct < 1 || a.seconds <= 0 || a.warmup < 0 ||
      a.create_silences < 0) {
    Die("--connections, --batch, --distinct and --seconds must be positive");
  }
  return a;
}

// "http://127.0.0.1:1234/some/prefix/" → host, port, "/some/prefix" (no trailing slash).
struct Url {
  std::string host;
  int port = 80;
  std::string path;
};

Url ParseUrl(const std::string& url) {
  if (url.rfind("http://", 0) != 0) Die("--base must be an http:// URL: " + url);
  std::string rest = url.substr(7);
  Url u;
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    u.path = rest.substr(slash);
    rest.resize(slash);
  }
  while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
  const auto colon = rest.rfind(':');
  u.host = rest.substr(0, colon);
  if (colon != std::string::npos) u.port = std::stoi(rest.substr(colon + 1));
  return u;
}

// RFC 3339 in UTC with milliseconds, as go-openapi's strfmt.DateTime marshals a time.Time
// (Prometheus runs in UTC here; its local zone would show as +hh:mm otherwise).
std::string Rfc3339Millis(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int the compiler can imagine, not only real dates
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

constexpr const char* kAlertnames[] = {
    "HighRequestLatency", "InstanceDown",     "DiskWillFillIn4Hours", "HighErrorRate",
    "NodeMemoryPressure", "TargetScrapeSlow", "CPUThrottlingHigh",    "KubePodCrashLooping",
    "CertificateExpiry",  "QueueBacklogHigh"};
constexpr std::size_t kNames = std::size(kAlertnames);

// Alert i: the bytes before endsAt's value and those after it (startsAt is fixed: the alerts
// started firing when the benchmark did, as after a rule group's first evaluation).
struct Fragment {
  std::string head, tail;
};

std::vector<Fragment> AlertFragments(long distinct, const std::string& starts_at) {
  std::vector<Fragment> out(static_cast<std::size_t>(distinct));
  for (long i = 0; i < distinct; ++i) {
    const char* name = kAlertnames[static_cast<std::size_t>(i) % kNames];
    const std::string instance = "host-" + std::to_string(i / static_cast<long>(kNames)) + ":9100";
    const char* severity = i % 3 == 0 ? "critical" : "warning";
    Fragment& f = out[static_cast<std::size_t>(i)];
    f.head = std::string(R"({"annotations":{"description":")") + name + " on " + instance +
             R"( has been firing for more than 5 minutes.","summary":")" + name + " on " +
             instance + R"("},"endsAt":")";
    f.tail =
        R"(","startsAt":")" + starts_at +
        R"(","generatorURL":"http://prometheus.bench:9090/graph?g0.expr=up%7Bjob%3D%22node%22%7D+%3D%3D+0\u0026g0.tab=1","labels":{"alertname":")" +
        name + R"(","instance":")" + instance + R"(","job":"node","severity":")" + severity +
        R"("}})";
  }
  return out;
}

std::string PdEvent(const std::string& routing_key, long i) {
  const char* name = kAlertnames[static_cast<std::size_t>(i) % kNames];
  const std::string instance = "host-" + std::to_string(i / static_cast<long>(kNames)) + ":9100";
  const std::string key = "apb-" + std::to_string(i);
  return R"({"routing_key":")" + routing_key + R"(","event_action":"trigger","dedup_key":")" + key +
         R"(","payload":{"summary":")" + name + " on " + instance + R"(","source":")" + instance +
         R"(","severity":"critical","custom_details":{"alertname":")" + name + R"(","instance":")" +
         instance + R"(","job":"node"}}})";
}

std::size_t Count(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string_view::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

double Pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return NAN;
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  return sorted[static_cast<std::size_t>(std::llround(rank))];
}

struct FirstError {
  std::mutex mu;
  bool set = false;
  std::string text;
  void Note(const std::string& what) {
    std::lock_guard lock(mu);
    if (set) return;
    set = true;
    text = what.size() > 500 ? what.substr(0, 500) + "…" : what;
  }
};

std::unique_ptr<httplib::Client> Connect(const Url& u) {
  auto cli = std::make_unique<httplib::Client>(u.host, u.port);
  cli->set_keep_alive(true);
  cli->set_tcp_nodelay(true);
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(30, 0);
  cli->set_write_timeout(30, 0);
  return cli;
}

std::string Describe(const httplib::Result& res) {
  if (!res) return "no answer (httplib error: " + httplib::to_string(res.error()) + ")";
  std::string body = res->body;
  for (char& c : body) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return "status " + std::to_string(res->status) + ": " + body;
}

// ---- silences ---------------------------------------------------------------------------------

int CreateSilences(const Args& a, const Url& u) {
  const std::string path = u.path + "/api/v2/silences";
  const auto now = std::chrono::system_clock::now();
  const std::string starts = Rfc3339Millis(now);
  const std::string ends = Rfc3339Millis(now + std::chrono::hours(24));
  std::atomic<long> next{0}, created{0}, failed{0};
  FirstError first;
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int c = 0; c < a.connections; ++c) {
    workers.emplace_back([&] {
      auto cli = Connect(u);
      for (long i = next++; i < a.create_silences; i = next++) {
        const std::string body =
            R"({"matchers":[{"name":"alertname","value":"X-)" + std::to_string(i) +
            R"(","isRegex":false,"isEqual":true}],"startsAt":")" + starts + R"(","endsAt":")" +
            ends + R"(","createdBy":"bench","comment":"bench"})";
        auto res = cli->Post(path, body, "application/json");
        if (res && res->status == 200 && res->body.find("\"silenceID\"") != std::string::npos) {
          ++created;
        } else {
          ++failed;
          first.Note(Describe(res));
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("alert-push-bench silences created=%ld failed=%ld seconds=%.2f\n", created.load(),
              failed.load(), secs);
  if (first.set) std::printf("alert-push-bench first_error %s\n", first.text.c_str());
  std::fflush(stdout);
  return failed.load() == 0 ? 0 : 3;
}

// ---- the load ---------------------------------------------------------------------------------

struct ThreadStats {
  std::vector<double> latency_ms;  // requests answered 2xx inside the measured window
  long ok = 0, non2xx = 0, failed = 0, item_errors = 0, alerts = 0;
};

int Push(const Args& a, const Url& u) {
  const bool pd = !a.events_v2.empty();
  const std::string path = u.path + (pd ? "/v2/enqueue/batch" : "/api/v2/alerts");
  const auto wall_start = std::chrono::system_clock::now();
  const std::vector<Fragment> fragments =
      pd ? std::vector<Fragment>{} : AlertFragments(a.distinct, Rfc3339Millis(wall_start));
  std::vector<std::string> events;
  if (pd) {
    events.reserve(static_cast<std::size_t>(a.distinct));
    for (long i = 0; i < a.distinct; ++i) events.push_back(PdEvent(a.events_v2, i));
  }

  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.warmup));
  const auto measure_to = measure_from + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(a.seconds));
  std::atomic<long> next_batch{0};
  FirstError first;
  std::vector<ThreadStats> stats(static_cast<std::size_t>(a.connections));
  std::vector<std::thread> workers;
  for (int c = 0; c < a.connections; ++c) {
    workers.emplace_back([&, c] {
      ThreadStats& st = stats[static_cast<std::size_t>(c)];
      auto cli = Connect(u);
      std::string body, ends_at;
      std::int64_t ends_for_s = -1;
      while (true) {
        const auto now = Clock::now();
        if (now >= measure_to) break;
        // Batch s carries alerts s*batch … s*batch+batch-1, modulo --distinct.
        const long s = next_batch.fetch_add(1);
        body.clear();
        body.push_back('[');
        if (!pd) {
          // endsAt moves with the clock; a new string once per second is enough.
          const auto wall = std::chrono::system_clock::now();
          const std::int64_t sec =
              std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count();
          if (sec != ends_for_s) {
            ends_for_s = sec;
            ends_at = Rfc3339Millis(wall + std::chrono::minutes(4));
          }
        }
        for (int j = 0; j < a.batch; ++j) {
          const auto i = static_cast<std::size_t>((s * a.batch + j) % a.distinct);
          if (j > 0) body.push_back(',');
          if (pd) {
            body += events[i];
          } else {
            body += fragments[i].head;
            body += ends_at;
            body += fragments[i].tail;
          }
        }
        body.push_back(']');
        const auto t0 = Clock::now();
        auto res = cli->Post(path, body, "application/json");
        const auto t1 = Clock::now();
        const bool counted = t0 >= measure_from && t1 <= measure_to;
        if (!res) {
          if (counted) ++st.failed;
          first.Note(Describe(res));
          // A fresh connection; a dead server would otherwise make this a busy loop.
          cli = Connect(u);
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        if (res->status < 200 || res->status > 299) {
          if (counted) ++st.non2xx;
          first.Note(Describe(res));
          continue;
        }
        if (pd) {
          const std::size_t bad = Count(res->body, R"({"status":"error")") +
                                  Count(res->body, R"({"status":"invalid event")");
          if (bad > 0) {
            // Not a success: neither its events nor its latency are counted.
            first.Note("2xx with failed entries: " + Describe(res));
            if (counted) st.item_errors += static_cast<long>(bad);
            continue;
          }
        }
        if (!counted) continue;
        ++st.ok;
        st.alerts += a.batch;
        st.latency_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    });
  }
  for (auto& w : workers) w.join();

  ThreadStats all;
  for (auto& st : stats) {
    all.ok += st.ok;
    all.non2xx += st.non2xx;
    all.failed += st.failed;
    all.item_errors += st.item_errors;
    all.alerts += st.alerts;
    all.latency_ms.insert(all.latency_ms.end(), st.latency_ms.begin(), st.latency_ms.end());
  }
  std::sort(all.latency_ms.begin(), all.latency_ms.end());
  std::printf(
      "alert-push-bench mode=%s connections=%d seconds=%.2f warmup=%.2f batch=%d "
      "distinct=%ld batches=%ld alerts=%ld alerts_per_s=%.1f batches_per_s=%.2f "
      "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%ld failed=%ld item_errors=%ld\n",
      pd ? "events_v2" : "alerts", a.connections, a.seconds, a.warmup, a.batch, a.distinct, all.ok,
      all.alerts, static_cast<double>(all.alerts) / a.seconds,
      static_cast<double>(all.ok) / a.seconds, Pct(all.latency_ms, 50), Pct(all.latency_ms, 99),
      all.latency_ms.empty() ? NAN : all.latency_ms.back(), all.non2xx, all.failed,
      all.item_errors);
  if (first.set) std::printf("alert-push-bench first_error %s\n", first.text.c_str());
  std::fflush(stdout);
  return all.ok > 0 ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  const Url u = ParseUrl(a.base);
  return a.create_silences > 0 ? CreateSilences(a, u) : Push(a, u);
}
