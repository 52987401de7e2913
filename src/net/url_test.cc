#include "net/url.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway::net {
namespace {

TEST(IsHttpsUrl, AcceptsAnHttpsUrlWithAHost) {
  EXPECT_TRUE(IsHttpsUrl("https://acme-v02.api.letsencrypt.org/directory"));
  EXPECT_TRUE(IsHttpsUrl("https://127.0.0.1:14000/dir"));
  EXPECT_TRUE(IsHttpsUrl("https://[::1]:14000/dir"));
  EXPECT_TRUE(IsHttpsUrl("https://ca.test"));
  EXPECT_TRUE(IsHttpsUrl("https://ca.test?x=1"));
}

// RFC 3986 section 3.1: the scheme is case-insensitive.
TEST(IsHttpsUrl, TheSchemeInAnyCase) {
  EXPECT_TRUE(IsHttpsUrl("HTTPS://ca.test/dir"));
  EXPECT_TRUE(IsHttpsUrl("Https://ca.test/dir"));
  EXPECT_TRUE(IsHttpsUrl("hTtPs://ca.test/dir"));
}

TEST(IsHttpsUrl, RefusesOtherSchemesAndNoHost) {
  for (const char* url : {"", "https://", "https:///dir", "https://:443/dir", "http://ca.test/dir",
                          "ca.test/dir", "httpsx://ca.test", "xhttps://ca.test", "https:/ca.test",
                          "ftp://ca.test", "://ca.test", "https//ca.test"}) {
    EXPECT_FALSE(IsHttpsUrl(url)) << url;
  }
}

TEST(IsHttpsUrl, RefusesUserinfoBlanksAndControlCharacters) {
  EXPECT_FALSE(IsHttpsUrl("https://user@ca.test/dir"));
  EXPECT_FALSE(IsHttpsUrl("https://user:secret@ca.test/dir"));
  EXPECT_FALSE(IsHttpsUrl("https://ca.test/a dir"));
  EXPECT_FALSE(IsHttpsUrl("https://ca.test/\tdir"));
  EXPECT_FALSE(IsHttpsUrl(std::string("https://ca.test/\0dir", 20)));
  EXPECT_FALSE(IsHttpsUrl("https://ca.test/\x7f"));
  EXPECT_FALSE(IsHttpsUrl("https://ca.test/\r\nHost: evil"));
}

TEST(IsHttpsUrl, AnOversizedUrlIsCheckedWithoutTrouble) {
  EXPECT_TRUE(IsHttpsUrl("https://ca.test/" + std::string(1 << 20, 'a')));
  EXPECT_FALSE(IsHttpsUrl("https://" + std::string(1 << 20, '@')));
}

}  // namespace
}  // namespace slipway::net
