#include "base/redact.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace slipway {
namespace {

using namespace std::string_literals;

TEST(IsSecretNameTest, Table) {
  struct Case {
    const char* name;
    bool secret;
  };
  const Case cases[] = {
      // Passwords, in every spelling.
      {"PASSWORD", true},
      {"DB_PASSWORD", true},
      {"db_password", true},
      {"MYSQL_ROOT_PASSWORD", true},
      {"PGPASSWORD", true},
      {"dbPassword", true},
      {"SMTP_PASSWD", true},
      {"GPG_PASSPHRASE", true},
      {"DB_PASS", true},
      {"PASS", true},
      {"smtp-pass", true},
      {"DB_PWD", true},
      {"PASSWORD_HASH", true},
      // Secrets, tokens, credentials.
      {"SECRET", true},
      {"CLIENT_SECRET", true},
      {"clientSecret", true},
      {"SECRET_KEY_BASE", true},
      {"JWT_SECRETS", true},
      {"GITHUB_TOKEN", true},
      {"GHTOKEN", true},
      {"AUTH_TOKEN", true},
      {"accessToken", true},
      {"NPM_TOKENS", true},
      {"TOKEN", true},
      {"AWS_CREDENTIALS", true},
      {"DB_CREDENTIAL", true},
      {"AWS_SECRET_ACCESS_KEY", true},
      // KEY as the last word, or one of the joined key words.
      {"API_KEY", true},
      {"api_key", true},
      {"apiKey", true},
      {"APIKey", true},
      {"APIKEY", true},
      {"PRIVATE_KEY", true},
      {"PRIVATEKEY", true},
      {"STRIPE_KEY", true},
      {"KEY", true},
      {"API_KEY_2", true},
      {"API.KEY", true},
      // Auth, DSN as the last word.
      {"BASIC_AUTH", true},
      {"PROXY_AUTHORIZATION", true},
      {"SENTRY_DSN", true},
      {"DSN", true},
      // Not secrets: KEY inside other words or not last.
      {"KEYBOARD_LAYOUT", false},
      {"MONKEY", false},
      {"MONKEY_COUNT", false},
      {"KEY_PREFIX", false},
      {"AWS_ACCESS_KEY_ID", false},
      {"HOTKEY", false},
      {"TURNKEY_MODE", false},
      // Not secrets: the short words in other roles.
      {"PASS_THROUGH", false},
      {"BYPASS", false},
      {"COMPASS_HEADING", false},
      {"PWD", false},
      {"OLDPWD", false},
      {"AUTH_MODE", false},
      {"OAUTH_ISSUER", false},
      {"AUTHOR", false},
      {"DSN_TIMEOUT", false},
      // Not secrets: qualifiers of a secret.
      {"PASSWORD_FILE", false},
      {"POSTGRES_PASSWORD_FILE", false},
      {"TOKEN_TTL", false},
      {"SECRET_PATH", false},
      {"PASSWORD_MIN_LENGTH", false},
      {"TOKEN_ENDPOINT", false},
      {"AUTH_TOKEN_URL", false},
      {"secretName", false},
      // Not secrets: the words only as parts of other words.
      {"SECRETARY_EMAIL", false},
      {"TOKENIZER_MODEL", false},
      {"LOG_LEVEL", false},
      {"DATABASE_URL", false},
      {"PORT", false},
      {"HOME", false},
      {"PATH", false},
      // Degenerate names.
      {"", false},
      {"_", false},
      {"123", false},
      {"__KEY__", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsSecretName(c.name), c.secret) << c.name;
  }
}

TEST(IsSecretNameTest, OversizedAndBinaryNamesDoNotCrash) {
  std::string big(100000, 'A');
  EXPECT_FALSE(IsSecretName(big));
  EXPECT_TRUE(IsSecretName(big + "_TOKEN"));
  std::string binary = "\xff\x00PASSWORD\x80"s;
  EXPECT_TRUE(IsSecretName(binary));
}

TEST(RedactUrlPasswordsTest, Table) {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"postgres://app:devpass@db/app", "postgres://app:***@db/app"},
      {"postgresql://app:devpass@db:5432/app?sslmode=require",
       "postgresql://app:***@db:5432/app?sslmode=require"},
      {"redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"},
      {"amqp://guest:guest@rabbit", "amqp://guest:***@rabbit"},
      {"cannot connect to postgres://u:pw@h/d: refused",
       "cannot connect to postgres://u:***@h/d: refused"},
      {"two: a://x:1@h b://y:2@k", "two: a://x:***@h b://y:***@k"},
      {"\"postgres://u:p@h\",\"b\":\"me@x.com\"", "\"postgres://u:***@h\",\"b\":\"me@x.com\""},
      // An '@' inside the password: the last '@' of the authority ends the user info.
      {"postgres://u:p@ss@h/db", "postgres://u:***@h/db"},
      // Percent-encoded passwords are masked as written.
      {"postgres://u:p%40ss@h/db", "postgres://u:***@h/db"},
      // Nothing to mask.
      {"postgres://app@db/app", "postgres://app@db/app"},
      {"postgres://app:@db/app", "postgres://app:@db/app"},
      {"http://host:8080/@user", "http://host:8080/@user"},
      {"http://host/path?mail=a@b.com", "http://host/path?mail=a@b.com"},
      {"see http://example.com:80/x", "see http://example.com:80/x"},
      {"plain text: a@b, c:d", "plain text: a@b, c:d"},
      {"", ""},
      {"://", "://"},
      {"://u:p@", "://u:***@"},
      // libpq conninfo and query parameters.
      {"host=db user=app password=devpass dbname=app", "host=db user=app password=*** dbname=app"},
      {"host='db' password='it\\'s secret' dbname='app'", "host='db' password='***' dbname='app'"},
      {"host=db password = devpass", "host=db password = ***"},
      {"PASSWORD=x sslpassword=keypass", "PASSWORD=*** sslpassword=***"},
      {"postgres://h/db?user=u&password=p1&sslmode=off",
       "postgres://h/db?user=u&password=***&sslmode=off"},
      {"postgres://h/db?password=p1#frag", "postgres://h/db?password=***#frag"},
      {"{\"c\":\"host=h password=pw\"}", "{\"c\":\"host=h password=***\"}"},
      {"password='unterminated", "password='***'"},
      {"password=''", "password=''"},
      {"password=", "password="},
      // Not a conninfo keyword.
      {"password authentication failed for user \"app\"",
       "password authentication failed for user \"app\""},
      {"PGPASSWORD=x my_password=y", "PGPASSWORD=x my_password=y"},
      {"passwords=x", "passwords=x"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RedactUrlPasswords(c.in), c.out) << c.in;
  }
}

TEST(RedactUrlPasswordsTest, HostileInput) {
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "://:@";
  std::string out = RedactUrlPasswords(many);
  EXPECT_EQ(out, many);  // no password (empty) anywhere
  std::string big = "postgres://u:" + std::string(1 << 20, 'x') + "@h/db";
  EXPECT_EQ(RedactUrlPasswords(big), "postgres://u:***@h/db");
  std::string binary = "a://u:\x00\xff@h password=\x01\x02"s;
  std::string r = RedactUrlPasswords(binary);
  EXPECT_EQ(r.find('\xff'), std::string::npos);
  EXPECT_EQ(r.find('\x02'), std::string::npos);
}

TEST(UrlPasswordsTest, RawAndDecoded) {
  EXPECT_EQ(UrlPasswords("postgres://u:p%40ss@h/db"), (std::vector<std::string>{"p%40ss", "p@ss"}));
  EXPECT_EQ(UrlPasswords("host=h password='a\\'b' x password=plain"),
            (std::vector<std::string>{"a'b", "plain"}));
  EXPECT_TRUE(UrlPasswords("postgres://u@h/db").empty());
  EXPECT_EQ(UrlPasswords("bad %zz: a://u:%zz%4@h"), (std::vector<std::string>{"%zz%4"}));
}

TEST(RedactorTest, ScrubsKnownValuesAndUrlPasswords) {
  Redactor r;
  r.AddValue("hunter22");
  r.AddValue("tok-123\n");  // trailing newline of a secrets file
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.Scrub("login with hunter22 and tok-123 and tok-12"),
            "login with *** and *** and tok-12");
  EXPECT_EQ(r.Scrub("hunter22hunter22"), "***");
  EXPECT_EQ(r.Scrub("db at postgres://u:other@h/db"), "db at postgres://u:***@h/db");
  EXPECT_EQ(r.Scrub(""), "");
  EXPECT_EQ(r.Scrub("nothing here"), "nothing here");
}

TEST(RedactorTest, IgnoresShortAndLiteralValues) {
  Redactor r;
  r.AddValue("");
  r.AddValue("abc");
  r.AddValue("  ab  ");
  r.AddValue("true");
  r.AddValue("False");
  r.AddValue("null");
  r.AddValue("none");
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.Scrub("abc true false null"), "abc true false null");
  r.AddValue("abcd");
  r.AddValue("abcd");  // duplicates are kept once
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.Scrub("xabcdx"), "x***x");
}

TEST(RedactorTest, OverlappingValuesMaskTheirUnion) {
  Redactor r;
  r.AddValue("abcd");
  r.AddValue("cdefgh");
  r.AddValue("bcde");
  r.AddValue("zzzz");
  EXPECT_EQ(r.Scrub("1abcdefgh2"), "1***2");
  EXPECT_EQ(r.Scrub("abcdzzzz"), "***");  // adjacent spans merge into one mask
  EXPECT_EQ(r.Scrub("abc bcd cdefg"), "abc bcd cdefg");
  // A value that is a suffix of another (found through the dictionary links).
  Redactor s;
  s.AddValue("xxsecret");
  s.AddValue("secret");
  EXPECT_EQ(s.Scrub("a secret, b xxsecret, c xsecret"), "a ***, b ***, c x***");
}

TEST(RedactorTest, ManyValuesMatchInOnePass) {
  Redactor r;
  for (int i = 0; i < 500; ++i) r.AddValue("value-" + std::to_string(i * 7919));
  EXPECT_EQ(r.size(), 500u);
  std::string line;
  for (int i = 0; i < 500; i += 50) line += "value-" + std::to_string(i * 7919) + " ";
  std::string out = r.Scrub(line);
  EXPECT_EQ(out.find("value-"), std::string::npos) << out;
  EXPECT_EQ(r.Scrub("value-1 value-7918"), "value-1 value-7918");
}

TEST(RedactorTest, ValueMasksSecretNamesAndScrubsTheRest) {
  Redactor r;
  r.AddValue("devpass");
  EXPECT_EQ(r.Value("DB_PASSWORD", "anything"), "***");
  EXPECT_EQ(r.Value("API_KEY", ""), "***");
  EXPECT_EQ(r.Value("LOG_LEVEL", "debug"), "debug");
  EXPECT_EQ(r.Value("DATABASE_URL", "postgres://app:devpass@db/app"), "postgres://app:***@db/app");
  EXPECT_EQ(r.Value("GREETING", "my devpass is"), "my *** is");
}

TEST(RedactorTest, MergeAddsTheOtherValues) {
  Redactor a, b;
  a.AddValue("first-secret");
  b.AddValue("second-secret");
  b.AddValue("first-secret");
  a.Merge(b);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a.Scrub("first-secret second-secret"), "*** ***");
}

TEST(RedactorTest, BinaryValues) {
  Redactor r;
  r.AddValue("\x00\xff\x01\x80"s);
  std::string text = "a\x00\xff\x01\x80z"s;
  EXPECT_EQ(r.Scrub(text), "a***z");
}

}  // namespace
}  // namespace slipway

namespace slipway {
namespace {

TEST(RedactorBatch, ManyValuesGoInAtOnceAndAllAreMasked) {
  std::vector<std::string> values;
  for (int i = 0; i < 20000; ++i) values.push_back("secret-value-" + std::to_string(i));
  values.push_back("secret-value-7");  // a duplicate counts once
  values.push_back("abc");             // too short: ignored
  Redactor r;
  r.AddValues(values);
  EXPECT_EQ(r.size(), 20000u);
  EXPECT_EQ(r.Scrub("x secret-value-19999 y secret-value-7 abc"), "x *** y *** abc");
  Redactor m;
  m.AddValue("other-secret");
  m.Merge(r);
  EXPECT_EQ(m.size(), 20001u);
  EXPECT_EQ(m.Scrub("other-secret/secret-value-3"), "***/***");
}

}  // namespace
}  // namespace slipway
