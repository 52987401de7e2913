#include "config/image_ref.h"

#include <gtest/gtest.h>

namespace slipway::config {
namespace {

TEST(ImageTag, SplitsTheTagOffTheLastPathComponent) {
  EXPECT_EQ(ImageTag("shop/app:1.2.0"), "1.2.0");
  EXPECT_EQ(ImageTag("postgres:16-alpine"), "16-alpine");
  EXPECT_EQ(ImageTag("docker.io/library/busybox:1"), "1");
  EXPECT_EQ(ImageTag("localhost:5000/team/api:v7"), "v7");
  EXPECT_EQ(ImageTag("app:2@sha256:0123abcd"), "2");
}

TEST(ImageTag, NoTagIsEmpty) {
  EXPECT_EQ(ImageTag(""), "");
  EXPECT_EQ(ImageTag("shop/app"), "");
  EXPECT_EQ(ImageTag("localhost:5000/team/api"), "");  // a registry port is not a tag
  EXPECT_EQ(ImageTag("app@sha256:0123abcd"), "");
}

}  // namespace
}  // namespace slipway::config
