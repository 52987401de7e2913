#include "flags/ofrep_handler.h"

#include <murmurhash.h>

#include <cstdio>

#include "base/secret.h"
#include "flags/request_json.h"

namespace slipway::flags {
namespace {

constexpr std::string_view kPrefix = "/ofrep/v1/evaluate/flags";

void AddCors(http::HeaderList* h, const std::string& origin) {
  h->emplace_back("Access-Control-Allow-Origin", origin.empty() ? "*" : origin);
  if (!origin.empty()) h->emplace_back("Vary", "Origin");
  h->emplace_back("Access-Control-Expose-Headers", "ETag");
}

http::Response Json200(int status, std::string body, const std::string& origin) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "application/json");
  AddCors(&r.headers, origin);
  return r;
}

http::Response ErrorBody(int status, std::string_view key, std::string_view code,
                         const std::string& details, const std::string& origin) {
  Json j = Json::object();
  if (!key.empty()) j["key"] = key;
  j["errorCode"] = code;
  j["errorDetails"] = details;
  return Json200(status, j.dump(), origin);
}

std::string ETagOf(const std::string& body) {
  uint64_t h[2];
  lmmh_x64_128(body.data(), static_cast<unsigned>(body.size()), 0, h);
  char buf[40];
  std::snprintf(buf, sizeof buf, "\"%016llx%016llx\"", static_cast<unsigned long long>(h[0]),
                static_cast<unsigned long long>(h[1]));
  return buf;
}

bool ETagMatches(const std::string& header, const std::string& etag) {
  if (header == "*") return true;
  // A list of tags, possibly weak.
  size_t pos = 0;
  while (pos < header.size()) {
    size_t comma = header.find(',', pos);
    std::string tag =
        header.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!tag.empty() && tag.front() == ' ') tag.erase(0, 1);
    while (!tag.empty() && tag.back() == ' ') tag.pop_back();
    if (tag.rfind("W/", 0) == 0) tag = tag.substr(2);
    if (tag == etag) return true;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return false;
}

// A JSON string as Json::dump() writes it: plain ASCII is copied; anything with escapes or
// non-ASCII bytes goes through the JSON library (invalid UTF-8 replaced, never thrown on).
void AppendJsonString(std::string_view s, std::string* out) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) {
      out->append(Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace));
      return;
    }
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
}

void AppendDump(const std::string* text, const Json* j, std::string* out) {
  if (text != nullptr) {
    out->append(*text);
  } else if (j != nullptr) {
    out->append(j->dump(-1, ' ', false, Json::error_handler_t::replace));
  } else {
    out->append("{}");
  }
}

}  // namespace

void AppendEvaluationJson(std::string_view key, const Evaluation& e, std::string* out) {
  // Members in the order Json::dump() sorts them, so the text is byte-for-byte
  // EvaluationJson(key, e).dump() (the ETag of a bulk answer depends on it).
  if (e.error != ErrorCode::kNone) {
    out->append("{\"errorCode\":");
    AppendJsonString(ErrorCodeName(e.error), out);
    out->append(",\"errorDetails\":");
    AppendJsonString(e.error_message, out);
    out->append(",\"key\":");
    AppendJsonString(key, out);
    out->push_back('}');
    return;
  }
  out->append("{\"key\":");
  AppendJsonString(key, out);
  out->append(",\"metadata\":");
  AppendDump(e.metadata_json, e.metadata, out);
  out->append(",\"reason\":\"");
  out->append(ReasonName(e.reason));
  out->push_back('"');
  if (e.value) {
    out->append(",\"value\":");
    AppendDump(e.value_json, e.value, out);
  }
  if (e.variant) {
    out->append(",\"variant\":");
    if (e.variant_json) {
      out->append(*e.variant_json);
    } else {
      AppendJsonString(*e.variant, out);
    }
  }
  out->push_back('}');
}

Json EvaluationJson(std::string_view key, const Evaluation& e) {
  Json j = Json::object();
  j["key"] = key;
  if (e.error != ErrorCode::kNone) {
    j["errorCode"] = ErrorCodeName(e.error);
    j["errorDetails"] = e.error_message;
    return j;
  }
  j["reason"] = ReasonName(e.reason);
  if (e.variant) j["variant"] = *e.variant;
  if (e.value) j["value"] = *e.value;
  j["metadata"] = e.metadata ? *e.metadata : Json::object();
  return j;
}

OfrepHandler::OfrepHandler(FlagService* service, OfrepOptions options)
    : service_(service), options_(std::move(options)) {}

bool OfrepHandler::Owns(std::string_view path) { return path.starts_with("/ofrep/"); }

bool OfrepHandler::Allow(std::string_view who) {
  if (options_.rate_per_second <= 0) return true;
  MonoTime now = options_.clock->Now();
  auto it = buckets_.find(who);
  const bool fresh = it == buckets_.end();
  if (fresh) it = buckets_.emplace(std::string(who), Bucket{}).first;
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = options_.burst;
    b.last = now;
  }
  double secs = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(options_.burst, b.tokens + secs * options_.rate_per_second);
  b.last = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void OfrepHandler::Handle(const http::Request& req, http::ResponseWriter w) {
  std::string_view path = req.Path();
  const std::string* origin_h = req.Header("Origin");
  const std::string origin = origin_h ? *origin_h : "";
  std::string_view rest;
  if (path == kPrefix) {
    rest = "";
  } else if (path.starts_with(kPrefix) && path.size() > kPrefix.size() + 1 &&
             path[kPrefix.size()] == '/') {
    rest = path.substr(kPrefix.size() + 1);
  } else {
    w.Send(ErrorBody(404, "", "GENERAL", "no such endpoint: " + std::string(path), origin));
    return;
  }
  if (req.method == "OPTIONS") {
    http::Response r;
    r.status = 204;
    AddCors(&r.headers, origin);
    r.headers.emplace_back("Access-Control-Allow-Methods", "POST, OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Headers",
                           "Content-Type, Authorization, X-API-Key, If-None-Match, "
                           "X-Slipway-Environment");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    w.Send(std::move(r));
    return;
  }
  if (req.method != "POST") {
    http::Response r = ErrorBody(405, "", "GENERAL", "use POST", origin);
    r.headers.emplace_back("Allow", "POST, OPTIONS");
    w.Send(std::move(r));
    return;
  }

  // Authentication and the environment.
  std::string env = options_.default_environment;
  const std::string* env_h = req.Header("X-Slipway-Environment");
  // Without tokens, the rate limit applies per client address (the port changes per connection).
  // Views into the request: nothing here is copied per request.
  std::string_view who = std::string_view(req.peer).substr(0, req.peer.rfind(':'));
  if (!options_.tokens.empty()) {
    std::string_view presented;
    if (const std::string* a = req.Header("Authorization"); a && a->starts_with("Bearer ")) {
      presented = std::string_view(*a).substr(7);
    } else if (const std::string* k = req.Header("X-API-Key")) {
      presented = *k;
    }
    if (presented.empty()) {
      w.Send(ErrorBody(401, "", "GENERAL",
                       "a read token is needed (Authorization: Bearer or X-API-Key)", origin));
      return;
    }
    const ReadToken* match = nullptr;
    for (const ReadToken& t : options_.tokens) {
      if (SameSecret(t.token, presented)) match = &t;
    }
    if (match == nullptr) {
      w.Send(ErrorBody(401, "", "GENERAL", "unknown read token", origin));
      return;
    }
    if (match->environment != "*") {
      if (env_h && *env_h != match->environment) {
        w.Send(ErrorBody(403, "", "GENERAL",
                         "this token may not read environment \"" + *env_h + "\"", origin));
        return;
      }
      env = match->environment;
    } else if (env_h && !env_h->empty()) {
      env = *env_h;
    }
    who = presented;
  } else if (env_h && !env_h->empty()) {
    env = *env_h;
  }
  if (!Allow(who)) {
    http::Response r = ErrorBody(429, "", "GENERAL", "rate limit exceeded", origin);
    r.headers.emplace_back("Retry-After", "1");
    w.Send(std::move(r));
    return;
  }

  // The context: a missing body, missing context or null context is an empty context.
  static const Json kEmpty = Json::object();
  Json body;
  if (!req.body.empty()) {
    body = ParseRequestJson(req.body);
    if (body.is_discarded() || !body.is_object()) {
      w.Send(ErrorBody(400, rest, "PARSE_ERROR", "the request body is not a JSON object", origin));
      return;
    }
  }
  const Json* ctx = &kEmpty;
  if (body.is_object()) {
    auto it = body.find("context");
    if (it != body.end() && !it->is_null()) {
      if (!it->is_object()) {
        w.Send(ErrorBody(400, rest, "INVALID_CONTEXT", "context must be a JSON object", origin));
        return;
      }
      ctx = &*it;
    }
  }
  if (rest.empty()) {
    Bulk(req, env, *ctx, w, origin);
  } else {
    Single(rest, env, *ctx, w, origin);
  }
}

void OfrepHandler::Single(std::string_view key, const std::string& env, const Json& ctx,
                          http::ResponseWriter& w, const std::string& origin) {
  auto set = service_->Get(env);
  if (!set) {
    w.Send(ErrorBody(
        404, key, "FLAG_NOT_FOUND",
        "flag '" + std::string(key) + "' not found (environment \"" + env + "\" has no flags)",
        origin));
    return;
  }
  const int64_t now_ms = options_.clock->WallMillis();
  const Flag* f = set->Find(key);
  Evaluation e = f ? f->Evaluate(ctx, now_ms / 1000) : set->Evaluate(key, ctx, now_ms / 1000);
  if (f) f->NoteEvaluated(now_ms);
  int status = 200;
  if (e.error == ErrorCode::kFlagNotFound) {
    status = 404;
  } else if (e.error != ErrorCode::kNone) {
    status = 400;
  }
  std::string body;
  body.reserve(256);
  AppendEvaluationJson(key, e, &body);
  w.Send(Json200(status, std::move(body), origin));
}

void OfrepHandler::Bulk(const http::Request& req, const std::string& env, const Json& ctx,
                        http::ResponseWriter& w, const std::string& origin) {
  std::string body = "{\"flags\":[";
  if (auto set = service_->Get(env)) {
    body.reserve(64 + 160 * set->flags().size());
    const int64_t now_ms = options_.clock->WallMillis();
    const ContextView view(ctx);  // listed once for all flags
    // Every flag is listed: disabled ones and ones without a value as a success without
    // `value` (OFREP's code-default answer), so a client reads its own default with the right
    // reason instead of FLAG_NOT_FOUND.
    for (const auto& [key, f] : set->flags()) {
      Evaluation e = f->EvaluateInBulk(view, now_ms / 1000);
      if (f->enabled()) f->NoteEvaluated(now_ms);
      if (body.back() != '[') body.push_back(',');
      AppendEvaluationJson(key, e, &body);
    }
  }
  body.append("]}");
  std::string etag = ETagOf(body);
  const std::string* inm = req.Header("If-None-Match");
  if (inm && ETagMatches(*inm, etag)) {
    http::Response r;
    r.status = 304;
    r.headers.emplace_back("ETag", etag);
    AddCors(&r.headers, origin);
    w.Send(std::move(r));
    return;
  }
  http::Response r = Json200(200, std::move(body), origin);
  r.headers.emplace_back("ETag", etag);
  w.Send(std::move(r));
}

}  // namespace slipway::flags
