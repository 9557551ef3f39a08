// The HTTP/1.1 server: Boost.Beast's parser + Asio C++20 coroutines.
//
// Threading: one io_context per thread, so a connection never needs a strand. The acceptor
// lives on context 0 and creates each accepted socket directly on the next context
// (round-robin); the connection coroutine then runs on that context only.
//
// Hot path: per connection one flat_buffer, one reusable request scratch area and one
// reusable response-head string; the Beast parser is a small custom basic_parser that copies
// the header into that scratch area (no per-field node allocations as with
// request_parser/basic_fields), and responses are serialised by hand into one gathered write.
//
// Timeouts: instead of a timer per operation (beast::tcp_stream re-arms a timer on every read
// and write, which costs timer-queue work and timerfd syscalls per request), each connection
// records a deadline for its current phase and a per-thread sweep timer closes connections
// whose deadline has passed. The sweep period scales with the smallest configured timeout.
#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <openssl/ssl.h>

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/http/server.h>

#include "http/request_parser.h"

namespace opsorch::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

// io_context's own executor instead of any_io_executor: no type erasure on every completion.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using TlsStream = ssl::stream<Socket>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
using SignalSet = asio::basic_signal_set<Executor>;
template <class T = void>
using Task = asio::awaitable<T, Executor>;

// Errors come back as values: no exceptions on the hot path.
constexpr auto kUse = asio::as_tuple(asio::use_awaitable_t<Executor>{});

constexpr std::size_t kMinReadSize = 4096;
constexpr std::size_t kMaxReadSize = 64 * 1024;
// A body buffer grown beyond this by one large request is released rather than kept.
constexpr std::size_t kMaxRetainedBody = 64 * 1024;
// After a 4xx that closes the connection, unread request bytes are drained (bounded) so the
// kernel does not answer them with a RST that could destroy the response in flight.
constexpr std::size_t kMaxLingerBytes = 1 << 20;
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::chrono::milliseconds kTlsCloseTime{1000};
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

enum class Phase : std::uint8_t {
  kHandshake,  // TLS handshake (closed by Stop)
  kIdle,       // waiting for the first byte of a request (closed by Stop)
  kReading,    // request bytes have arrived; the rest must follow within read_timeout
  kHandling,   // the handler owns the request; no deadline
  kWriting,
  kLinger,   // draining after an error response (closed by Stop)
  kClosing,  // TLS close_notify exchange
};

Clock::time_point DeadlineAfter(Clock::time_point now, std::chrono::milliseconds timeout) {
  // Non-positive means "no timeout"; huge values must not overflow the clock.
  if (timeout.count() <= 0 || timeout > std::chrono::hours(24 * 365 * 100)) {
    return Clock::time_point::max();
  }
  return now + timeout;
}

// ---------------------------------------------------------------------------------------------
// Request parsing

Method ToMethod(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::head:
      return Method::kHead;
    case bhttp::verb::post:
      return Method::kPost;
    case bhttp::verb::put:
      return Method::kPut;
    case bhttp::verb::patch:
      return Method::kPatch;
    case bhttp::verb::delete_:
      return Method::kDelete;
    case bhttp::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

// ---------------------------------------------------------------------------------------------
// Response serialisation

void AppendUint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void Append2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// RFC 7231 IMF-fixdate, formatted at most once per second per thread.
std::string_view HttpDate() {
  static constexpr char kDays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_second = -1;
  thread_local char text[29];
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    std::copy_n(kDays[tm.tm_wday % 7], 3, text);
    text[3] = ',';
    text[4] = ' ';
    Append2(text + 5, tm.tm_mday);
    text[7] = ' ';
    std::copy_n(kMonths[tm.tm_mon % 12], 3, text + 8);
    text[11] = ' ';
    const int year = tm.tm_year + 1900;
    Append2(text + 12, (year / 100) % 100);
    Append2(text + 14, year % 100);
    text[16] = ' ';
    Append2(text + 17, tm.tm_hour);
    text[19] = ':';
    Append2(text + 20, tm.tm_min);
    text[22] = ':';
    Append2(text + 23, tm.tm_sec);
    std::copy_n(" GMT", 4, text + 25);
    cached_second = now;
  }
  return std::string_view(text, sizeof text);
}

bool IsTokenChar(unsigned char c) {
  // RFC 7230 tchar.
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// CR, LF or NUL in a value would allow response splitting; such headers are dropped.
bool IsValidHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool HasCloseToken(std::string_view value) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (EqualsIgnoreCase(TrimSpace(value.substr(0, comma)), "close")) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// Writes status line and headers into `out` and returns the body bytes to send after it.
// May clear `keep_alive` (a handler's own "Connection: close").
std::string_view SerializeResponse(std::string& out, const Response& response, bool& keep_alive,
                                   bool http10, bool head_request) {
  int status = response.status;
  if (status < 100 || status > 999) status = 500;
  out.clear();
  out.append("HTTP/1.1 ");
  AppendUint(out, static_cast<std::uint64_t>(status));
  out.push_back(' ');
  const bhttp::status known = bhttp::int_to_status(static_cast<unsigned>(status));
  if (known != bhttp::status::unknown) {
    const beast::string_view reason = bhttp::obsolete_reason(known);
    out.append(reason.data(), reason.size());
  }
  out.append("\r\n");
  if (!response.content_type.empty() && IsValidHeaderValue(response.content_type)) {
    AppendHeader(out, "Content-Type", response.content_type);
  }
  out.append(response.fixed_headers);  // validated by its owner when it was rendered
  for (const auto& [name, value] : response.headers) {
    if (!IsValidHeaderName(name) || !IsValidHeaderValue(value)) continue;
    // Framing headers are ours to write.
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    if (EqualsIgnoreCase(name, "Connection")) {
      if (HasCloseToken(value)) keep_alive = false;
      continue;
    }
    AppendHeader(out, name, value);
  }
  const bool bodiless_status = status < 200 || status == 204 || status == 304;
  if (!bodiless_status) {
    out.append("Content-Length: ");
    AppendUint(out, response.body.size());
    out.append("\r\n");
  }
  out.append("Date: ");
  out.append(HttpDate());
  out.append("\r\n");
  if (!keep_alive) {
    out.append("Connection: close\r\n");
  } else if (http10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (bodiless_status || head_request) return {};
  return response.body;
}

// The server's own answers (malformed requests, limits, a handler that threw): status and code
// from the one error table.
Response ErrorResponse(opsorch::ErrorCode code, std::string_view message) {
  Response response;
  response.status = HttpStatusFor(code);
  response.content_type = "application/json";
  response.body = ErrorBody(Name(code), message);
  return response;
}

// ---------------------------------------------------------------------------------------------
// Connections

struct Worker;
struct Connection;

// The bridge between a handler's `done` callback and the connection. One per connection,
// reused for every request; `done` captures only {Completion*, sequence number}, so
// std::function keeps it in its small buffer (no allocation on the fast path).
//
// If a connection must go away while its handler still holds `done` (shutdown_grace expired),
// the Completion is marked abandoned and left to the eventual `done` call to delete, so a late
// call never touches freed memory.
//
// What the handler's Request views point into lives in a RequestArea of its own: an abandoned
// connection hands its area to the Completion too, so the Request stays valid for as long as the
// handler holds `done` (the Handler contract), even after the connection is gone.
struct RequestArea {
  RequestScratch scratch;
  Request request;
  std::string remote;
};

struct Completion {
  std::mutex mutex;
  Connection* connection;  // only dereferenced on the connection's thread
  Executor executor;
  bool abandoned = false;             // guarded by mutex
  std::unique_ptr<RequestArea> kept;  // an abandoned connection's request, until `done`
};

// Set while a connection's thread is inside Handler::Handle: a `done` call on that thread for
// that connection completes in place instead of posting.
thread_local Completion* t_sync_completion = nullptr;

// http::Loop over a worker's io_context: a wait registers the fd with the reactor for that one
// wait (stream_descriptor, released before `ready` runs, so `ready` may wait on it again) and
// races it against a timer.
class FdLoop final : public Loop {
 public:
  explicit FdLoop(asio::io_context& ioc) : ioc_(ioc) {}

  void WaitFd(int fd, bool writable, Clock::time_point deadline,
              std::function<void(bool)> ready) override {
    auto op = std::make_shared<Op>(ioc_, fd, std::move(ready));
    op->timer.expires_at(deadline);
    op->descriptor.async_wait(writable ? asio::posix::descriptor_base::wait_write
                                       : asio::posix::descriptor_base::wait_read,
                              [op](ErrorCode ec) { op->Fire(!ec); });
    op->timer.async_wait([op](ErrorCode ec) {
      if (!ec) op->Fire(false);
    });
  }

  void Post(std::function<void()> fn) override { asio::post(ioc_, std::move(fn)); }

 private:
  struct Op {
    Op(asio::io_context& ioc, int fd, std::function<void(bool)> r)
        : descriptor(ioc, fd), timer(ioc.get_executor()), ready(std::move(r)) {}
    ~Op() { Release(); }
    void Release() {
      if (descriptor.is_open()) descriptor.release();  // never close: the fd is not ours
    }
    void Fire(bool ok) {
      if (fired) return;
      fired = true;
      Release();  // cancels the other wait and leaves the reactor before `ready` runs
      timer.cancel();
      ready(ok);
    }
    asio::posix::stream_descriptor descriptor;
    Timer timer;
    std::function<void(bool)> ready;
    bool fired = false;
  };

  asio::io_context& ioc_;
};

struct Worker {
  // Concurrency hint 1: exactly one thread runs this context.
  Worker() : ioc(1), guard(asio::make_work_guard(ioc)), sweep_timer(ioc), loop(ioc) {}

  // Declared before ioc: connection frames destroyed with ioc unlink themselves from here.
  Connection* connections = nullptr;  // intrusive list, touched only on this worker's thread
  std::size_t connection_count = 0;
  bool stopping = false;
  bool drained = false;
  asio::io_context ioc;
  asio::executor_work_guard<Executor> guard;
  Timer sweep_timer;
  FdLoop loop;
};

struct Connection {
  Connection(Worker& w, Socket& lowest, bool is_tls, std::string remote_address)
      : worker(w),
        socket(lowest),
        tls(is_tls),
        remote(std::move(remote_address)),
        completion(new Completion{{}, this, w.ioc.get_executor()}),
        wake_timer(w.ioc) {
    wake_timer.expires_at(Clock::time_point::max());
    next = w.connections;
    if (next != nullptr) next->prev = this;
    w.connections = this;
    ++w.connection_count;
    area->remote = remote;
    request.remote_address = area->remote;
    request.tls = tls;
    request.loop = &w.loop;
  }

  ~Connection() {
    if (prev != nullptr) {
      prev->next = next;
    } else {
      worker.connections = next;
    }
    if (next != nullptr) next->prev = prev;
    --worker.connection_count;
    delete completion;  // null once abandoned
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void SetPhase(Phase p, Clock::time_point until) {
    phase = p;
    deadline = until;
  }

  // Closing the socket makes the pending operation complete with an error; the coroutine
  // then ends by itself.
  void Expire() {
    deadline = Clock::time_point::max();
    ErrorCode ec;
    socket.close(ec);
  }

  // Leaves the Completion to a handler that still holds `done` (see Completion); the
  // connection is about to be destroyed with its io_context.
  void AbandonCompletion() {
    {
      std::lock_guard lock(completion->mutex);
      completion->abandoned = true;
      completion->connection = nullptr;
      completion->kept = std::move(area);  // `scratch` and `request` are not used after this
    }
    completion = nullptr;
  }

  void BeginRequest(std::size_t header_limit, std::size_t body_limit) {
    scratch.Clear(kMaxRetainedBody);
    request.method = Method::kOther;
    request.method_text = {};
    request.target = {};
    request.headers.clear();
    request.body = {};
    parser.emplace(scratch);
    parser->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(header_limit, std::numeric_limits<std::uint32_t>::max())));
    parser->body_limit(static_cast<std::uint64_t>(body_limit));
  }

  // Views are built only once the header is complete: `store` no longer grows after that.
  void PublishHeader() {
    request.method = ToMethod(scratch.verb);
    request.method_text = scratch.View(scratch.method);
    request.target = scratch.View(scratch.target);
    for (const auto& [name, value] : scratch.fields) {
      request.headers.push_back(HeaderField{scratch.View(name), scratch.View(value)});
    }
  }

  // Intrusive list links (Worker::connections).
  Connection* prev = nullptr;
  Connection* next = nullptr;

  Worker& worker;
  Socket& socket;  // lowest layer
  const bool tls;
  std::string remote;
  Phase phase = Phase::kIdle;
  Clock::time_point deadline = Clock::time_point::max();

  beast::flat_buffer buffer;
  std::unique_ptr<RequestArea> area = std::make_unique<RequestArea>();
  RequestScratch& scratch = area->scratch;
  std::optional<RequestParser> parser;
  Request& request = area->request;

  Response response;
  bool response_ready = false;
  std::uint64_t sequence = 0;
  Completion* completion;
  Timer wake_timer;  // cancelled to resume the coroutine after an asynchronous `done`

  std::string head;  // serialised status line + headers
};

// Frees an abandoned Completion: whoever finds it abandoned last owns it.
bool DeleteIfAbandoned(Completion* completion) {
  {
    std::lock_guard lock(completion->mutex);
    if (!completion->abandoned) return false;
  }
  delete completion;
  return true;
}

// Runs on the connection's thread after an asynchronous `done`.
void Deliver(Completion* completion, std::uint64_t sequence, Response&& response) {
  if (DeleteIfAbandoned(completion)) return;
  Connection& c = *completion->connection;
  if (c.sequence != sequence || c.response_ready) return;
  c.response = std::move(response);
  c.response_ready = true;
  c.wake_timer.cancel();
}

// The posted half of an asynchronous `done`. If a forced stop destroys the io_context before
// it runs, its destructor frees the (then abandoned) Completion.
class DeliverOp {
 public:
  DeliverOp(Completion* completion, std::uint64_t sequence, Response&& response)
      : completion_(completion), sequence_(sequence), response_(std::move(response)) {}
  DeliverOp(DeliverOp&& other) noexcept
      : completion_(std::exchange(other.completion_, nullptr)),
        sequence_(other.sequence_),
        response_(std::move(other.response_)) {}
  DeliverOp& operator=(DeliverOp&&) = delete;
  ~DeliverOp() {
    if (completion_ != nullptr) DeleteIfAbandoned(completion_);
  }

  void operator()() {
    Deliver(std::exchange(completion_, nullptr), sequence_, std::move(response_));
  }

 private:
  Completion* completion_;
  std::uint64_t sequence_;
  Response response_;
};

void Complete(Completion* completion, std::uint64_t sequence, Response&& response) {
  if (t_sync_completion == completion) {
    // Fast path: inside Handle on the connection's own thread.
    Connection& c = *completion->connection;
    if (c.sequence == sequence && !c.response_ready) {
      c.response = std::move(response);
      c.response_ready = true;
    }
    return;
  }
  std::unique_lock lock(completion->mutex);
  if (completion->abandoned) {
    lock.unlock();
    delete completion;
    return;
  }
  // Posting under the mutex orders this against abandonment (after the threads are joined,
  // before the io_contexts are destroyed).
  asio::post(completion->executor, DeliverOp(completion, sequence, std::move(response)));
}

std::size_t ReadSize(const beast::flat_buffer& buffer) {
  return std::clamp(buffer.capacity() - buffer.size(), kMinReadSize, kMaxReadSize);
}

// ---------------------------------------------------------------------------------------------
// The server

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, Handler& handler, ExchangeObserver observer)
      : options_(options), handler_(handler), observer_(std::move(observer)) {}

  ~ServerImpl() override {
    // I/O objects bound to context 0 go first; destroying the contexts then destroys any
    // coroutine frame still parked in them (only after a forced stop).
    acceptor_.reset();
    signals_.reset();
    grace_timer_.reset();
    workers_.clear();
  }

  Status Init();

  std::uint16_t Port() const override { return port_; }
  void Run() override;
  void Stop() override;

 private:
  Task<> AcceptLoop();
  Task<> Session(Worker& worker, Socket socket, std::string remote);
  template <class Stream>
  Task<> Serve(Connection& c, Stream& stream);
  template <class Stream>
  Task<> Reject(Connection& c, Stream& stream, const beast::error_code& ec,
                Clock::time_point start);
  Task<> CloseGracefully(Connection& c, Socket& stream, bool linger);
  Task<> CloseGracefully(Connection& c, TlsStream& stream, bool linger);
  void InvokeHandler(Connection& c);
  void Observe(const Connection& c, int status, std::size_t body_bytes, Clock::time_point start);

  void ArmSweep(Worker& w);
  void Sweep(Worker& w);
  void BeginShutdown();
  void OnGraceExpired(const ErrorCode& e);
  void StopWorker(Worker& w);
  void MaybeDrained(Worker& w);
  void AbandonPending();

  Clock::time_point Deadline(std::chrono::milliseconds timeout) const {
    return DeadlineAfter(Clock::now(), timeout);
  }

  const ServerOptions options_;
  Handler& handler_;
  const ExchangeObserver observer_;

  std::optional<ssl::context> tls_context_;  // outlives the workers (streams refer to it)
  std::vector<std::unique_ptr<Worker>> workers_;
  std::optional<Acceptor> acceptor_;
  std::optional<SignalSet> signals_;
  std::optional<Timer> grace_timer_;
  bool grace_hook_called_ = false;  // context 0 only
  std::uint16_t port_ = 0;
  std::chrono::milliseconds sweep_period_{1000};
  std::size_t next_worker_ = 0;  // context 0 only
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> ran_{false};
  std::atomic<std::size_t> active_workers_{0};
};

Status ServerImpl::Init() {
  const bool has_cert = !options_.tls_cert_file.empty();
  const bool has_key = !options_.tls_key_file.empty();
  if (has_cert != has_key) {
    return Fail(errc::kInternal,
                "both a TLS certificate file and a TLS key file must be set together");
  }
  if (has_cert) {
    tls_context_.emplace(ssl::context::tls_server);
    ssl::context& ctx = *tls_context_;
    ErrorCode ec;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                        ssl::context::single_dh_use,
                    ec);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.use_certificate_chain_file(options_.tls_cert_file, ec);
    if (ec) {
      return Fail(errc::kInternal, "cannot load TLS certificate file \"" + options_.tls_cert_file +
                                       "\": " + ec.message());
    }
    ctx.use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
    if (ec) {
      return Fail(errc::kInternal,
                  "cannot load TLS key file \"" + options_.tls_key_file + "\": " + ec.message());
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      return Fail(errc::kInternal, "TLS key file \"" + options_.tls_key_file +
                                       "\" does not match certificate file \"" +
                                       options_.tls_cert_file + "\"");
    }
  }

  unsigned threads = options_.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
  Worker& w0 = *workers_[0];

  const std::string where = options_.host + ":" + std::to_string(options_.port);
  ErrorCode ec;
  tcp::endpoint endpoint;
  if (options_.host.empty() || options_.host == "0.0.0.0") {
    endpoint = tcp::endpoint(asio::ip::address_v4::any(), options_.port);
  } else if (options_.host == "::") {
    endpoint = tcp::endpoint(asio::ip::address_v6::any(), options_.port);
  } else {
    const asio::ip::address address = asio::ip::make_address(options_.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, options_.port);
    } else {
      // A host name such as "localhost": first resolved address (blocking, start-up only).
      asio::ip::basic_resolver<tcp, Executor> resolver(w0.ioc);
      auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
      if (ec || results.empty()) {
        return Fail(errc::kInternal, "cannot resolve listen host \"" + options_.host +
                                         "\": " + (ec ? ec.message() : "no address"));
      }
      endpoint = results.begin()->endpoint();
    }
  }

  acceptor_.emplace(w0.ioc);
  Acceptor& acceptor = *acceptor_;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
    acceptor.set_option(asio::ip::v6_only(false), ec);  // "::" also serves IPv4
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Fail(errc::kInternal, "cannot listen on " + where + ": " + ec.message());
  port_ = acceptor.local_endpoint(ec).port();

  if (options_.handle_signals) {
    signals_.emplace(w0.ioc);
    signals_->add(SIGINT, ec);
    if (!ec) signals_->add(SIGTERM, ec);
    if (ec) return Fail(errc::kInternal, "cannot install signal handlers: " + ec.message());
  }
  grace_timer_.emplace(w0.ioc);

  // Timeouts are enforced to within a tenth of the smallest one (at most 1 s late).
  auto smallest = std::chrono::milliseconds::max();
  for (auto t : {options_.idle_timeout, options_.read_timeout, options_.write_timeout}) {
    if (t.count() > 0) smallest = std::min(smallest, t);
  }
  if (smallest == std::chrono::milliseconds::max()) smallest = std::chrono::seconds(10);
  sweep_period_ =
      std::clamp(smallest / 10, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
  active_workers_ = workers_.size();
  return Ok();
}

void ServerImpl::Run() {
  if (ran_.exchange(true)) return;
  Worker& w0 = *workers_[0];
  asio::co_spawn(w0.ioc, AcceptLoop(), [](const std::exception_ptr&) {});
  if (signals_) {
    signals_->async_wait([this](const ErrorCode& ec, int) {
      if (!ec) Stop();
    });
  }
  for (auto& w : workers_) ArmSweep(*w);

  auto run = [](Worker& w) {
    // Handlers do not throw by design; if one does, keep serving the other connections.
    for (;;) {
      try {
        w.ioc.run();
        return;
      } catch (...) {
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(workers_.size() - 1);
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    threads.emplace_back([&run, w = workers_[i].get()] { run(*w); });
  }
  run(w0);
  for (auto& t : threads) t.join();
  AbandonPending();
}

void ServerImpl::Stop() {
  if (stop_requested_.exchange(true)) return;
  asio::post(workers_[0]->ioc, [this] { BeginShutdown(); });
}

// Context 0.
void ServerImpl::BeginShutdown() {
  ErrorCode ec;
  acceptor_->close(ec);
  if (signals_) {
    // Back to the default actions: a second Ctrl-C while draining terminates the process.
    signals_->clear(ec);
    signals_->cancel(ec);
  }
  grace_timer_->expires_after(options_.shutdown_grace);
  grace_timer_->async_wait([this](const ErrorCode& e) { OnGraceExpired(e); });
  for (auto& w : workers_) {
    asio::post(w->ioc, [this, worker = w.get()] { StopWorker(*worker); });
  }
}

// Context 0.
void ServerImpl::OnGraceExpired(const ErrorCode& e) {
  if (e) return;  // everything drained in time
  if (options_.on_grace_expired && !grace_hook_called_) {
    grace_hook_called_ = true;
    options_.on_grace_expired();
    grace_timer_->expires_after(std::chrono::seconds(1));
    grace_timer_->async_wait([this](const ErrorCode& e2) { OnGraceExpired(e2); });
    return;
  }
  for (auto& w : workers_) w->ioc.stop();
}

// Worker thread: close what is not serving a request; the rest closes after its response.
void ServerImpl::StopWorker(Worker& w) {
  w.stopping = true;
  for (Connection* c = w.connections; c != nullptr; c = c->next) {
    if (c->phase == Phase::kIdle || c->phase == Phase::kHandshake || c->phase == Phase::kLinger) {
      c->Expire();
    }
  }
  MaybeDrained(w);
}

void ServerImpl::MaybeDrained(Worker& w) {
  if (!w.stopping || w.drained || w.connection_count != 0) return;
  w.drained = true;
  w.guard.reset();
  w.sweep_timer.cancel();
  if (active_workers_.fetch_sub(1) == 1) {
    asio::post(workers_[0]->ioc, [this] { grace_timer_->cancel(); });
  }
}

// After the threads are joined (so nothing runs concurrently): requests whose handler never
// called `done` before a forced stop leave their Completion to that eventual call.
void ServerImpl::AbandonPending() {
  for (auto& w : workers_) {
    for (Connection* c = w->connections; c != nullptr; c = c->next) {
      if (c->phase == Phase::kHandling && !c->response_ready) c->AbandonCompletion();
    }
  }
}

void ServerImpl::ArmSweep(Worker& w) {
  w.sweep_timer.expires_after(sweep_period_);
  w.sweep_timer.async_wait([this, &w](const ErrorCode& ec) {
    if (ec || w.drained) return;
    Sweep(w);
    ArmSweep(w);
  });
}

void ServerImpl::Sweep(Worker& w) {
  const Clock::time_point now = Clock::now();
  for (Connection* c = w.connections; c != nullptr; c = c->next) {
    if (c->deadline <= now) c->Expire();
  }
}

Task<> ServerImpl::AcceptLoop() {
  Timer backoff(workers_[0]->ioc);
  while (!stop_requested_.load(std::memory_order_relaxed)) {
    Worker& w = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    auto [ec, socket] = co_await acceptor_->async_accept(w.ioc, kUse);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory) {
        // Out of file descriptors: back off instead of spinning on the ready listener.
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(kUse);
      }
      continue;
    }
    ErrorCode ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const tcp::endpoint remote = socket.remote_endpoint(ignored);
    std::string address;
    if (!ignored) {
      asio::ip::address a = remote.address();
      // Clients of a dual-stack "::" listener appear as ::ffff:a.b.c.d otherwise.
      if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
      }
      address = a.to_string();
    }
    asio::co_spawn(w.ioc, Session(w, std::move(socket), std::move(address)),
                   [](const std::exception_ptr&) {});
  }
}

Task<> ServerImpl::Session(Worker& w, Socket socket, std::string remote) {
  try {
    if (tls_context_) {
      TlsStream stream(std::move(socket), *tls_context_);
      Connection c(w, stream.next_layer(), true, std::move(remote));
      if (!w.stopping) {
        c.SetPhase(Phase::kHandshake, Deadline(options_.read_timeout));
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kUse);
        if (!ec) co_await Serve(c, stream);
      }
      ErrorCode ignored;
      c.socket.close(ignored);
    } else {
      Connection c(w, socket, false, std::move(remote));
      co_await Serve(c, socket);
      ErrorCode ignored;
      c.socket.close(ignored);
    }
  } catch (...) {
    // Nothing to report to; the connection is gone either way.
  }
  MaybeDrained(w);
}

template <class Stream>
Task<> ServerImpl::Serve(Connection& c, Stream& stream) {
  beast::flat_buffer& buffer = c.buffer;
  for (;;) {
    // Keep-alive wait for the first byte (pipelined bytes may already be buffered).
    if (buffer.size() == 0) {
      if (c.worker.stopping) co_return;
      c.SetPhase(Phase::kIdle, Deadline(options_.idle_timeout));
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(ReadSize(buffer)), kUse);
      if (ec) co_return;
      buffer.commit(n);
    }
    const Clock::time_point start = Clock::now();
    c.SetPhase(Phase::kReading, DeadlineAfter(start, options_.read_timeout));
    c.BeginRequest(options_.header_limit, options_.body_limit);
    RequestParser& parser = *c.parser;

    // Header.
    beast::error_code ec;
    for (;;) {
      const std::size_t used = parser.put(buffer.data(), ec);
      // Every put, not only the last: Beast also consumes the request line and whole field
      // lines of a header it has not seen the end of, and a fold may be among them.
      if ((!ec || ec == bhttp::error::need_more) &&
          HasObsFold(std::string_view(static_cast<const char*>(buffer.data().data()), used))) {
        c.scratch.refused = "obsolete line folding in a header";
        ec = bhttp::error::bad_field;
      }
      buffer.consume(used);
      if (ec != bhttp::error::need_more) break;
      auto [rec, n] = co_await stream.async_read_some(buffer.prepare(ReadSize(buffer)), kUse);
      if (rec) co_return;  // peer gone or read_timeout: nobody to answer
      buffer.commit(n);
    }
    if (!ec && !parser.is_header_done()) ec = bhttp::error::partial_message;
    if (ec) {
      co_await Reject(c, stream, ec, start);
      co_return;
    }
    c.PublishHeader();

    // Body, after the size check made by the parser on Content-Length.
    if (!parser.is_done()) {
      if (c.scratch.expect_continue && c.scratch.version >= 11 && buffer.size() == 0) {
        auto [wec, wn] = co_await asio::async_write(
            stream, asio::const_buffer(kContinue.data(), kContinue.size()), kUse);
        if (wec) co_return;
      }
      parser.eager(true);
      for (;;) {
        if (buffer.size() > 0) {
          buffer.consume(parser.put(buffer.data(), ec));
          if (ec == bhttp::error::need_more) ec = {};
          if (ec || parser.is_done()) break;
        }
        auto [rec, n] = co_await stream.async_read_some(buffer.prepare(ReadSize(buffer)), kUse);
        if (rec) co_return;
        buffer.commit(n);
      }
      if (ec) {
        co_await Reject(c, stream, ec, start);
        co_return;
      }
    }
    c.request.body = c.scratch.body;
    bool keep_alive = parser.keep_alive();
    const bool http10 = c.scratch.version == 10;
    const bool head_request = c.scratch.verb == bhttp::verb::head;

    // Handler.
    c.SetPhase(Phase::kHandling, Clock::time_point::max());
    InvokeHandler(c);
    while (!c.response_ready) {
      auto [wec] = co_await c.wake_timer.async_wait(kUse);
      (void)wec;  // cancelled by Deliver
    }

    // Response.
    keep_alive = keep_alive && !c.worker.stopping;
    std::string_view body = SerializeResponse(c.head, c.response, keep_alive, http10, head_request);
    const std::size_t body_bytes = body.size();
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      // The TLS stream writes one buffer per record; small bodies go in the same record.
      if (body.size() <= 16 * 1024) {
        c.head.append(body);
        body = {};
      }
    }
    c.SetPhase(Phase::kWriting, Deadline(options_.write_timeout));
    const std::array<asio::const_buffer, 2> buffers{
        asio::const_buffer(c.head.data(), c.head.size()),
        asio::const_buffer(body.data(), body.size())};
    auto [wec, wn] = co_await asio::async_write(stream, buffers, kUse);
    Observe(c, c.response.status, body_bytes, start);
    if (wec) co_return;
    if (!keep_alive) {
      co_await CloseGracefully(c, stream, false);
      co_return;
    }
  }
}

void ServerImpl::InvokeHandler(Connection& c) {
  c.response_ready = false;
  const std::uint64_t sequence = ++c.sequence;
  Completion* completion = c.completion;
  bool threw = false;
  t_sync_completion = completion;
  try {
    handler_.Handle(c.request, ResponseCallback([completion, sequence](Response response) {
                      Complete(completion, sequence, std::move(response));
                    }));
  } catch (...) {
    threw = true;
  }
  t_sync_completion = nullptr;
  if (threw && !c.response_ready) {
    // A handler that throws is taken not to call `done` any more (abandoning the Completion
    // would leak it whenever the callback was simply dropped); a call while the connection
    // lives is ignored anyway, as its sequence number is stale.
    c.response = ErrorResponse(errc::kInternal, "internal server error");
    c.response_ready = true;
  }
}

void ServerImpl::Observe(const Connection& c, int status, std::size_t body_bytes,
                         Clock::time_point start) {
  if (!observer_) return;
  try {
    observer_(Exchange{&c.request, status, body_bytes,
                       std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start)});
  } catch (...) {
    // An observer failure must not take the connection down.
  }
}

template <class Stream>
Task<> ServerImpl::Reject(Connection& c, Stream& stream, const beast::error_code& ec,
                          Clock::time_point start) {
  Response response;
  if (ec == bhttp::error::header_limit) {
    response =
        ErrorResponse(errc::kHeadersTooLarge,
                      "request headers exceed " + std::to_string(options_.header_limit) + " bytes");
  } else if (ec == bhttp::error::body_limit) {
    std::optional<Response> own;
    try {
      own = handler_.PayloadTooLarge(c.scratch.View(c.scratch.target), options_.body_limit);
    } catch (...) {
    }
    response = own ? std::move(*own)
                   : ErrorResponse(
                         errc::kPayloadTooLarge,
                         "request body exceeds " + std::to_string(options_.body_limit) + " bytes");
  } else {
    response = ErrorResponse(errc::kBadRequest,
                             "malformed HTTP request: " +
                                 (c.scratch.refused.empty() ? ec.message() : c.scratch.refused));
  }
  bool keep_alive = false;
  SerializeResponse(c.head, response, keep_alive, false, false);
  c.head.append(response.body);
  c.SetPhase(Phase::kWriting, Deadline(options_.write_timeout));
  auto [wec, wn] =
      co_await asio::async_write(stream, asio::const_buffer(c.head.data(), c.head.size()), kUse);
  Observe(c, response.status, response.body.size(), start);
  if (wec) co_return;
  co_await CloseGracefully(c, stream, true);
}

Task<> ServerImpl::CloseGracefully(Connection& c, Socket& socket, bool linger) {
  ErrorCode ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  if (linger && !ec) {
    // Drain what the client is still sending (bounded) so that closing with unread data
    // does not reset the connection before the client has read our response.
    const auto budget = options_.read_timeout.count() > 0 ? std::min<std::chrono::milliseconds>(
                                                                kLingerTime, options_.read_timeout)
                                                          : kLingerTime;
    c.SetPhase(Phase::kLinger, Clock::now() + budget);
    if (c.worker.stopping) co_return;
    std::size_t drained = 0;
    c.buffer.consume(c.buffer.size());
    while (drained < kMaxLingerBytes) {
      auto [rec, n] = co_await socket.async_read_some(c.buffer.prepare(kMaxReadSize), kUse);
      if (rec) break;
      drained += n;
    }
  }
  socket.close(ec);
}

Task<> ServerImpl::CloseGracefully(Connection& c, TlsStream& stream, bool /*linger*/) {
  // close_notify exchange, time-boxed; a peer that just drops the TCP connection
  // (stream_truncated, eof) is normal.
  c.SetPhase(Phase::kClosing, Clock::now() + kTlsCloseTime);
  auto [ec] = co_await stream.async_shutdown(kUse);
  (void)ec;
  ErrorCode ignored;
  c.socket.close(ignored);
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(const ServerOptions& options, Handler& handler,
                                               ExchangeObserver observer) {
  try {
    auto server = std::make_unique<ServerImpl>(options, handler, std::move(observer));
    if (Status status = server->Init(); !status) return Fail(status.error());
    return std::unique_ptr<Server>(std::move(server));
  } catch (const std::exception& e) {
    return Fail(errc::kInternal, std::string("cannot create HTTP server: ") + e.what());
  }
}

}  // namespace opsorch::http
