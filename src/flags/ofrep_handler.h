// OfrepHandler: the OpenFeature Remote Evaluation Protocol on the daemon's API listener.
//
//   POST /ofrep/v1/evaluate/flags/{key}   {"context": {...}}  -> one evaluation
//   POST /ofrep/v1/evaluate/flags         {"context": {...}}  -> {"flags": [...]} (bulk)
//   OPTIONS on both                                           -> CORS preflight (no auth)
//
// Success: 200 {key, value, reason, variant, metadata}; a result without a value (a disabled
// flag, or a null defaultVariant and nothing matched) has no `value` and the SDK uses its code
// default (current flagd answers a disabled flag the same way). Errors:
// 400 {key, errorCode: PARSE_ERROR|INVALID_CONTEXT|GENERAL, errorDetails}, 404 FLAG_NOT_FOUND,
// 401 without/with an unknown read token, 403 when the token may not read the environment asked
// for, 429 with Retry-After above the per-token rate. Bulk answers carry an ETag computed from
// the body; a matching If-None-Match gets 304. Every answer is JSON and has CORS headers that
// expose ETag, so browser SDKs can poll. A missing context or targeting key is accepted.
// Bulk answers list every flag, disabled ones and ones without a value without `value`; as in
// flagd's bulk answer, a flag whose chosen variant is not of its default variant's type (only
// possible in a flag flagd's schema forbids) is listed as GENERAL there.
// A flag whose rule reaches what flagd's JsonLogic fails on answers 400 PARSE_ERROR, as flagd.
//
// Auth uses read tokens (`Authorization: Bearer T` or `X-API-Key: T`), separate from the admin
// token. A token is bound to one environment, or to "*" = any environment, chosen with the
// `X-Slipway-Environment` header (default: the default environment).
//
// Threads: the loop thread of the listener (like the FlagService it reads).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "flags/flag_service.h"
#include "http/server.h"

namespace slipway::flags {

struct ReadToken {
  std::string token;
  std::string environment;  // "*" = any, chosen by header
};

struct OfrepOptions {
  std::vector<ReadToken> tokens;  // empty: no authentication (tests, trusted networks)
  std::string default_environment = "default";
  double rate_per_second = 0;  // per token (or per peer without tokens); 0 = unlimited
  double burst = 100;
  Clock* clock = Clock::Real();
};

class OfrepHandler {
 public:
  OfrepHandler(FlagService* service, OfrepOptions options);

  // True for the paths this handler serves (/ofrep/...).
  static bool Owns(std::string_view path);
  void Handle(const http::Request& req, http::ResponseWriter w);

 private:
  struct Bucket {
    double tokens = 0;
    MonoTime last{};
  };
  bool Allow(std::string_view who);
  void Single(std::string_view key, const std::string& env, const Json& ctx,
              http::ResponseWriter& w, const std::string& origin);
  void Bulk(const http::Request& req, const std::string& env, const Json& ctx,
            http::ResponseWriter& w, const std::string& origin);

  FlagService* service_;
  OfrepOptions options_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

// The JSON body of one evaluation as OFREP defines it.
Json EvaluationJson(std::string_view key, const Evaluation& e);
// The same, written as text onto `out`: byte-for-byte EvaluationJson(key, e).dump(), built
// from the serialised forms the FlagSet keeps (no JSON values built per request).
void AppendEvaluationJson(std::string_view key, const Evaluation& e, std::string* out);

}  // namespace slipway::flags
