#include "config/values.h"

#include <cctype>
#include <csignal>
#include <cstdint>
#include <cstdlib>

#include "config/duration.h"
#include "config/shell_words.h"

namespace slipway::config {
namespace {

struct SignalEntry {
  const char* name;
  int number;
};

constexpr SignalEntry kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
    {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

Status Expect(const Node& n, const std::string& path, std::string_view expected) {
  return NodeError(n, path, "is " + n.Describe(), expected);
}

}  // namespace

std::optional<long long> ParseInteger(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  long long v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return s[0] == '-' ? -v : v;
}

Result<std::string> ReadString(const Node& n, const std::string& path) {
  if (!n.IsScalar()) return Expect(n, path, "a string");
  return n.scalar;
}

Result<int> ReadInt(const Node& n, const std::string& path) {
  if (!n.IsScalar()) return Expect(n, path, "a whole number");
  std::optional<long long> v = ParseInteger(n.scalar);
  if (!v || *v > 2'000'000'000 || *v < -2'000'000'000) {
    return NodeError(n, path, Quote(n.scalar) + " is not a whole number", "e.g. 3");
  }
  return static_cast<int>(*v);
}

Result<double> ReadDouble(const Node& n, const std::string& path) {
  if (n.IsScalar() && !n.scalar.empty()) {
    char* end = nullptr;
    double v = std::strtod(n.scalar.c_str(), &end);
    if (end == n.scalar.c_str() + n.scalar.size()) return v;
  }
  return NodeError(n, path,
                   n.IsScalar() ? Quote(n.scalar) + " is not a number" : "is " + n.Describe(),
                   "a number, e.g. 0.1");
}

Result<bool> ReadBool(const Node& n, const std::string& path) {
  if (n.IsScalar()) {
    const std::string& s = n.scalar;
    if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off") return false;
  }
  return NodeError(n, path,
                   n.IsScalar() ? Quote(n.scalar) + " is not a boolean" : "is " + n.Describe(),
                   "true or false");
}

Result<Duration> ReadDuration(const Node& n, const std::string& path) {
  if (!n.IsScalar()) return Expect(n, path, kDurationExpected);
  std::optional<Duration> d = ParseDuration(n.scalar);
  if (!d) {
    if (ParseInteger(n.scalar)) {
      return NodeError(n, path, Quote(n.scalar) + " has no unit",
                       "a duration with a unit, e.g. " + n.scalar + "s");
    }
    return NodeError(n, path, Quote(n.scalar) + " is not a duration", "e.g. 10s, 1m30s");
  }
  return *d;
}

Result<std::vector<std::string>> ReadStringList(const Node& n, const std::string& path) {
  if (!n.IsSeq()) return Expect(n, path, "a list of strings");
  std::vector<std::string> out;
  out.reserve(n.children.size());
  for (size_t i = 0; i < n.children.size(); ++i) {
    const Node& item = n.children[i];
    // The item's path only for the message: spelling it per item would cost
    // O(items x path length).
    if (!item.IsScalar()) return ReadString(item, IndexPath(path, i)).status();
    out.push_back(item.scalar);
  }
  return out;
}

Result<std::vector<std::string>> ReadCommand(const Node& n, const std::string& path) {
  if (n.IsScalar()) {
    std::optional<std::vector<std::string>> words = SplitShellWords(n.scalar);
    if (!words) {
      return NodeError(n, path, Quote(n.scalar) + " has an unclosed quote or a trailing backslash",
                       "balanced quotes, or a list of arguments");
    }
    return *words;
  }
  if (!n.IsSeq()) return Expect(n, path, "a string or a list of arguments");
  return ReadStringList(n, path);
}

Result<std::string> ReadEnum(const Node& n, const std::string& path,
                             const std::vector<std::string>& allowed) {
  std::string list;
  for (size_t i = 0; i < allowed.size(); ++i) {
    if (i > 0) list += i + 1 == allowed.size() ? " or " : ", ";
    list += allowed[i];
  }
  if (!n.IsScalar()) return Expect(n, path, list);
  for (const std::string& a : allowed) {
    if (n.scalar == a) return a;
  }
  return NodeError(n, path, Quote(n.scalar) + " is not allowed", list);
}

Status ExpectMap(const Node& n, const std::string& path, std::string_view expected) {
  if (n.IsMap()) return Status::OK();
  return Expect(n, path, expected);
}

std::optional<int> ParseSignal(std::string_view s) {
  if (std::optional<long long> v = ParseInteger(s)) {
    if (*v >= 1 && *v <= 64) return static_cast<int>(*v);
    return std::nullopt;
  }
  std::string up;
  for (char c : s) up += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  if (up.rfind("SIG", 0) == 0) up = up.substr(3);
  for (const SignalEntry& e : kSignals) {
    if (up == e.name) return e.number;
  }
  return std::nullopt;
}

std::string SignalName(int sig) {
  for (const SignalEntry& e : kSignals) {
    if (e.number == sig) return std::string("SIG") + e.name;
  }
  return std::to_string(sig);
}

std::optional<uint64_t> ParseByteSize(std::string_view text, size_t max_digits) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > max_digits || i > 19) return std::nullopt;  // 19 digits fit 64 bits
  const uint64_t n = std::stoull(std::string(text.substr(0, i)));
  const std::string_view unit = text.substr(i);
  int shift = 0;
  if (unit == "KiB") {
    shift = 10;
  } else if (unit == "MiB") {
    shift = 20;
  } else if (unit == "GiB") {
    shift = 30;
  } else if (!unit.empty() && unit != "B") {
    return std::nullopt;
  }
  if (n > (UINT64_MAX >> shift)) return std::nullopt;
  return n << shift;
}

}  // namespace slipway::config
