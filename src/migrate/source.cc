#include "migrate/source.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "migrate/checksum.h"

namespace slipway::migrate {
namespace fs = std::filesystem;
namespace {

const std::regex& UpDownRe() {
  static const std::regex re(R"(^([0-9]+)_(.*)\.(up|down)\.sql$)");
  return re;
}
const std::regex& DbmateRe() {
  static const std::regex re(R"(^([0-9]+)_?(.*)\.sql$)");
  return re;
}
const std::regex& FlywayRe() {
  static const std::regex re(R"(^([VU])([0-9]+(?:[._][0-9]+)*)__(.+)\.sql$)");
  return re;
}

std::vector<uint64_t> VersionParts(std::string_view v) {
  std::vector<uint64_t> parts;
  uint64_t cur = 0;
  bool any = false;
  for (char c : v) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      cur = cur * 10 + static_cast<uint64_t>(c - '0');
      any = true;
    } else if (any) {
      parts.push_back(cur);
      cur = 0;
      any = false;
    }
  }
  if (any) parts.push_back(cur);
  while (parts.size() > 1 && parts.back() == 0) parts.pop_back();  // 1.0 == 1
  return parts;
}

Result<std::string> ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return IoError("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool HasNoTransactionMarker(std::string_view sql) {
  size_t pos = 0;
  while (pos < sql.size()) {
    size_t eol = sql.find('\n', pos);
    std::string_view line = sql.substr(pos, eol == std::string_view::npos ? sql.npos : eol - pos);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
    if (line == "-- slipway:no-transaction") return true;
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return false;
}

int LineOf(std::string_view text, size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + offset, '\n'));
}

// Splits a dbmate file into its up and down sections.
Status ParseDbmate(const fs::path& file, const std::string& text, Migration* m) {
  static const std::regex marker(R"(^--\s*migrate:(up|down)([^\n]*)$)", std::regex::multiline);
  struct Section {
    std::string kind;
    bool transactional;
    size_t begin;  // after the marker line
    size_t marker_pos;
  };
  std::vector<Section> sections;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), marker);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& mt = *it;
    size_t end = static_cast<size_t>(mt.position(0) + mt.length(0));
    if (end < text.size() && text[end] == '\n') ++end;
    bool tx = mt[2].str().find("transaction:false") == std::string::npos;
    sections.push_back({mt[1].str(), tx, end, static_cast<size_t>(mt.position(0))});
  }
  bool have_up = false;
  for (size_t i = 0; i < sections.size(); ++i) {
    size_t stop = i + 1 < sections.size() ? sections[i + 1].marker_pos : text.size();
    Script s;
    s.file = file;
    s.sql = text.substr(sections[i].begin, stop - sections[i].begin);
    s.first_line = LineOf(text, sections[i].begin);
    s.transactional = sections[i].transactional && !HasNoTransactionMarker(s.sql);
    if (sections[i].kind == "up") {
      if (have_up) return InvalidInput(file.string() + ": more than one -- migrate:up section");
      m->up = std::move(s);
      have_up = true;
    } else {
      if (m->has_down)
        return InvalidInput(file.string() + ": more than one -- migrate:down section");
      m->down = std::move(s);
      m->has_down = true;
    }
  }
  if (!have_up) {
    return InvalidInput(file.string() + ": no `-- migrate:up` section (dbmate format)");
  }
  return Status::OK();
}

Format Detect(const std::vector<fs::path>& files, std::string* why) {
  bool flyway = false, updown = false, dbmate = false;
  for (const fs::path& f : files) {
    std::string n = f.filename().string();
    if (std::regex_match(n, FlywayRe())) {
      flyway = true;
    } else if (std::regex_match(n, UpDownRe())) {
      updown = true;
    } else if (std::regex_match(n, DbmateRe())) {
      auto text = ReadFile(f);
      if (text.ok() && text->find("-- migrate:up") != std::string::npos) dbmate = true;
    }
  }
  int kinds = int(flyway) + int(updown) + int(dbmate);
  if (kinds > 1) {
    *why = "mixes migration layouts (flyway V files, .up.sql/.down.sql pairs, dbmate files)";
  }
  if (flyway) return Format::kFlyway;
  if (dbmate) return Format::kDbmate;
  return Format::kSlipway;
}

std::string Expected(Format f) {
  switch (f) {
    case Format::kFlyway:
      return "V<version>__<description>.sql or U<version>__<description>.sql";
    case Format::kDbmate:
      return "<version>_<name>.sql with a `-- migrate:up` section";
    default:
      return "<version>_<name>.up.sql or <version>_<name>.down.sql";
  }
}

}  // namespace

std::string_view FormatName(Format f) { return config::kMigrationFormatNames.Name(f); }

Result<Format> ParseFormat(std::string_view s) {
  if (std::optional<Format> f = config::kMigrationFormatNames.Parse(s)) return *f;
  return InvalidInput("unknown migrations format \"" + std::string(s) + "\" (expected " +
                      config::kMigrationFormatNames.List() + ")");
}

int CompareVersions(std::string_view a, std::string_view b) {
  std::vector<uint64_t> pa = VersionParts(a), pb = VersionParts(b);
  if (pa < pb) return -1;
  if (pb < pa) return 1;
  return 0;
}

Result<Source> LoadSource(const fs::path& dir, Format format) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return InvalidInput("migrations folder " + dir.string() + " does not exist");
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".sql") files.push_back(e.path());
  }
  if (ec) return IoError("cannot list " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());

  Source src;
  if (format == Format::kAuto) {
    std::string why;
    format = Detect(files, &why);
    if (!why.empty()) return InvalidInput("migrations folder " + dir.string() + " " + why);
  }
  src.format = format;

  // Keyed by normalized version so "0002" and "2" collide as duplicates.
  std::map<std::vector<uint64_t>, Migration> by_version;
  std::map<std::vector<uint64_t>, fs::path> downs;
  std::map<std::vector<uint64_t>, std::string> down_sql;
  for (const fs::path& f : files) {
    std::string n = f.filename().string();
    std::smatch mt;
    ASSIGN_OR_RETURN(std::string text, ReadFile(f));
    if (format == Format::kFlyway) {
      if (n.rfind("R__", 0) == 0) {
        src.warnings.push_back(n + ": repeatable flyway migrations are not supported; ignored");
        continue;
      }
      if (!std::regex_match(n, mt, FlywayRe())) {
        return InvalidInput(f.string() + ": not a migration file name (expected " +
                            Expected(format) + ")");
      }
      std::string version = mt[2].str();
      std::replace(version.begin(), version.end(), '_', '.');
      std::vector<uint64_t> key = VersionParts(version);
      Script s{f, text, 1, !HasNoTransactionMarker(text)};
      auto conf = ReadFile(fs::path(f.string() + ".conf"));
      if (conf.ok() && conf->find("executeInTransaction=false") != std::string::npos) {
        s.transactional = false;
      }
      if (mt[1] == "U") {
        if (downs.count(key))
          return InvalidInput(f.string() + ": duplicate undo version " + version);
        downs[key] = f;
        down_sql[key] = text;
        continue;
      }
      if (by_version.count(key)) {
        return InvalidInput(f.string() + ": duplicate version " + version + " (also " +
                            by_version[key].up.file.filename().string() + ")");
      }
      Migration m;
      m.version = version;
      m.name = mt[3].str();
      std::replace(m.name.begin(), m.name.end(), '_', ' ');
      m.checksum = Sha256Hex(text);
      m.up = std::move(s);
      by_version[key] = std::move(m);
    } else if (format == Format::kDbmate) {
      if (!std::regex_match(n, mt, DbmateRe())) {
        return InvalidInput(f.string() + ": not a migration file name (expected " +
                            Expected(format) + ")");
      }
      std::vector<uint64_t> key = VersionParts(mt[1].str());
      if (by_version.count(key)) {
        return InvalidInput(f.string() + ": duplicate version " + mt[1].str());
      }
      Migration m;
      m.version = mt[1].str();
      m.name = mt[2].str();
      RETURN_IF_ERROR(ParseDbmate(f, text, &m));
      m.checksum = Sha256Hex(text);
      by_version[key] = std::move(m);
    } else {
      if (!std::regex_match(n, mt, UpDownRe())) {
        return InvalidInput(f.string() + ": not a migration file name (expected " +
                            Expected(format) + ")");
      }
      std::vector<uint64_t> key = VersionParts(mt[1].str());
      Script s{f, text, 1, !HasNoTransactionMarker(text)};
      if (mt[3] == "down") {
        if (downs.count(key)) return InvalidInput(f.string() + ": duplicate down version");
        downs[key] = f;
        down_sql[key] = text;
        continue;
      }
      if (by_version.count(key)) {
        return InvalidInput(f.string() + ": duplicate version " + mt[1].str() + " (also " +
                            by_version[key].up.file.filename().string() + ")");
      }
      Migration m;
      m.version = mt[1].str();
      m.name = mt[2].str();
      m.checksum = Sha256Hex(text);
      m.up = std::move(s);
      by_version[key] = std::move(m);
    }
  }
  for (auto& [key, file] : downs) {
    auto it = by_version.find(key);
    if (it == by_version.end()) {
      return InvalidInput(file.string() + ": down migration without an up migration");
    }
    it->second.has_down = true;
    const std::string& text = down_sql[key];
    it->second.down = Script{file, text, 1, !HasNoTransactionMarker(text)};
  }
  for (auto& [key, m] : by_version) src.migrations.push_back(std::move(m));
  return src;
}

Result<std::vector<fs::path>> CreateMigrationFiles(const fs::path& dir, Format format,
                                                   const std::string& name, Clock* clock) {
  static const std::regex kName(R"(^[A-Za-z0-9_-]+$)");
  if (!std::regex_match(name, kName)) {
    return InvalidInput("migration name \"" + name + "\": use letters, digits, '_' and '-'");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir.string() + ": " + ec.message());
  ASSIGN_OR_RETURN(Source src, LoadSource(dir, format));
  uint64_t next = 1;
  if (!src.migrations.empty()) {
    std::vector<uint64_t> last = VersionParts(src.migrations.back().version);
    next = (last.empty() ? 0 : last.front()) + 1;
  }
  auto write = [](const fs::path& p, const std::string& text) -> Status {
    if (fs::exists(p)) return AlreadyExists(p.string() + " already exists");
    std::ofstream out(p, std::ios::binary);
    out << text;
    out.close();
    if (!out) return IoError("cannot write " + p.string());
    return Status::OK();
  };
  std::vector<fs::path> made;
  char buf[32];
  switch (src.format) {
    case Format::kFlyway: {
      fs::path p = dir / ("V" + std::to_string(next) + "__" + name + ".sql");
      RETURN_IF_ERROR(write(p, "-- " + name + "\n"));
      made.push_back(p);
      break;
    }
    case Format::kDbmate: {
      std::time_t t = static_cast<std::time_t>(clock->WallMillis() / 1000);
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
      fs::path p = dir / (std::string(buf) + "_" + name + ".sql");
      RETURN_IF_ERROR(write(p, "-- migrate:up\n\n\n-- migrate:down\n\n"));
      made.push_back(p);
      break;
    }
    default: {
      int width = src.format == Format::kGolangMigrate ? 6 : 4;
      std::snprintf(buf, sizeof buf, "%0*llu", width, static_cast<unsigned long long>(next));
      fs::path up = dir / (std::string(buf) + "_" + name + ".up.sql");
      fs::path down = dir / (std::string(buf) + "_" + name + ".down.sql");
      RETURN_IF_ERROR(write(up, "-- " + name + "\n"));
      RETURN_IF_ERROR(write(down, "-- undo " + name + "\n"));
      made = {up, down};
    }
  }
  return made;
}

}  // namespace slipway::migrate
