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
find_package(PostgreSQL REQUIRED)  # incident engine store for several nodes (libpq)
if(OPSORCH_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
