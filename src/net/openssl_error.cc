#include "net/openssl_error.h"

#include <openssl/err.h>

namespace slipway::net {

std::string OpenSslError(std::string_view if_none) {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  return reason ? std::string(reason) : std::string(if_none);
}

}  // namespace slipway::net
