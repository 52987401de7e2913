#include "config/databases_settings.h"

#include <cctype>

#include "config/node.h"
#include "config/values.h"

namespace slipway::config {
namespace {

bool ValidUrl(const std::string& u) {
  for (const char* p : {"postgres://", "postgresql://", "postgres:", "sqlite:"}) {
    if (u.rfind(p, 0) == 0 && u.size() > std::string(p).size()) return true;
  }
  return false;
}

// Cheap shape check; backup::CronExpr does the full parse where it is used.
bool PlausibleCron(const std::string& s) {
  if (!s.empty() && s[0] == '@') {
    return s == "@yearly" || s == "@annually" || s == "@monthly" || s == "@weekly" ||
           s == "@daily" || s == "@midnight" || s == "@hourly";
  }
  int fields = 0;
  bool in = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      in = false;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '*' && c != ',' && c != '-' &&
        c != '/') {
      return false;
    }
    if (!in) ++fields;
    in = true;
  }
  return fields == 5;
}

Status UnknownKey(const Node& n, const std::string& path, const std::string& known) {
  return NodeError(n, path, "unknown key " + Quote(n.key), "one of " + known);
}

}  // namespace

Status ParseDatabasesSettings(const Node& n, const std::string& path,
                              std::map<std::string, DatabaseSettings>* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping of database names to {url, migrations, ...}"));
  for (const Node& db : n.children) {
    const std::string dpath = JoinPath(path, db.key);
    if (db.key.empty() || db.key.find_first_of("/ \t") != std::string::npos) {
      return NodeError(db, dpath, Quote(db.key) + " is not a valid database name",
                       "letters, digits, '-', '_'");
    }
    DatabaseSettings s;
    s.name = db.key;
    s.where = db.ErrorLoc().ToString();
    if (db.IsScalar()) {  // shorthand: `main: ${DATABASE_URL}`
      ASSIGN_OR_RETURN(s.url, ReadString(db, dpath));
    } else {
      RETURN_IF_ERROR(ExpectMap(db, dpath, "a mapping with url, migrations, format, check"));
      for (const Node& f : db.children) {
        const std::string fpath = JoinPath(dpath, f.key);
        if (f.key == "url") {
          ASSIGN_OR_RETURN(s.url, ReadString(f, fpath));
        } else if (f.key == "migrations") {
          ASSIGN_OR_RETURN(s.migrations, ReadString(f, fpath));
        } else if (f.key == "format") {
          ASSIGN_OR_RETURN(s.format, ReadEnum(f, fpath, {"auto", "slipway", "golang-migrate",
                                                          "dbmate", "flyway"}));
        } else if (f.key == "check") {
          ASSIGN_OR_RETURN(s.check, ReadString(f, fpath));
        } else if (f.key == "lock-timeout") {
          ASSIGN_OR_RETURN(s.lock_timeout, ReadDuration(f, fpath));
        } else if (f.key == "service") {
          ASSIGN_OR_RETURN(s.service, ReadString(f, fpath));
        } else {
          return UnknownKey(f, fpath, "url, migrations, format, check, lock-timeout, service");
        }
      }
    }
    if (s.url.empty()) {
      return NodeError(db, JoinPath(dpath, "url"),
                       "is missing or empty (is the variable it comes from set?)",
                       "postgres://user@host/db or sqlite:path");
    }
    if (!ValidUrl(s.url)) {
      // Never echo the URL: it may carry a password.
      const Node* u = db.IsMap() ? db.Find("url") : nullptr;
      return NodeError(u != nullptr ? *u : db, JoinPath(dpath, "url"), "unsupported database URL scheme",
                       "postgres://user@host/db or sqlite:path");
    }
    (*out)[s.name] = std::move(s);
  }
  return Status::OK();
}

Status ParseBackupsSettings(const Node& n, const std::string& path, BackupsSettings* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with dir, schedule, databases, retention"));
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "dir") {
      ASSIGN_OR_RETURN(out->dir, ReadString(f, fpath));
    } else if (f.key == "schedule") {
      ASSIGN_OR_RETURN(out->schedule, ReadString(f, fpath));
      if (!PlausibleCron(out->schedule)) {
        return NodeError(f, fpath, Quote(out->schedule) + " is not a cron expression",
                         "5 fields (minute hour day-of-month month day-of-week) or @daily etc.");
      }
    } else if (f.key == "databases") {
      ASSIGN_OR_RETURN(out->databases, ReadStringList(f, fpath));
    } else if (f.key == "catch-up") {
      ASSIGN_OR_RETURN(out->catch_up, ReadBool(f, fpath));
    } else if (f.key == "retention") {
      RETURN_IF_ERROR(ExpectMap(f, fpath, "a mapping of keep-last/hourly/daily/... counts"));
      for (const Node& r : f.children) {
        const std::string rpath = JoinPath(fpath, r.key);
        int* target = nullptr;
        if (r.key == "keep-last") target = &out->retention.keep_last;
        if (r.key == "hourly") target = &out->retention.hourly;
        if (r.key == "daily") target = &out->retention.daily;
        if (r.key == "weekly") target = &out->retention.weekly;
        if (r.key == "monthly") target = &out->retention.monthly;
        if (r.key == "yearly") target = &out->retention.yearly;
        if (target == nullptr) {
          return UnknownKey(r, rpath, "keep-last, hourly, daily, weekly, monthly, yearly");
        }
        ASSIGN_OR_RETURN(*target, ReadInt(r, rpath));
        if (*target < -1) return NodeError(r, rpath, "must be >= 0 (or -1 for unlimited)");
      }
    } else {
      return UnknownKey(f, fpath, "dir, schedule, databases, catch-up, retention");
    }
  }
  return Status::OK();
}

}  // namespace slipway::config
