#include "migrate/target.h"

#include <memory>

#include "base/redact.h"
#include "migrate/libpq.h"

namespace slipway::migrate {
namespace {

std::string QuoteConnValue(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

std::string Target::DatabaseName() const {
  if (!IsPostgres()) return sqlite_path.stem().string();
  if (auto it = pg_params.find("dbname"); it != pg_params.end() && !it->second.empty()) {
    return it->second;
  }
  if (auto it = pg_params.find("user"); it != pg_params.end() && !it->second.empty()) {
    return it->second;
  }
  return "postgres";
}

namespace {

std::string BuildConnInfo(const std::map<std::string, std::string>& params, bool password) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!password && k == "password") continue;
    if (!out.empty()) out += ' ';
    out += k + "=" + QuoteConnValue(v);
  }
  return out;
}

}  // namespace

std::string Target::ConnInfo() const { return BuildConnInfo(pg_params, true); }

std::string Target::ConnInfoWithoutPassword() const { return BuildConnInfo(pg_params, false); }

std::string Target::Password() const {
  auto it = pg_params.find("password");
  return it == pg_params.end() ? "" : it->second;
}

Target Target::WithDatabase(const std::string& dbname) const {
  Target t = *this;
  if (IsPostgres()) {
    t.pg_params["dbname"] = dbname;
  } else {
    t.sqlite_path = sqlite_path.parent_path() / dbname;
  }
  return t;
}

std::string Target::Display() const {
  if (!IsPostgres()) return "sqlite:" + sqlite_path.string();
  auto get = [&](const char* k, const char* dflt) {
    auto it = pg_params.find(k);
    return it == pg_params.end() || it->second.empty() ? std::string(dflt) : it->second;
  };
  std::string out = "postgres://" + get("user", "");
  if (pg_params.count("password")) out += ":***";
  if (pg_params.count("user")) out += "@";
  out += get("host", "localhost");
  if (pg_params.count("port")) {
    out += ':';
    out += get("port", "");
  }
  out += '/';
  out += DatabaseName();
  return out;
}

Result<Target> ParseTarget(std::string_view url, const std::filesystem::path& base_dir) {
  Target t;
  if (StartsWith(url, "sqlite:")) {
    std::string_view rest = url.substr(7);
    if (StartsWith(rest, "//")) rest = rest.substr(2);  // sqlite://rel or sqlite:///abs
    if (rest.empty()) {
      return InvalidInput("database URL \"" + RedactUrlPasswords(url) + "\": missing path");
    }
    t.kind = Target::Kind::kSqlite;
    std::filesystem::path p(rest);
    t.sqlite_path = p.is_absolute() ? p : (base_dir / p).lexically_normal();
    return t;
  }
  std::string conninfo;
  if (StartsWith(url, "postgres://") || StartsWith(url, "postgresql://")) {
    conninfo = std::string(url);
  } else if (StartsWith(url, "postgres:")) {
    conninfo = std::string(url.substr(9));
  } else {
    return InvalidInput("database URL \"" + RedactUrlPasswords(url) +
                        "\": unsupported scheme (expected postgres://... or sqlite:path)");
  }
  ASSIGN_OR_RETURN(const LibPq* pq, GetLibPq());
  char* err = nullptr;
  PQconninfoOption* opts = pq->conninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err != nullptr ? err : "cannot parse";
    pq->freemem(err);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    // libpq names the offending part, which may be a piece of the password: mask what
    // looks like one and every piece of the URL's password.
    Redactor r;
    for (const std::string& p : UrlPasswords(url)) r.AddValue(p);
    return InvalidInput("database URL: " + r.Scrub(msg));
  }
  std::unique_ptr<PQconninfoOption, decltype(pq->conninfoFree)> guard(opts, pq->conninfoFree);
  t.kind = Target::Kind::kPostgres;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val != nullptr && o->val[0] != '\0') t.pg_params[o->keyword] = o->val;
  }
  return t;
}

}  // namespace slipway::migrate
