// OpenSslError: the reason of OpenSSL's last error, as one line for an error message ("no
// certificate or crl found", "wrong version number"). OpenSSL's error queue is per thread: the
// caller's thread, right after the call that failed.
#pragma once

#include <string>
#include <string_view>

namespace slipway::net {

// The reason of the newest error in this thread's queue, or `if_none` when the queue is empty
// or OpenSSL has no text for it. Empties the queue, so the next failure starts clean.
std::string OpenSslError(std::string_view if_none);

}  // namespace slipway::net
