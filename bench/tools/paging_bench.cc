// Paging benchmark driver (bench/paging.sh; method: docs/BENCHMARKS.md, "Paging"). One process
// runs a webhook receiver on loopback and the load against the server under test, so that the
// send, the answer and the page's arrival are timed on one clock.
//
//   opsorch-paging-bench latency --target opsorch|alertmanager --url http://127.0.0.1:P
//       --listen PORT [--rate 200] [--duration 20] [--connections 4] [--services 8]
//       [--key-prefix K] [--secret whsec_…] [--run-id R] [--grace 10]
//     A steady --rate of distinct triggers for --duration seconds (open loop: event i is due at
//     start + i/rate, spread over --connections keep-alive connections). opsorch: one
//     POST /v2/enqueue per event, routing key K<i mod services> (zero-padded to 4 digits),
//     dedup key "pb-R-i"; its page is matched by incident.fields.dedupKey. Alertmanager: one
//     POST /api/v2/alerts with one alert whose alertname is "pb-R-i"; matched by that label.
//     Prints the time from the answer (202 / 200) to the receiver having the page's request.
//
//   opsorch-paging-bench scale --url http://127.0.0.1:P --listen PORT --incidents N
//       [--batch 500] [--connections 2] [--services S] [--key-prefix K] [--secret whsec_…]
//       [--levels 0|1|2] [--timeout 300]
//     Ingests N triggers in POST /v2/enqueue/batch requests, then waits until the receiver has
//     --levels pages per incident (0: ingest only). Polls /metrics every 100 ms for the pager's
//     counters (levels fired, notifications sent) to time the levels as they fire.
//
// The receiver checks every opsorch page's Standard Webhooks signature (webhook-id,
// webhook-timestamp, webhook-signature: v1,base64(HMAC-SHA256(key, id.timestamp.body)))
// against --secret and answers 401 to a bad one; it answers 200 otherwise.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "opsorch-paging-bench: %s\n", why.c_str());
  std::exit(2);
}

// ---- arguments --------------------------------------------------------------------------------

struct Args {
  std::string mode;
  std::string target = "opsorch";
  std::string url;
  int listen = 0;
  double rate = 200;
  double duration = 20;
  int connections = 4;
  int services = 8;
  std::string key_prefix = "pb-routing-key-";
  std::string secret;
  std::string run_id = "1";
  double grace = 10;
  long incidents = 100000;
  int batch = 500;
  int levels = 1;
  double timeout = 300;
};

Args Parse(int argc, char** argv) {
  if (argc < 2) Die("usage: opsorch-paging-bench latency|scale --url URL --listen PORT …");
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) Die(k + ": needs a value");
    const std::string v = argv[++i];
    if (k == "--target") a.target = v;
    else if (k == "--url") a.url = v;
    else if (k == "--listen") a.listen = std::stoi(v);
    else if (k == "--rate") a.rate = std::stod(v);
    else if (k == "--duration") a.duration = std::stod(v);
    else if (k == "--connections") a.connections = std::stoi(v);
    else if (k == "--services") a.services = std::stoi(v);
    else if (k == "--key-prefix") a.key_prefix = v;
    else if (k == "--secret") a.secret = v;
    else if (k == "--run-id") a.run_id = v;
    else if (k == "--grace") a.grace = std::stod(v);
    else if (k == "--incidents") a.incidents = std::stol(v);
    else if (k == "--batch") a.batch = std::stoi(v);
    else if (k == "--levels") a.levels = std::stoi(v);
    else if (k == "--timeout") a.timeout = std::stod(v);
    else Die("unknown option " + k);
  }
  if (a.mode != "latency" && a.mode != "scale") Die("mode must be latency or scale");
  if (a.url.empty() || a.listen <= 0) Die("--url and --listen are required");
  if (a.target != "opsorch" && a.target != "alertmanager") Die("--target: opsorch|alertmanager");
  if (a.target == "opsorch" && a.secret.rfind("whsec_", 0) != 0) Die("--secret whsec_… required");
  if (a.connections < 1 || a.services < 1 || a.batch < 1 || a.rate <= 0) Die("bad numbers");
  return a;
}

// "http://127.0.0.1:1234" → host, port
std::pair<std::string, int> HostPort(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) Die("url needs a port: " + url);
  return {rest.substr(0, colon), std::stoi(rest.substr(colon + 1))};
}

std::string RoutingKey(const Args& a, long i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04ld", i % a.services);
  return a.key_prefix + buf;
}

// ---- Standard Webhooks ------------------------------------------------------------------------

std::string Base64Decode(std::string_view in) {
  std::string out((in.size() / 4 + 1) * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return {};
  std::size_t len = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) --len;
  out.resize(len);
  return out;
}

std::string Base64Encode(const unsigned char* p, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p,
                                  static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

struct Verifier {
  std::string key;
  bool Check(const httplib::Request& req) const {
    const std::string id = req.get_header_value("webhook-id");
    const std::string ts = req.get_header_value("webhook-timestamp");
    const std::string sigs = req.get_header_value("webhook-signature");
    if (id.empty() || ts.empty() || sigs.empty()) return false;
    const long long t = std::atoll(ts.c_str());
    const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    if (std::llabs(now - t) > 300) return false;
    const std::string signed_content = id + "." + ts + "." + req.body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(signed_content.data()), signed_content.size(),
         mac, &mac_len);
    const std::string expected = "v1," + Base64Encode(mac, mac_len);
    std::size_t start = 0;
    while (start < sigs.size()) {
      std::size_t end = sigs.find(' ', start);
      if (end == std::string::npos) end = sigs.size();
      const std::string_view s(sigs.data() + start, end - start);
      if (s.size() == expected.size() &&
          CRYPTO_memcmp(s.data(), expected.data(), expected.size()) == 0) {
        return true;
      }
      start = end + 1;
    }
    return false;
  }
};

// ---- the receiver -----------------------------------------------------------------------------

// Pages by event index and level (1-based; Alertmanager's notifications count as level 1).
struct Receipts {
  std::string prefix;  // "pb-<run>-"
  long n = 0;
  std::vector<std::atomic<std::int64_t>> at[3];  // [level][index]: first receipt, steady ns
  std::atomic<long> count[3]{};
  std::atomic<long> duplicates{0}, bad_signature{0}, unmatched{0}, total{0};
  std::mutex ids_mu;
  std::set<std::string> webhook_ids;  // duplicates by webhook-id (a resend after a lease)

  Receipts(std::string p, long size) : prefix(std::move(p)), n(size) {
    for (auto& v : at) {
      v = std::vector<std::atomic<std::int64_t>>(static_cast<std::size_t>(size));
      for (auto& x : v) x.store(0, std::memory_order_relaxed);
    }
  }

  long IndexOf(std::string_view key) const {
    if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix) return -1;
    long i = 0;
    for (char c : key.substr(prefix.size())) {
      if (c < '0' || c > '9') return -1;
      i = i * 10 + (c - '0');
    }
    return i < n ? i : -1;
  }

  void Mark(long i, int level, std::int64_t t) {
    if (i < 0 || level < 1 || level > 2) {
      unmatched.fetch_add(1);
      return;
    }
    std::int64_t zero = 0;
    if (at[level][static_cast<std::size_t>(i)].compare_exchange_strong(zero, t)) {
      count[level].fetch_add(1);
    } else {
      duplicates.fetch_add(1);
    }
  }
};

void StartReceiver(httplib::Server& server, Receipts& rec, const Verifier* verifier, int port) {
  server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  server.set_keep_alive_max_count(100000000);
  server.set_tcp_nodelay(true);
  server.set_keep_alive_timeout(30);
  server.set_payload_max_length(8 << 20);
  // opsorch: /page/<person> with a signed incident.page body.
  server.Post(R"(/page/.*)", [&rec, verifier](const httplib::Request& req, httplib::Response& res) {
    const std::int64_t t = NowNs();
    rec.total.fetch_add(1);
    if (verifier == nullptr || !verifier->Check(req)) {
      rec.bad_signature.fetch_add(1);
      res.status = 401;
      return;
    }
    {
      std::lock_guard lock(rec.ids_mu);
      if (!rec.webhook_ids.insert(req.get_header_value("webhook-id")).second) {
        rec.duplicates.fetch_add(1);
        res.status = 200;
        return;
      }
    }
    long idx = -1;
    int level = 0;
    boost::system::error_code ec;
    const json::value doc = json::parse(req.body, ec);
    if (!ec && doc.is_object()) {
      const auto& o = doc.get_object();
      if (const auto* inc = o.if_contains("incident"); inc != nullptr && inc->is_object()) {
        if (const auto* f = inc->get_object().if_contains("fields"); f && f->is_object()) {
          if (const auto* k = f->get_object().if_contains("dedupKey"); k && k->is_string()) {
            idx = rec.IndexOf(std::string_view(k->get_string()));
          }
        }
      }
      if (const auto* n = o.if_contains("notification"); n != nullptr && n->is_object()) {
        if (const auto* l = n->get_object().if_contains("level"); l && l->is_int64()) {
          level = static_cast<int>(l->get_int64());
        }
      }
    }
    rec.Mark(idx, level, t);
    res.status = 200;
  });
  // Alertmanager: one notification per group; every alert in it counts.
  server.Post("/am", [&rec](const httplib::Request& req, httplib::Response& res) {
    const std::int64_t t = NowNs();
    rec.total.fetch_add(1);
    boost::system::error_code ec;
    const json::value doc = json::parse(req.body, ec);
    bool any = false;
    if (!ec && doc.is_object()) {
      if (const auto* alerts = doc.get_object().if_contains("alerts"); alerts && alerts->is_array()) {
        for (const auto& a : alerts->get_array()) {
          const auto* labels = a.is_object() ? a.get_object().if_contains("labels") : nullptr;
          const auto* name = labels != nullptr && labels->is_object()
                                 ? labels->get_object().if_contains("alertname")
                                 : nullptr;
          if (name != nullptr && name->is_string()) {
            rec.Mark(rec.IndexOf(std::string_view(name->get_string())), 1, t);
            any = true;
          }
        }
      }
    }
    if (!any) rec.unmatched.fetch_add(1);
    res.status = 200;
  });
  if (!server.bind_to_port("127.0.0.1", port)) Die("receiver: cannot bind 127.0.0.1:" + std::to_string(port));
}

// ---- figures ----------------------------------------------------------------------------------

double Pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return NAN;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

void PrintDist(const char* name, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  std::printf("%s n=%zu p50=%.2f p90=%.2f p99=%.2f max=%.2f min=%.2f\n", name, ms.size(),
              Pct(ms, 50), Pct(ms, 90), Pct(ms, 99), ms.empty() ? NAN : ms.back(),
              ms.empty() ? NAN : ms.front());
}

std::string PdEvent(const std::string& routing_key, const std::string& dedup) {
  return R"({"routing_key":")" + routing_key + R"(","event_action":"trigger","dedup_key":")" +
         dedup + R"(","payload":{"summary":"Paging bench )" + dedup +
         R"(","source":"bench-host","severity":"critical"}})";
}

// ---- latency ----------------------------------------------------------------------------------

[[noreturn]] void Latency(const Args& a) {
  const long n = static_cast<long>(std::llround(a.rate * a.duration));
  const std::string prefix = "pb-" + a.run_id + "-";
  Receipts rec(prefix, n);
  Verifier verifier;
  if (a.target == "opsorch") verifier.key = Base64Decode(std::string_view(a.secret).substr(6));
  httplib::Server server;
  StartReceiver(server, rec, a.target == "opsorch" ? &verifier : nullptr, a.listen);
  std::thread serve([&] { server.listen_after_bind(); });
  serve.detach();
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  const auto [host, port] = HostPort(a.url);
  std::vector<std::int64_t> sent(static_cast<std::size_t>(n)), answered(static_cast<std::size_t>(n));
  std::vector<int> status(static_cast<std::size_t>(n));
  std::atomic<long> late_sends{0};
  std::vector<double> send_lag_ms(static_cast<std::size_t>(n));
  const std::int64_t period = static_cast<std::int64_t>(1e9 / a.rate);
  const std::int64_t start = NowNs() + 50'000'000;
  std::vector<std::thread> workers;
  for (int c = 0; c < a.connections; ++c) {
    workers.emplace_back([&, c] {
      httplib::Client cli(host, port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      cli.set_read_timeout(30, 0);
      for (long i = c; i < n; i += a.connections) {
        const std::int64_t due = start + i * period;
        std::int64_t now = NowNs();
        if (now < due) {
          std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
        } else if (now - due > 5'000'000) {
          late_sends.fetch_add(1);
        }
        const std::string key = prefix + std::to_string(i);
        std::string body, path;
        if (a.target == "opsorch") {
          path = "/v2/enqueue";
          body = PdEvent(RoutingKey(a, i), key);
        } else {
          path = "/api/v2/alerts";
          body = R"([{"labels":{"alertname":")" + key +
                 R"(","severity":"critical","job":"paging-bench"},"annotations":{"summary":"Paging bench )" +
                 key + R"("}}])";
        }
        const std::int64_t t0 = NowNs();
        auto res = cli.Post(path, body, "application/json");
        const std::int64_t t1 = NowNs();
        const auto k = static_cast<std::size_t>(i);
        sent[k] = t0;
        answered[k] = t1;
        send_lag_ms[k] = static_cast<double>(t0 - due) / 1e6;
        status[k] = res ? res->status : -1;
      }
    });
  }
  for (auto& w : workers) w.join();
  const std::int64_t load_end = NowNs();
  long ok = 0;
  const int want = a.target == "opsorch" ? 202 : 200;
  for (long i = 0; i < n; ++i) ok += status[static_cast<std::size_t>(i)] == want;
  // Wait for the last pages.
  const std::int64_t deadline = load_end + static_cast<std::int64_t>(a.grace * 1e9);
  while (rec.count[1].load() < ok && NowNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  std::vector<double> to_page, from_send, answer;
  long negative = 0;
  for (long i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (status[k] != want) continue;
    answer.push_back(static_cast<double>(answered[k] - sent[k]) / 1e6);
    const std::int64_t r = rec.at[1][k].load();
    if (r == 0) continue;
    const double d = static_cast<double>(r - answered[k]) / 1e6;
    if (d < 0) ++negative;
    to_page.push_back(d);
    from_send.push_back(static_cast<double>(r - sent[k]) / 1e6);
  }
  const double seconds = static_cast<double>(load_end - start) / 1e9;
  std::printf("paging-bench target=%s events=%ld answered_ok=%ld paged=%ld missing=%ld "
              "duplicates=%ld bad_signature=%ld unmatched=%ld requests_received=%ld "
              "late_sends=%ld send_seconds=%.2f rate=%.1f negative=%ld\n",
              a.target.c_str(), n, ok, rec.count[1].load(), ok - rec.count[1].load(),
              rec.duplicates.load(), rec.bad_signature.load(), rec.unmatched.load(),
              rec.total.load(), late_sends.load(), seconds, static_cast<double>(n) / seconds,
              negative);
  PrintDist("answer_to_page_ms", to_page);
  PrintDist("send_to_page_ms", from_send);
  PrintDist("answer_ms", answer);
  PrintDist("send_lag_ms", send_lag_ms);
  // The receiver (a local) still runs; its pool threads sit in keep-alive reads of the
  // senders' idle connections. The figures are printed: leave without unwinding it.
  std::fflush(stdout);
  std::_Exit(0);
}

// ---- scale ------------------------------------------------------------------------------------

struct Sample {
  std::int64_t t;
  double levels_paged, sent;
};

// The sum of a counter's samples whose labels contain `needle` ("" = all).
double MetricSum(const std::string& text, std::string_view name, std::string_view needle) {
  double sum = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line.substr(0, name.size()) != name) continue;
    if (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' ') continue;
    const auto sp = line.rfind(' ');
    if (sp == std::string_view::npos) continue;
    if (!needle.empty() && line.substr(0, sp).find(needle) == std::string_view::npos) continue;
    sum += std::strtod(std::string(line.substr(sp + 1)).c_str(), nullptr);
  }
  return sum;
}

[[noreturn]] void Scale(const Args& a) {
  const long n = a.incidents;
  const std::string prefix = "pb-" + a.run_id + "-";
  Receipts rec(prefix, n);
  Verifier verifier;
  verifier.key = Base64Decode(std::string_view(a.secret).substr(6));
  httplib::Server server;
  StartReceiver(server, rec, &verifier, a.listen);
  std::thread serve([&] { server.listen_after_bind(); });
  serve.detach();
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto [host, port] = HostPort(a.url);

  // The pager's counters, every 100 ms, until told to stop.
  std::vector<Sample> samples;
  std::mutex samples_mu;
  std::atomic<bool> stop_poll{false};
  std::thread poller([&, host = host, port = port] {
    httplib::Client cli(host, port);
    cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
    while (!stop_poll.load()) {
      auto res = cli.Get("/metrics");
      if (res && res->status == 200) {
        Sample s{NowNs(), MetricSum(res->body, "opsorch_paging_levels_total", "result=\"paged\""),
                 MetricSum(res->body, "opsorch_paging_notifications_total", "status=\"sent\"")};
        std::lock_guard lock(samples_mu);
        samples.push_back(s);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  // Ingest.
  const long batches = (n + a.batch - 1) / a.batch;
  std::vector<std::int64_t> batch_answer(static_cast<std::size_t>(batches));
  std::atomic<long> next{0}, bad_batches{0}, item_errors{0};
  std::vector<double> batch_ms(static_cast<std::size_t>(batches));
  const std::int64_t ingest_start = NowNs();
  std::vector<std::thread> workers;
  for (int c = 0; c < a.connections; ++c) {
    workers.emplace_back([&] {
      httplib::Client cli(host, port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      cli.set_read_timeout(120, 0);
      while (true) {
        const long b = next.fetch_add(1);
        if (b >= batches) return;
        std::string body = "[";
        for (long i = b * a.batch; i < std::min(n, (b + 1) * a.batch); ++i) {
          if (body.size() > 1) body += ',';
          body += PdEvent(RoutingKey(a, i), prefix + std::to_string(i));
        }
        body += ']';
        const std::int64_t t0 = NowNs();
        auto res = cli.Post("/v2/enqueue/batch", body, "application/json");
        const std::int64_t t1 = NowNs();
        batch_answer[static_cast<std::size_t>(b)] = t1;
        batch_ms[static_cast<std::size_t>(b)] = static_cast<double>(t1 - t0) / 1e6;
        if (!res || res->status != 202) {
          bad_batches.fetch_add(1);
          continue;
        }
        std::size_t p = 0;
        long ok = 0;
        // Each stored event answers {"status":"success","dedup_key":…} inside "results".
        while ((p = res->body.find(R"({"status":"success","dedup_key")", p)) != std::string::npos) {
          ++ok;
          ++p;
        }
        item_errors.fetch_add(std::min<long>(a.batch, n - b * a.batch) - ok);
      }
    });
  }
  for (auto& w : workers) w.join();
  const std::int64_t ingest_end = NowNs();
  const double ingest_s = static_cast<double>(ingest_end - ingest_start) / 1e9;
  std::printf("paging-bench scale incidents=%ld batch=%d connections=%d services=%d "
              "ingest_s=%.3f events_per_s=%.0f bad_batches=%ld item_errors=%ld\n",
              n, a.batch, a.connections, a.services, ingest_s, static_cast<double>(n) / ingest_s,
              bad_batches.load(), item_errors.load());
  PrintDist("batch_ms", batch_ms);
  std::fflush(stdout);

  // Pages.
  const std::int64_t deadline = ingest_start + static_cast<std::int64_t>(a.timeout * 1e9);
  for (int level = 1; level <= a.levels; ++level) {
    long last_count = -1;
    std::int64_t last_report = 0;
    while (rec.count[level].load() < n && NowNs() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (NowNs() - last_report > 5'000'000'000 && rec.count[level].load() != last_count) {
        last_count = rec.count[level].load();
        last_report = NowNs();
        std::fprintf(stderr, "paging-bench: level %d: %ld pages received (%.1f s)\n", level,
                     last_count, static_cast<double>(last_report - ingest_start) / 1e9);
      }
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // a last metrics sample or five
  stop_poll = true;
  poller.join();

  auto secs = [&](std::int64_t t) { return static_cast<double>(t - ingest_start) / 1e9; };
  for (int level = 1; level <= a.levels; ++level) {
    std::int64_t first = INT64_MAX, last = 0;
    std::vector<double> after_due;  // level 2: receipt − (its batch's 202 + 60 s)
    for (long i = 0; i < n; ++i) {
      const std::int64_t t = rec.at[level][static_cast<std::size_t>(i)].load();
      if (t == 0) continue;
      first = std::min(first, t);
      last = std::max(last, t);
      const std::int64_t base = batch_answer[static_cast<std::size_t>(i / a.batch)];
      after_due.push_back(static_cast<double>(t - base) / 1e6 - (level == 2 ? 60'000.0 : 0.0));
    }
    const long got = rec.count[level].load();
    // Levels fired: when the pager's counter passed (level-1)·n and reached level·n.
    double fired_from = NAN, fired_to = NAN, sent_to = NAN;
    for (const Sample& s : samples) {
      if (std::isnan(fired_from) && s.levels_paged > static_cast<double>((level - 1) * n)) {
        fired_from = secs(s.t);
      }
      if (std::isnan(fired_to) && s.levels_paged >= static_cast<double>(level * n)) {
        fired_to = secs(s.t);
      }
      if (std::isnan(sent_to) && s.sent >= static_cast<double>(level * n)) sent_to = secs(s.t);
    }
    const double span = got > 0 ? static_cast<double>(last - first) / 1e9 : NAN;
    std::printf("paging-bench level=%d pages=%ld of=%ld first_page_s=%.3f last_page_s=%.3f "
                "pages_span_s=%.3f pages_per_s_span=%.0f pages_per_s_from_start=%.0f "
                "fired_first_seen_s=%.1f fired_all_seen_s=%.1f sent_recorded_all_s=%.1f\n",
                level, got, n, got ? secs(first) : NAN, got ? secs(last) : NAN, span,
                got ? static_cast<double>(got) / span : NAN,
                got ? static_cast<double>(got) / secs(last) : NAN, fired_from, fired_to, sent_to);
    PrintDist(level == 2 ? "level2_after_due_ms" : "level1_after_batch_answer_ms", after_due);
  }
  std::printf("paging-bench receiver duplicates=%ld bad_signature=%ld unmatched=%ld "
              "requests=%ld\n",
              rec.duplicates.load(), rec.bad_signature.load(), rec.unmatched.load(),
              rec.total.load());
  // The counters over time (s since the ingest started, levels fired, sent recorded), one
  // line per second, for the report.
  std::printf("paging-bench series");
  std::int64_t next_t = ingest_start;
  for (const Sample& s : samples) {
    if (s.t < next_t) continue;
    std::printf(" %.1f:%.0f:%.0f", secs(s.t), s.levels_paged, s.sent);
    next_t = s.t + 1'000'000'000;
  }
  std::printf("\n");
  // The receiver (a local) still runs; its pool threads sit in keep-alive reads of the
  // senders' idle connections. The figures are printed: leave without unwinding it.
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  if (a.mode == "latency") Latency(a);
  Scale(a);
}
