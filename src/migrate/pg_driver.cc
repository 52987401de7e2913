// Driver over libpq (PostgreSQL). See driver.h.
#include "migrate/pg_driver.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "base/fnv.h"
#include "base/redact.h"
#include "migrate/driver.h"
#include "migrate/libpq.h"
#include "migrate/sql_split.h"

namespace slipway::migrate {
namespace {

// First advisory-lock key: "SLPW"; the second is derived from the database
// name, so migrations of different databases on one server do not contend. Both must stay
// as they are: a binary of another version migrating the same database takes the same lock.
constexpr int32_t kLockKey1 = 0x534C5057;

int32_t LockKey2(std::string_view dbname) {
  return static_cast<int32_t>(Fnv1a32Of(dbname) & 0x7fffffff);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// PostgreSQL positions count characters; convert to a byte offset in UTF-8 text.
size_t CharToByte(std::string_view s, long chars) {
  size_t i = 0;
  for (long c = 0; c < chars && i < s.size(); ++c) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

std::string QuoteIdent(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

class PgDriver final : public Driver {
 public:
  PgDriver(const LibPq* pq, PGconn* conn, Target target)
      : pq_(pq), conn_(conn), target_(std::move(target)) {}
  ~PgDriver() override { pq_->finish(conn_); }

  const Target& target() const override { return target_; }

  Status ExecScript(std::string_view sql, ScriptError* err) override {
    for (const SqlStatement& st : SplitSql(sql)) {
      PGresult* res = pq_->exec(conn_, st.text.c_str());
      ExecStatusType status = pq_->resultStatus(res);
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
        pq_->clear(res);
        continue;
      }
      if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
        pq_->clear(res);
        // Leave the connection usable: end the copy, then report.
        pq_->putCopyEnd(conn_, "COPY is not supported in migrations");
        while (PGresult* r = pq_->getResult(conn_)) pq_->clear(r);
        ScriptError e;
        e.message = "COPY ... FROM STDIN / TO STDOUT is not supported in migration files";
        e.statement = st.text;
        e.statement_offset = st.offset;
        if (err) *err = e;
        return Internal(e.message);
      }
      ScriptError e;
      e.statement = st.text;
      e.statement_offset = st.offset;
      const char* primary = pq_->resultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
      e.message = primary != nullptr ? primary : Trim(pq_->errorMessage(conn_));
      if (const char* s = pq_->resultErrorField(res, PG_DIAG_SQLSTATE)) e.sqlstate = s;
      if (const char* d = pq_->resultErrorField(res, PG_DIAG_MESSAGE_DETAIL)) e.detail = d;
      if (const char* h = pq_->resultErrorField(res, PG_DIAG_MESSAGE_HINT)) {
        e.detail += (e.detail.empty() ? "" : "; ") + std::string("hint: ") + h;
      }
      if (const char* p = pq_->resultErrorField(res, PG_DIAG_STATEMENT_POSITION)) {
        long pos = std::atol(p);
        if (pos > 0) e.error_offset = st.offset + CharToByte(st.text, pos - 1);
      }
      pq_->clear(res);
      if (err) *err = e;
      return Internal(e.message);
    }
    return Status::OK();
  }

  Result<std::vector<Row>> Query(std::string_view sql,
                                 const std::vector<std::string>& params) override {
    std::string text(sql);
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& p : params) values.push_back(p.c_str());
    PGresult* res = pq_->execParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
    ExecStatusType status = pq_->resultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      std::string msg = Trim(pq_->resultErrorMessage(res));
      pq_->clear(res);
      if (pq_->status(conn_) != CONNECTION_OK) return Unavailable("postgres: " + msg);
      return Internal("postgres: " + msg);
    }
    std::vector<Row> rows;
    int n = pq_->ntuples(res), f = pq_->nfields(res);
    for (int i = 0; i < n; ++i) {
      Row row;
      for (int j = 0; j < f; ++j) {
        if (pq_->getisnull(res, i, j)) {
          row.push_back(std::nullopt);
        } else {
          row.push_back(std::string(pq_->getvalue(res, i, j), pq_->getlength(res, i, j)));
        }
      }
      rows.push_back(std::move(row));
    }
    pq_->clear(res);
    return rows;
  }

  Result<bool> TryLock() override {
    ASSIGN_OR_RETURN(auto rows, Query("SELECT pg_try_advisory_lock($1::int, $2::int)",
                                      {std::to_string(kLockKey1), std::to_string(Key2())}));
    return !rows.empty() && rows[0][0].value_or("f") == "t";
  }

  Status Unlock() override {
    return Exec("SELECT pg_advisory_unlock($1::int, $2::int)",
                {std::to_string(kLockKey1), std::to_string(Key2())});
  }

  std::string LockHolder() override {
    auto rows = Query(
        "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename, ''), "
        "coalesce(host(a.client_addr), 'local socket'), "
        "to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'), coalesce(a.state, ''), "
        "left(coalesce(a.query, ''), 120) "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid "
        "AND l.objid = $2::int::oid AND l.objsubid = 2 AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
        {std::to_string(kLockKey1), std::to_string(Key2())});
    if (!rows.ok() || rows->empty()) return "";
    const Row& r = rows->front();
    auto v = [&](size_t i) { return r[i].value_or(""); };
    return "pid " + v(0) + " (application \"" + v(1) + "\", user " + v(2) + " from " + v(3) +
           ", connected since " + v(4) + ", " + v(5) + ": " + v(6) + ")";
  }

  Result<std::string> SchemaFingerprint(const std::string& exclude) override {
    static const char* kQueries[] = {
        "SELECT table_schema, table_name, column_name, data_type, is_nullable, "
        "coalesce(column_default, '') FROM information_schema.columns "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_name <> $1 "
        "ORDER BY 1, 2, ordinal_position",
        "SELECT schemaname, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND tablename <> $1 "
        "ORDER BY 1, 2",
        "SELECT n.nspname, c.relname, co.conname, pg_get_constraintdef(co.oid) "
        "FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.relname <> $1 "
        "ORDER BY 1, 2, 3",
        "SELECT schemaname, viewname, definition FROM pg_views "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND viewname <> $1 "
        "ORDER BY 1, 2",
        "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), "
        "md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.proname <> $1 "
        "ORDER BY 1, 2, 3",
        "SELECT n.nspname, t.typname, t.typtype FROM pg_type t "
        "JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND t.typtype IN ('e', 'd') AND t.typname <> $1 "
        "ORDER BY 1, 2",
    };
    std::string out;
    for (const char* q : kQueries) {
      ASSIGN_OR_RETURN(auto rows, Query(q, {exclude}));
      for (const Row& r : rows) {
        for (const auto& v : r) out += v.value_or("NULL") + "|";
        out += "\n";
      }
      out += "--\n";
    }
    return out;
  }

  Result<bool> TableExists(const std::string& name) override {
    ASSIGN_OR_RETURN(auto rows, Query("SELECT to_regclass($1) IS NOT NULL", {name}));
    return !rows.empty() && rows[0][0].value_or("f") == "t";
  }

  Result<int64_t> CountUserTables() override {
    ASSIGN_OR_RETURN(auto rows,
                     Query("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
                           "n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
                           "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                           "AND n.nspname NOT LIKE 'pg_toast%'",
                           {}));
    return std::stoll(rows.at(0).at(0).value_or("0"));
  }

  Result<Target> CreateScratchDatabase(const std::string& hint) override {
    static std::atomic<int> counter{0};
    std::string name = "slipway_scratch_";
    for (char c : hint) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    name = name.substr(0, 40) + "_" + std::to_string(::getpid()) + "_" +
           std::to_string(counter.fetch_add(1));
    RETURN_IF_ERROR(Exec("CREATE DATABASE " + QuoteIdent(name)));
    return target_.WithDatabase(name);
  }

  Status DropDatabase(const Target& scratch) override {
    return Exec("DROP DATABASE IF EXISTS " + QuoteIdent(scratch.DatabaseName()) + " WITH (FORCE)");
  }

 private:
  int32_t Key2() const { return LockKey2(pq_->db(conn_)); }

  const LibPq* pq_;
  PGconn* conn_;
  Target target_;
};

void IgnoreNotice(void*, const char*) {}

}  // namespace

Result<std::unique_ptr<Driver>> OpenPostgres(const Target& target, const std::string& application) {
  ASSIGN_OR_RETURN(const LibPq* pq, GetLibPq());
  std::vector<std::string> keys, vals;
  for (const auto& [k, v] : target.pg_params) {
    keys.push_back(k);
    vals.push_back(v);
  }
  if (!target.pg_params.count("application_name")) {
    keys.push_back("application_name");
    vals.push_back(application);
  }
  if (!target.pg_params.count("connect_timeout")) {
    keys.push_back("connect_timeout");
    vals.push_back("10");
  }
  std::vector<const char*> k, v;
  for (size_t i = 0; i < keys.size(); ++i) {
    k.push_back(keys[i].c_str());
    v.push_back(vals[i].c_str());
  }
  k.push_back(nullptr);
  v.push_back(nullptr);
  PGconn* conn = pq->connectdbParams(k.data(), v.data(), 0);
  if (conn == nullptr) return Internal("postgres: out of memory");
  if (pq->status(conn) != CONNECTION_OK) {
    std::string msg = Trim(pq->errorMessage(conn));
    for (char& c : msg) {
      if (c == '\n') c = ' ';
    }
    pq->finish(conn);
    // libpq's text names host, port and user; mask the password should it ever echo it.
    Redactor r;
    r.AddValue(target.Password());
    return Unavailable("cannot connect to " + target.Display() + ": " + r.Scrub(msg));
  }
  pq->setNoticeProcessor(conn, &IgnoreNotice, nullptr);
  return std::unique_ptr<Driver>(new PgDriver(pq, conn, target));
}

}  // namespace slipway::migrate
