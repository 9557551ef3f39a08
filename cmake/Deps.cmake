# Debian bookworm packages only (see ../shared/reference/stack.md); scripts/install-deps
# installs them.
find_package(Threads REQUIRED)
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS json url)
find_package(OpenSSL 3 REQUIRED)
find_package(fmt 9 CONFIG REQUIRED)
find_package(spdlog 1.10 CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(tl-expected CONFIG REQUIRED)
find_package(SQLite3 REQUIRED)  # incident engine store
find_package(date CONFIG REQUIRED)  # time zones (date::date-tz, reads /usr/share/zoneinfo)
if(OPSORCH_WITH_POSTGRES)
  find_package(PostgreSQL REQUIRED)  # incident engine store for several nodes (libpq)
endif()
if(OPSORCH_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
find_package(CURL REQUIRED)  # workflow runtime: outbound HTTP, metric outputs
find_package(PkgConfig REQUIRED)
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)        # workflow processors (sandboxed)
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)  # script worker syscall filter
if(OPSORCH_BUILD_TESTS)
  # Test doubles only (mock upstreams). Its pkg-config Cflags must be used (ODR, see stack.md).
  pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
endif()
