#include <mutex>

#include <locale.h>
#include <wctype.h>

#include <opsorch/common/error.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/sqlite/sqlite_db.h>

namespace opsorch::sqlite {

Error SqlError(sqlite3* db, std::string_view what) {
  return MakeError(errc::kInternal, "sqlite: " + std::string(what) + ": " +
                                        (db ? sqlite3_errmsg(db) : "no database"));
}

namespace {

locale_t Utf8Locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return loc;
}

void AppendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

void FoldFunction(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const std::string folded =
      FoldCase(std::string_view(p, static_cast<std::size_t>(sqlite3_value_bytes(argv[0]))));
  sqlite3_result_text(ctx, folded.data(), static_cast<int>(folded.size()), SQLITE_TRANSIENT);
}

}  // namespace

std::string FoldCase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const locale_t loc = Utf8Locale();
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(b >= 'A' && b <= 'Z' ? static_cast<char>(b + 32) : static_cast<char>(b));
      ++i;
      continue;
    }
    const int len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    if (len == 1 || i + static_cast<std::size_t>(len) > s.size()) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    char32_t c = b & (0xFF >> (len + 1));
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      const auto cont = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cont & 0xC0) != 0x80) ok = false;
      c = (c << 6) | (cont & 0x3F);
    }
    if (!ok || loc == static_cast<locale_t>(0)) {
      out.append(s.substr(i, static_cast<std::size_t>(len)));
    } else {
      AppendUtf8(out, static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), loc)));
    }
    i += static_cast<std::size_t>(len);
  }
  return out;
}

Statement& Statement::Bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindRef(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  return *this;
}

Statement& Statement::Bind(int i, std::int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}

Statement& Statement::BindJson(int i, const JsonObject& v) {
  std::string text;
  AppendJsonObject(text, v);
  return Bind(i, text);
}

Statement& Statement::BindJson(int i, const JsonArray& v) {
  std::string text;
  AppendJsonValue(text, JsonValue(v));
  return Bind(i, text);
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(s_);
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    // A client can cause this (a second open incident for a key): say what, not the SQL.
    return Fail(errc::kConflict, "conflicts with an existing record");
  }
  const std::string sql = sqlite3_sql(s_) ? sqlite3_sql(s_) : "";
  return Fail(SqlError(db, sql.substr(0, 60)));
}

Status Statement::Run() {
  while (true) {
    auto r = Step();
    if (!r) return Fail(std::move(r.error()));
    if (!*r) return Ok();
  }
}

std::string Statement::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
           : std::string();
}

std::int64_t Statement::Int(int col) const { return sqlite3_column_int64(s_, col); }

bool Statement::IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

JsonObject Statement::Object(int col) const {
  const std::string text = Text(col);
  if (text.empty()) return {};
  auto v = ParseJson(text);
  return v && v->is_object() ? std::move(v->get_object()) : JsonObject();
}

JsonArray Statement::Array(int col) const {
  const std::string text = Text(col);
  if (text.empty()) return {};
  auto v = ParseJson(text);
  return v && v->is_array() ? std::move(v->get_array()) : JsonArray();
}

std::int64_t Statement::TakeVmSteps() {
  return sqlite3_stmt_status(s_, SQLITE_STMTSTATUS_VM_STEP, 1);
}

void Statement::Reset() {
  if (s_ == nullptr) return;
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path) {
  // SQLite counts every allocation under a global mutex unless told not to (it was ~5% of the
  // writer's time: a lock and unlock per malloc). Only the engine uses SQLite in this process,
  // and this runs before its first connection; if SQLite was already initialised the call
  // fails harmlessly and the statistics stay on.
  static std::once_flag once;
  std::call_once(once, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = SqlError(db, "open " + path);
    sqlite3_close_v2(db);
    return Fail(std::move(e));
  }
  auto c = std::unique_ptr<Connection>(new Connection(db));
  sqlite3_busy_timeout(db, 10'000);  // several processes (or nodes in tests) share the file
  // WAL: readers never block the writer. The writer connection runs NORMAL and the store fsyncs
  // the WAL itself (SqliteStore::Sync), so that the next group is applied during the fsync.
  std::string pragmas =
      "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;";
  // A group commit of a thousand events touches many pages: with SQLite's default 2 MB page
  // cache they spilled into the WAL mid-transaction (one pwrite per page, then again at
  // commit). 64 MB keeps a batch in memory; reads go through mmap instead of pread.
  pragmas += "PRAGMA cache_size=-65536; PRAGMA mmap_size=1073741824; PRAGMA temp_store=MEMORY;";
  if (auto st = c->Exec(pragmas); !st) return Fail(std::move(st.error()));
  sqlite3_create_function_v2(db, "opsorch_fold", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                             FoldFunction, nullptr, nullptr, nullptr);
  return c;
}

Connection::~Connection() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

Status Connection::Exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Fail(errc::kInternal, "sqlite: " + msg);
  }
  return Ok();
}

Result<std::unique_ptr<Statement>> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &s, nullptr) != SQLITE_OK) {
      return Fail(SqlError(db_, "prepare " + std::string(sql.substr(0, 60))));
    }
    it = cache_.emplace(std::string(sql), s).first;
  }
  return std::make_unique<Statement>(it->second);
}

std::int64_t Connection::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
int Connection::Changes() const { return sqlite3_changes(db_); }

}  // namespace opsorch::sqlite
