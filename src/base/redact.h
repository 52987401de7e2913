// Redaction of secrets in text meant for people: API answers, log lines, events, error
// messages, `slipway config`.
//
// Three tools, smallest first:
//  - IsSecretName: does an environment variable's *name* say it holds a secret
//    (DB_PASSWORD, API_KEY, GITHUB_TOKEN, clientSecret, ...)?
//  - RedactUrlPasswords: masks the password of every `scheme://user:password@host` and of
//    every libpq `password=...` (conninfo or URL query) in a text; nothing else changes.
//  - Redactor: a set of known secret *values* (collected once, e.g. by
//    config::SecretsOf) masked wherever they occur, plus RedactUrlPasswords.
//
// Every mask is kRedacted ("***"), which is also a valid value wherever it lands (YAML,
// JSON, a URL's userinfo), so a redacted document still loads.
//
// Pure functions and plain data. A Redactor is built on one thread (AddValue) and then
// shared read-only: Scrub and Value are const and safe to call from any number of threads
// at once; AddValue must not run concurrently with anything else on the same object.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace slipway {

inline constexpr std::string_view kRedacted = "***";

// True when a variable's name marks it as holding a secret, case-insensitively. The name is
// split into words at '_', '-', '.', blanks and camelCase boundaries ("dbPassword" ->
// DB PASSWORD). A secret name has:
//  - a word containing PASSWORD, PASSWD or PASSPHRASE (PGPASSWORD), or ending in SECRET(S),
//    TOKEN(S) or CREDENTIAL(S) (CLIENT_SECRET, GHTOKEN), or one of the joined key words
//    APIKEY, PRIVATEKEY, SECRETKEY, ACCESSKEY, ...;
//  - or, as its *last* word (trailing numbers ignored: API_KEY_2), one of the short words
//    that mean something else elsewhere: KEY, PASS, PWD, AUTH, AUTHORIZATION, DSN. So
//    API_KEY, PRIVATE_KEY, DB_PASS, BASIC_AUTH, SENTRY_DSN are secret while KEYBOARD_LAYOUT,
//    MONKEY, KEY_PREFIX, AWS_ACCESS_KEY_ID, PASS_THROUGH, AUTH_MODE and PWD are not.
// A name whose last word qualifies the secret instead of holding it is not secret:
// PASSWORD_FILE, TOKEN_TTL, SECRET_PATH, PASSWORD_MIN_LENGTH, AUTH_URL, TOKEN_ENDPOINT
// (qualifiers: FILE, PATH, DIR, TTL, TIMEOUT, EXPIRY, LENGTH, MIN, MAX, ENABLED, URL, URI,
// ENDPOINT, HEADER, NAME, ID, TYPE, MODE, ...). A URL's embedded password is
// RedactUrlPasswords' job, whatever the variable's name.
bool IsSecretName(std::string_view name);

// `text` with the password of every `scheme://user:password@host` replaced by "***", and
// the value of every `password=...` / `sslpassword=...` (libpq key/value conninfo, quoted or
// not, or a URL query parameter) replaced by "***" ('***' when it was quoted). The
// authority ends at the first '/' or blank, as libpq reads it; within it the last '@' ends
// the user info and its first ':' starts the password. Other text is unchanged. O(len).
std::string RedactUrlPasswords(std::string_view text);

// The passwords RedactUrlPasswords would mask in `text`, as written and, when they hold
// %XX escapes, also decoded (the form a program receives and may echo).
std::vector<std::string> UrlPasswords(std::string_view text);

// Known secret values, masked wherever they occur.
//
// Cost: AddValue/AddValues/Merge rebuild the matching automaton once per call, O(total length
// of the values), so many values go in through AddValues or Merge; Scrub is
// one pass over the text (Aho-Corasick), O(len + matches) whatever the number of values, so
// it suits every log line even with hundreds of values. Where values overlap in a text, the
// union of their spans is masked (one "***").
class Redactor {
 public:
  // Values shorter than this are ignored: masking every "abc" or "1" would make text
  // unreadable and says more about the secret than it hides.
  static constexpr size_t kMinValueLength = 4;

  // Adds a value to mask. Ignored when shorter than kMinValueLength (after trimming
  // surrounding blanks and line ends, which are also stripped from the value) or when it is
  // one of the literals a flag variable holds (true, false, null, none).
  void AddValue(std::string_view value);
  // Adds many values with one rebuild (prefer it to AddValue in a loop).
  void AddValues(const std::vector<std::string>& values);
  // Adds every value of `other`.
  void Merge(const Redactor& other);

  // `text` with every known value replaced by "***", then RedactUrlPasswords.
  std::string Scrub(std::string_view text) const;
  // What to show for variable `name` holding `value`: "***" when IsSecretName(name), else
  // Scrub(value).
  std::string Value(std::string_view name, std::string_view value) const;

  size_t size() const { return values_.size(); }
  bool empty() const { return values_.empty(); }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int>> next;  // sorted by byte
    int fail = 0;
    int out = -1;        // length of the longest value ending here, -1 if none
    int dict_link = -1;  // nearest node on the fail chain with out >= 0
  };
  int Step(int state, unsigned char c) const;
  int Child(int state, unsigned char c) const;
  void Rebuild();
  // Adds `value` (trimmed, filtered) unless known; true when it was new. No rebuild.
  bool Insert(std::string_view value);

  std::vector<std::string> values_;        // distinct, in insertion order
  std::unordered_set<std::string> known_;  // the same values, for O(1) dedup
  std::vector<Node> nodes_;                // trie + failure links over values_
};

}  // namespace slipway
