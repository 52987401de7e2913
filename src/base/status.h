// Status and Result<T>: the one error model of every module.
//
// A Status is either OK or a code plus a one-line message meant for a person.
// Result<T> holds a T or a non-OK Status. Functions that can fail return one of
// the two; exceptions are not used on any data path. A bug of our own (a broken
// invariant) is not a Status: it aborts through SLIPWAY_CHECK.
//
// Codes map to the CLI's exit codes: kInvalidInput is the user's bad input
// (exit 2); every other non-OK code is a failed operation (exit 1).
//
// Values are plain data: any thread may create, copy or read them.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace slipway {

enum class StatusCode {
  kOk = 0,
  kInvalidInput,        // the user's file, flag or request is wrong
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // a thing that must be unique exists
  kFailedPrecondition,  // the system is not in a state that allows this
  kUnavailable,         // a peer or resource cannot be reached now
  kDeadlineExceeded,    // a timeout expired
  kIoError,             // the OS refused a read, write or syscall
  kAborted,             // stopped on purpose (signal, rollback)
  kInternal,            // anything else
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "message" for OK-less display; "OK" when ok.
  std::string ToString() const { return ok() ? std::string("OK") : message_; }

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;

  // Exit code for the CLI: 0 ok, 2 bad input, 1 otherwise.
  int ExitCode() const;

  bool operator==(const Status&) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidInput(std::string msg) { return {StatusCode::kInvalidInput, std::move(msg)}; }
inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status AlreadyExists(std::string msg) {
  return {StatusCode::kAlreadyExists, std::move(msg)};
}
inline Status FailedPrecondition(std::string msg) {
  return {StatusCode::kFailedPrecondition, std::move(msg)};
}
inline Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status DeadlineExceeded(std::string msg) {
  return {StatusCode::kDeadlineExceeded, std::move(msg)};
}
inline Status IoError(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
inline Status Aborted(std::string msg) { return {StatusCode::kAborted, std::move(msg)}; }
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

// IoError from errno: "<what>: <strerror(err)>".
Status ErrnoError(std::string_view what, int err);

template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) {
      std::fprintf(stderr, "Result constructed from an OK status\n");
      std::abort();
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }

  T& value() & { return Get(); }
  const T& value() const& { return const_cast<Result*>(this)->Get(); }
  T&& value() && { return std::move(Get()); }
  T* operator->() { return &Get(); }
  const T* operator->() const { return &const_cast<Result*>(this)->Get(); }
  T& operator*() & { return Get(); }
  const T& operator*() const& { return const_cast<Result*>(this)->Get(); }

  T value_or(T fallback) const& { return ok() ? std::get<T>(v_) : std::move(fallback); }

 private:
  T& Get() {
    if (!ok()) {
      std::fprintf(stderr, "Result::value() on error: %s\n",
                   std::get<Status>(v_).message().c_str());
      std::abort();
    }
    return std::get<T>(v_);
  }
  std::variant<T, Status> v_;
};

namespace internal {
inline const Status& AsStatus(const Status& s) { return s; }
template <typename T>
const Status& AsStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

}  // namespace slipway

#define SLIPWAY_CONCAT_INNER(a, b) a##b
#define SLIPWAY_CONCAT(a, b) SLIPWAY_CONCAT_INNER(a, b)

// Returns the Status of `expr` (a Status or a Result) from the calling function
// when it is not OK.
// The Status is copied within the full expression, so `expr` may also be a reference into a
// temporary (`F().status()`), which a bound reference would outlive.
#define RETURN_IF_ERROR(expr)                                            \
  do {                                                                   \
    ::slipway::Status _slipway_st = ::slipway::internal::AsStatus(expr); \
    if (!_slipway_st.ok()) return _slipway_st;                           \
  } while (0)

// ASSIGN_OR_RETURN(auto x, F()): declares x from a Result, or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  SLIPWAY_ASSIGN_OR_RETURN_IMPL(SLIPWAY_CONCAT(_slipway_res_, __LINE__), lhs, expr)
#define SLIPWAY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

// Crashes loudly when our own invariant is broken. Not for user input.
#define SLIPWAY_CHECK(cond)                                                         \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)
