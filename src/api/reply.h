// Reply: the one way an admin API route answers, and the one mapping from Status to HTTP.
//
// A Reply wraps the request's http::ResponseWriter behind a shared handle, so a route can
// copy it into the callbacks of asynchronous work (an `up` that answers when services settle)
// and answer exactly once from whichever runs; later answers are ignored. Every body is JSON
// serialised without throwing (invalid UTF-8 from a caller is replaced, not fatal), errors are
// {"error": "...", "exit": 1|2}.
//
// Threads: the loop thread of the listener that received the request, like the writer.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "base/status.h"
#include "http/message.h"
#include "http/server.h"

namespace slipway::api {

// The HTTP status for a failed operation: 400 bad input, 404 unknown thing, 409 conflicting
// state, 503 unavailable, 504 timed out, 500 anything else.
int HttpStatusOf(StatusCode code);

// A JSON response; never throws.
http::Response JsonResponse(int status, const nlohmann::json& body);
// {"error": message, "exit": 1|2} with HttpStatusOf(code). `extra` fields are merged in.
http::Response ErrorResponse(const Status& st, const nlohmann::json& extra = nullptr);

class Reply {
 public:
  explicit Reply(http::ResponseWriter w)
      : w_(std::make_shared<http::ResponseWriter>(std::move(w))) {}

  void Json(int status, const nlohmann::json& body) const { w_->Send(JsonResponse(status, body)); }
  void Ok() const { Json(200, {{"ok", true}}); }
  void Error(const Status& st, const nlohmann::json& extra = nullptr) const {
    w_->Send(ErrorResponse(st, extra));
  }
  // Ok() or Error(st): the common ending of a mutation.
  void Done(const Status& st) const { st.ok() ? Ok() : Error(st); }
  void Send(http::Response r) const { w_->Send(std::move(r)); }

  // For streamed answers (logs -f); shared by every copy of this Reply.
  http::ResponseWriter& writer() const { return *w_; }

 private:
  std::shared_ptr<http::ResponseWriter> w_;
};

}  // namespace slipway::api
