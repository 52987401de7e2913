#include "config/resources_settings.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

#include "config/node.h"
#include "config/values.h"

namespace slipway::config {

namespace {

std::string FormatCpus(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A scalar's text: numbers come unquoted, interpolated values as strings; both are read alike.
Result<std::string> ScalarText(const Node& n, const std::string& path, std::string_view expected) {
  if (!n.IsScalar()) return NodeError(n, path, "is " + n.Describe(), expected);
  return n.scalar;
}

Status ParseGroup(const Node& n, const std::string& path, bool limits, ResourceSettings* out,
                  std::vector<std::string>* ignored) {
  RETURN_IF_ERROR(ExpectMap(
      n, path, limits ? "a mapping with cpus, memory, pids" : "a mapping with cpus, memory"));
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "cpus") {
      ASSIGN_OR_RETURN(std::string text, ScalarText(f, fpath, "a number of CPUs, e.g. 0.5 or 2"));
      Result<double> v = ParseCpus(text);
      if (!v.ok()) return NodeError(f, fpath, v.status().message(), "e.g. 0.5 or 2");
      (limits ? out->cpus : out->reserved_cpus) = *v;
    } else if (f.key == "memory") {
      ASSIGN_OR_RETURN(std::string text, ScalarText(f, fpath, "a size, e.g. 512m or 1g"));
      Result<int64_t> v = ParseMemorySize(text);
      if (!v.ok()) return NodeError(f, fpath, v.status().message(), "e.g. 512m or 1g");
      (limits ? out->memory_bytes : out->reserved_memory_bytes) = *v;
    } else if (f.key == "pids" && limits) {
      ASSIGN_OR_RETURN(std::string text, ScalarText(f, fpath, "a positive integer, e.g. 200"));
      std::optional<long long> v = ParseInteger(text);
      if (!v) return NodeError(f, fpath, Quote(text) + " is not an integer", "e.g. 200");
      if (*v <= 0 || *v > 4'194'304) {
        return NodeError(f, fpath, "pids " + text + " is out of range", "1 to 4194304");
      }
      out->pids = *v;
    } else if (f.key.rfind("x-", 0) != 0) {
      ignored->push_back(fpath);  // devices, generic_resources, pids of a reservation
    }
  }
  return Status::OK();
}

}  // namespace

std::string ResourceSettings::LimitsText() const {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (cpus) add("cpus " + FormatCpus(*cpus));
  if (memory_bytes) add("memory " + FormatBytes(*memory_bytes));
  if (pids) add("pids " + std::to_string(*pids));
  return out;
}

Result<double> ParseCpus(std::string_view text) {
  if (!text.empty() && text[0] == '-') {
    return InvalidInput("cpus " + std::string(text) + " is negative");
  }
  size_t dots = 0, digits = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      ++digits;
    } else {
      return InvalidInput(Quote(text) + " is not a number of CPUs");
    }
  }
  if (dots > 1 || digits == 0 || text.size() > 12) {
    return InvalidInput(Quote(text) + " is not a number of CPUs");
  }
  const double v = std::strtod(std::string(text).c_str(), nullptr);
  if (v <= 0) return InvalidInput("cpus " + std::string(text) + " is not positive");
  if (v > 4096) return InvalidInput("cpus " + std::string(text) + " is more than 4096");
  return v;
}

Result<int64_t> ParseMemorySize(std::string_view text) {
  if (!text.empty() && text[0] == '-') {
    return InvalidInput("memory " + std::string(text) + " is negative");
  }
  const std::string bad = Quote(text) + " is not a memory size";
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  const std::string number(text.substr(0, i));
  size_t dots = 0;
  for (char c : number) dots += c == '.';
  if (number.empty() || number.size() > 20 || dots > 1 || number == ".") return InvalidInput(bad);
  std::string unit;
  for (char c : text.substr(i)) {
    if (c == ' ' && unit.empty()) continue;
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  static const std::map<std::string, int> kShift = {{"", 0},   {"b", 0},  {"k", 10}, {"m", 20},
                                                    {"g", 30}, {"t", 40}, {"p", 50}};
  std::string base = unit;
  if (base.size() == 3 && base.substr(1) == "ib") base.resize(1);
  if (base.size() == 2 && base[1] == 'b') base.resize(1);
  auto it = kShift.find(base);
  if (it == kShift.end()) return InvalidInput(bad);
  const long double bytes = std::strtold(number.c_str(), nullptr) * std::pow(2.0L, it->second);
  if (bytes < 1) return InvalidInput("memory " + std::string(text) + " is less than a byte");
  if (bytes > 9.0e18L) return InvalidInput("memory " + std::string(text) + " is too large");
  return static_cast<int64_t>(std::floor(bytes));
}

std::string FormatBytes(int64_t bytes) {
  const std::pair<int, const char*> units[] = {
      {50, "PiB"}, {40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}};
  for (const auto& [shift, suffix] : units) {
    const int64_t size = int64_t{1} << shift;
    if (bytes >= size && bytes % size == 0) return std::to_string(bytes / size) + suffix;
  }
  return std::to_string(bytes) + "B";
}

Status ParseResources(const Node& n, const std::string& path, ResourceSettings* out,
                      std::vector<std::string>* ignored) {
  if (n.IsNull()) return Status::OK();
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with limits and reservations"));
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "limits") {
      RETURN_IF_ERROR(ParseGroup(f, fpath, true, out, ignored));
    } else if (f.key == "reservations") {
      RETURN_IF_ERROR(ParseGroup(f, fpath, false, out, ignored));
    } else if (f.key.rfind("x-", 0) != 0) {
      ignored->push_back(fpath);
    }
  }
  if (out->cpus && out->reserved_cpus && *out->reserved_cpus > *out->cpus) {
    return NodeError(n, path,
                     "reservations.cpus " + FormatCpus(*out->reserved_cpus) +
                         " is above limits.cpus " + FormatCpus(*out->cpus),
                     "a reservation at most the limit");
  }
  if (out->memory_bytes && out->reserved_memory_bytes &&
      *out->reserved_memory_bytes > *out->memory_bytes) {
    return NodeError(n, path,
                     "reservations.memory " + FormatBytes(*out->reserved_memory_bytes) +
                         " is above limits.memory " + FormatBytes(*out->memory_bytes),
                     "a reservation at most the limit");
  }
  return Status::OK();
}

}  // namespace slipway::config
