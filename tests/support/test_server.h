// Runs a real opsorch App in-process on 127.0.0.1:0 for API and integration tests.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>

#include <opsorch/app/app.h>
#include <opsorch/common/result.h>

namespace opsorch::testing {

class TestServer {
 public:
  // `env` plays the role of the process environment (OPSORCH_ADDR is forced to port 0).
  static Result<std::unique_ptr<TestServer>> Start(std::map<std::string, std::string> env,
                                                   bool demo = false);
  ~TestServer();

  std::uint16_t Port() const { return app_->Port(); }
  app::App& App() { return *app_; }

 private:
  std::unique_ptr<app::App> app_;
  std::thread thread_;
};

}  // namespace opsorch::testing
