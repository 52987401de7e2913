#include "keeper/protocol.h"

#include <charconv>

namespace slipway::keeper {
namespace {

struct CommandName {
  Command command;
  std::string_view name;
  size_t fields;  // including the command itself
};

constexpr CommandName kCommands[] = {
    {Command::kHello, "hello", 1},
    {Command::kListenTcp, "listen-tcp", 5},
    {Command::kListenUnix, "listen-unix", 2},
    {Command::kReleaseTcp, "release-tcp", 3},
    {Command::kHoldsTcp, "holds-tcp", 3},
    {Command::kReady, "ready", 1},
    {Command::kStopping, "stopping", 1},
    {Command::kHandover, "handover", 1},
    {Command::kRetire, "retire", 1},
    {Command::kExits, "exits", 1},
    {Command::kHoldFds, "hold-fds", 2},
    {Command::kTakeFds, "take-fds", 2},
    {Command::kDropFds, "drop-fds", 2},
};

std::string Join(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out.push_back('\0');
    out += fields[i];
  }
  return out;
}

Status CheckText(std::string_view what, std::string_view v, size_t max) {
  if (v.empty()) return InvalidInput(std::string(what) + " is empty");
  if (v.size() > max) {
    return InvalidInput(std::string(what) + " is longer than " + std::to_string(max) + " bytes");
  }
  return Status::OK();
}

}  // namespace

std::string_view StartCauseName(StartCause c) {
  switch (c) {
    case StartCause::kFirst:
      return "first";
    case StartCause::kCrash:
      return "crash";
    case StartCause::kHandover:
      return "handover";
  }
  return "crash";
}

StartCause ParseStartCause(std::string_view name) {
  if (name == "first") return StartCause::kFirst;
  if (name == "handover") return StartCause::kHandover;
  return StartCause::kCrash;
}

std::vector<std::string_view> SplitFields(std::string_view message) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t nul = message.find('\0', start);
    out.push_back(message.substr(start, nul == std::string_view::npos ? nul : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }
  return out;
}

bool ParseInt(std::string_view s, long min, long max, long* out) {
  if (s.empty() || s.size() > 20) return false;
  long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

std::string EncodeRequest(const Request& r) {
  std::string_view name;
  for (const auto& c : kCommands) {
    if (c.command == r.command) name = c.name;
  }
  std::vector<std::string> f = {std::string(name)};
  switch (r.command) {
    case Command::kListenTcp:
      f.insert(f.end(),
               {r.host, std::to_string(r.port), std::to_string(r.count), r.reuseport ? "1" : "0"});
      break;
    case Command::kReleaseTcp:
    case Command::kHoldsTcp:
      f.insert(f.end(), {r.host, std::to_string(r.port)});
      break;
    case Command::kListenUnix:
      f.push_back(r.path);
      break;
    case Command::kHoldFds:
    case Command::kTakeFds:
    case Command::kDropFds:
      f.push_back(r.key);
      break;
    default:
      break;
  }
  return Join(f);
}

Result<Request> DecodeRequest(std::string_view message) {
  if (message.size() > kMaxRequestBytes) return InvalidInput("request is too long");
  std::vector<std::string_view> f = SplitFields(message);
  const CommandName* cmd = nullptr;
  for (const auto& c : kCommands) {
    if (c.name == f[0]) cmd = &c;
  }
  if (cmd == nullptr) return InvalidInput("unknown command");
  if (f.size() != cmd->fields) {
    return InvalidInput(std::string(cmd->name) + ": expected " + std::to_string(cmd->fields - 1) +
                        " argument(s)");
  }
  Request r;
  r.command = cmd->command;
  long v = 0;
  switch (r.command) {
    case Command::kListenTcp:
    case Command::kReleaseTcp:
    case Command::kHoldsTcp:
      RETURN_IF_ERROR(CheckText("host", f[1], 255));
      r.host = f[1];
      if (!ParseInt(f[2], 0, 65535, &v)) return InvalidInput("port is not in 0..65535");
      r.port = static_cast<int>(v);
      if (r.command == Command::kListenTcp) {
        if (!ParseInt(f[3], 1, kMaxListenCount, &v)) {
          return InvalidInput("count is not in 1.." + std::to_string(kMaxListenCount));
        }
        r.count = static_cast<int>(v);
        if (f[4] != "0" && f[4] != "1") return InvalidInput("reuseport is not 0 or 1");
        r.reuseport = f[4] == "1";
      }
      break;
    case Command::kListenUnix:
      RETURN_IF_ERROR(CheckText("path", f[1], 107));
      r.path = f[1];
      break;
    case Command::kHoldFds:
    case Command::kTakeFds:
    case Command::kDropFds:
      RETURN_IF_ERROR(CheckText("key", f[1], kMaxKeyBytes));
      r.key = f[1];
      break;
    default:
      break;
  }
  return r;
}

std::string EncodeOk(const std::vector<std::string>& fields) {
  std::vector<std::string> f = {"ok"};
  f.insert(f.end(), fields.begin(), fields.end());
  return Join(f);
}

std::string EncodeErr(std::string_view reason) {
  return Join({"err", std::string(reason.empty() ? "failed" : reason)});
}

Result<std::vector<std::string>> DecodeAnswer(std::string_view message) {
  std::vector<std::string_view> f = SplitFields(message);
  if (f[0] == "err" && f.size() == 2) return IoError(std::string(f[1]));
  if (f[0] != "ok") return Internal("keeper: malformed answer");
  return std::vector<std::string>(f.begin() + 1, f.end());
}

}  // namespace slipway::keeper
