#include "flags/context_view.h"

#include <gtest/gtest.h>

#include <string>

#include "flags/short_key.h"

namespace slipway::flags {
namespace {

TEST(ContextView, FindsEveryMemberAndTheTargetingKey) {
  Json ctx = {{"targetingKey", "user-1"}, {"email", "a@b.c"}, {"tier", "gold"}, {"n", 3}};
  ContextView view(ctx);
  ASSERT_TRUE(view.is_object());
  for (auto it = ctx.begin(); it != ctx.end(); ++it) {
    const Json* v = view.Find(it.key());
    ASSERT_NE(v, nullptr) << it.key();
    EXPECT_EQ(v, &it.value()) << "the view refers into the context";
  }
  EXPECT_EQ(view.Find("emai"), nullptr);
  EXPECT_EQ(view.Find("emails"), nullptr);
  EXPECT_EQ(view.Find(""), nullptr);
  ASSERT_NE(view.targeting_key(), nullptr);
  EXPECT_EQ(*view.targeting_key(), "user-1");
}

TEST(ContextView, LargeContexts) {
  Json ctx = Json::object();
  for (size_t i = 0; i < 40; ++i) ctx["attr" + std::to_string(i)] = i;
  ctx["targetingKey"] = "k";
  ContextView view(ctx);
  for (size_t i = 0; i < 40; ++i) {
    const Json* v = view.Find("attr" + std::to_string(i));
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(*v, i);
  }
  EXPECT_EQ(view.Find("attr99"), nullptr);
  ASSERT_NE(view.targeting_key(), nullptr);
  EXPECT_EQ(*view.targeting_key(), "k");
}

TEST(ContextView, NonObjectsHaveNoMembers) {
  for (const Json& ctx : {Json(), Json::array({1, 2}), Json("s"), Json(4)}) {
    ContextView view(ctx);
    EXPECT_FALSE(view.is_object());
    EXPECT_EQ(view.Find("0"), nullptr);
    EXPECT_EQ(view.targeting_key(), nullptr);
    EXPECT_EQ(&view.json(), &ctx);
  }
  Json empty = Json::object();
  ContextView view(empty);
  EXPECT_TRUE(view.is_object());
  EXPECT_EQ(view.targeting_key(), nullptr);
}

// The word-load compares must agree with std::string_view's on every length and at every
// differing byte, including across the 4- and 8-byte load boundaries.
TEST(ShortKey, AgreesWithStringView) {
  std::string base;
  for (int i = 0; i < 40; ++i) base.push_back(static_cast<char>('a' + i % 26));
  for (size_t n = 0; n <= base.size(); ++n) {
    std::string a = base.substr(0, n);
    std::string b = a;
    EXPECT_TRUE(SameKey(a, b)) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string c = a;
      c[i] = '#';
      ASSERT_FALSE(SameKey(a, c)) << n << " " << i;
      ASSERT_EQ(KeyStartsWith(base, c), std::string_view(base).starts_with(c)) << n << " " << i;
      ASSERT_EQ(KeyEndsWith(c, a.substr(i)), std::string_view(c).ends_with(a.substr(i)));
    }
    if (n < base.size()) {
      EXPECT_FALSE(SameKey(a, base.substr(0, n + 1)));
    }
    EXPECT_TRUE(KeyStartsWith(base, a));
    EXPECT_TRUE(KeyEndsWith(base, base.substr(base.size() - n)));
    EXPECT_EQ(KeyEndsWith(a, base), n == base.size());
  }
  // CompareKeys orders as std::string_view::compare, bytes unsigned.
  const std::string keys[] = {
      "",  "a",    "ab",           "abcdefgh",     "abcdefgi", "abcdefgh\x80", "abcdefghi",
      "b", "\xff", "targetingKey", "targetingKex", "tier",     "version"};
  for (const std::string& x : keys) {
    for (const std::string& y : keys) {
      const int want = std::string_view(x).compare(y);
      const int got = CompareKeys(x, y);
      EXPECT_EQ(got < 0, want < 0) << x << " vs " << y;
      EXPECT_EQ(got == 0, want == 0) << x << " vs " << y;
      EXPECT_EQ(std::string(x) < KeyProbe{y}, want < 0);
      EXPECT_EQ(KeyProbe{x} < std::string(y), want < 0);
    }
  }
}

}  // namespace
}  // namespace slipway::flags
