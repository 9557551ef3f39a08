#include "engine/postgres/pg_db.h"

#include <charconv>

#include <libpq-fe.h>

#include <opsorch/common/error.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>

namespace opsorch::engine::postgres {
namespace {

// Every statement is bounded, so a stuck lock or a runaway query cannot hold a request (or the
// writer, and with it all ingestion) forever.
constexpr std::string_view kSessionSetup = "SET statement_timeout = '30s'";
// Past this many distinct statements a connection stops preparing new ones (dynamic SQL must
// not grow the server's memory without bound).
constexpr std::size_t kMaxPrepared = 256;

std::string StepName(std::string_view sql) {
  std::string out;
  for (char c : sql.substr(0, 60)) {
    const bool space = c == '\n' || c == '\t' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out.push_back(space ? ' ' : c);
  }
  return out;
}

// Server notices ("relation already exists, skipping") would go to stderr, past the logger.
void DropNotice(void*, const char*) {}

std::string TrimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

bool IsRetryable(std::string_view sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";  // serialization failure, deadlock
}

Params& Params::Add(std::string_view v) {
  values_.emplace_back(v);
  return *this;
}

Params& Params::Add(std::int64_t v) {
  values_.push_back(std::to_string(v));
  return *this;
}

Params& Params::AddJson(const JsonObject& v) {
  std::string text;
  AppendJsonObject(text, v);
  values_.push_back(std::move(text));
  return *this;
}

Params& Params::AddJson(const JsonArray& v) {
  std::string text;
  AppendJsonValue(text, JsonValue(v));
  values_.push_back(std::move(text));
  return *this;
}

Params& Params::AddArray(const std::vector<std::string>& v) {
  std::string text = "{";
  for (const auto& s : v) {
    if (text.size() > 1) text.push_back(',');
    text.push_back('"');
    for (char c : s) {
      if (c == '"' || c == '\\') text.push_back('\\');
      text.push_back(c);
    }
    text.push_back('"');
  }
  text.push_back('}');
  values_.push_back(std::move(text));
  return *this;
}

Rows::~Rows() { PQclear(r_); }

Rows& Rows::operator=(Rows&& o) noexcept {
  if (this != &o) {
    PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

int Rows::size() const { return r_ ? PQntuples(r_) : 0; }

std::int64_t Rows::Affected() const {
  const char* n = r_ ? PQcmdTuples(r_) : "";
  std::int64_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

std::string Rows::Text(int r, int c) const {
  return std::string(PQgetvalue(r_, r, c), static_cast<std::size_t>(PQgetlength(r_, r, c)));
}

std::int64_t Rows::Int(int r, int c) const {
  const char* p = PQgetvalue(r_, r, c);
  std::int64_t v = 0;
  std::from_chars(p, p + PQgetlength(r_, r, c), v);
  return v;
}

bool Rows::IsNull(int r, int c) const { return PQgetisnull(r_, r, c) != 0; }

JsonObject Rows::Object(int r, int c) const {
  const std::string text = Text(r, c);
  if (text.empty()) return {};
  auto v = ParseJson(text);
  return v && v->is_object() ? std::move(v->get_object()) : JsonObject();
}

JsonArray Rows::Array(int r, int c) const {
  const std::string text = Text(r, c);
  if (text.empty()) return {};
  auto v = ParseJson(text);
  return v && v->is_array() ? std::move(v->get_array()) : JsonArray();
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url) {
  // Keywords before `dbname` are defaults the URL may override; those after it are ours.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", "client_encoding",
                        nullptr};
  const char* values[] = {"10", "opsorch", url.c_str(), "UTF8", nullptr};
  PGconn* c = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (c == nullptr) return Fail(errc::kInternal, "postgres: connect: out of memory");
  auto conn = std::unique_ptr<Connection>(new Connection(c));
  PQsetNoticeProcessor(c, DropNotice, nullptr);
  if (PQstatus(c) != CONNECTION_OK) {
    return Fail(errc::kInternal, "postgres: connect: " + TrimNewline(PQerrorMessage(c)));
  }
  if (auto st = conn->ApplySessionSettings(); !st) return Fail(std::move(st.error()));
  return conn;
}

Connection::~Connection() { PQfinish(c_); }

Status Connection::ApplySessionSettings() { return Exec(kSessionSetup); }

bool Connection::Healthy() const { return PQstatus(c_) == CONNECTION_OK; }

bool Connection::Idle() const { return PQtransactionStatus(c_) == PQTRANS_IDLE; }

Status Connection::EnsureConnected() {
  if (Healthy()) return Ok();
  PQreset(c_);
  prepared_.clear();  // the server forgot them with the old session
  if (!Healthy()) {
    return Fail(errc::kInternal, "postgres: reconnect: " + TrimNewline(PQerrorMessage(c_)));
  }
  return ApplySessionSettings();
}

Error Connection::ErrorFrom(pg_result* r, std::string_view sql) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  // The primary message only: DETAIL quotes row values (a key hash, say), which must not reach
  // a log line or a response.
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary ? std::string(primary) : TrimNewline(PQerrorMessage(c_));
  if (message.empty()) message = "unknown error";
  const std::string sqlstate = state ? state : (Healthy() ? "" : "08006");
  if (IsRetryable(sqlstate)) saw_retryable_ = true;
  if (sqlstate.starts_with("23")) {
    // Integrity constraints, as SQLite's SQLITE_CONSTRAINT. A client can cause this (a second
    // open incident for a key): say what, not the SQL or the constraint's name.
    return MakeError(errc::kConflict, "conflicts with an existing record");
  }
  ErrorCode code = errc::kInternal;
  if (sqlstate == "22021" || sqlstate == "22P05") {
    code = errc::kBadRequest;  // text the database's encoding cannot hold
  }
  std::string text = "postgres: " + StepName(sql) + ": " + message;
  if (!sqlstate.empty()) text += " (SQLSTATE " + sqlstate + ")";
  return MakeError(code, std::move(text));
}

Result<Rows> Connection::Check(pg_result* r, std::string_view sql) {
  switch (r ? PQresultStatus(r) : PGRES_FATAL_ERROR) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
    case PGRES_EMPTY_QUERY:
      return Rows(r);
    default: {
      Error e = ErrorFrom(r, sql);
      PQclear(r);
      return Fail(std::move(e));
    }
  }
}

Status Connection::Exec(std::string_view sql) {
  const std::string text(sql);
  auto r = Check(PQexec(c_, text.c_str()), sql);
  if (!r) return Fail(std::move(r.error()));
  return Ok();
}

Result<const std::string*> Connection::Prepared(std::string_view sql, const Params& params) {
  // libpq sends text parameters NUL-terminated: a NUL inside one would silently cut it short,
  // and PostgreSQL text cannot hold one anyway.
  for (int i = 0; i < params.size(); ++i) {
    if (params.values()[i].find('\0') != std::string::npos) {
      return Fail(errc::kBadRequest, "postgres: " + StepName(sql) + ": parameter $" +
                                         std::to_string(i + 1) +
                                         " contains a NUL character, which PostgreSQL text "
                                         "cannot store");
    }
  }
  static const std::string kUnnamed;
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return &it->second;
  if (prepared_.size() >= kMaxPrepared) return &kUnnamed;
  const std::string name = "opsorch_" + std::to_string(prepared_.size() + 1);
  const std::string text(sql);
  auto r = Check(PQprepare(c_, name.c_str(), text.c_str(), 0, nullptr), sql);
  if (!r) return Fail(std::move(r.error()));
  return &prepared_.emplace(text, name).first->second;
}

Result<Rows> Connection::Query(std::string_view sql, const Params& params) {
  auto name = Prepared(sql, params);
  if (!name) return Fail(std::move(name.error()));
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const auto& v : params.values()) values.push_back(v.c_str());
  if ((*name)->empty()) {
    const std::string text(sql);
    return Check(
        PQexecParams(c_, text.c_str(), params.size(), nullptr, values.data(), nullptr, nullptr, 0),
        sql);
  }
  return Check(
      PQexecPrepared(c_, (*name)->c_str(), params.size(), values.data(), nullptr, nullptr, 0), sql);
}

Status Connection::QueryEach(std::string_view sql, const Params& params,
                             const std::function<void(const Rows&)>& row) {
  auto name = Prepared(sql, params);
  if (!name) return Fail(std::move(name.error()));
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const auto& v : params.values()) values.push_back(v.c_str());
  const std::string text(sql);
  const int sent = (*name)->empty() ? PQsendQueryParams(c_, text.c_str(), params.size(), nullptr,
                                                        values.data(), nullptr, nullptr, 0)
                                    : PQsendQueryPrepared(c_, (*name)->c_str(), params.size(),
                                                          values.data(), nullptr, nullptr, 0);
  if (sent == 0) return Fail(ErrorFrom(nullptr, sql));
  PQsetSingleRowMode(c_);
  Status status = Ok();
  // Every result must be read, even after an error, before the connection is usable again.
  while (PGresult* r = PQgetResult(c_)) {
    if (!status) {
      PQclear(r);
      continue;
    }
    auto rows = Check(r, sql);
    if (!rows) {
      status = Fail(std::move(rows.error()));
    } else if (PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
      row(*rows);
    }
  }
  return status;
}

}  // namespace opsorch::engine::postgres
