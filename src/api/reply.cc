#include "api/reply.h"

namespace slipway::api {

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidInput:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

http::Response JsonResponse(int status, const nlohmann::json& body) {
  // A caller's invalid UTF-8 echoed back (a flag key, a service name) must not throw here.
  return JsonTextResponse(status,
                          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

http::Response JsonTextResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.body += '\n';
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

http::Response ErrorResponse(const Status& st, const nlohmann::json& extra) {
  nlohmann::json body = {{"error", st.message()}, {"exit", st.ExitCode()}};
  if (extra.is_object()) {
    for (const auto& [k, v] : extra.items()) body[k] = v;
  }
  return JsonResponse(HttpStatusOf(st.code()), body);
}

}  // namespace slipway::api
