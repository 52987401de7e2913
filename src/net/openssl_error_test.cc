#include "net/openssl_error.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace slipway::net {
namespace {

TEST(OpenSslErrorTest, ReasonOfTheNewestErrorThenAnEmptyQueue) {
  // The texts load with the first SSL_CTX; this test makes none.
  OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, nullptr);
  ERR_clear_error();
  EXPECT_EQ(OpenSslError("none"), "none");
  ERR_raise(ERR_LIB_SSL, SSL_R_NO_CERTIFICATE_ASSIGNED);
  ERR_raise(ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER);
  EXPECT_EQ(OpenSslError("none"), "wrong version number");
  EXPECT_EQ(ERR_peek_error(), 0u);  // emptied
  EXPECT_EQ(OpenSslError(""), "");
}

}  // namespace
}  // namespace slipway::net
