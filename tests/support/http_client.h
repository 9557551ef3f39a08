// A deliberately simple blocking HTTP/1.1 client over a raw socket, so tests can send exactly
// the bytes they want (malformed requests included) and see exactly what came back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace opsorch::testing {

struct HttpResponse {
  int status = 0;  // 0: no response (connection closed or timed out)
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool closed = false;  // the server closed the connection after this response

  // First header with this name (case-insensitive); empty if absent.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::string host = "127.0.0.1");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method target` with the headers and body (Content-Length added when body is
  // non-empty or method is POST/PATCH) and reads one response.
  HttpResponse Request(std::string_view method, std::string_view target,
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       std::string_view body = {});
  // Sends raw bytes as they are and reads one response.
  HttpResponse Raw(std::string_view bytes, int timeout_ms = 5000);
  // Reads one response without sending anything (pipelining tests).
  HttpResponse ReadResponse(int timeout_ms = 5000);
  bool Send(std::string_view bytes);
  bool Connected() const { return fd_ >= 0; }
  void Close();

 private:
  bool Connect();

  std::uint16_t port_;
  std::string host_;
  int fd_ = -1;
  std::string buffer_;  // bytes read but not yet consumed
  bool head_ = false;   // the response to HEAD has no body
};

}  // namespace opsorch::testing
