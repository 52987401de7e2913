// The keeper's control protocol: what a daemon asks its keeper over their socketpair.
//
// One request is one SOCK_SEQPACKET message; its answer is one message back. A message is a
// list of fields separated by NUL bytes (no escaping needed: no field can hold a NUL; paths
// may hold blanks). The first field of a request names the command; the first field of an
// answer is "ok" or "err" (then one field: the reason). Fds travel with the message
// (SCM_RIGHTS). The keeper never answers what it was not asked.
//
//   hello                              → ok GENERATION KEEPER_PID CAUSE
//                                        (1 = first daemon; CAUSE: first, crash or handover)
//   listen-tcp HOST PORT COUNT REUSE   → ok BOUND_PORT + COUNT listening fds
//   listen-unix PATH                   → ok + 1 listening fd
//   release-tcp HOST PORT              → ok            (the keeper closes its copies)
//   holds-tcp HOST PORT                → ok 1|0
//   ready                              → ok            (the daemon serves)
//   stopping                           → ok            (the next exit 0 is on purpose)
//   handover                           → ok            (start my successor now; I drain
//                                                       and exit, whatever my status)
//   retire                             → ok            (I drain and exit with nobody after me
//                                                       here: give up the folder now — its
//                                                       lock, pid file and held listeners — so
//                                                       another keeper may start in it; end
//                                                       with my exit, never restart me;
//                                                       listen-* and handover are refused)
//   exits                              → ok PID STATUS PID STATUS ...   (wait statuses)
//   hold-fds KEY + fds                 → ok
//   take-fds KEY                       → ok + the held fds (the keeper keeps its copies)
//   drop-fds KEY                       → ok
//
// Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace slipway::keeper {

enum class Command {
  kHello,
  kListenTcp,
  kListenUnix,
  kReleaseTcp,
  kHoldsTcp,
  kReady,
  kStopping,
  kHandover,
  kRetire,
  kExits,
  kHoldFds,
  kTakeFds,
  kDropFds,
};

// Why the keeper started the daemon it answers `hello` to.
enum class StartCause {
  kFirst,     // the keeper's first daemon
  kCrash,     // the previous daemon died (signal, error, or exit without `stopping`)
  kHandover,  // the previous daemon asked for a successor (`slipway daemon restart`)
};
std::string_view StartCauseName(StartCause c);
// Unknown names are kCrash (a newer keeper's word read by an older daemon).
StartCause ParseStartCause(std::string_view name);

// Limits the keeper enforces on every request.
inline constexpr size_t kMaxRequestBytes = 4096;
inline constexpr size_t kMaxKeyBytes = 256;
inline constexpr int kMaxListenCount = 64;
inline constexpr size_t kMaxFdsPerKey = 8;
inline constexpr size_t kMaxExitsPerAnswer = 512;

struct Request {
  Command command = Command::kHello;
  std::string host;  // listen-tcp, release-tcp, holds-tcp
  int port = 0;      // 0..65535
  int count = 0;     // listen-tcp: 1..kMaxListenCount
  bool reuseport = false;
  std::string path;  // listen-unix
  std::string key;   // *-fds
};

std::string EncodeRequest(const Request& r);
// Strict: unknown command, wrong field count, a number out of range or with junk, an empty or
// oversized host/path/key: InvalidInput naming what is wrong.
Result<Request> DecodeRequest(std::string_view message);

// "ok" + fields, or "err" + reason.
std::string EncodeOk(const std::vector<std::string>& fields = {});
std::string EncodeErr(std::string_view reason);
// The fields after "ok"; an "err" answer becomes an IoError carrying the keeper's reason.
Result<std::vector<std::string>> DecodeAnswer(std::string_view message);

// Splits on NUL (a message "a\0b" has two fields).
std::vector<std::string_view> SplitFields(std::string_view message);
// Decimal in [min, max], nothing else.
bool ParseInt(std::string_view s, long min, long max, long* out);

}  // namespace slipway::keeper
